import Foundation
import Logging
import ShipperCore
import Testing

@testable import BufferDisk

/// What opening a buffer does with damaged files.
@Suite struct RecoveryTests {
    let log = LogCapture()

    /// Writes `count` records in segments of `segmentSize`, acknowledges nothing, closes.
    func makeBuffer(_ dir: TempDir, count: Int = 40, segmentSize: Int = 1024, readers: [String] = ["r"]) async throws {
        let b = try DiskBuffer(config: config(dir, segmentSize: segmentSize), readers: readers, logger: log.logger)
        try await b.append(records(0..<count))
        try await b.close()
    }

    func reopenAndDrain(_ dir: TempDir, segmentSize: Int = 1024, readers: [String] = ["r"]) async throws -> (DiskBuffer, [Int]) {
        let b = try DiskBuffer(config: config(dir, segmentSize: segmentSize), readers: readers, logger: log.logger)
        try await b.close()
        return (b, try await drain(b, readers[0]).map(number))
    }

    enum Tear: String, CaseIterable, Sendable {
        case shortHeader, shortPayload, crcMismatchInLastRecord, lastHeaderOnly, zeroTail, garbageBytes
    }

    @Test(arguments: Tear.allCases)
    func tornTailOfTheLastSegmentIsCut(tear: Tear) async throws {
        let dir = try TempDir()
        try await makeBuffer(dir, count: 45)
        let last = try #require(dir.segments().last)
        var bytes = dir.read(last)
        let n = bytes.count / 78  // records in the last segment
        #expect(n == 6)
        var expected = Array(0..<45)
        switch tear {
        case .shortHeader: bytes.removeLast(78 - 5); expected.removeLast()
        case .shortPayload: bytes.removeLast(30); expected.removeLast()
        case .crcMismatchInLastRecord: bytes[bytes.count - 3] ^= 0x20; expected.removeLast()
        case .lastHeaderOnly: bytes.removeLast(78 - 12); bytes[bytes.count - 12] ^= 0x01; expected.removeLast()
        case .zeroTail: bytes += [UInt8](repeating: 0, count: 4096)
        case .garbageBytes: bytes += [0x17, 0x42, 0x99]
        }
        try dir.write(last, bytes)
        let validEnd = (tear == .zeroTail || tear == .garbageBytes) ? n * 78 : (n - 1) * 78

        let (b, got) = try await reopenAndDrain(dir)
        #expect(got == expected)
        #expect(b.recovery.tornTails == 1)
        #expect(b.recovery.tornBytes == Int64(bytes.count - validEnd))
        #expect(b.recovery.quarantined.isEmpty)
        #expect(dir.size(last) == validEnd)  // cut with ftruncate
        #expect(log.messages(.error).isEmpty)
        // Opening again finds nothing to repair.
        let (again, _) = try await reopenAndDrain(dir)
        #expect(again.recovery.tornTails == 0)
    }

    @Test func aDamagedRecordInTheMiddleOfASegmentIsQuarantinedAndTheRecordsAfterItKept() async throws {
        let dir = try TempDir()
        try await makeBuffer(dir)
        let segments = dir.segments()
        #expect(segments.count >= 3)
        let victim = segments[1]  // records 13..25
        let original = dir.read(victim)
        var bytes = original
        bytes[2 * 78 + 40] ^= 0xFF  // payload of the third record (15)
        try dir.write(victim, bytes)

        let (b, got) = try await reopenAndDrain(dir)
        #expect(got == Array(0..<15) + Array(16..<40), "only the damaged record is lost")
        #expect(b.recovery.quarantined == ["quarantine/\(victim).at-156"])
        #expect(b.recovery.quarantinedBytes == 78)
        #expect(b.recovery.damagedRecords == 1)
        #expect(b.recovery.tornTails == 0)
        #expect(dir.read("quarantine/\(victim).at-156") == Array(bytes[156..<234]))
        #expect(dir.read(victim) == Array(original[0..<156] + original[234...]), "the segment rewritten without it")
        #expect(log.messages(.error).contains { $0.contains("1 damaged record in \(victim)") && $0.contains("quarantine") })
        #expect(!dir.files().contains { $0.hasSuffix(".tmp") })
        // The repair is done once.
        let (again, got2) = try await reopenAndDrain(dir)
        #expect(again.recovery.quarantined.isEmpty && got2 == got)
    }

