import Foundation
import Logging
import ShipperCore
import Testing

@testable import BufferDisk

@Suite struct DiskBufferTests {
    let log = LogCapture()

    @Test func appendReadAcknowledgeAcrossSegmentRotation() async throws {
        let dir = try TempDir()
        let b = try DiskBuffer(config: config(dir, segmentSize: 1024), readers: ["es"], logger: log.logger)
        try await b.append(records(0..<40))
        try await b.append(records(40..<100))
        let segments = dir.segments().count
        #expect(segments >= 7)  // 78-byte frames, 13 per 1 KiB segment
        for name in dir.segments() { #expect(dir.size(name) <= 1024) }
        #expect(b.stats().records == 100)

        var seen: [Int] = []
        var acks = 0
        while seen.count < 100 {
            let batch = try #require(try await b.read(reader: "es", maxRecords: 9, maxBytes: 1 << 20))
            #expect(batch.records.count <= 9 && !batch.records.isEmpty)
            #expect(batch.positions.count == batch.records.count && batch.positions.last == batch.end)
            seen += batch.records.map(number)
            try await b.acknowledge(reader: "es", through: batch.end)
            acks += 1
        }
        #expect(seen == Array(0..<100))
        // Every segment but the one still being written is acknowledged, and its file kept to be
        // reused (fewer than 16; a segment was started less than 30 s ago).
        #expect(dir.segments().count == segments)
        #expect(b.stats().segments == 1 && b.stats().spareBytes == Int64((segments - 1) * 13 * 78))
        #expect(b.stats().readers == [BufferReaderLag(name: "es", records: 0, bytes: 0, inFlight: 0)])
        #expect(dir.files().contains("reader-es.ledger"))
        try await b.close()
        #expect(dir.segments().count == 1)  // close deletes the spares
        #expect(try await b.read(reader: "es", maxRecords: 10, maxBytes: 1 << 20) == nil)
    }

    @Test func withAnFsyncIntervalLedgersAreWrittenByTheFsyncAndAtClose() async throws {
        // The interval (an hour) never elapses in the test: `sync()` stands for the periodic fsync.
        let dir = try TempDir()
        let b = try DiskBuffer(config: config(dir, segmentSize: 1024, fsync: .interval(.seconds(3600))), readers: ["es"], logger: log.logger)
        _ = try await b.appendWithoutWaitingForSync(records(0..<30))
        try await b.sync()
        let first = try #require(try await b.read(reader: "es", maxRecords: 10, maxBytes: 1 << 20))
        try await b.acknowledge(reader: "es", through: first.end)
        // Acknowledged in memory: the reader goes on after it, segments it covered are deleted,
        // but no ledger file yet.
        #expect(!dir.files().contains("reader-es.ledger"))
        #expect(b.stats().readers.first?.records == 20)
        try await b.sync()
        #expect(Ledger.decode(dir.read("reader-es.ledger"))?.position == first.end)

        let second = try #require(try await b.read(reader: "es", maxRecords: 10, maxBytes: 1 << 20))
        try await b.acknowledge(reader: "es", through: second.end)
        #expect(Ledger.decode(dir.read("reader-es.ledger"))?.position == first.end)
        try await b.close()
        #expect(Ledger.decode(dir.read("reader-es.ledger"))?.position == second.end)
        // After close, each acknowledgement writes the ledger itself (outputs drain after it).
        let third = try #require(try await b.read(reader: "es", maxRecords: 10, maxBytes: 1 << 20))
        try await b.acknowledge(reader: "es", through: third.end)
        #expect(Ledger.decode(dir.read("reader-es.ledger"))?.position == third.end)
        #expect(!dir.files().contains("reader-es.ledger.tmp"))

        let again = try DiskBuffer(config: config(dir, segmentSize: 1024), readers: ["es"], logger: log.logger)
        try await again.close()
        // Reads stop at segment ends: the records after the third batch, no more.
        let read = first.records.count + second.records.count + third.records.count
        #expect(try await drain(again, "es").map(number) == Array(read..<30))
    }

    @Test func aLedgerBehindTheAcknowledgedPositionOnlyReplays() async throws {
        // A crash between two periodic fsyncs leaves a ledger older than the last acknowledgement,
        // pointing into a segment deleted since: the reader starts at the oldest retained record.
        let dir = try TempDir()
        let b = try DiskBuffer(config: config(dir, segmentSize: 1024), readers: ["es"], logger: log.logger)
        try await b.append(records(0..<40))
        let first = try #require(try await b.read(reader: "es", maxRecords: 5, maxBytes: 1 << 20))
        try await b.acknowledge(reader: "es", through: first.end)
        let stale = dir.read("reader-es.ledger")
        let rest = try #require(try await b.read(reader: "es", maxRecords: 25, maxBytes: 1 << 20))
        try await b.acknowledge(reader: "es", through: rest.end)
        try await b.close()
        try dir.write("reader-es.ledger", stale)

        let again = try DiskBuffer(config: config(dir, segmentSize: 1024), readers: ["es"], logger: log.logger)
        try await again.close()
        let replayed = try await drain(again, "es").map(number)
        #expect(replayed.last == 39)
        #expect(replayed == Array(replayed.first!...39))
        #expect(replayed.first! <= 30 && replayed.first! > 5)
    }

    @Test func recordsComeBackExactly() async throws {
        let dir = try TempDir()
        let b = try DiskBuffer(config: config(dir), readers: ["x"], logger: log.logger)
        let all = RecordCodecTests.cases.map(\.1)
        try await b.append(all)
        try await b.close()
        #expect(try await drain(b, "x") == all)
    }

    @Test(arguments: [DiskBufferConfig.defaultReadPieceBytes, 2500, 1])
    func oneReadLargerThanAReadPieceComesBackWhole(pieceBytes: Int) async throws {
        // A batch is read from disk in pieces of whole frames (`readPieceBytes`): frames on both
        // sides of a piece boundary, and one frame larger than a piece, come back exactly. A piece
        // of 2500 bytes holds two frames; of 1 byte, one frame each.
        let dir = try TempDir()
        var c = config(dir, maxSize: 16 << 20, segmentSize: 8 << 20)
        c.readPieceBytes = pieceBytes
        let b = try DiskBuffer(config: c, readers: ["x"], logger: log.logger)
        var all = records(0..<300, size: 1000)
        all.insert(BufferRecord(source: 7, offset: 7, document: [UInt8](repeating: 0x61, count: pieceBytes * 2 + 5)), at: 150)
        try await b.append(all)
        let batch = try #require(try await b.read(reader: "x", maxRecords: 1000, maxBytes: 8 << 20))
        #expect(batch.records == all)
        #expect(batch.positions.count == all.count && batch.positions.last == batch.end)
    }

    /// Reads go into arrays used again (DiskBuffer.PieceRing): records an output still holds keep
    /// their documents while many more reads than the ring can have slots go by (it grows while
    /// held pieces come round), alternating batches dropped at once with batches held; every
    /// record read is the record appended.
    @Test func heldRecordsKeepTheirDocumentsWhileReadsReuseTheirPieces() async throws {
        let dir = try TempDir()
        let b = try DiskBuffer(config: config(dir, maxSize: 64 << 20, segmentSize: 32 << 20), readers: ["x"], logger: log.logger)
        let all = records(0..<(3 * DiskBuffer.PieceRing.maxSlots * 4), size: 1000)
        try await b.append(all)
        var held: [[BufferRecord]] = []
        var read: [BufferRecord] = []
        var batches = 0
        while read.count < all.count {
            // Four 1 KB records per batch: one piece per read, so the ring turns every `slots` reads.
            let batch = try #require(try await b.read(reader: "x", maxRecords: 4, maxBytes: 1 << 20))
            read += batch.records
            if batches % 2 == 0 { held.append(batch.records) }
            batches += 1
        }
        #expect(batches > 2 * DiskBuffer.PieceRing.maxSlots)
        #expect(read == all)
        var expectedHeld: [BufferRecord] = []
        for k in stride(from: 0, to: batches, by: 2) { expectedHeld += all[(k * 4)..<(k * 4 + 4)] }
        let heldNow: [BufferRecord] = held.flatMap { $0 }
        #expect(heldNow == expectedHeld)
    }

    @Test func maxBytesLimitsABatchButNeverBelowOneRecord() async throws {
        let dir = try TempDir()
        let b = try DiskBuffer(config: config(dir, segmentSize: 1 << 16), readers: ["x"], logger: log.logger)
        try await b.append(records(0..<10, size: 100))  // 138-byte frames
        let one = try #require(try await b.read(reader: "x", maxRecords: 100, maxBytes: 10))
        #expect(one.records.count == 1)
        let three = try #require(try await b.read(reader: "x", maxRecords: 100, maxBytes: 3 * 138))
        #expect(three.records.map(number) == [1, 2, 3])
        let rest = try #require(try await b.read(reader: "x", maxRecords: 4, maxBytes: 1 << 20))
        #expect(rest.records.map(number) == [4, 5, 6, 7])
    }

    @Test func restartResumesAtTheAcknowledgedPositionAndReplaysTheRest() async throws {
        let dir = try TempDir()
        do {
            let b = try DiskBuffer(config: config(dir, segmentSize: 1024), readers: ["es"], logger: log.logger)
            try await b.append(records(0..<50))
            let (got, _) = try await readRecords(b, "es", count: 30, maxRecords: 30)
            #expect(got.count == 30)
            // Acknowledge a prefix of what was read: through record 19, using a batch's positions.
            await b.rewind(reader: "es")
            var acked = 0
            while acked < 20 {
                let batch = try #require(try await b.read(reader: "es", maxRecords: 20 - acked, maxBytes: 1 << 20))
                acked += batch.records.count
                try await b.acknowledge(reader: "es", through: batch.positions[batch.records.count - 1])
            }
            try await b.close()
        }
        let b = try DiskBuffer(config: config(dir, segmentSize: 1024), readers: ["es"], logger: log.logger)
        #expect(b.recovery.records == 50 - Int64(20 / 13 * 13))  // the first full segment was deleted
        #expect(b.recovery.readersReset.isEmpty)
        try await b.append(records(50..<55))
        try await b.close()
        #expect(try await drain(b, "es").map(number) == Array(20..<55))
    }

    @Test func twoReadersAtDifferentSpeedsSegmentsGoOnlyWhenBothAcknowledged() async throws {
        let dir = try TempDir()
        let b = try DiskBuffer(config: config(dir, segmentSize: 1024), readers: ["fast", "slow"], logger: log.logger)
        try await b.append(records(0..<60))
        let initial = dir.segments()
        #expect(initial.count >= 5)

        // The fast reader acknowledges everything: nothing may be deleted, the slow one has not.
        let (fast, fastEnd) = try await readRecords(b, "fast", count: 60, maxRecords: 60)
        #expect(fast.map(number) == Array(0..<60))
        try await b.acknowledge(reader: "fast", through: try #require(fastEnd))
        #expect(dir.segments() == initial)
        #expect(b.stats().readers.map(\.records) == [0, 60])

        // The slow reader acknowledges about half: the segments before its position go.
        let (slow, slowEnd) = try await readRecords(b, "slow", count: 30, maxRecords: 30)
        #expect(slow.map(number) == Array(0..<30))
        try await b.acknowledge(reader: "slow", through: try #require(slowEnd))
        // Segments 1 and 2 (records 0..<26) go; their files are kept, as they were, to be
        // written over as the next segments.
        #expect(b.stats().segments == initial.count - 2 && b.stats().spareBytes == 2 * 13 * 78)
        #expect(dir.segments() == initial)
        #expect(b.stats().readers.map(\.records) == [0, 30])

        // Restart: each reader resumes at its own position.
        try await b.close()
        let c = try DiskBuffer(config: config(dir, segmentSize: 1024), readers: ["fast", "slow"], logger: log.logger)
        try await c.close()
        #expect(try await drain(c, "fast").isEmpty)
        #expect(try await drain(c, "slow", ack: true).map(number) == Array(30..<60))
        #expect(dir.segments().isEmpty)  // all sealed (written before the restart) and acknowledged
    }

    @Test func readSuspendsUntilDataArrivesAndReturnsNilOnceClosedAndDrained() async throws {
        let dir = try TempDir()
        let b = try DiskBuffer(config: config(dir), readers: ["r"], logger: log.logger)
        let events = EventLog()
        let reader = Task {
            let batch = try await b.read(reader: "r", maxRecords: 10, maxBytes: 1 << 20)
            events.add("read \(batch?.records.count ?? -1)")
            return batch
        }
        try await eventually("the reader waits") { b.stats().readersWaiting == 1 }
        #expect(events.all.isEmpty)
        events.add("append")
        try await b.append(records(0..<3))
        let batch = try #require(try await reader.value)
        #expect(events.all == ["append", "read 3"])
        #expect(batch.records.map(number) == [0, 1, 2])

        let last = Task { try await b.read(reader: "r", maxRecords: 10, maxBytes: 1 << 20) }
        try await eventually("the reader waits again") { b.stats().readersWaiting == 1 }
        try await b.close()
        #expect(try await last.value == nil)
        // Acknowledging still works after close (outputs drain after the buffer stops).
        try await b.acknowledge(reader: "r", through: batch.end)
        #expect(b.stats().readers[0].records == 0)
        await #expect(throws: BufferError.closed) { try await b.append(records(3..<4)) }
    }

    @Test func rewindReadsTheUnacknowledgedRecordsAgain() async throws {
        let dir = try TempDir()
        let b = try DiskBuffer(config: config(dir), readers: ["r"], logger: log.logger)
        try await b.append(records(0..<10))
        let first = try #require(try await b.read(reader: "r", maxRecords: 4, maxBytes: 1 << 20))
        try await b.acknowledge(reader: "r", through: first.end)
        let second = try #require(try await b.read(reader: "r", maxRecords: 4, maxBytes: 1 << 20))
        #expect(second.records.map(number) == [4, 5, 6, 7])
        #expect(b.stats().readers[0].inFlight == 4)
        await b.rewind(reader: "r")
        #expect(b.stats().readers[0].inFlight == 0)
        let again = try #require(try await b.read(reader: "r", maxRecords: 100, maxBytes: 1 << 20))
        #expect(again.records.map(number) == Array(4..<10))
        // An acknowledgement of the batch read before the rewind is still valid.
        try await b.acknowledge(reader: "r", through: second.end)
        #expect(b.stats().readers[0].records == 2)
    }

    @Test func newReaderStartsAtTheOldestRecordAndRemovedReadersAreDropped() async throws {
        let dir = try TempDir()
        do {
            let b = try DiskBuffer(config: config(dir, segmentSize: 1024), readers: ["old", "keep"], logger: log.logger)
            try await b.append(records(0..<30))
            let (_, end) = try await readRecords(b, "keep", count: 15, maxRecords: 15)
            try await b.acknowledge(reader: "keep", through: try #require(end))
            let (_, oldEnd) = try await readRecords(b, "old", count: 5, maxRecords: 5)
            try await b.acknowledge(reader: "old", through: try #require(oldEnd))
            try await b.close()
        }
        #expect(dir.files().contains("reader-old.ledger"))
        let b = try DiskBuffer(config: config(dir, segmentSize: 1024), readers: ["keep", "new output"], logger: log.logger)
        #expect(b.recovery.readersDropped == ["old"])
        #expect(b.recovery.readersReset == ["new output"])
        #expect(!dir.files().contains("reader-old.ledger"))
        #expect(log.messages(.warning).contains { $0.contains("new output") })
        try await b.close()
        // "old" no longer holds the first segment back: it was deleted on open.
        #expect(try await drain(b, "new output").map(number) == Array(0..<30))
        #expect(try await drain(b, "keep").map(number) == Array(15..<30))
        #expect(dir.files().contains("reader-new%20output.ledger") == false)  // no ack yet, no ledger
    }

    @Test func ledgerFileNamesEscapeReaderNames() {
        for name in ["es", "a.b-c_d", "with space", "slash/dot", ".hidden", "ünï", "%"] {
            let file = Ledger.fileName(for: name)
            #expect(!file.dropFirst().contains("/") && !file.contains(" "), "\(file)")
            #expect(Ledger.readerName(fromFileName: file) == name)
        }
        #expect(Ledger.readerName(fromFileName: "reader-%4.ledger") == nil)
        #expect(Ledger.readerName(fromFileName: "segment-1.dat") == nil)
    }

    @Test func invalidAcknowledgementsAndUnknownReadersThrow() async throws {
        let dir = try TempDir()
        let b = try DiskBuffer(config: config(dir), readers: ["r"], logger: log.logger)
        try await b.append(records(0..<3))
        let batch = try #require(try await b.read(reader: "r", maxRecords: 3, maxBytes: 1 << 20))
        await #expect(throws: BufferError.invalidPosition(BufferPosition(segment: batch.end.segment, offset: batch.end.offset - 1))) {
            try await b.acknowledge(reader: "r", through: BufferPosition(segment: batch.end.segment, offset: batch.end.offset - 1))
        }
        await #expect(throws: BufferError.invalidPosition(BufferPosition(segment: 999, offset: 78))) {
            try await b.acknowledge(reader: "r", through: BufferPosition(segment: 999, offset: 78))
        }
        await #expect(throws: BufferError.unknownReader("nobody")) { _ = try await b.read(reader: "nobody", maxRecords: 1, maxBytes: 1) }
        await #expect(throws: BufferError.unknownReader("nobody")) { try await b.acknowledge(reader: "nobody", through: batch.end) }
        // Acknowledging twice, or an older position, is harmless.
        try await b.acknowledge(reader: "r", through: batch.end)
        try await b.acknowledge(reader: "r", through: batch.positions[0])
        #expect(b.stats().readers[0].records == 0)
    }

    @Test func aRecordCorruptedAfterOpeningIsSkippedAndLogged() async throws {
        let dir = try TempDir()
        let b = try DiskBuffer(config: config(dir), readers: ["r"], logger: log.logger)
        try await b.append(records(0..<5))
        // Damage record 2 and the last record (4) on disk behind the buffer's back.
        let segment = try #require(dir.segments().first)
        var bytes = dir.read(segment)
        bytes[2 * 78 + 50] ^= 0x10
        bytes[4 * 78 + 50] ^= 0x10
        let handle = try Foundation.FileHandle(forWritingTo: URL(fileURLWithPath: dir.path + "/" + segment))
        try handle.write(contentsOf: bytes)
        try handle.close()

        let batch = try #require(try await b.read(reader: "r", maxRecords: 4, maxBytes: 1 << 20))
        #expect(batch.records.map(number) == [0, 1, 3])
        #expect(batch.positions.map(\.offset) == [78, 156, 312])
        #expect(batch.end.offset == 312)
        #expect(b.stats().corruptRecordsSkipped == 1)
        #expect(log.messages(.error).contains { $0.contains("offset 156") })
        // Only a skipped record left and nothing after it: an empty batch whose end covers it.
        let empty = try #require(try await b.read(reader: "r", maxRecords: 4, maxBytes: 1 << 20))
        #expect(empty.records.isEmpty && empty.end.offset == 390)
        try await b.acknowledge(reader: "r", through: empty.end)
        #expect(b.stats().readers[0].records == 0)
        try await b.close()
    }

    @Test func aWaitingReadIsCancellable() async throws {
        let dir = try TempDir()
        let b = try DiskBuffer(config: config(dir), readers: ["r"], logger: log.logger)
        let reader = Task { try await b.read(reader: "r", maxRecords: 1, maxBytes: 1) }
        try await eventually("the reader waits") { b.stats().readersWaiting == 1 }
        reader.cancel()
        await #expect(throws: CancellationError.self) { try await reader.value }
        #expect(b.stats().readersWaiting == 0)
        try await b.close()
    }

    @Test func aSecondBufferOnTheSameDirectoryIsRefusedUntilClosed() async throws {
        let dir = try TempDir()
        let b = try DiskBuffer(config: config(dir), readers: ["r"], logger: log.logger)
        #expect(throws: BufferError.self) { try DiskBuffer(config: config(dir), readers: ["r"], logger: log.logger) }
        try await b.close()
        let c = try DiskBuffer(config: config(dir), readers: ["r"], logger: log.logger)
        try await c.close()
    }

    @Test func statsCountBytesRecordsAndAge() async throws {
        let dir = try TempDir()
        let b = try DiskBuffer(config: config(dir, segmentSize: 1024), readers: ["a", "b"], logger: log.logger)
        #expect(b.stats().oldestTimestamp == nil && b.stats().records == 0)
        try await b.append(records(5..<25))
        let s = b.stats()
        #expect(s.records == 20)
        #expect(s.bytes == Int64(20 * 78))
        #expect(s.bytes == Int64(dir.segments().reduce(0) { $0 + dir.size($1) }))
        #expect(s.segments == dir.segments().count)
        #expect(s.oldestTimestamp == record(5).timestamp)
        let batch = try #require(try await b.read(reader: "a", maxRecords: 5, maxBytes: 1 << 20))
        try await b.acknowledge(reader: "a", through: batch.end)
        #expect(b.stats().readers == [
            BufferReaderLag(name: "a", records: 15, bytes: 15 * 78, inFlight: 0),
            BufferReaderLag(name: "b", records: 20, bytes: 20 * 78, inFlight: 0),
        ])
        try await b.close()
    }
}
