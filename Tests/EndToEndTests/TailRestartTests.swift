import Foundation
import Testing

/// Issue 3's acceptance run: three containers written while shipper runs, one rotated by rename
/// every 10 MiB, one by copytruncate; shipper stopped with SIGTERM and restarted, then killed
/// with SIGKILL and restarted. Every line arrives; only the SIGKILL may duplicate lines, and only
/// lines that had been delivered before it.
@Suite(.serialized) struct TailRestartTests {
    @Test func everyLineArrivesThroughRotationsRestartsAndAKill() async throws {
        let dir = try TempDir()
        let containers = dir.path + "/containers"
        let out = dir.path + "/out"
        let config = try dir.write("shipper.yaml", """
            data_dir: \(dir.path)/state
            telemetry: {address: "127.0.0.1:0"}
            drain_timeout: 10s
            sources:
              docker:
                type: docker
                paths: ["\(containers)/*/*-json.log"]
                discovery_interval: 100ms
                host_name: test-node
            pipelines:
              all:
                stages: []
            buffer:
              path: \(dir.path)/state/buffer
              fsync: 50ms
            outputs:
              files:
                type: file
                path: \(out)/events.ndjson
                max_size: 1GiB
            """)
        let perContainer = 100_000
        let writers = try [
            ContainerLogWriter(root: containers, id: String(repeating: "a", count: 64), service: "renamed"),
            ContainerLogWriter(root: containers, id: String(repeating: "b", count: 64), service: "copytruncated"),
            ContainerLogWriter(root: containers, id: String(repeating: "c", count: 64), service: "plain"),
        ]
        let tenMiB = 10 * 1_048_576
        let follower = OutputFollower(path: out + "/events.ndjson")
        var shipper = try ShipperProcess(arguments: ["run", "--config", config], cwd: dir.path)
        var linesBeforeKill = 0
        var writtenAtKill: [String: Int] = [:]
        for round in 0..<perContainer {
            for w in writers { try w.write() }
            if writers[0].currentSize >= tenMiB { try writers[0].rotateByRename() }
            if writers[1].currentSize >= tenMiB {
                // copytruncate loses what the reader has not read before the truncate (in every
                // shipper): wait until this container's last line is out, as a careful operator's
                // logrotate would not, but as this test must to check shipper and not logrotate.
                let last = "\(writers[1].id.prefix(8)) \(writers[1].written - 1) "
                #expect(await eventually { follower.update() > 0 && follower.messages.suffix(3000).contains { $0.hasPrefix(last) } })
                try writers[1].rotateByCopyTruncate()
            }
            if round == perContainer / 3 {
                shipper.signal(SIGTERM)
                #expect(await shipper.wait() == 0, "\(shipper.stderr)")
                shipper = try ShipperProcess(arguments: ["run", "--config", config], cwd: dir.path)
            }
            if round == 2 * perContainer / 3 {
                shipper.signal(SIGKILL)
                _ = await shipper.wait()
                linesBeforeKill = follower.update()
                for w in writers { writtenAtKill[String(w.id.prefix(8))] = w.written }
                shipper = try ShipperProcess(arguments: ["run", "--config", config], cwd: dir.path)
            }
        }
        for w in writers { try w.close() }
        let total = perContainer * writers.count
        #expect(await eventually(timeout: 180) { follower.update() >= total && follower.counts.count >= total })
        shipper.signal(SIGTERM)
        #expect(await shipper.wait() == 0, "\(shipper.stderr)")

        follower.update()
        var seen: [String: Int] = [:]
        for m in follower.messages {
            let key = String(m.prefix(while: { $0 != "x" }))
            seen[key, default: 0] += 1
        }
        // Every line at least once.
        for w in writers {
            for n in 0..<perContainer {
                #expect(seen["\(w.id.prefix(8)) \(n) "] != nil, "missing \(w.id.prefix(8)) \(n)")
                if seen["\(w.id.prefix(8)) \(n) "] == nil { return }
            }
        }
        // Duplicates only from the SIGKILL: lines read before it whose checkpoint had not been
        // written yet (they are read again, and the buffer may also replay them if the output had
        // not acknowledged them). A line written to the log after the kill is never duplicated.
        let duplicated = seen.filter { $0.value > 1 }.map(\.key)
        let afterKill = duplicated.filter { key in
            let parts = key.split(separator: " ")
            guard parts.count >= 2, let n = Int(parts[1]), let limit = writtenAtKill[String(parts[0])] else { return true }
            return n >= limit
        }
        #expect(afterKill.isEmpty, "\(afterKill.count) lines written after the kill were duplicated, e.g. \(afterKill.prefix(3))")
        #expect(duplicated.count < writers.count * perContainer / 10, "\(duplicated.count) duplicates: more than the kill can explain")
        let beforeKill = follower.messages.prefix(linesBeforeKill)
        #expect(beforeKill.count == Set(beforeKill).count, "duplicates before the SIGKILL (the SIGTERM restart must not duplicate)")
        // Swarm metadata from config.v2.json.
        let text = try String(contentsOfFile: out + "/events.ndjson", encoding: .utf8)
        let line = text.split(separator: "\n").first { $0.contains("\"message\":\"cccccccc") }.map(String.init) ?? "{}"
        let sample = try JSONSerialization.jsonObject(with: Data(line.utf8))
        #expect(value(sample as Any, "swarm.stack.namespace") as? String == "companynews")
        #expect(value(sample as Any, "service.name") as? String == "companynews_plain")
        #expect(value(sample as Any, "host.name") as? String == "test-node")
    }
}