    @Test(arguments: [
        ("corrupt header followed by data", 78 * 2 + 1),
        ("impossible length followed by data", -1),
        ("payload CRC followed by data", 78 * 2 + 20),
    ])
    func corruptionInTheLastSegmentFollowedByMoreRecordsLosesOnlyThatRecord(what: String, at: Int) async throws {
        let dir = try TempDir()
        try await makeBuffer(dir, count: 45)
        let last = try #require(dir.segments().last)
        var bytes = dir.read(last)
        #expect(bytes.count == 6 * 78)
        if at >= 0 {
            bytes[at] ^= 0x04
        } else {
            // A header with a valid header CRC but a length of 3: impossible.
            var h: [UInt8] = [3, 0, 0, 0, 0, 0, 0, 0]
            let crc = CRC32C.checksum(h)
            h += [UInt8(crc & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 24)]
            bytes.replaceSubrange(156..<168, with: h)
        }
        try dir.write(last, bytes)
        let firstInLast = 45 - bytes.count / 78
        let (b, got) = try await reopenAndDrain(dir)
        #expect(got == Array(0..<45).filter { $0 != firstInLast + 2 }, "\(what)")
        #expect(b.recovery.quarantined.count == 1, "\(what)")
        #expect(b.recovery.damagedRecords == 1, "\(what)")
        #expect(b.recovery.tornTails == 0)
    }

    @Test func severalDamagedRecordsAndATornTailInOneSegment() async throws {
        let dir = try TempDir()
        try await makeBuffer(dir, count: 45)
        let last = try #require(dir.segments().last)  // records 39..44
        var bytes = dir.read(last)
        bytes[0 * 78 + 3] ^= 0x10  // header of 39
        bytes[2 * 78 + 50] ^= 0x01  // payload of 41
        bytes[3 * 78 + 50] ^= 0x01  // payload of 42 (next to 41: one region)
        bytes.removeLast(20)  // 44 torn
        try dir.write(last, bytes)
        let (b, got) = try await reopenAndDrain(dir)
        #expect(got == Array(0..<39) + [40, 43])
        #expect(b.recovery.quarantined.count == 2)
        #expect(b.recovery.damagedRecords == 2, "regions 39 and 41-42")
        #expect(b.recovery.tornTails == 1)
    }

