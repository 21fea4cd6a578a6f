import ElasticsearchTestServer
import Foundation
import Testing

/// Issue 5's acceptance runs ("run it on every node"): shipper as a real process shipping Docker
/// container logs to the in-repo Elasticsearch test server, operated as an orchestrator would —
/// stopped with SIGTERM while batches are in flight, reconfigured with SIGHUP, scraped on
/// `/metrics` and `/health`, and run as three nodes of which one is killed.
@Suite(.serialized) struct NodeOperationsTests {
    static let index = "node-ops"

    /// One shipper "node": its container-log directory, data directory (checkpoints, buffer) and config.
    struct Node {
        let dir: TempDir
        let containers: String
        let configPath: String

        init(
            esPort: Int, hostName: String = "node-1", route: String = "a", drainTimeout: String = "30s", batch: String = "{max_events: 500, timeout: 100ms}",
            pipelineStages: String? = nil, health: String = "", buffer: String = "", brokenKey: Bool = false
        ) throws {
            dir = try TempDir()
            containers = dir.path + "/containers"
            configPath = dir.path + "/shipper.yaml"
            try write(
                esPort: esPort, hostName: hostName, route: route, drainTimeout: drainTimeout, batch: batch, pipelineStages: pipelineStages,
                health: health, buffer: buffer, brokenKey: brokenKey)
        }

        /// The config text; `brokenKey` misspells `set` as `sett` in the modify stage.
        static func yaml(
            dir: String, containers: String, esPort: Int, hostName: String, route: String, drainTimeout: String, batch: String,
            pipelineStages: String?, health: String, buffer: String, brokenKey: Bool
        ) -> String {
            let stages = pipelineStages ?? """
                      - type: modify
                        \(brokenKey ? "sett" : "set"): {route: \(route)}
                """
            return """
                data_dir: \(dir)/state
                telemetry: {address: "127.0.0.1:0"\(health)}
                drain_timeout: \(drainTimeout)
                sources:
                  docker:
                    type: docker
                    paths: ["\(containers)/*/*-json.log"]
                    discovery_interval: 100ms
                    host_name: \(hostName)
                pipelines:
                  app:
                    stages:
                \(stages)
                buffer:
                  path: \(dir)/state/buffer
                  fsync: 50ms\(buffer)
                outputs:
                  es:
                    type: elasticsearch
                    hosts: ["http://127.0.0.1:\(esPort)"]
                    index: "\(NodeOperationsTests.index)"
                    batch: \(batch)
                    max_in_flight: 2
                    retry: {initial_backoff: 20ms, max_backoff: 200ms}
                    host_cooldown: 200ms
                """
        }

        /// (Re)writes the config file.
        func write(
            esPort: Int, hostName: String = "node-1", route: String = "a", drainTimeout: String = "30s", batch: String = "{max_events: 500, timeout: 100ms}",
            pipelineStages: String? = nil, health: String = "", buffer: String = "", brokenKey: Bool = false
        ) throws {
            let text = Self.yaml(
                dir: dir.path, containers: containers, esPort: esPort, hostName: hostName, route: route, drainTimeout: drainTimeout,
                batch: batch, pipelineStages: pipelineStages, health: health, buffer: buffer, brokenKey: brokenKey)
            try Data(text.utf8).write(to: URL(fileURLWithPath: configPath))
        }

        func start() throws -> ShipperProcess {
            try ShipperProcess(arguments: ["run", "--config", configPath], cwd: dir.path)
        }
    }

    /// The indexed documents as JSON objects.
    static func documents(_ server: ElasticsearchTestServer) -> [[String: Any]] {
        server.documents(index: index).compactMap { try? JSONSerialization.jsonObject(with: Data($0.source)) as? [String: Any] }
    }

    /// `(container prefix, line number)` of a message `ContainerLogWriter.write` made.
    static func lineKey(_ doc: [String: Any]) -> (String, Int)? {
        guard let message = doc["message"] as? String else { return nil }
        let parts = message.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let n = Int(parts[1]) else { return nil }
        return (String(parts[0]), n)
    }

