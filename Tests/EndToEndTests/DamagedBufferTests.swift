import Foundation
import Testing

/// A buffer damaged between runs (a torn tail, flipped bytes in the middle of a segment): shipper
/// starts, moves the damaged part to quarantine/, ships the rest, and says what it quarantined.
@Suite(.serialized) struct DamagedBufferTests {
    @Test func quarantinesTheDamageAndShipsTheRest() async throws {
        let dir = try TempDir()
        let total = 5000
        let writer = try ContainerLogWriter(root: dir.path + "/containers", id: String(repeating: "f", count: 64), service: "web")
        for _ in 0..<total { try writer.write(padding: 100) }
        try writer.close()
        let blocker = try dir.write("out", "not a directory: the output fails until this is removed")
        let config = try dir.write("shipper.yaml", """
            data_dir: \(dir.path)/state
            drain_timeout: 1s
            telemetry: {address: "127.0.0.1:0"}
            sources:
              docker:
                type: docker
                paths: ["\(dir.path)/containers/*/*-json.log"]
            pipelines:
              all: {stages: []}
            buffer:
              path: \(dir.path)/state/buffer
              segment_size: 64KiB
              fsync: always
            outputs:
              files: {type: file, path: "\(dir.path)/out/events.ndjson"}
            """)
        // First run: everything goes into the buffer, nothing out.
        let first = try ShipperProcess(arguments: ["run", "--config", config], cwd: dir.path)
        #expect(await eventually {
            (try? shipper(["buffer", "inspect", dir.path + "/state/buffer"]).stdout.contains(" \(total) events")) == true
        })
        first.signal(SIGTERM)
        #expect(await first.wait() == 0, "\(first.stderr)")

        // Damage: flip bytes in the middle of the first segment, tear the end of the last one.
        let buffer = dir.path + "/state/buffer"
        let segments = try FileManager.default.contentsOfDirectory(atPath: buffer).filter { $0.hasPrefix("segment-") }.sorted()
        #expect(segments.count >= 3)
        let firstSegment = try FileHandle(forUpdating: URL(fileURLWithPath: buffer + "/" + segments[0]))
        let size = try firstSegment.seekToEnd()
        try firstSegment.seek(toOffset: size / 2)
        try firstSegment.write(contentsOf: Data(repeating: 0xFF, count: 24))
        try firstSegment.close()
        let last = try FileHandle(forUpdating: URL(fileURLWithPath: buffer + "/" + segments[segments.count - 1]))
        try last.seekToEnd()
        try last.write(contentsOf: Data([0x00, 0x00, 0x01, 0x00, 0x42, 0x42, 0x42]))
        try last.close()

        // Second run: the output works again.
        try FileManager.default.removeItem(atPath: blocker)
        let second = try shipper(["run", "--config", config, "--once"], cwd: dir.path)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("buffer recovered after an unclean stop"), "\(second.stderr)")
        #expect(second.stderr.contains("quarantine"), "\(second.stderr)")
        let quarantined = (try? FileManager.default.contentsOfDirectory(atPath: buffer + "/quarantine")) ?? []
        #expect(!quarantined.isEmpty)
        let follower = OutputFollower(path: dir.path + "/out/events.ndjson")
        let delivered = follower.update()
        // The rest of the damaged segment is lost (and reported), everything else arrives once.
        #expect(delivered > total / 2 && delivered < total, "delivered \(delivered) of \(total)")
        #expect(Set(follower.messages).count == delivered)
    }
}
