import ElasticsearchTestServer
import Foundation
import Testing

/// Issue 4's acceptance runs: shipper as a real process, tail → parse → buffer → Elasticsearch
/// (the in-repo test server on 127.0.0.1), with rejected items, failed requests, an outage,
/// mapping errors, and SIGKILLs. The index must hold every event exactly once and the dead-letter
/// file exactly the documents Elasticsearch refused for good.
@Suite(.serialized) struct ElasticsearchDeliveryTests {
    static let total = 200_000
    /// Every 200th line carries `poison: yes`, which the server refuses with a mapping error (0.5%).
    static func isPoisoned(_ n: Int) -> Bool { n % 200 == 7 }

    struct Setup {
        let dir: TempDir
        let config: String
        let deadLetters: String
        let writer: ContainerLogWriter
    }

    func setUp(port: Int) throws -> Setup {
        let dir = try TempDir()
        let containers = dir.path + "/containers"
        let writer = try ContainerLogWriter(root: containers, id: String(repeating: "e", count: 64), service: "api")
        let config = try dir.write("shipper.yaml", """
            data_dir: \(dir.path)/state
            telemetry: {address: "127.0.0.1:0"}
            drain_timeout: 30s
            sources:
              docker:
                type: docker
                paths: ["\(containers)/*/*-json.log"]
                discovery_interval: 100ms
            pipelines:
              app:
                stages:
                  - type: parse
                    parsers: [json]
            buffer:
              path: \(dir.path)/state/buffer
              fsync: 100ms
            outputs:
              es:
                type: elasticsearch
                hosts: ["http://127.0.0.1:\(port)"]
                index: "shipper-e2e"
                batch: {max_events: 2000, timeout: 200ms}
                retry: {initial_backoff: 50ms, max_backoff: 1s}
            """)
        return Setup(dir: dir, config: config, deadLetters: dir.path + "/state/dead-letter/es.ndjson", writer: writer)
    }

    func writeLines(_ writer: ContainerLogWriter, _ range: Range<Int>) throws {
        for n in range {
            let poison = Self.isPoisoned(n) ? #",\"poison\":\"yes\""# : ""
            try writer.writeRaw(#"{\"n\":\#(n)\#(poison),\"pad\":\"\#(String(repeating: "p", count: 60))\"}"#)
        }
    }

    /// Checks the index and the dead-letter file against what was written.
    func verify(server: ElasticsearchTestServer, setup: Setup, allowDeadLetterRepeats: Bool) throws {
        let docs = server.documents(index: "shipper-e2e")
        var seen = [Int](repeating: 0, count: Self.total)
        for d in docs {
            guard let obj = try JSONSerialization.jsonObject(with: Data(d.source)) as? [String: Any], let n = obj["n"] as? Int else {
                Issue.record("unexpected document \(d.sourceString.prefix(200))")
                continue
            }
            seen[n] += 1
        }
        let expected = (0..<Self.total).filter { !Self.isPoisoned($0) }
        let missing = expected.filter { seen[$0] == 0 }
        let doubled = seen.indices.filter { seen[$0] > 1 }
        #expect(missing.isEmpty, "\(missing.count) events missing, e.g. \(missing.prefix(5))")
        #expect(doubled.isEmpty, "\(doubled.count) events indexed twice")
        #expect(docs.count == expected.count)
        #expect(Set(docs.map(\.id)).count == docs.count)
        // Dead letters: exactly the poisoned events.
        let text = (try? String(contentsOfFile: setup.deadLetters, encoding: .utf8)) ?? ""
        var dead: [Int] = []
        for line in text.split(separator: "\n") {
            if let r = line.range(of: "\"n\":") {
                dead.append(Int(line[r.upperBound...].prefix { $0.isNumber }) ?? -1)
            }
        }
        let poisoned = (0..<Self.total).filter(Self.isPoisoned)
        #expect(Set(dead) == Set(poisoned), "dead letters: \(Set(dead).count) distinct, expected \(poisoned.count)")
        if !allowDeadLetterRepeats { #expect(dead.count == poisoned.count) }
    }

    @Test func everyEventExactlyOnceThroughRejectionsFailuresAnOutageAndMappingErrors() async throws {
        var plan = FaultPlan()
        plan.seed = 42
        plan.itemRejectionShare = 0.10
        plan.requestFailureShare = 0.01
        plan.mappingErrorRules = [.fieldEquals("poison", "yes")]
        var configuration = ElasticsearchTestServerConfiguration()
        configuration.faultPlan = plan
        let server = try await ElasticsearchTestServer.start(configuration: configuration)
        let setup = try setUp(port: server.port)
        let shipper = try ShipperProcess(arguments: ["run", "--config", setup.config], cwd: setup.dir.path)
        try writeLines(setup.writer, 0..<(Self.total / 2))
        // A 10 s outage while half the events are still to come.
        #expect(await server.wait(timeout: .seconds(120)) { $0.totalDocumentCount > 20_000 })
        try await server.goDown(.refuseConnections, for: .seconds(10))
        try writeLines(setup.writer, (Self.total / 2)..<Self.total)
        try setup.writer.close()
        let expected = Self.total - (0..<Self.total).filter(Self.isPoisoned).count
        #expect(await server.wait(timeout: .seconds(240)) { $0.totalDocumentCount >= expected })
        #expect(await eventually(timeout: 60) {
            ((try? String(contentsOfFile: setup.deadLetters, encoding: .utf8)) ?? "").split(separator: "\n").count >= 1000
        })
        shipper.signal(SIGTERM)
        #expect(await shipper.wait() == 0, "\(shipper.stderr.suffix(2000))")
        #expect(server.faultCounters.rejectedItems > 0)
        try verify(server: server, setup: setup, allowDeadLetterRepeats: false)
        try await server.shutdown()
    }

    @Test func sameResultWhenKilledFiveTimes() async throws {
        var plan = FaultPlan()
        plan.seed = 7
        plan.itemRejectionShare = 0.10
        plan.requestFailureShare = 0.01
        plan.mappingErrorRules = [.fieldEquals("poison", "yes")]
        var configuration = ElasticsearchTestServerConfiguration()
        configuration.faultPlan = plan
        let server = try await ElasticsearchTestServer.start(configuration: configuration)
        let setup = try setUp(port: server.port)
        var shipper = try ShipperProcess(arguments: ["run", "--config", setup.config], cwd: setup.dir.path)
        let slice = Self.total / 6
        for k in 0..<6 {
            try writeLines(setup.writer, (k * slice)..<(k == 5 ? Self.total : (k + 1) * slice))
            if k == 5 { break }
            // Kill while events are in flight: once some of this slice has arrived.
            let target = k * slice + slice / 3
            #expect(await server.wait(timeout: .seconds(120)) { $0.totalDocumentCount > target * 9 / 10 })
            shipper.signal(SIGKILL)
            _ = await shipper.wait()
            shipper = try ShipperProcess(arguments: ["run", "--config", setup.config], cwd: setup.dir.path)
        }
        try setup.writer.close()
        let expected = Self.total - (0..<Self.total).filter(Self.isPoisoned).count
        #expect(await server.wait(timeout: .seconds(240)) { $0.totalDocumentCount >= expected })
        #expect(await eventually(timeout: 60) {
            Set(((try? String(contentsOfFile: setup.deadLetters, encoding: .utf8)) ?? "").split(separator: "\n")).count >= 1000
        })
        shipper.signal(SIGTERM)
        #expect(await shipper.wait() == 0, "\(shipper.stderr.suffix(2000))")
        try verify(server: server, setup: setup, allowDeadLetterRepeats: true)
        try await server.shutdown()
    }
}