    /// Checks that the documents are exactly lines `0..<count` of each writer, once each.
    static func expectExactlyOnce(_ docs: [[String: Any]], writers: [ContainerLogWriter], sourceLocation: SourceLocation = #_sourceLocation) {
        var seen: [String: [Int]] = [:]
        for w in writers { seen[String(w.id.prefix(8))] = [Int](repeating: 0, count: w.written) }
        var unexpected = 0
        for d in docs {
            guard let (prefix, n) = lineKey(d), seen[prefix] != nil, n < seen[prefix]!.count else {
                unexpected += 1
                continue
            }
            seen[prefix]![n] += 1
        }
        #expect(unexpected == 0, "\(unexpected) documents that no writer wrote", sourceLocation: sourceLocation)
        for (prefix, counts) in seen.sorted(by: { $0.key < $1.key }) {
            let missing = counts.indices.filter { counts[$0] == 0 }
            let doubled = counts.indices.filter { counts[$0] > 1 }
            #expect(missing.isEmpty, "\(prefix): \(missing.count) lines missing, e.g. \(missing.prefix(5))", sourceLocation: sourceLocation)
            #expect(doubled.isEmpty, "\(prefix): \(doubled.count) lines indexed more than once, e.g. \(doubled.prefix(5))", sourceLocation: sourceLocation)
        }
    }

    // MARK: a. SIGTERM with batches in flight

