import Foundation
import Logging
import ShipperCore
import Testing

@testable import BufferDisk

/// Acknowledged segment files written over as new segments, and what a crash leaves in them.
@Suite struct SegmentReuseTests {
    let log = LogCapture()

    /// Frames of `range` (78 bytes each) salted for segment `id`.
    func frames(_ range: Range<Int>, segment id: UInt64) throws -> [UInt8] {
        try RecordCodec.salted(RecordCodec.encodeFrames(records(range)).bytes, salt: SegmentName.salt(id))
    }

    func inode(_ dir: TempDir, _ name: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: dir.path + "/" + name)
        return try #require(attributes[.systemFileNumber] as? Int)
    }

    func readAndAcknowledge(_ b: DiskBuffer, count: Int) async throws -> [Int] {
        var seen: [Int] = []
        while seen.count < count {
            let batch = try #require(try await b.read(reader: "r", maxRecords: 50, maxBytes: 1 << 20))
            seen += batch.records.map(number)
            try await b.acknowledge(reader: "r", through: batch.end)
        }
        return seen
    }

    @Test func aDeliveredSegmentsFileBecomesTheNextSegment() async throws {
        let dir = try TempDir()
        let b = try DiskBuffer(config: config(dir, segmentSize: 1024), readers: ["r"], logger: log.logger)
        try await b.append(records(0..<40))  // 13 frames of 78 bytes per segment: 1, 2, 3 full, 4 active
        let initial = dir.segments()
        #expect(initial.count == 4)
        #expect(try await readAndAcknowledge(b, count: 40) == Array(0..<40))
        // Segments 1 to 3 are acknowledged: their files are kept as they were.
        #expect(dir.segments() == initial)
        #expect(b.stats().segments == 1 && b.stats().spareBytes == 3 * 13 * 78)
        let spare = try inode(dir, initial[2])

        // Segment 4 fills up (12 more); the 13th goes to segment 5, which is the old file of 3
        // (the most recently acknowledged).
        try await b.append(records(40..<53))
        let now = dir.segments()
        #expect(now.count == 4 && Array(now[0..<3]) == [initial[0], initial[1], initial[3]])
        #expect(SegmentName.id(fromFileName: now[3]) == 5)
        #expect(try inode(dir, now[3]) == spare)
        #expect(dir.size(now[3]) == 13 * 78)  // the old frames after the new one are still there
        #expect(try await readRecords(b, "r", count: 13).records.map(number) == Array(40..<53))
        try await b.close()
        #expect(dir.segments() == [initial[3], now[3]])  // close deletes the spares
        #expect(dir.size(now[3]) == 78)  // and cuts the reused segment to its one record

        let c = try DiskBuffer(config: config(dir, segmentSize: 1024), readers: ["r"], logger: log.logger)
        try await c.close()
        #expect(try await drain(c, "r").map(number) == Array(40..<53))
        #expect(c.recovery.tornTails == 0 && c.recovery.damagedRecords == 0 && c.recovery.quarantined.isEmpty)
        #expect(log.messages(.error).isEmpty && log.messages(.warning).isEmpty)
    }

    @Test func aSegmentSealedByRotationIsCutToItsRecords() async throws {
        let dir = try TempDir()
        let b = try DiskBuffer(config: config(dir, segmentSize: 1024), readers: ["r"], logger: log.logger)
        try await b.append(records(0..<40))
        _ = try await readAndAcknowledge(b, count: 40)
        // Segment 5 (the old file of 3) gets 11 of the records with 50-byte documents (1024 / 88).
        try await b.append(records(40..<52))
        try await b.append(records(52..<100, size: 50))
        let reused = try #require(dir.segments().first { SegmentName.id(fromFileName: $0) == 5 })
        #expect(dir.size(reused) == 11 * 88)
        #expect(try await readRecords(b, "r", count: 60).records.map(number) == Array(40..<100))
        try await b.close()
    }

    /// Up to 16 spares are kept (the lag rises and falls, and the files freed when it falls are
    /// needed when it rises again); once everything is acknowledged and no segment was started
    /// for the quiet period, the four most recently acknowledged stay.
    @Test func sparesAreKeptThroughALagAndFourStayOnceQuiet() async throws {
        let dir = try TempDir()
        let b = try DiskBuffer(config: config(dir, segmentSize: 1024), readers: ["r"], logger: log.logger)
        try await b.append(records(0..<118))  // 9 full segments of 13, the 10th active with 1
        let initial = dir.segments()
        #expect(initial.count == 10)
        #expect(try await readAndAcknowledge(b, count: 78) == Array(0..<78))
        #expect(b.stats().segments == 4 && b.stats().spareBytes == 6 * 13 * 78)
        // Caught up, but a segment was started just now: all nine stay.
        #expect(try await readAndAcknowledge(b, count: 40) == Array(78..<118))
        #expect(b.stats().segments == 1 && b.stats().spareBytes == 9 * 13 * 78)
        #expect(dir.segments() == initial)
        // Quiet: at the next acknowledgement, the spares of segments 1 to 5 go.
        b.setSpareQuietPeriod(.zero)
        try await b.append(records(118..<119))
        #expect(try await readAndAcknowledge(b, count: 1) == [118])
        #expect(b.stats().segments == 1 && b.stats().spareBytes == 4 * 13 * 78)
        #expect(dir.segments() == Array(initial[5...]))
        // The next segments are written over the spares; nothing is lost.
        try await b.append(records(119..<170))
        #expect(try await readRecords(b, "r", count: 51).records.map(number) == Array(119..<170))
        #expect(dir.segments().count == 5)
        try await b.close()
        #expect(log.messages(.error).isEmpty && log.messages(.warning).isEmpty)
    }

    /// A tick trims the spares too (the periodic fsync with `fsync: <interval>`, a timer with
    /// `always` and `never`): a node that falls silent after a catch-up (no more
    /// acknowledgements) keeps four.
    @Test(arguments: [DiskBufferFsync.interval(.milliseconds(20)), .never, .always])
    func aTickTrimsTheSparesOnceQuiet(fsync: DiskBufferFsync) async throws {
        let dir = try TempDir()
        var c = config(dir, segmentSize: 1024, fsync: fsync)
        c.spareTrimInterval = .milliseconds(20)
        let b = try DiskBuffer(config: c, readers: ["r"], logger: log.logger)
        try await b.append(records(0..<118))
        let initial = dir.segments()
        #expect(try await readAndAcknowledge(b, count: 118) == Array(0..<118))
        #expect(b.stats().spareBytes == 9 * 13 * 78)  // a segment was started just now
        b.setSpareQuietPeriod(.zero)
        // (The files are deleted just after the spares are let go, outside the buffer's lock.)
        try await eventually("the spares trimmed to four") {
            b.stats().spareBytes == 4 * 13 * 78 && dir.segments() == Array(initial[5...])
        }
        try await b.close()
        #expect(log.messages(.error).isEmpty)
    }

    /// Spares count in `max_size`: an append that needs their room deletes them, and the files
    /// on disk stay within it.
    @Test func sparesMakeRoomForAnAppendThatNeedsIt() async throws {
        let dir = try TempDir()
        let b = try DiskBuffer(config: config(dir, maxSize: 4096, segmentSize: 1024), readers: ["r"], logger: log.logger)
        try await b.append(records(0..<40))
        _ = try await readAndAcknowledge(b, count: 40)
        #expect(b.stats().spareBytes == 3 * 13 * 78 && dir.segments().count == 4)
        try await b.append(records(40..<70))  // 2,340 bytes: 78 + 3,042 of spares + 2,340 > 4,096
        #expect(b.stats().spareBytes == 0)
        #expect(dir.segments().reduce(0) { $0 + dir.size($1) } <= 4096)
        #expect(try await readRecords(b, "r", count: 30).records.map(number) == Array(40..<70))
        try await b.close()
    }

    /// An append that needs only part of the spares' room deletes the oldest spare it needs to,
    /// and the others are written over.
    @Test func anAppendDeletesOnlyTheSparesItNeedsRoomFrom() async throws {
        let dir = try TempDir()
        let b = try DiskBuffer(config: config(dir, maxSize: 4096, segmentSize: 1024), readers: ["r"], logger: log.logger)
        try await b.append(records(0..<40))
        _ = try await readAndAcknowledge(b, count: 40)
        let initial = dir.segments()  // spares 1, 2, 3; segment 4 active with 78 bytes
        #expect(b.stats().spareBytes == 3 * 13 * 78)
        // 1,014 bytes: 78 + 3,042 + 1,014 > 4,096; without segment 1's file, 3,120 fit. Segment
        // 4 takes 12 records; the 13th goes to segment 5, the file of 3 (the latest acknowledged).
        try await b.append(records(40..<53))
        #expect(b.stats().spareBytes == 13 * 78)
        let now = dir.segments()
        #expect(now == [initial[1], initial[3], SegmentName.fileName(5)])
        #expect(dir.segments().reduce(0) { $0 + dir.size($1) } <= 4096)
        #expect(try await readRecords(b, "r", count: 13).records.map(number) == Array(40..<53))
        try await b.close()
    }

    /// kill -9 while a reused file is written: the new records, then what is left of the old.
    @Test(arguments: [0, 1, 2, 12])
    func aCrashLeavesOldFramesAfterTheNewOnesWhichAreCut(newRecords k: Int) async throws {
        let dir = try TempDir()
        let old = try frames(0..<13, segment: 1)
        let new = try frames(40..<(40 + k), segment: 5)
        let bytes = new + old[new.count...]
        try dir.write(SegmentName.fileName(5), bytes)

        let b = try DiskBuffer(config: config(dir, segmentSize: 1024), readers: ["r"], logger: log.logger)
        try await b.close()
        #expect(try await drain(b, "r").map(number) == Array(40..<(40 + k)))
        #expect(b.recovery.quarantined.isEmpty && b.recovery.damagedRecords == 0)
        #expect(b.recovery.tornTails == 1 && b.recovery.tornBytes == Int64(bytes.count - new.count))
        #expect(log.messages(.error).isEmpty)
        #expect(log.messages(.notice).contains { $0.contains("earlier use") })
        if k == 0 {
            #expect(b.recovery.segmentsDeleted == 1)  // renamed, not written: nothing of its own
        } else {
            #expect(dir.size(SegmentName.fileName(5)) == new.count)
        }
    }

    @Test func aTornNewRecordBeforeTheOldFramesIsCutWithThem() async throws {
        let dir = try TempDir()
        let old = try frames(0..<13, segment: 1)
        let new = try frames(40..<43, segment: 5)
        let bytes = new[..<(2 * 78 + 30)] + old[(2 * 78 + 30)...]  // the third written in part
        try dir.write(SegmentName.fileName(5), Array(bytes))
        let b = try DiskBuffer(config: config(dir, segmentSize: 1024), readers: ["r"], logger: log.logger)
        try await b.close()
        #expect(try await drain(b, "r").map(number) == [40, 41])
        #expect(b.recovery.quarantined.isEmpty && b.recovery.tornTails == 1)
    }

    /// Not only in the last segment: a reused file that was not cut (`fsync: never` and a power
    /// loss) is cut, not quarantined, wherever it is.
    @Test func oldFramesInAnEarlierSegmentAreCutToo() async throws {
        let dir = try TempDir()
        let old = try frames(0..<13, segment: 1)
        let new = try frames(40..<45, segment: 5)
        try dir.write(SegmentName.fileName(5), new + old[new.count...])
        try dir.write(SegmentName.fileName(6), try frames(45..<50, segment: 6))
        let b = try DiskBuffer(config: config(dir, segmentSize: 1024), readers: ["r"], logger: log.logger)
        try await b.close()
        #expect(try await drain(b, "r").map(number) == Array(40..<50))
        #expect(b.recovery.quarantined.isEmpty && b.recovery.damagedRecords == 0)
        #expect(dir.size(SegmentName.fileName(5)) == new.count)
    }

    /// Damage among the new records is still found, quarantined and counted; only the old
    /// frames after them are cut without a report.
    @Test func damageBeforeTheOldFramesIsQuarantined() async throws {
        let dir = try TempDir()
        let old = try frames(0..<13, segment: 1)
        var new = try frames(40..<45, segment: 5)
        new[2 * 78 + 40] ^= 0x04  // a payload byte of record 42
        try dir.write(SegmentName.fileName(5), new + old[new.count...])
        let b = try DiskBuffer(config: config(dir, segmentSize: 1024), readers: ["r"], logger: log.logger)
        try await b.close()
        #expect(try await drain(b, "r").map(number) == [40, 41, 43, 44])
        #expect(b.recovery.damagedRecords == 1 && b.recovery.quarantined.count == 1)
        #expect(b.recovery.tornTails == 1 && b.recovery.tornBytes == Int64(old.count - new.count))
    }

    /// Frames of a later segment cannot be left from a file's earlier use: damage, quarantined.
    @Test func framesOfALaterSegmentAreDamageNotLeftovers() async throws {
        let dir = try TempDir()
        let new = try frames(40..<43, segment: 5)
        try dir.write(SegmentName.fileName(5), new + (try frames(0..<3, segment: 9)))
        try dir.write(SegmentName.fileName(6), try frames(43..<45, segment: 6))
        let b = try DiskBuffer(config: config(dir, segmentSize: 1024), readers: ["r"], logger: log.logger)
        try await b.close()
        #expect(try await drain(b, "r").map(number) == Array(40..<45))
        #expect(b.recovery.tornTails == 0 && b.recovery.damagedRecords == 1 && b.recovery.quarantined.count == 1)
    }

    /// Segments written before frames were salted (`.dat`, salt 0) are read; new ones are `.seg`.
    @Test func legacySegmentsAreReadAndNewOnesAreSalted() async throws {
        let dir = try TempDir()
        try dir.write(SegmentName.fileName(3, legacy: true), try RecordCodec.encodeFrames(records(0..<5)).bytes)
        let b = try DiskBuffer(config: config(dir, segmentSize: 1024), readers: ["r"], logger: log.logger)
        try await b.append(records(5..<7))
        #expect(try await readRecords(b, "r", count: 7).records.map(number) == Array(0..<7))
        try await b.close()
        #expect(dir.segments() == [SegmentName.fileName(3, legacy: true), SegmentName.fileName(4)])
        let written = dir.read(SegmentName.fileName(4))
        #expect(try RecordCodec.decodeFrames(written, salt: SegmentName.salt(4)).map(number) == [5, 6])
        #expect(throws: BufferError.self) { try RecordCodec.decodeFrames(written) }
    }

    @Test func aFramesSaltIsFoundAndTakenOutAgain() throws {
        let plain = try RecordCodec.encodeFrames(records(0..<3))
        var bytes = plain.bytes
        bytes.withUnsafeMutableBytes { RecordCodec.xorSalt(0xDEAD_BEEF, $0, start: 0, ends: plain.frameEnds[...]) }
        #expect(bytes != plain.bytes)
        #expect(try RecordCodec.decodeFrames(bytes, salt: 0xDEAD_BEEF).map(number) == [0, 1, 2])
        #expect(throws: BufferError.self) { try RecordCodec.decodeFrames(bytes, salt: 0xDEAD_BEEE) }
        for start in [0] + plain.frameEnds.dropLast() {
            #expect(bytes.withUnsafeBytes { RecordCodec.salt(ofHeaderAt: $0.baseAddress! + start) } == 0xDEAD_BEEF)
        }
        bytes.withUnsafeMutableBytes { RecordCodec.xorSalt(0xDEAD_BEEF, $0, start: 0, ends: plain.frameEnds[...]) }
        #expect(bytes == plain.bytes)
    }
}
