import Foundation
import Logging
import Testing

@testable import BufferDisk

#if canImport(Glibc)
import Glibc
#endif

/// The buffer's volume filling up before `max_size` (found by the disk campaign: shipper exited
/// on ENOSPC and, restarted, exited again). The append must wait, not fail, and go on once the
/// outputs' acknowledgements free segments. Needs a tmpfs to fill (root: runs in CI).
@Suite(.serialized) struct VolumeFullTests {
    /// Mounts a tmpfs of `bytes` on `path`; false where mounting is not allowed.
    static func mountTmpfs(_ path: String, bytes: Int) -> Bool {
        geteuid() == 0 && mount("tmpfs", path, "tmpfs", 0, "size=\(bytes)") == 0
    }

    static let canMount: Bool = {
        guard let dir = try? TempDir() else { return false }
        defer { _ = umount2(dir.path, Int32(MNT_DETACH)) }
        return mountTmpfs(dir.path, bytes: 64 << 10)
    }()

    @Test(.enabled(if: VolumeFullTests.canMount, "mounting a tmpfs needs root"))
    func anAppendWaitsWhileTheVolumeIsFullAndGoesOnWhenAcknowledgementsFreeSpace() async throws {
        let dir = try TempDir()
        #expect(Self.mountTmpfs(dir.path, bytes: 256 << 10))
        defer { _ = umount2(dir.path, Int32(MNT_DETACH)) }
        let log = LogCapture()
        let b = try DiskBuffer(config: config(dir, maxSize: 64 << 20, segmentSize: 64 << 10), readers: ["r"], logger: log.logger)
        // 640 records of 1 KiB: more than the 256 KiB volume holds.
        let appender = Task {
            for k in 0..<40 { try await b.append(records((k * 16)..<((k + 1) * 16), size: 1024)) }
        }
        try await eventually("the append waits for room on the volume") { b.stats().waitingForVolumeSpace }
        #expect(log.messages(.error).contains { $0.contains("volume is full") })
        #expect(b.stats().bytes < 256 << 10)

        // The reader delivers; its acknowledgements (ledger writes on a full volume included) free
        // segments, and the append goes on where it stopped.
        var got: [Int] = []
        while got.count < 640 {
            let batch = try #require(try await b.read(reader: "r", maxRecords: 32, maxBytes: 1 << 20))
            got += batch.records.map(number)
            try await b.acknowledge(reader: "r", through: batch.end)
        }
        try await appender.value
        #expect(got == Array(0..<640), "every record once, in order")
        #expect(!b.stats().waitingForVolumeSpace)
        try await b.append(records(640..<641, size: 1024))
        #expect(log.messages(.notice).contains { $0.contains("room on the buffer's volume again") }, "logged once an append goes through without pausing")
        try await b.close()

        // What is on disk is whole: reopening finds no torn or corrupt data.
        let again = try DiskBuffer(config: config(dir, maxSize: 64 << 20, segmentSize: 64 << 10), readers: ["r"], logger: log.logger)
        #expect(again.recovery.tornTails == 0 && again.recovery.quarantined.isEmpty)
        try await again.close()
    }

    /// A damaged record in a buffer on a full volume: the segment cannot be rewritten without it,
    /// so the damaged bytes stay in place as one unreadable record, skipped and counted when read;
    /// the records after it are still delivered (found by the disk campaign's long run).
    @Test(.enabled(if: VolumeFullTests.canMount, "mounting a tmpfs needs root"))
    func aDamagedRecordOnAFullVolumeCostsOnlyItself() async throws {
        let dir = try TempDir()
        #expect(Self.mountTmpfs(dir.path, bytes: 256 << 10))
        defer { _ = umount2(dir.path, Int32(MNT_DETACH)) }
        let log = LogCapture()
        do {
            let b = try DiskBuffer(config: config(dir, segmentSize: 1024), readers: ["r"], logger: log.logger)
            try await b.append(records(0..<40))
            try await b.close()
        }
        let victim = dir.segments()[1]  // records 13..25
        var bytes = dir.read(victim)
        bytes[2 * 78 + 40] ^= 0xFF  // record 15
        try dir.write(victim, bytes)
        // Fill the volume.
        let filler = open(dir.path + "/filler", O_WRONLY | O_CREAT, 0o644)
        let block = [UInt8](repeating: 7, count: 4096)
        while write(filler, block, block.count) > 0 {}
        close(filler)

        let b = try DiskBuffer(config: config(dir, segmentSize: 1024), readers: ["r"], logger: log.logger)
        try await b.close()
        let got = try await drain(b, "r").map(number)
        #expect(got == Array(0..<15) + Array(16..<40), "only the damaged record is lost")
        #expect(b.stats().corruptRecordsSkipped == 1, "counted when read")
        #expect(b.recovery.damagedRecords == 0, "not counted twice")
        #expect(log.messages(.error).contains { $0.contains("cannot be rewritten") && $0.contains(victim) })
        #expect(dir.read(victim) == bytes, "the segment is left as it was")
    }
}
