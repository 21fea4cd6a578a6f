import Foundation
import Testing

/// With the output failing, the buffer fills to max_size, reading pauses, memory stays bounded
/// whatever the backlog, and everything is delivered once the output recovers.
@Suite(.serialized) struct BufferFullTests {
    /// Peak resident memory of a process, from /proc (KiB).
    func peakRSS(_ pid: Int32) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        let line = text.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }

    func run(backlog: Int) async throws -> (peakKiB: Int, delivered: Int) {
        let dir = try TempDir()
        let containers = dir.path + "/containers"
        let writer = try ContainerLogWriter(root: containers, id: String(repeating: "d", count: 64), service: "busy")
        for _ in 0..<backlog { try writer.write(padding: 200) }
        try writer.close()
        // The output's directory is a file: every write fails until it is removed.
        let blocker = try dir.write("out", "not a directory")
        let config = try dir.write("shipper.yaml", """
            data_dir: \(dir.path)/state
            telemetry: {address: "127.0.0.1:0"}
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
              max_size: 4MiB
              segment_size: 1MiB
            outputs:
              files:
                type: file
                path: \(dir.path)/out/events.ndjson
                max_size: 1GiB
            """)
        let shipper = try ShipperProcess(arguments: ["run", "--config", config], cwd: dir.path)
        // Reading pauses once the buffer is full: the buffer stops growing near max_size.
        #expect(await eventually { shipper.stderr.contains("cannot write events; retrying") })
        var bufferBytes = 0
        #expect(await eventually {
            bufferBytes = directorySize(dir.path + "/state/buffer")
            return bufferBytes >= 3 * 1_048_576
        })
        #expect(bufferBytes <= 6 * 1_048_576, "buffer grew past max_size: \(bufferBytes)")
        // The output recovers: everything arrives.
        try FileManager.default.removeItem(atPath: blocker)
        let follower = OutputFollower(path: dir.path + "/out/events.ndjson")
        #expect(await eventually(timeout: 120) { follower.update() >= backlog })
        let peak = peakRSS(shipper.process.processIdentifier)  // the high-water mark of the whole run
        shipper.signal(SIGTERM)
        #expect(await shipper.wait() == 0, "\(shipper.stderr)")
        return (peak, follower.update())
    }

    @Test func memoryDoesNotGrowWithTheBacklogAndShippingResumes() async throws {
        let small = try await run(backlog: 60_000)
        let large = try await run(backlog: 240_000)
        #expect(small.delivered == 60_000)
        #expect(large.delivered == 240_000)
        // Both backlogs are several times the buffer's 4 MiB. Four times the backlog is 45 MB more
        // input and about 180 MB more of encoded events: memory that followed the backlog would grow
        // by that much. Peak RSS varies by about 20 MB from run to run (allocator, thread timing)
        // at either size, hence the margin.
        #expect(large.peakKiB < small.peakKiB + 40 * 1024, "peak RSS \(small.peakKiB) KiB → \(large.peakKiB) KiB")
    }
}

func directorySize(_ path: String) -> Int {
    let files = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
    return files.reduce(0) { sum, f in
        sum + (((try? FileManager.default.attributesOfItem(atPath: path + "/" + f))?[.size] as? Int) ?? 0)
    }
}
