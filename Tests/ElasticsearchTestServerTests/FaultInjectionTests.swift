import ElasticsearchTestServer
import Foundation
import Testing

@Suite("Fault injection")
struct FaultInjectionTests {
    static func batch(_ n: Int, index: String = "f", offset: Int = 0) -> String {
        var nd = ""
        for i in 0..<n { nd += "{\"create\":{\"_index\":\"\(index)\",\"_id\":\"\(offset + i)\"}}\n{\"i\":\(offset + i)}\n" }
        return nd
    }

    /// Runs 5 bulk requests of 200 items with the plan and returns all item statuses.
    static func statuses(_ plan: FaultPlan) async throws -> (statuses: [Int], stored: Int, counters: FaultCounters) {
        var c = ElasticsearchTestServerConfiguration()
        c.faultPlan = plan
        return try await withServer(c) { server in
            var all: [Int] = []
            for b in 0..<5 {
                let r = try await TestClient.bulk(port: server.port, batch(200, offset: b * 200))
                #expect(r.status == 200)
                all += r.itemStatuses
            }
            return (all, server.count(index: "f"), server.faultCounters)
        }
    }

    @Test func seededItemRejectionsAreReproducible() async throws {
        let plan = FaultPlan(seed: 42, itemRejectionShare: 0.1)
        let a = try await Self.statuses(plan)
        let b = try await Self.statuses(plan)
        #expect(a.statuses.count == 1000)
        #expect(a.statuses == b.statuses, "same seed, same statuses")
        let rejected = a.statuses.filter { $0 == 429 }.count
        #expect((60...140).contains(rejected), "about 10% of 1000: \(rejected)")
        #expect(Set(a.statuses) == [201, 429])
        #expect(a.stored == 1000 - rejected, "rejected items are not applied")
        #expect(a.counters.rejectedItems == rejected)
        let other = try await Self.statuses(FaultPlan(seed: 43, itemRejectionShare: 0.1))
        #expect(other.statuses != a.statuses, "another seed, other statuses")
    }

    @Test func rejectedItemBody() async throws {
        var c = ElasticsearchTestServerConfiguration()
        c.faultPlan = FaultPlan(seed: 1, itemRejectionShare: 1.0)
        try await withServer(c) { server in
            let r = try await TestClient.bulk(port: server.port, "{\"index\":{\"_index\":\"r\"}}\n{}\n")
            #expect(r.itemStatuses == [429])
            #expect(r.value("errors") as? Bool == true)
            #expect(r.value("items.0.index.error.type") as? String == "es_rejected_execution_exception")
            #expect((r.value("items.0.index.error.reason") as? String ?? "").hasPrefix("rejected execution of primary operation ["))
            #expect((r.value("items.0.index._id") as? String)?.count == 20, "auto ids are generated before the shard rejects")
            #expect(server.count(index: "r") == 0)
        }
    }

    @Test func itemUnavailableShare() async throws {
        let result = try await Self.statuses(FaultPlan(seed: 7, itemRejectionShare: 0.05, itemUnavailableShare: 0.05))
        let unavailable = result.statuses.filter { $0 == 503 }.count
        let rejected = result.statuses.filter { $0 == 429 }.count
        #expect((20...80).contains(unavailable), "\(unavailable)")
        #expect((20...80).contains(rejected), "\(rejected)")
        #expect(result.counters.unavailableItems == unavailable)
        #expect(result.stored == 1000 - unavailable - rejected)
    }

    @Test(arguments: [503, 429, 500])
    func wholeRequestFailures(_ status: Int) async throws {
        var c = ElasticsearchTestServerConfiguration()
        c.faultPlan = FaultPlan(seed: 3, requestFailureShare: 1.0, requestFailureStatus: status)
        try await withServer(c) { server in
            let r = try await TestClient.bulk(port: server.port, Self.batch(3))
            #expect(r.status == status)
            #expect(r.value("status") as? Int == status)
            let type = r.value("error.type") as? String
            switch status {
            case 503: #expect(type == "cluster_block_exception")
            case 429: #expect(type == "es_rejected_execution_exception")
            default: #expect(type != nil)
            }
            #expect(server.count(index: "f") == 0, "nothing applied")
            #expect(server.faultCounters.failedRequests == 1)
            // Non-bulk requests are unaffected.
            let health = try await TestClient.send(port: server.port, "GET", "/_cluster/health")
            #expect(health.status == 200)
        }
    }