    @Test func aLedgerPointingPastTheDamageFollowsItsRecords() async throws {
        let dir = try TempDir()
        try await makeBuffer(dir)
        // The reader delivered 0..<20 (into segment 2, records 13..25).
        do {
            let b = try DiskBuffer(config: config(dir), readers: ["r"], logger: log.logger)
            let (got, end) = try await readRecords(b, "r", count: 20, maxRecords: 20)
            #expect(got.map(number) == Array(0..<20))
            try await b.acknowledge(reader: "r", through: try #require(end))
            try await b.close()
        }
        let victim = dir.segments()[0]  // segment 1 (0..12) was deleted: segment 2 holds 13..25
        #expect(SegmentName.id(fromFileName: victim) == 2)
        var bytes = dir.read(victim)
        bytes[78 + 30] ^= 0x40  // record 14, delivered already
        bytes[9 * 78 + 30] ^= 0x40  // record 22, not delivered yet
        try dir.write(victim, bytes)
        let (b, got) = try await reopenAndDrain(dir)
        #expect(got == [20, 21] + Array(23..<40), "resumes right after 19: nothing replayed, nothing skipped")
        #expect(b.recovery.damagedRecords == 2)
        let ledger = try #require(Ledger.decode(dir.read("reader-r.ledger")))
        #expect(ledger.position.offset == 6 * 78, "record 19 ends at 7 * 78 before, 6 * 78 after the rewrite")
    }

    @Test func aTornTailInAnOlderSegmentIsQuarantinedNotCut() async throws {
        let dir = try TempDir()
        try await makeBuffer(dir)
        let first = try #require(dir.segments().first)
        var bytes = dir.read(first)
        bytes.removeLast(10)  // the last record of segment 1 loses its end
        try dir.write(first, bytes)
        let (b, got) = try await reopenAndDrain(dir)
        #expect(got == Array(0..<12) + Array(13..<40))
        #expect(b.recovery.quarantined.count == 1 && b.recovery.tornTails == 0)
    }

    @Test func aSegmentWithoutValidRecordsIsDeleted() async throws {
        let dir = try TempDir()
        try await makeBuffer(dir)
        let segments = dir.segments()
        try dir.write(segments[1], [UInt8](repeating: 0xAB, count: 500))
        try dir.write(segments.last!, [])
        let (b, got) = try await reopenAndDrain(dir)
        #expect(got.first == 0 && !got.contains(13) && got.count < 40)
        #expect(b.recovery.quarantined.count == 1)
        #expect(!dir.segments().contains(segments[1]) && !dir.segments().contains(segments.last!))
    }

    @Test(arguments: ["missing", "corrupt", "truncated", "garbage", "other reader's name"])
    func aLostOrCorruptLedgerReplaysFromTheOldestRecord(damage: String) async throws {
        let dir = try TempDir()
        do {
            let b = try DiskBuffer(config: config(dir, segmentSize: 1024), readers: ["r", "keep"], logger: log.logger)
            try await b.append(records(0..<40))
            for reader in ["r", "keep"] {
                let (_, end) = try await readRecords(b, reader, count: 20, maxRecords: 20)
                try await b.acknowledge(reader: reader, through: try #require(end))
            }
            try await b.close()
        }
        let ledger = "reader-r.ledger"
        var bytes = dir.read(ledger)
        switch damage {
        case "missing": try FileManager.default.removeItem(atPath: dir.path + "/" + ledger)
        case "corrupt": bytes[10] ^= 0x01; try dir.write(ledger, bytes)
        case "truncated": try dir.write(ledger, Array(bytes.prefix(20)))
        case "garbage": try dir.write(ledger, Array("{\"offset\": 12}".utf8))
        default: try dir.write(ledger, Ledger(reader: "keep", position: BufferPosition(segment: 2, offset: 78)).encode())
        }
        let b = try DiskBuffer(config: config(dir, segmentSize: 1024), readers: ["r", "keep"], logger: log.logger)
        #expect(b.recovery.readersReset == ["r"])
        #expect(log.messages(.warning).contains { $0.contains("'r'") })
        try await b.close()
        // Segment 1 (records 0..12) was deleted when both had acknowledged it: "r" replays from 13.
        #expect(try await drain(b, "r").map(number) == Array(13..<40))
        #expect(try await drain(b, "keep").map(number) == Array(20..<40))
    }

    @Test func aLedgerPositionInsideARecordIsRoundedDown() async throws {
        let dir = try TempDir()
        try await makeBuffer(dir, count: 10, segmentSize: 1 << 16)
        let first = try #require(dir.segments().first)
        let segment = try #require(SegmentName.id(fromFileName: first))
        try dir.write("reader-r.ledger", Ledger(reader: "r", position: BufferPosition(segment: segment, offset: 78 * 3 + 10)).encode())
        let (b, got) = try await reopenAndDrain(dir)
        #expect(got == Array(3..<10))
        #expect(b.recovery.readersReset.isEmpty)
    }

    /// Names that look like segments but are not regular files, or are not quite segment names,
    /// are left alone; the segments around them are read in order.
    @Test func onlyRegularFilesWithExactSegmentNamesAreSegments() async throws {
        let dir = try TempDir()
        try await makeBuffer(dir)
        let segments = dir.segments()
        #expect(segments.count > 2)
        let between = try #require(SegmentName.id(fromFileName: segments[1])) + 1000
        let directory = dir.path + "/" + SegmentName.fileName(between)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        try dir.write(SegmentName.fileName(7) + ".bak", [1, 2, 3])
        try dir.write("segment-7.dat", [1, 2, 3])
        let (b, got) = try await reopenAndDrain(dir)
        #expect(got == Array(0..<40))
        #expect(b.recovery.segments == segments.count)
        #expect(b.recovery.quarantined.isEmpty && b.recovery.tornTails == 0)
        #expect(log.messages(.warning).contains { $0.contains(SegmentName.fileName(between)) && $0.contains("not a regular file") })
        #expect(FileManager.default.fileExists(atPath: directory))
    }

    @Test func leftoverTemporaryFilesAreRemoved() async throws {
        let dir = try TempDir()
        try await makeBuffer(dir, count: 3)
        try dir.write("reader-r.ledger.tmp", [1, 2, 3])
        let (_, got) = try await reopenAndDrain(dir)
        #expect(got == [0, 1, 2])
        #expect(!dir.files().contains("reader-r.ledger.tmp"))
    }
}

/// Which file names are segments.
@Suite struct SegmentNameTests {
    @Test(arguments: [
        ("segment-00000000000000000001.seg", UInt64(1), false),
        ("segment-00000000000000004711.seg", 4711, false),
        ("segment-04611686018427387903.seg", (1 << 62) - 1, false),
        ("segment-00000000000000000001.dat", 1, true),
        ("segment-04611686018427387903.dat", (1 << 62) - 1, true),
    ] as [(String, UInt64, Bool)])
    func segmentNames(name: String, id: UInt64, legacy: Bool) throws {
        #expect(SegmentName.id(fromFileName: name) == id)
        let parsed = try #require(SegmentName.parse(name))
        #expect(parsed.id == id && parsed.legacy == legacy)
        #expect(SegmentName.fileName(id, legacy: legacy) == name)
    }

    /// Salts: 0 for legacy segments, different for any two ids less than 2^32 apart.
    @Test func saltsTellSegmentsApart() {
        #expect(SegmentName.salt(7, legacy: true) == 0)
        var seen = Set<UInt32>()
        for id in UInt64(1)...5000 { seen.insert(SegmentName.salt(id)) }
        #expect(seen.count == 5000)
        #expect(SegmentName.salt(1) != SegmentName.salt(1 + 1 << 31))
        #expect(!seen.contains(0))
        // A salt names its id (the low 32 bits): recovery tells an earlier segment's frames.
        for id: UInt64 in [1, 2, 4711, 1 << 31, (1 << 32) - 1, (1 << 32) + 5] {
            #expect(SegmentName.id(ofSalt: SegmentName.salt(id)) == UInt32(truncatingIfNeeded: id))
        }
    }

    @Test(arguments: [
        "segment-0000000000000000001.dat",  // 19 digits
        "segment-000000000000000000001.dat",  // 21 digits
        "segment-04611686018427387904.dat",  // 1 << 62: no room for the next ids
        "segment-99999999999999999999.dat",  // past UInt64
        "segment-0000000000000000000a.dat",
        "segment-0000000000000000000\u{661}.dat",  // an Arabic-Indic digit
        "segment-0000000000000000000\u{30}\u{301}.dat",  // a digit with a combining mark
        "segment-00000000000000000001.DAT",
        "segment-00000000000000000001.dat.tmp",
        "segment-00000000000000000001.seg.tmp",
        "segment-00000000000000000001.SEG",
        "segment-00000000000000000001.sg",
        "Segment-00000000000000000001.dat",
        "xsegment-00000000000000000001.dat",
        "segment-00000000000000000001.da",
        "",
    ])
    func notSegmentNames(name: String) {
        #expect(SegmentName.id(fromFileName: name) == nil)
    }
}
