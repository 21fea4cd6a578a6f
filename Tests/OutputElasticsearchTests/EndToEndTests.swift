import ElasticsearchTestServer
import Foundation
import ShipperCore
import Synchronization
import Testing

@testable import OutputElasticsearch

/// Against the in-repo Elasticsearch stand-in on 127.0.0.1 (random port).
@Suite("Elasticsearch output end to end")
struct EndToEndTests {
    static let index = "logs-web-2024.11.14"

    /// Ids stored in an index, and whether each appears once.
    static func storedIDs(_ server: ElasticsearchTestServer, _ index: String = EndToEndTests.index) -> (ids: Set<String>, count: Int) {
        let docs = server.documents(index: index)
        return (Set(docs.map(\.id)), docs.count)
    }

    @Test func exactlyOnceUnderFaultsWithDeadLettersAndReplay() async throws {
        let n = 2000
        let poisoned = Set(stride(from: 37, to: n, by: 200))  // 0.5%
        var serverConfig = ElasticsearchTestServerConfiguration()
        serverConfig.recordBodies = false
        serverConfig.faultPlan = FaultPlan(
            seed: 11, itemRejectionShare: 0.10, requestFailureShare: 0.01, requestFailureStatus: 503,
            mappingErrorRules: [.fieldPresent("poison")], latencyJitter: .milliseconds(3))
        let dir = try makeTempDirectory()
        let metrics = TestMetrics()
        let logs = LogCapture()
        try await withServer(serverConfig) { server in
            var config = testConfig(port: server.port)
            config.maxInFlight = 3
            try await withOutput(config, dataDirectory: dir, logs: logs, metrics: metrics) { output in
                let documents = makeDocuments(n, poisoned: poisoned)
                let source = ArraySource(documents, batchSize: 100)
                try await output.run(source: source)

                // Every document exactly once, except the poisoned ones.
                let (ids, count) = Self.storedIDs(server)
                #expect(count == n - poisoned.count)
                #expect(ids.count == count)
                let expectedIDs = Set(documents.enumerated().filter { !poisoned.contains($0.offset) }.map { DocumentID.make($0.element).text })
                #expect(ids == expectedIDs)
                // Faults really happened.
                let faults = server.faultCounters
                #expect(faults.rejectedItems > 50)
                #expect(faults.mappingErrorItems == poisoned.count)
                // Acknowledged in order, up to the end.
                let acks = source.acknowledgements
                #expect(acks == acks.sorted())
                #expect(acks.last == n)
                // Exactly the poisoned documents are in the dead-letter file.
                let (records, unreadable) = try DeadLetterRecord.read(path: output.deadLetterPath)
                #expect(unreadable == 0)
                #expect(Set(records.map(\.item.id)) == Set(poisoned.map { DocumentID.make(documents[$0]).text }))
                #expect(records.count == poisoned.count)
                #expect(records.allSatisfy { $0.status == 400 && $0.error.type == "document_parsing_exception" })
                #expect(records.allSatisfy { $0.item.document == documents[Int($0.item.offset / 100)].document })
                // Metrics.
                #expect(metrics.total("shipper_component_sent_events_total") == Double(n - poisoned.count))
                #expect(metrics.total("shipper_elasticsearch_dead_letter_events_total") == Double(poisoned.count))
                #expect(metrics.total("shipper_elasticsearch_retried_events_total") >= Double(faults.rejectedItems))
                #expect(metrics.total("shipper_component_errors_total", ["error_type": "item_rejected"]) == Double(poisoned.count))
                #expect(metrics.total("shipper_component_sent_bytes_total", ["compression": "gzip"]) > 0)
                #expect(metrics.total("shipper_elasticsearch_in_flight_requests") == 0)
                #expect(
                    metrics.total("shipper_component_sent_bytes_total")
                        < metrics.total("shipper_elasticsearch_uncompressed_request_bytes_total") / 3)

                // Gzip bodies, decoded by the server.
                let bulks = server.requests.filter { $0.path == "/_bulk" }
                #expect(!bulks.isEmpty)
                #expect(bulks.allSatisfy { $0.contentEncoding == "gzip" && $0.compressedBodySize < $0.bodySize })
                #expect(bulks.allSatisfy { $0.uri.contains("filter_path=errors,items.*.error,items.*.status") })

                // Sending the same documents again (a replay after a crash): all 409, no copies.
                server.setFaultPlan(FaultPlan(seed: 3, itemRejectionShare: 0.05, mappingErrorRules: [.fieldPresent("poison")]))
                let again = ArraySource(documents, batchSize: 100)
                try await output.run(source: again)
                #expect(Self.storedIDs(server).count == n - poisoned.count)
                #expect(server.faultCounters.conflictItems == n - poisoned.count)
                #expect(again.acknowledgements.last == n)
                #expect(metrics.total("shipper_elasticsearch_duplicate_events_total") == Double(n - poisoned.count))

                // The mapping is fixed: replaying the dead-letter file delivers them, with their ids.
                server.setFaultPlan(.none)
                let replay = try await output.replayDeadLetters(path: output.deadLetterPath)
                #expect(replay.records == 2 * poisoned.count, "the replay above dead-lettered them a second time")
                #expect(replay.delivery.delivered == 2 * poisoned.count)
                #expect(replay.delivery.duplicates == poisoned.count)
                #expect(replay.movedTo != nil)
                #expect(!FileManager.default.fileExists(atPath: output.deadLetterPath))
                let final = Self.storedIDs(server)
                #expect(final.count == n)
                #expect(final.ids == Set(documents.map { DocumentID.make($0).text }))
            }
        }
        #expect(logs.text.contains("written to the dead-letter file"))
    }

    @Test func outageAndFailover() async throws {
        let n = 600
        var serverConfig = ElasticsearchTestServerConfiguration()
        // Down (connection refused) for a moment after the 2nd bulk request, then back on the same port.
        serverConfig.faultPlan = FaultPlan(
            downPeriods: [DownPeriod(trigger: .afterBulkRequests(2), duration: .milliseconds(300), mode: .refuseConnections)])
        let dir = try makeTempDirectory()
        let logs = LogCapture()
        let metrics = TestMetrics()
        try await withServer(serverConfig) { server in
            var config = testConfig(port: server.port)
            // A second host that refuses connections: round robin skips it after its first failure.
            config.hosts.append(ElasticsearchHost(host: "127.0.0.1", port: 1))
            config.healthCheck = false
            let transitions = Mutex<[Bool]>([])
            try await withOutput(config, dataDirectory: dir, logs: logs, metrics: metrics, health: { h in transitions.withLock { $0.append(h) } }) {
                output in
                #expect(output.isHealthy == nil)
                let documents = makeDocuments(n)
                let source = ArraySource(documents, batchSize: 50)
                try await output.run(source: source)
                let (ids, count) = Self.storedIDs(server)
                #expect(count == n)
                #expect(ids.count == n)
                #expect(source.acknowledgements.last == n)
                #expect(output.isHealthy == true)
            }
            let seen = transitions.withLock { $0 }
            #expect(seen.last == true)
            #expect(seen.contains(false))
            #expect(zip(seen, seen.dropFirst()).allSatisfy { $0 != $1 }, "reported on changes only: \(seen)")
            #expect(server.faultCounters.downPeriods == 1)
        }
        #expect(metrics.total("shipper_component_errors_total", ["error_type": "connection_failed"]) >= 2)
        #expect(logs.text.contains("127.0.0.1:1"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/dead-letter/es.ndjson"))
    }

    /// `pipeline:`: every bulk request names it; documents go in when Elasticsearch has it. When it
    /// does not, each item is answered 400 `pipeline with id [x] does not exist` and dead-lettered;
    /// once the pipeline exists, the replay delivers them.
    @Test func ingestPipeline() async throws {
        var serverConfig = ElasticsearchTestServerConfiguration()
        serverConfig.pipelines = ["geoip"]
        let dir = try makeTempDirectory()
        let logs = LogCapture()
        try await withServer(serverConfig) { server in
            var config = testConfig(port: server.port)
            config.pipeline = "geoip"
            let documents = makeDocuments(150)
            try await withOutput(config, dataDirectory: dir) { output in
                try await output.run(source: ArraySource(documents, batchSize: 100))
            }
            #expect(Self.storedIDs(server).count == 150)
            let bulks = server.requests.filter { $0.path == "/_bulk" }
            #expect(bulks.count >= 2 && bulks.allSatisfy { $0.uri.contains("pipeline=geoip&") }, "\(bulks.map(\.uri))")

            // A pipeline Elasticsearch does not have: dead letters, with its reason, and a log.
            server.reset()
            config.pipeline = "geoip-v2"
            let deadLetters = try await withOutput(config, dataDirectory: dir, logs: logs) { output in
                let source = ArraySource(documents, batchSize: 100)
                try await output.run(source: source)
                #expect(source.acknowledgements.last == 150, "dead-lettered documents are acknowledged")
                return output.deadLetterPath
            }
            #expect(server.count(index: Self.index) == 0)
            let (records, _) = try DeadLetterRecord.read(path: deadLetters)
            #expect(records.count == 150)
            #expect(records.allSatisfy { $0.status == 400 && $0.error.reason == "pipeline with id [geoip-v2] does not exist" })
            #expect(logs.text.contains("pipeline with id [geoip-v2] does not exist"), "\(logs.text.suffix(1000))")

            // The pipeline exists now (here: the output is pointed at the one that does).
            config.pipeline = "geoip"
            let replay = try await withOutput(config, dataDirectory: dir) { try await $0.replayDeadLetters(path: deadLetters) }
            #expect(replay.delivery.delivered == 150)
            #expect(Self.storedIDs(server).ids == Set(documents.map { DocumentID.make($0).text }))
        }
    }

    @Test func timeoutsDropsAndWholeRequestFailuresStayExactlyOnce() async throws {
        let n = 300
        var serverConfig = ElasticsearchTestServerConfiguration()
        serverConfig.faultPlan = FaultPlan(script: [
            .pass,
            .delay(.seconds(3)),  // applied, answered too late: the retry is answered 409
            .dropConnection(afterApplying: true),  // applied, no answer
            .failRequest(status: 429),
            .failRequest(status: 503),
            .failItems([0: .unavailable, 3: .rejected, 5: .internalError]),
            .dropConnection(afterApplying: false),
        ])
        let dir = try makeTempDirectory()
        let metrics = TestMetrics()
        try await withServer(serverConfig) { server in
            var config = testConfig(port: server.port)
            config.requestTimeout = .milliseconds(1500)
            config.maxInFlight = 1
            config.healthCheck = false
            try await withOutput(config, dataDirectory: dir, metrics: metrics) { output in
                let source = ArraySource(makeDocuments(n), batchSize: 50)
                try await output.run(source: source)
                let (ids, count) = Self.storedIDs(server)
                #expect(count == n)
                #expect(ids.count == n)
            }
            // The delayed (timed-out) request was applied; its dropped retry was applied again (50
            // conflicts nobody saw), then 47 + 3 conflicts after the scripted failures. On a loaded
            // machine a slow answer can time out too: more conflicts, never fewer, and still one copy.
            #expect(server.faultCounters.conflictItems >= 100)
        }
        #expect(metrics.total("shipper_component_errors_total", ["error_type": "timed_out"]) >= 1)
        #expect(metrics.total("shipper_component_errors_total", ["error_type": "request_failed"]) >= 1)
        #expect(metrics.total("shipper_elasticsearch_duplicate_events_total") >= 50, "the 409s the output saw (47 + 3, more if a slow answer timed out)")
    }

    @Test func tooLargeRequestsAreSplitAndAHugeDocumentIsDeadLettered() async throws {
        var serverConfig = ElasticsearchTestServerConfiguration()
        serverConfig.maxContentLength = 4000
        let dir = try makeTempDirectory()
        try await withServer(serverConfig) { server in
            var config = testConfig(port: server.port)
            config.healthCheck = false
            try await withOutput(config, dataDirectory: dir) { output in
                var documents = makeDocuments(60)
                let huge = #"{"@timestamp":"2024-11-14T22:13:20.000Z","message":""# + String(repeating: "x", count: 5000) + #""}"#
                documents[17].document = Array(huge.utf8)[...]
                let report = try await output.deliver(documents)
                #expect(report.delivered == 59)
                #expect(report.deadLettered == 1)
                #expect(Self.storedIDs(server).count == 59)
                let (records, _) = try DeadLetterRecord.read(path: output.deadLetterPath)
                #expect(records.map(\.item.id) == [DocumentID.make(documents[17]).text])
                #expect(records.first?.status == 413)
                #expect(records.first?.error.type == "shipper_document_too_large")
            }
            #expect(server.faultCounters.tooLargeRequests > 0)
        }
    }

    @Test func basicAuthWorksAndSecretsNeverReachTheLogs() async throws {
        let password = "pa55-w0rd-very-secret"
        var serverConfig = ElasticsearchTestServerConfiguration()
        serverConfig.credentials = BasicCredentials(username: "shipper", password: password)
        let dir = try makeTempDirectory()
        try password.appending("\n").write(toFile: dir + "/es-password", atomically: true, encoding: .utf8)
        let logs = LogCapture()
        let encoded = Data("shipper:\(password)".utf8).base64EncodedString()
        try await withServer(serverConfig) { server in
            var config = testConfig(port: server.port)
            config.auth = .init(user: "shipper", password: .file(dir + "/es-password"))
            try await withOutput(config, dataDirectory: dir, logs: logs) { output in
                let source = ArraySource(makeDocuments(100), batchSize: 30)
                try await output.run(source: source)
                #expect(Self.storedIDs(server).count == 100)
            }
            #expect(server.faultCounters.unauthorizedRequests == 0)
            #expect(server.requests.allSatisfy { $0.header("Authorization") == "Basic \(encoded)" })

            // Wrong password: loud errors, retried, nothing dropped or dead-lettered.
            try "wrong-password-also-secret".write(toFile: dir + "/es-password", atomically: true, encoding: .utf8)
            config.healthCheck = false
            try await withOutput(config, dataDirectory: dir, logs: logs) { output in
                let task = Task { try await output.deliver(makeDocuments(10, source: 99)) }
                // Three attempts take about 3 s (backoff); the deadline only bounds a hang, on a
                // machine loaded by the rest of the suite.
                let refused = await server.wait(timeout: .seconds(60)) { $0.faultCounters.unauthorizedRequests >= 3 }
                task.cancel()
                #expect(refused)
                await #expect(throws: CancellationError.self) { _ = try await task.value }
            }
            #expect(server.count(index: Self.index) == 100)
        }
        #expect(logs.text.contains("refused the request (401)"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/dead-letter/es.ndjson"))
        for secret in [password, encoded, "wrong-password-also-secret", Data("shipper:wrong-password-also-secret".utf8).base64EncodedString()] {
            #expect(!logs.text.contains(secret))
        }
    }

    @Test func apiKeyFromTheEnvironment() async throws {
        var serverConfig = ElasticsearchTestServerConfiguration()
        serverConfig.apiKeys = ["key-id:key-secret"]
        setenv("OUTPUT_ES_TEST_API_KEY", "key-id:key-secret", 1)
        let dir = try makeTempDirectory()
        let logs = LogCapture()
        try await withServer(serverConfig) { server in
            var config = testConfig(port: server.port)
            config.apiKey = .environment("OUTPUT_ES_TEST_API_KEY")
            try await withOutput(config, dataDirectory: dir, logs: logs) { output in
                let report = try await output.deliver(makeDocuments(20))
                #expect(report.delivered == 20)
            }
            #expect(server.count(index: Self.index) == 20)
        }
        #expect(!logs.text.contains("key-secret"))
    }

    @Test func uncompressedDataStreamWithTemplate() async throws {
        let dir = try makeTempDirectory()
        let templateFile = dir + "/template.json"
        try #"{"index_patterns":["logs-web_app-*"],"data_stream":{},"priority":200,"template":{"mappings":{"properties":{"@timestamp":{"type":"date"}}}}}"#
            .write(toFile: templateFile, atomically: true, encoding: .utf8)
        var serverConfig = ElasticsearchTestServerConfiguration()
        serverConfig.recordBodies = true
        let logs = LogCapture()
        try await withServer(serverConfig) { server in
            var config = testConfig(port: server.port)
            config.dataStream = .init(type: "logs", dataset: "%{service.name}", namespace: "Prod")
            config.compression = .none
            config.installTemplate = .init(name: "logs-web-app", file: templateFile)
            try await withOutput(config, dataDirectory: dir, logs: logs) { output in
                #expect(output.attributeFields.map(\.dotted) == ["service.name"])
                let source = ArraySource(makeDocuments(50, service: "Web-App"), batchSize: 20)
                try await output.run(source: source)
            }
            #expect(server.dataStreamNames == ["logs-web_app-prod"])
            #expect(server.count(index: "logs-web_app-prod") == 50)
            let requests = server.requests
            #expect(requests.first?.method == "GET" && requests.first?.path == "/")
            #expect(requests.contains { $0.method == "PUT" && $0.path == "/_index_template/logs-web-app" && $0.status == 200 })
            let bulk = requests.first { $0.path == "/_bulk" }
            #expect(bulk?.contentEncoding == nil)
            #expect(bulk?.header("Content-Type") == "application/x-ndjson")
            let body = String(decoding: bulk?.body ?? [], as: UTF8.self)
            #expect(body.hasPrefix(#"{"create":{"_index":"logs-web_app-prod","_id":""#))
        }
        #expect(logs.text.contains("connected to Elasticsearch"))
    }

    @Test func retryLimitDeadLettersWhatKeepsFailing() async throws {
        var serverConfig = ElasticsearchTestServerConfiguration()
        serverConfig.faultPlan = FaultPlan(itemRejectionShare: 1.0)
        let dir = try makeTempDirectory()
        try await withServer(serverConfig) { server in
            var config = testConfig(port: server.port)
            config.retry.maxAttempts = 3
            config.healthCheck = false
            // A request that times out is sent again without counting as an attempt (the server
            // may not have answered it): on a starved machine (a CI build and two fuzzers on two
            // cores) one 5 s timeout made 4 requests and 40 rejections. The server answers at once.
            config.requestTimeout = .seconds(60)
            try await withOutput(config, dataDirectory: dir) { output in
                let report = try await output.deliver(makeDocuments(10))
                #expect(report.delivered == 0)
                #expect(report.deadLettered == 10)
                #expect(report.requests == 3)
                let (records, _) = try DeadLetterRecord.read(path: output.deadLetterPath)
                #expect(records.count == 10)
                #expect(records.allSatisfy { $0.error.type == "shipper_retries_exhausted" && $0.status == 429 })
            }
            #expect(server.faultCounters.rejectedItems == 30)
        }
    }

    @Test func partlyFilledBatchesWaitForTheBatchTimeout() async throws {
        let dir = try makeTempDirectory()
        try await withServer { server in
            var config = testConfig(port: server.port)
            config.batch.timeout = .milliseconds(100)
            config.healthCheck = false
            // A request that times out is sent again (no answer, no verdict): on a starved
            // machine (a CI rehearsal beside a release build) 5 s timeouts made 5 requests of 3.
            config.requestTimeout = .seconds(60)
            try await withOutput(config, dataDirectory: dir) { output in
                let source = ArraySource(makeDocuments(3), batchSize: 1)
                let started = ContinuousClock.now
                try await output.run(source: source)
                // Three one-document batches: the 2nd and 3rd are read only after the timeout.
                // (Acknowledgements are in order; on a loaded machine two may be acknowledged together.)
                #expect(ContinuousClock.now - started >= .milliseconds(200))
                #expect(source.acknowledgements.last == 3)
                #expect(source.acknowledgements == source.acknowledgements.sorted())
            }
            #expect(server.requests.filter { $0.path == "/_bulk" }.count == 3)
        }
    }

    @Test func aRejectedTemplateStopsTheOutput() async throws {
        let dir = try makeTempDirectory()
        try #"{"template":{"settings":{"number_of_shards":1}}}"#.write(
            toFile: dir + "/t.json", atomically: true, encoding: .utf8)
        try await withServer { server in
            var config = testConfig(port: server.port)
            config.installTemplate = .init(name: "bad", file: dir + "/t.json")
            try await withOutput(config, dataDirectory: dir) { output in
                await #expect(throws: ElasticsearchOutputError.self) {
                    try await output.run(source: ArraySource(makeDocuments(1), batchSize: 1))
                }
            }
        }
    }
}