    @Test func requestFailureShareIsSeeded() async throws {
        func run(_ seed: UInt64) async throws -> [Int] {
            var c = ElasticsearchTestServerConfiguration()
            c.faultPlan = FaultPlan(seed: seed, requestFailureShare: 0.3)
            return try await withServer(c) { server in
                var statuses: [Int] = []
                for i in 0..<40 { statuses.append(try await TestClient.bulk(port: server.port, Self.batch(1, offset: i)).status) }
                #expect(server.count(index: "f") == statuses.filter { $0 == 200 }.count)
                return statuses
            }
        }
        let a = try await run(99)
        let b = try await run(99)
        #expect(a == b)
        let failures = a.filter { $0 == 503 }.count
        #expect((4...22).contains(failures), "\(failures) of 40")
    }

    @Test func mappingErrorRules() async throws {
        var c = ElasticsearchTestServerConfiguration()
        c.faultPlan = FaultPlan(mappingErrorRules: [
            .fieldEquals("level", "\"poison\""), .fieldPresent("kubernetes.labels.bad"),
            MappingErrorRule(.equals("code", "500"), errorType: "mapper_parsing_exception"),
        ])
        try await withServer(c) { server in
            let r = try await TestClient.bulk(port: server.port, """
                {"index":{"_index":"m","_id":"1"}}
                {"level":"info"}
                {"index":{"_index":"m","_id":"2"}}
                {"level":"poison"}
                {"index":{"_index":"m","_id":"3"}}
                {"kubernetes":{"labels":{"bad":"x"}}}
                {"index":{"_index":"m","_id":"4"}}
                {"kubernetes.labels.bad":"y"}
                {"index":{"_index":"m","_id":"5"}}
                {"code":500}

                """)
            #expect(r.itemStatuses == [201, 400, 400, 400, 400])
            #expect(r.value("items.1.index.error.type") as? String == "document_parsing_exception")
            #expect(
                (r.value("items.1.index.error.reason") as? String ?? "").hasSuffix(
                    "failed to parse field [level] of type [long] in document with id '2'. Preview of field's value: 'poison'"))
            #expect(r.value("items.1.index.error.caused_by.type") as? String == "illegal_argument_exception")
            #expect(r.value("items.4.index.error.type") as? String == "mapper_parsing_exception")
            #expect(server.faultCounters.mappingErrorItems == 4)
            #expect(server.count(index: "m") == 1)
        }
    }

    @Test func latency() async throws {
        var c = ElasticsearchTestServerConfiguration()
        c.faultPlan = FaultPlan(latency: .milliseconds(300))
        try await withServer(c) { server in
            let started = ContinuousClock.now
            let r = try await TestClient.bulk(port: server.port, Self.batch(1))
            #expect(r.status == 200)
            #expect(ContinuousClock.now - started >= .milliseconds(300))
            #expect(server.faultCounters.delayedRequests == 1)
            // Other endpoints are not delayed.
            _ = try await TestClient.send(port: server.port, "GET", "/")
            #expect(server.faultCounters.delayedRequests == 1)
        }
    }

    /// Held bulk answers: the request is applied at once, its answer waits for the release;
    /// other endpoints answer meanwhile.
    @Test func heldBulkAnswersWaitForTheRelease() async throws {
        try await withServer(ElasticsearchTestServerConfiguration()) { server in
            server.holdBulkAnswers()
            // Their answers wait for the release, after the wait below (up to 60 s): a deadline
            // past that. (With the default 30 s, a CI rehearsal next to other jobs timed out.)
            let first = Task { try await TestClient.bulk(port: server.port, "/_bulk", Self.batch(3), deadline: 150) }
            let second = Task {
                try await TestClient.bulk(port: server.port, "/other/_bulk?refresh=false", Self.batch(2, index: "other", offset: 3), deadline: 150)
            }
            #expect(await server.wait(timeout: .seconds(60)) { $0.heldBulkAnswerCount == 2 }, "both requests arrive (a loaded machine may take seconds)")
            #expect(server.count(index: "f") == 3 && server.count(index: "other") == 2, "applied before the answer")
            let root = try await TestClient.send(port: server.port, "GET", "/")
            #expect(root.status == 200, "only bulk answers are held")
            #expect(server.heldBulkAnswerCount == 2)
            server.releaseBulkAnswers()
            let (a, b) = (try await first.value, try await second.value)
            #expect(a.itemStatuses == [201, 201, 201] && b.itemStatuses == [201, 201])
            #expect(server.heldBulkAnswerCount == 0)
            // Released: answers go at once again.
            let later = try await TestClient.bulk(port: server.port, Self.batch(1, offset: 10))
            #expect(later.itemStatuses == [201])
        }
    }

    @Test func connectionDropBeforeApplying() async throws {
        var c = ElasticsearchTestServerConfiguration()
        c.faultPlan = FaultPlan(connectionDropShare: 1.0)
        try await withServer(c) { server in
            await #expect(throws: ConnectionClosedWithoutResponse.self) {
                _ = try await TestClient.bulk(port: server.port, Self.batch(5))
            }
            #expect(server.count(index: "f") == 0)
            #expect(server.faultCounters.droppedConnections == 1)
        }
    }

    @Test func connectionDropAfterApplying() async throws {
        var c = ElasticsearchTestServerConfiguration()
        c.faultPlan = FaultPlan(connectionDropShare: 1.0, dropAfterApplying: true)
        try await withServer(c) { server in
            await #expect(throws: ConnectionClosedWithoutResponse.self) {
                _ = try await TestClient.bulk(port: server.port, Self.batch(5))
            }
            #expect(server.count(index: "f") == 5, "partial application: stored, but never answered")
            // A replay with the same ids and `create` is deduplicated (409s).
            server.setFaultPlan(.none)
            let r = try await TestClient.bulk(port: server.port, Self.batch(5))
            #expect(r.itemStatuses == Array(repeating: 409, count: 5))
            #expect(server.count(index: "f") == 5)
            #expect(server.faultCounters.conflictItems == 5, "real conflicts are counted too")
        }
    }

    @Test func scriptedFaults() async throws {
        var c = ElasticsearchTestServerConfiguration()
        c.faultPlan = FaultPlan(
            itemRejectionShare: 1.0,
            script: [
                .pass,
                .failRequest(status: 429),
                .failItems([1: .rejected, 2: .versionConflict, 3: .unavailable, 4: .mappingError]),
                .dropConnection(afterApplying: false),
                .delay(.milliseconds(200)),
                .failRequest(status: 413),
                .failRequest(status: 401),
            ])
        try await withServer(c) { server in
            var r = try await TestClient.bulk(port: server.port, Self.batch(2, offset: 0))
            #expect(r.itemStatuses == [201, 201], ".pass disables the random shares")
            r = try await TestClient.bulk(port: server.port, Self.batch(2, offset: 10))
            #expect(r.status == 429)
            r = try await TestClient.bulk(port: server.port, Self.batch(6, offset: 20))
            #expect(r.itemStatuses == [201, 429, 409, 503, 400, 201])
            #expect(server.faultCounters.conflictItems == 1)
            await #expect(throws: ConnectionClosedWithoutResponse.self) {
                _ = try await TestClient.bulk(port: server.port, Self.batch(1, offset: 30))
            }
            let t = ContinuousClock.now
            r = try await TestClient.bulk(port: server.port, Self.batch(1, offset: 40))
            #expect(r.status == 200)
            #expect(ContinuousClock.now - t >= .milliseconds(200))
            r = try await TestClient.bulk(port: server.port, Self.batch(1, offset: 50))
            #expect(r.status == 413)
            #expect(r.body.isEmpty)
            r = try await TestClient.bulk(port: server.port, Self.batch(1, offset: 60))
            #expect(r.status == 401)
            #expect(r.headerValues("WWW-Authenticate").count == 3)
            // After the script: the random shares apply (100% rejection here).
            r = try await TestClient.bulk(port: server.port, Self.batch(2, offset: 70))
            #expect(r.itemStatuses == [429, 429])
            #expect(server.count(index: "f") == 2 + 2 + 1)
        }
    }

    @Test func planCanChangeWhileRunning() async throws {
        try await withServer { server in
            var r = try await TestClient.bulk(port: server.port, Self.batch(3))
            #expect(r.itemStatuses == [201, 201, 201])
            server.setFaultPlan(FaultPlan(seed: 5, itemRejectionShare: 1.0))
            #expect(server.faultPlan.itemRejectionShare == 1.0)
            r = try await TestClient.bulk(port: server.port, Self.batch(3, offset: 3))
            #expect(r.itemStatuses == [429, 429, 429])
            server.setFaultPlan(FaultPlan(maxContentLength: 50))
            r = try await TestClient.bulk(port: server.port, Self.batch(3, offset: 6))
            #expect(r.status == 413)
            server.setFaultPlan(.none)
            r = try await TestClient.bulk(port: server.port, Self.batch(3, offset: 6))
            #expect(r.itemStatuses == [201, 201, 201])
            #expect(server.faultCounters.rejectedItems == 3)
            #expect(server.faultCounters.tooLargeRequests == 1)
        }
    }

    @Test func downPeriodRefusesConnectionsThenAcceptsOnTheSamePort() async throws {
        try await withServer { server in
            let port = server.port
            #expect(await TestClient.canConnect(port: port))
            try await server.goDown(.refuseConnections)
            #expect(server.isDown)
            #expect(await TestClient.canConnect(port: port) == false, "connection refused while down")
            try await server.comeUp()
            #expect(!server.isDown)
            #expect(server.port == port)
            #expect(await TestClient.canConnect(port: port))
            let r = try await TestClient.bulk(port: port, Self.batch(1))
            #expect(r.status == 200)
            #expect(server.faultCounters.downPeriods == 1)
        }
    }

    @Test func timedDownPeriodEndsByItself() async throws {
        try await withServer { server in
            let start = ContinuousClock.now
            try await server.goDown(.refuseConnections, for: .seconds(2))
            let refused = await TestClient.canConnect(port: server.port) == false
            // The period ends 2 s after `goDown` returns at the earliest: an attempt that finished
            // before that must have been refused. Later, under load, the server may be back already.
            if start.duration(to: .now) < .seconds(2) { #expect(refused) }
            // Generous: on two cores shared with the rest of the suite (and other jobs) the
            // server's timer once took more than 10 s to fire; a pass takes about 2 s.
            let up = await server.wait(timeout: .seconds(30)) { !$0.isDown }
            #expect(up)
            #expect(await TestClient.canConnect(port: server.port))
        }
    }

    @Test func downPeriodAfterBulkRequests() async throws {
        var c = ElasticsearchTestServerConfiguration()
        let window = Duration.seconds(10)
        c.faultPlan = FaultPlan(downPeriods: [DownPeriod(trigger: .afterBulkRequests(2), duration: window)])
        try await withServer(c) { server in
            let r0 = try await TestClient.bulk(port: server.port, Self.batch(1, offset: 0))
            #expect(r0.status == 200)
            // The down period starts after the second request and lasts `window`, so it cannot end
            // before `start + window`.
            let start = ContinuousClock.now
            let r1 = try await TestClient.bulk(port: server.port, Self.batch(1, offset: 1))
            #expect(r1.status == 200, "the triggering request is still answered")
            // Generous deadlines: the full suite loads both cores (they bound a hang, nothing more).
            #expect(await server.wait(timeout: .seconds(30)) { $0.isDown })
            let refused = await TestClient.canConnect(port: server.port) == false
            // CI once took longer than a 5 s period between these two lines: check the refusal only
            // when the attempt certainly fell inside the period.
            if start.duration(to: .now) < window { #expect(refused, "connection refused while down") }
            #expect(await server.wait(timeout: .seconds(30)) { !$0.isDown })
            let r = try await TestClient.bulk(port: server.port, Self.batch(1, offset: 5))
            #expect(r.status == 200)
            #expect(server.count(index: "f") == 3)
        }
    }

    @Test func downPeriodAfterDelay() async throws {
        var c = ElasticsearchTestServerConfiguration()
        let window = Duration.seconds(8)
        c.faultPlan = FaultPlan(downPeriods: [DownPeriod(trigger: .afterDelay(.milliseconds(100)), duration: window, mode: .serviceUnavailable)])
        // The server starts after `start`, so its down period cannot end before `start + window`.
        let start = ContinuousClock.now
        try await withServer(c) { server in
            #expect(await server.wait(timeout: .seconds(30)) { $0.isDown })
            let r = try await TestClient.bulk(port: server.port, Self.batch(1))
            let inside = start.duration(to: .now) < window
            if inside {
                #expect(r.status == 503, "503 mode keeps accepting but answers 503")
                #expect(r.value("error.type") as? String == "cluster_block_exception")
            } else {
                #expect(r.status == 503 || r.status == 200, "late under load: either inside or after the period")
            }
            #expect(await server.wait(timeout: .seconds(30)) { !$0.isDown })
            let ok = try await TestClient.bulk(port: server.port, Self.batch(1))
            #expect(ok.status == 200)
            if inside { #expect(server.faultCounters.unavailableWhileDown >= 1) }
        }
    }

    @Test func downDropsOpenKeepAliveConnections() async throws {
        try await withServer { server in
            let port = server.port
            await #expect(throws: (any Error).self) {
                try await TestClient.withConnection(port: port) { conn in
                    let first = try await conn.send("GET", "/")
                    #expect(first.status == 200)
                    try await server.goDown()
                    _ = try await conn.send("GET", "/")
                }
            }
            try await server.comeUp()
        }
    }
}
