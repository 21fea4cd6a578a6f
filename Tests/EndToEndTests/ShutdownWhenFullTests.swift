import Foundation
import Testing

/// SIGTERM while the buffer is full and the output cannot deliver (found by the disk campaign:
/// the input waited for room forever, so shipper never exited). It must exit 0 within the drain
/// time, lose nothing, and send nothing twice: lines read but not buffered are read again.
@Suite(.serialized) struct ShutdownWhenFullTests {
    @Test func sigtermWithAFullBufferAndAStuckOutputExitsAndLosesNothing() async throws {
        let dir = try TempDir()
        let containers = dir.path + "/containers"
        let writer = try ContainerLogWriter(root: containers, id: String(repeating: "f", count: 64), service: "full")
        let total = 30_000
        for _ in 0..<total { try writer.write(padding: 200) }
        try writer.close()
        // The output's directory is a file: every write fails until it is removed.
        let blocker = try dir.write("out", "not a directory")
        let config = try dir.write("shipper.yaml", """
            data_dir: \(dir.path)/state
            telemetry: {address: "127.0.0.1:0"}
            drain_timeout: 2s
            sources:
              docker:
                type: docker
                paths: ["\(containers)/*/*-json.log"]
                discovery_interval: 100ms
            pipelines:
              all:
                stages: []
            buffer:
              path: \(dir.path)/state/buffer
              max_size: 1MiB
              segment_size: 256KiB
            outputs:
              files:
                type: file
                path: \(dir.path)/out/events.ndjson
                max_size: 1GiB
            """)
        var shipper = try ShipperProcess(arguments: ["run", "--config", config], cwd: dir.path)
        #expect(await eventually { shipper.stderr.contains("cannot write events; retrying") })
        #expect(await eventually { directorySize(dir.path + "/state/buffer") >= 900 * 1024 }, "the buffer fills to max_size")
        shipper.signal(SIGTERM)
        #expect(await shipper.wait(timeout: 30) == 0, "shipper must stop within the drain time: \(shipper.stderr.suffix(1500))")

        // The output works again: every line arrives exactly once.
        try FileManager.default.removeItem(atPath: blocker)
        shipper = try ShipperProcess(arguments: ["run", "--config", config], cwd: dir.path)
        let follower = OutputFollower(path: dir.path + "/out/events.ndjson")
        #expect(await eventually(timeout: 120) { follower.update() >= total })
        shipper.signal(SIGTERM)
        #expect(await shipper.wait() == 0, "\(shipper.stderr.suffix(1500))")
        follower.update()
        #expect(follower.counts.count == total, "distinct lines: \(follower.counts.count) of \(total)")
        #expect(follower.messages.count == total, "\(follower.messages.count - follower.counts.count) lines twice")
    }
}