    @Test func sigtermWhileBatchesAreInFlightDeliversEverythingReadAndExitsZero() async throws {
        let server = try await ElasticsearchTestServer.start()
        // Bulk requests are applied but not answered until the test releases them: batches are in
        // flight at the signal however fast or loaded the machine is.
        server.holdBulkAnswers()
        let node = try Node(esPort: server.port, drainTimeout: "30s", batch: "{max_events: 100, timeout: 50ms}")
        let writer = try ContainerLogWriter(root: node.containers, id: String(repeating: "a", count: 64), service: "api")
        let total = 4000
        for _ in 0..<total { try writer.write(padding: 100) }
        try writer.close()
        let shipper = try node.start()
        let port = try #require(await telemetryPort(shipper), "no telemetry line in \(shipper.stderr)")
        // Every line has been read (the source's counter) and requests wait for their answers.
        #expect(await eventually(timeout: 60) {
            scrapeMetrics(port: port)?.value("shipper_component_received_events_total", component: "docker") == Double(total)
                && server.heldBulkAnswerCount > 0
        })
        let atSignal = server.totalDocumentCount
        #expect(atSignal < total, "the test needs batches in flight at the signal")
        let signalled = Date()
        shipper.signal(SIGTERM)
        // The drain has begun (the input stops first) with the requests still unanswered.
        #expect(await eventually(timeout: 30) { shipper.stderr.contains("input stopped") }, "\(shipper.stderr.suffix(2000))")
        server.releaseBulkAnswers()
        let status = await shipper.wait(timeout: 60)
        let took = Date().timeIntervalSince(signalled)
        #expect(status == 0, "\(shipper.stderr.suffix(2000))")
        #expect(took < 30, "shipper took \(took) s to stop; the drain time is 30 s")
        #expect(!shipper.stderr.contains("drain time over"))
        #expect(server.totalDocumentCount == total)
        Self.expectExactlyOnce(Self.documents(server), writers: [writer])
        try await server.shutdown()
    }

    // MARK: b. SIGHUP

    @Test func sighupReloadsRoutingWithoutLosingEventsAndRefusesABrokenConfig() async throws {
        let server = try await ElasticsearchTestServer.start()
        let node = try Node(esPort: server.port, route: "a")
        let writer = try ContainerLogWriter(root: node.containers, id: String(repeating: "b", count: 64), service: "api")
        let shipper = try node.start()
        // 0..<200 under route a, all delivered.
        for _ in 0..<200 { try writer.write(padding: 40) }
        #expect(await server.wait(timeout: .seconds(60)) { $0.totalDocumentCount >= 200 })

        // 200..<400 written as the reload happens: each gets a or b, in file order (a then b).
        try node.write(esPort: server.port, route: "b")
        for _ in 200..<300 { try writer.write(padding: 40) }
        shipper.signal(SIGHUP)
        for _ in 300..<400 { try writer.write(padding: 40) }
        #expect(await eventually { shipper.stderr.contains("configuration reloaded") }, "\(shipper.stderr.suffix(2000))")
        #expect(!shipper.stderr.contains("applies at the next restart"), "only the pipelines changed: \(shipper.stderr.suffix(2000))")
        // 400..<600 written after the reload: route b.
        for _ in 400..<600 { try writer.write(padding: 40) }
        #expect(await server.wait(timeout: .seconds(60)) { $0.totalDocumentCount >= 600 })

        // A config with an unknown key is refused with its position; the running one stays.
        try node.write(esPort: server.port, route: "c", brokenKey: true)
        let text = try String(contentsOfFile: node.configPath, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let lineIndex = try #require(lines.firstIndex { $0.contains("sett:") })
        let column = lines[lineIndex].distance(from: lines[lineIndex].startIndex, to: lines[lineIndex].range(of: "sett")!.lowerBound) + 1
        let position = "shipper.yaml:\(lineIndex + 1):\(column)"
        shipper.signal(SIGHUP)
        #expect(await eventually { shipper.stderr.contains("configuration reload refused") }, "\(shipper.stderr.suffix(2000))")
        let refusal = shipper.stderr.split(separator: "\n").first { $0.contains("configuration reload refused") }.map(String.init) ?? ""
        #expect(refusal.contains(position), "expected \(position) in: \(refusal)")
        #expect(refusal.contains("sett"), "the error names the unknown key: \(refusal)")
        // An output's settings changed: the pipelines reload, and the log says the rest waits.
        try node.write(esPort: server.port, route: "b", batch: "{max_events: 400, timeout: 100ms}")
        shipper.signal(SIGHUP)
        #expect(await eventually { shipper.stderr.contains("applies at the next restart") }, "\(shipper.stderr.suffix(2000))")
        let waiting = shipper.stderr.split(separator: "\n").first { $0.contains("applies at the next restart") }.map(String.init) ?? ""
        #expect(waiting.contains("outputs") && !waiting.contains("sources"), "\(waiting)")
        for _ in 600..<800 { try writer.write(padding: 40) }
        try writer.close()
        #expect(await server.wait(timeout: .seconds(60)) { $0.totalDocumentCount >= 800 })

        shipper.signal(SIGTERM)
        #expect(await shipper.wait() == 0, "\(shipper.stderr.suffix(2000))")
        let docs = Self.documents(server)
        Self.expectExactlyOnce(docs, writers: [writer])
        var routes = [String](repeating: "?", count: 800)
        for d in docs {
            if let (_, n) = Self.lineKey(d), n < routes.count { routes[n] = d["route"] as? String ?? "none" }
        }
        #expect(routes[0..<200].allSatisfy { $0 == "a" }, "before the reload: \(Set(routes[0..<200]))")
        #expect(routes[400..<800].allSatisfy { $0 == "b" }, "after the reload (and the refused one): \(Set(routes[400..<800]))")
        let during = Array(routes[200..<400])
        let firstB = during.firstIndex(of: "b") ?? during.count
        #expect(during[..<firstB].allSatisfy { $0 == "a" } && during[firstB...].allSatisfy { $0 == "b" }, "during the reload, a then b: \(during)")
        try await server.shutdown()
    }

    // MARK: c. /metrics against what Elasticsearch received

    @Test func metricsAgreeWithWhatWasWrittenAndWhatElasticsearchReceived() async throws {
        var configuration = ElasticsearchTestServerConfiguration()
        configuration.faultPlan.seed = 3
        configuration.faultPlan.itemRejectionShare = 0.05
        configuration.faultPlan.mappingErrorRules = [.fieldEquals("poison", "yes")]
        let server = try await ElasticsearchTestServer.start(configuration: configuration)
        let stages = """
                  - type: parse
                    parsers: [json]
                  - type: filter
                    drop: {drop: "yes"}
            """
        let node = try Node(esPort: server.port, pipelineStages: stages)
        let writer = try ContainerLogWriter(root: node.containers, id: String(repeating: "c", count: 64), service: "api")
        // Of 2000 lines: every 10th (n % 10 == 3) is not JSON (a parse failure, shipped), every 10th
        // (n % 10 == 5) is dropped by the filter, every 50th (n % 50 == 7) has a field the index refuses.
        let total = 2000
        for n in 0..<total {
            switch n {
            case _ where n % 10 == 3: try writer.writeRaw("plain text \(n)")
            case _ where n % 10 == 5: try writer.writeRaw(#"{\"n\":\#(n),\"drop\":\"yes\"}"#)
            case _ where n % 50 == 7: try writer.writeRaw(#"{\"n\":\#(n),\"poison\":\"yes\"}"#)
            default: try writer.writeRaw(#"{\"n\":\#(n)}"#)
            }
        }
        try writer.close()
        let unparsed = (0..<total).count { $0 % 10 == 3 }
        let dropped = (0..<total).count { $0 % 10 == 5 }
        let poisoned = (0..<total).count { $0 % 50 == 7 }
        let kept = total - dropped
        let shipper = try node.start()
        let port = try #require(await telemetryPort(shipper), "no telemetry line in \(shipper.stderr)")
        #expect(await server.wait(timeout: .seconds(60)) { $0.count(index: Self.index) >= kept - poisoned })
        // Counters follow the answers they count: wait until the sink has counted what the server has.
        var page: MetricsPage?
        #expect(await eventually {
            page = scrapeMetrics(port: port)
            return page?.value("shipper_component_sent_events_total", component: "es") == Double(server.count(index: Self.index))
                && page?.value("shipper_dead_letters_total", component: "es") == Double(poisoned)
                && page?.value("shipper_output_lag_events", component: "es") == 0
        }, "\(page.map { $0.samples.map { "\($0.name)\($0.labels) \($0.value)" }.joined(separator: "\n") } ?? "no metrics")")
        let m = try #require(page)
        let docs = server.count(index: Self.index)
        #expect(docs == kept - poisoned)
        // Source: lines and bytes read, events made.
        #expect(m.value("shipper_component_received_events_total", component: "docker", ["component_kind": "source"]) == Double(total))
        #expect(m.value("shipper_component_received_bytes_total", component: "docker") == Double(writer.currentSize))
        #expect(m.value("shipper_component_sent_events_total", component: "docker") == Double(total))
        #expect(m.value("shipper_files_tailed", component: "docker") == 1)
        // Read to its end: no lag, under the file's path.
        let lag = m.samples.filter { $0.name == "shipper_file_read_lag_bytes" }
        #expect(lag.map { $0.labels["path"] } == [writer.logPath] && lag.map(\.value) == [0], "\(lag)")
        // Pipeline: in, out, dropped by the filter, parse failures.
        #expect(m.value("shipper_component_received_events_total", component: "app", ["component_kind": "transform"]) == Double(total))
        #expect(m.value("shipper_component_sent_events_total", component: "app") == Double(kept))
        #expect(m.value("shipper_component_discarded_events_total", component: "app") == Double(dropped))
        #expect(m.value("shipper_component_errors_total", component: "app", ["error_type": "parse_failed"]) == Double(unparsed))
        #expect(m.value("shipper_component_errors_total", component: "app", ["error_type": "decode_failed"]) == 0)
        // Output: read from the buffer, accepted by Elasticsearch, retried, dead-lettered.
        #expect(m.value("shipper_component_received_events_total", component: "es", ["component_kind": "sink"]) == Double(kept))
        #expect(m.value("shipper_component_sent_events_total", component: "es") == Double(docs))
        #expect(m.value("shipper_output_retries_total", component: "es") == Double(server.faultCounters.rejectedItems))
        #expect(server.faultCounters.rejectedItems > 0)
        #expect(m.value("shipper_dead_letters_total", component: "es") == Double(server.faultCounters.mappingErrorItems))
        #expect(m.value("shipper_component_errors_total", component: "es", ["error_type": "item_rejected"]) == Double(poisoned))
        #expect((m.value("shipper_component_sent_bytes_total", component: "es") ?? 0) > 0)
        // Buffer gauges are there; everything is acknowledged.
        #expect(m.value("shipper_buffer_bytes") != nil)
        #expect(m.value("shipper_buffer_events") != nil)
        let health = httpGet(port: port, path: "/health")
        #expect(health?.status == 200, "\(health?.body ?? "no answer")")
        shipper.signal(SIGTERM)
        #expect(await shipper.wait() == 0, "\(shipper.stderr.suffix(2000))")
        try await server.shutdown()
    }

    // MARK: d. Three nodes, one killed

    @Test func threeNodesOneKilledAndRestartedEveryLineOnceWithItsNode() async throws {
        let server = try await ElasticsearchTestServer.start()
        let ids = ["a", "b", "c"].map { String(repeating: $0, count: 64) }
        var nodes: [Node] = []
        var writers: [ContainerLogWriter] = []
        var shippers: [ShipperProcess] = []
        for k in 0..<3 {
            let node = try Node(esPort: server.port, hostName: "node-\(k + 1)", batch: "{max_events: 200, timeout: 50ms}")
            nodes.append(node)
            writers.append(try ContainerLogWriter(root: node.containers, id: ids[k], service: "web", node: "node-\(k + 1)-id"))
        }
        for node in nodes { shippers.append(try node.start()) }
        let perNode = 3000
        let half = perNode / 2
        for w in writers {
            for _ in 0..<half { try w.write(padding: 80) }
        }
        // Kill node 2 once part of what it read is in Elasticsearch (and part is in flight).
        #expect(await server.wait(timeout: .seconds(60)) { $0.totalDocumentCount >= half })
        shippers[1].signal(SIGKILL)
        _ = await shippers[1].wait()
        for w in writers {
            for _ in half..<perNode { try w.write(padding: 80) }
            try w.close()
        }
        shippers[1] = try nodes[1].start()
        #expect(await server.wait(timeout: .seconds(90)) { $0.totalDocumentCount >= 3 * perNode })
        for s in shippers { s.signal(SIGTERM) }
        for s in shippers { #expect(await s.wait() == 0, "\(s.stderr.suffix(2000))") }
        let docs = Self.documents(server)
        #expect(docs.count == 3 * perNode)
        Self.expectExactlyOnce(docs, writers: writers)
        // Each event names its node.
        let nodeOf = Dictionary(uniqueKeysWithValues: ids.enumerated().map { (String($1.prefix(8)), "node-\($0 + 1)") })
        let wrongHost = docs.filter { d in
            guard let (prefix, _) = Self.lineKey(d) else { return true }
            return value(d, "host.name") as? String != nodeOf[prefix]
        }
        #expect(wrongHost.isEmpty, "\(wrongHost.count) events with the wrong host.name, e.g. \(wrongHost.first.map { "\($0)" } ?? "")")
        try await server.shutdown()
    }

    // MARK: /health during an Elasticsearch outage

    @Test func healthAnswers503WhileElasticsearchIsDownAndRecovers() async throws {
        let server = try await ElasticsearchTestServer.start()
        let node = try Node(esPort: server.port, health: ", health: {output_failing_after: 1s}")
        let writer = try ContainerLogWriter(root: node.containers, id: String(repeating: "d", count: 64), service: "api")
        let shipper = try node.start()
        let port = try #require(await telemetryPort(shipper), "no telemetry line in \(shipper.stderr)")
        for _ in 0..<100 { try writer.write(padding: 40) }
        #expect(await server.wait(timeout: .seconds(60)) { $0.totalDocumentCount >= 100 })
        var answer: HTTPAnswer?
        #expect(await eventually { answer = httpGet(port: port, path: "/health"); return answer?.status == 200 }, "\(answer?.body ?? "no answer")")
        #expect(answer?.body == #"{"status":"ok"}"#)

        // Down: the output fails; after output_failing_after (1 s) /health says so.
        try await server.goDown(.refuseConnections)
        let down = Date()
        for _ in 100..<200 { try writer.write(padding: 40) }
        #expect(await eventually { answer = httpGet(port: port, path: "/health"); return answer?.status == 503 }, "\(answer?.body ?? "no answer")")
        #expect(Date().timeIntervalSince(down) >= 1, "503 only after output_failing_after")
        #expect(answer?.body.contains(#""status":"unhealthy""#) == true)
        #expect(answer?.body.contains("output 'es' has been failing") == true, "\(answer?.body ?? "")")
        // `shipper health` fails now; `--live` (liveness: a restart would not help) succeeds.
        let probe = try CapturedProcess(executable: Repo.shipper, arguments: ["health", "--address", "127.0.0.1:\(port)"], cwd: node.dir.path)
        #expect(await probe.wait() == 1 && probe.stdout.contains("unhealthy"), "\(probe.stdout)\(probe.stderr)")
        let live = try CapturedProcess(executable: Repo.shipper, arguments: ["health", "--live", "--address", "127.0.0.1:\(port)"], cwd: node.dir.path)
        #expect(await live.wait() == 0 && live.stdout.contains("unhealthy"), "\(live.stdout)\(live.stderr)")

        // Back up: delivered, healthy again.
        try await server.comeUp()
        #expect(await server.wait(timeout: .seconds(60)) { $0.totalDocumentCount >= 200 })
        #expect(await eventually { answer = httpGet(port: port, path: "/health"); return answer?.status == 200 }, "\(answer?.body ?? "no answer")")
        try writer.close()
        shipper.signal(SIGTERM)
        #expect(await shipper.wait() == 0, "\(shipper.stderr.suffix(2000))")
        // Nothing answers: even `--live` fails.
        let gone = try CapturedProcess(executable: Repo.shipper, arguments: ["health", "--live", "--address", "127.0.0.1:\(port)"], cwd: node.dir.path)
        #expect(await gone.wait() == 1, "\(gone.stdout)\(gone.stderr)")
        #expect(gone.stderr.contains("no answer from 127.0.0.1:\(port): Connection refused; is shipper running"), "\(gone.stderr)")
        Self.expectExactlyOnce(Self.documents(server), writers: [writer])
        try await server.shutdown()
    }

    @Test func healthAnswers503WhileTheBufferIsAboveItsHighWaterMark() async throws {
        let server = try await ElasticsearchTestServer.start()
        try await server.goDown(.refuseConnections)
        let node = try Node(
            esPort: server.port, health: ", health: {buffer_high_water: 0.5}",
            buffer: "\n  max_size: 256KiB\n  segment_size: 32KiB")
        let writer = try ContainerLogWriter(root: node.containers, id: String(repeating: "e", count: 64), service: "api")
        // About 1 MB of lines: four times what the buffer may hold while Elasticsearch is down.
        for _ in 0..<3000 { try writer.write(padding: 250) }
        try writer.close()
        let shipper = try node.start()
        let port = try #require(await telemetryPort(shipper), "no telemetry line in \(shipper.stderr)")
        var answer: HTTPAnswer?
        // (The output's own failing can be the first reason for a 503 on a slow machine: wait for
        // the buffer's.)
        #expect(await eventually {
            answer = httpGet(port: port, path: "/health")
            return answer?.status == 503 && answer?.body.contains("the buffer is") == true
        }, "\(answer?.body ?? "no answer")")
        #expect(answer?.body.contains("(high water 50%)") == true, "\(answer?.body ?? "")")
        let page = try #require(scrapeMetrics(port: port))
        #expect((page.value("shipper_buffer_bytes") ?? 0) >= 128 * 1024)
        #expect((page.value("shipper_output_lag_events", component: "es") ?? 0) > 0)

        try await server.comeUp()
        #expect(await server.wait(timeout: .seconds(60)) { $0.totalDocumentCount >= 3000 })
        // The backlog spans about 60 segments of 32 KiB; it goes out in full batches of 500, not
        // a batch per segment (each short batch waits for the batch timeout). Six full batches,
        // plus the short ones cut by the timeout while the buffer filled (before Elasticsearch
        // came back) and the last: 9 to 13 requests measured, 13 with two fuzzers beside.
        #expect(server.bulkTotals.requests <= 20, "\(server.bulkTotals.requests) bulk requests for 3000 events in batches of 500")
        #expect(await eventually { answer = httpGet(port: port, path: "/health"); return answer?.status == 200 }, "\(answer?.body ?? "no answer")")
        shipper.signal(SIGTERM)
        #expect(await shipper.wait() == 0, "\(shipper.stderr.suffix(2000))")
        Self.expectExactlyOnce(Self.documents(server), writers: [writer])
        try await server.shutdown()
    }
}
