import Foundation
import Logging
import ShipperCore
import Testing

@testable import BufferDisk

/// The latest appends' frames kept in memory for readers (``KeptWrites``), and the buffer
/// reading from there.
@Suite struct KeptWritesTests {
    let log = LogCapture()

    func base(_ a: [UInt8]) -> UnsafeRawPointer? { a.withUnsafeBytes { $0.baseAddress } }

    // MARK: The bookkeeping

    /// (segment, position) → the entry's segment offset range, or nil; after keeping one array of
    /// 100 bytes whose 0..<60 went to segment 3 at 940 and 60..<100 to segment 4 at 0.
    static let lookups: [(UInt64, Int64, Range<Int64>?)] = [
        (3, 940, 940..<1000), (3, 999, 940..<1000), (3, 1000, nil), (3, 939, nil),
        (4, 0, 0..<40), (4, 39, 0..<40), (4, 40, nil), (5, 0, nil), (2, 940, nil),
    ]

    @Test(arguments: lookups) func findsTheEntryHoldingAPosition(segment: UInt64, at: Int64, expected: Range<Int64>?) {
        var k = KeptWrites(limit: 1000)
        let bytes = (0..<100).map { UInt8($0) }
        k.keep(bytes, [(3, 940, 0..<60), (4, 0, 60..<100)])
        let e = k.entry(segment: segment, at: at)
        #expect(e.map { $0.start..<$0.end } == expected)
        if let e { #expect(e.bytes[e.index(of: at)] == UInt8(e.offset + Int(at - e.start))) }
    }

    @Test func theOldestArraysGoPastTheLimit() {
        var k = KeptWrites(limit: 100)
        k.keep(Array(repeating: 1, count: 40), [(1, 0, 0..<40)])
        k.keep(Array(repeating: 2, count: 40), [(1, 40, 0..<20), (2, 0, 20..<40)])
        #expect(k.keptBytes == 80 && k.entries.count == 3)
        k.keep(Array(repeating: 3, count: 40), [(2, 20, 0..<40)])
        // 120 > 100: the first array went, the second (two entries) stays whole.
        #expect(k.keptBytes == 80)
        #expect(k.entry(segment: 1, at: 0) == nil)
        #expect(k.entry(segment: 1, at: 40)?.bytes.first == 2 && k.entry(segment: 2, at: 0)?.bytes.first == 2)
        #expect(k.entry(segment: 2, at: 59)?.bytes.first == 3)
    }

    @Test func nothingIsKeptWithALimitOfZeroOrAnArrayLargerThanTheLimit() {
        var none = KeptWrites(limit: 0)
        none.keep([1, 2, 3], [(1, 0, 0..<3)])
        #expect(none.entries.isEmpty && none.keptBytes == 0)
        var small = KeptWrites(limit: 10)
        small.keep(Array(repeating: 0, count: 11), [(1, 0, 0..<11)])
        #expect(small.entries.isEmpty && small.keptBytes == 0)
        // Not kept, but handed back to be encoded into again.
        #expect(small.takeArray().capacity >= 11)
    }

    @Test func anArrayNoLongerKeptIsUsedAgainOnceNothingHoldsIt() {
        var k = KeptWrites(limit: 50)
        #expect(k.takeArray().capacity == 0)  // nothing retired yet: a new array
        var first: [UInt8] = Array(repeating: 7, count: 40)
        let firstStorage = base(first)
        k.keep(first, [(1, 0, 0..<40)])
        first = []
        k.keep(Array(repeating: 8, count: 40), [(1, 40, 0..<40)])  // retires the first
        let again = k.takeArray()
        #expect(again.isEmpty && again.capacity >= 40 && base(again) == firstStorage)

        // Held by a reader (a record's document is a slice of it): new storage, the slice intact.
        var second: [UInt8] = Array(repeating: 9, count: 40)
        k.keep(second, [(1, 80, 0..<40)])  // retires the 8s
        second = []
        let held = k.entry(segment: 1, at: 80)!.bytes[10..<20]
        k.keep(Array(repeating: 10, count: 40), [(1, 120, 0..<40)])  // retires the 9s, still held
        _ = k.takeArray()  // the 8s
        var reused = k.takeArray()
        #expect(base(reused) != held.withUnsafeBytes { $0.baseAddress! - 10 })
        reused.append(contentsOf: repeatElement(0, count: 40))
        #expect(held.allSatisfy { $0 == 9 })
    }

    // MARK: The buffer

    /// Appends `range` as the pipeline worker does, through `writer`.
    func append(_ b: DiskBuffer, _ range: Range<Int>, _ writer: inout RecordCodec.BatchWriter) async throws {
        for r in records(range) {
            try writer.append(source: r.source, offset: r.offset, timestamp: r.timestamp) { $0.append(contentsOf: r.document) }
        }
        _ = try await b.appendWithoutWaitingForSync(&writer)
        #expect(writer.isEmpty, "the buffer leaves the writer empty")
    }

    @Test func aReaderRightBehindTheAppenderReadsFromMemoryWhatTheFileHolds() async throws {
        let dir = try TempDir()
        let b = try DiskBuffer(config: config(dir, segmentSize: 1024), readers: ["r"], logger: log.logger)
        var writer = RecordCodec.BatchWriter()
        try await append(b, 0..<30, &writer)  // 78-byte frames across three segments
        let read = try await readRecords(b, "r", count: 30)
        #expect(read.records == records(0..<30))
        #expect(b.framesReadSoFar.kept == 30 && b.framesReadSoFar.file == 0)
        try await b.close()

        // The same records from the files.
        let c = try DiskBuffer(config: config(dir, segmentSize: 1024), readers: ["r"], logger: log.logger)
        try await c.close()
        #expect(try await drain(c, "r") == records(0..<30))
        #expect(c.framesReadSoFar.kept == 0 && c.framesReadSoFar.file == 30)
    }

    @Test func aReaderFurtherBehindReadsTheOlderFramesFromTheFiles() async throws {
        let dir = try TempDir()
        // Room for the frames of two appends of 5 (390 bytes each).
        let b = try DiskBuffer(config: config(dir, segmentSize: 1024, keptWriteBytes: 800), readers: ["r"], logger: log.logger)
        var writer = RecordCodec.BatchWriter()
        for i in 0..<6 { try await append(b, (i * 5)..<(i * 5 + 5), &writer) }
        let read = try await readRecords(b, "r", count: 30, maxRecords: 7)  // 14..<21 straddles file and memory
        #expect(read.records == records(0..<30))
        #expect(b.framesReadSoFar.kept == 10 && b.framesReadSoFar.file == 20)
        try await b.close()
    }

    @Test func recordsAReaderHoldsStayIntactWhileTheWriterEncodesIntoRecycledStorage() async throws {
        let dir = try TempDir()
        let b = try DiskBuffer(config: config(dir, segmentSize: 4096, keptWriteBytes: 800), readers: ["r"], logger: log.logger)
        var writer = RecordCodec.BatchWriter()
        var held: [BufferRecord] = []
        for i in 0..<40 {
            try await append(b, (i * 5)..<(i * 5 + 5), &writer)
            let read = try await readRecords(b, "r", count: 5)  // two batches where a segment ends
            if i % 3 == 0 { held += read.records } else { try await b.acknowledge(reader: "r", through: #require(read.end)) }
        }
        #expect(b.framesReadSoFar.kept == 200)
        let expected: [BufferRecord] = stride(from: 0, to: 40, by: 3).flatMap { (i: Int) in records((i * 5)..<(i * 5 + 5)) }
        #expect(held == expected)
        try await b.close()
    }

    @Test func aFailedAppendLeavesTheWriterAsItWas() async throws {
        let dir = try TempDir()
        let b = try DiskBuffer(config: config(dir), readers: ["r"], logger: log.logger)
        try await b.close()
        var writer = RecordCodec.BatchWriter()
        try writer.append(source: 1, offset: 0, timestamp: 0) { $0.append(contentsOf: Array("{}".utf8)) }
        let before = writer.batch.bytes
        await #expect(throws: BufferError.closed) { _ = try await b.appendWithoutWaitingForSync(&writer) }
        #expect(writer.count == 1 && writer.batch.bytes == before)
    }
}
