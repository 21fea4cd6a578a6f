import Foundation
import Testing

/// The README's first command: the demo config on the bundled container logs.
@Suite struct DemoRunTests {
    @Test func theDemoWritesEveryEventWithSwarmMetadata() throws {
        let dir = try TempDir()
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/pipelines", withDestinationPath: Repo.path("pipelines"))
        let r = try shipper(["run", "--config", "pipelines/demo.yaml", "--once"], cwd: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/out").filter { !$0.hasPrefix(".") }.sorted()
        #expect(files == ["companynews_dynamic-2026-11-25.ndjson", "companynews_static-2026-11-25.ndjson"])
        var events: [Any] = []
        for f in files {
            let text = try String(contentsOfFile: dir.path + "/out/" + f, encoding: .utf8)
            events += try text.split(separator: "\n").map { try json(String($0)) }
        }
        // 13 + 18 physical lines: 3 nginx chunks join into 1 line, 10 Jetty lines are one stack trace.
        #expect(events.count == 11 + 9)
        for e in events {
            #expect(value(e, "swarm.stack.namespace") as? String == "companynews")
            #expect(value(e, "host.name") as? String == "demo-node-1")
            #expect(value(e, "container.image.name") != nil)
            #expect(value(e, "event.dataset") != nil)
        }
        let traces = events.filter { value($0, "error.stack_trace") != nil }
        #expect(traces.count == 1)
        #expect(r.stderr.contains("events=20 lines=31"), "\(r.stderr)")
        #expect(files.contains { $0.hasPrefix(".") } == false)

        // A second run reads nothing twice: the checkpoints remember where each file was read to.
        let again = try shipper(["run", "--config", "pipelines/demo.yaml", "--once"], cwd: dir.path)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("events=0 lines=0"), "\(again.stderr)")
        var count = 0
        for f in files { count += try String(contentsOfFile: dir.path + "/out/" + f, encoding: .utf8).split(separator: "\n").count }
        #expect(count == 20)
    }
}
