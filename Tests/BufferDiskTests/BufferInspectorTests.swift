import Foundation
import Logging
import Testing

@testable import BufferDisk

@Suite struct BufferInspectorTests {
    let log = LogCapture()

    @Test func reportsSegmentsEventsAgeLagAndQuarantine() async throws {
        let dir = try TempDir()
        do {
            let b = try DiskBuffer(config: config(dir, segmentSize: 1024), readers: ["es", "file"], logger: log.logger)
            try await b.append(records(0..<30))
            let (_, end) = try await readRecords(b, "es", count: 20, maxRecords: 20)
            try await b.acknowledge(reader: "es", through: try #require(end))
            try await b.close()
        }
        // Corrupt the second segment: the inspector says what the next start will do, and changes nothing.
        let segments = dir.segments()
        var bytes = dir.read(segments[1])
        bytes[78 + 30] ^= 1
        try dir.write(segments[1], bytes)
        let now = record(0).timestamp + 3_723_000_000_000  // 1h 2m 3s later
        let text = try BufferInspector.inspect(path: dir.path, now: now)
        #expect(text.contains("buffer \(dir.path)\n"))
        #expect(text.contains("segments: 3, 2.3 KiB on disk, 18 events\n"))  // the valid records before the corrupt one
        #expect(text.contains("  \(segments[0])  1014 bytes  13 events\n"))
        #expect(text.contains("  \(segments[1])  1014 bytes  1 events  (checksum mismatch in a record of 66 bytes at offset 78: 1 damaged (78 bytes) quarantined on next start, 11 valid events after it kept)\n"))
        #expect(text.contains("oldest event: 2025-11-24T16:00:00Z (1h 2m ago)\n"))
        #expect(text.contains("  es: acknowledged through \(SegmentName.id(fromFileName: segments[1])!):546; lag 4 events"))
        #expect(text.contains("  file: acknowledged") == false)  // never acknowledged: no ledger yet
        #expect(text.contains("quarantined: none\n"))
        #expect(dir.read(segments[1]) == bytes)

        // After a start, the quarantined file is listed.
        let b = try DiskBuffer(config: config(dir, segmentSize: 1024), readers: ["es", "file"], logger: log.logger)
        try await b.close()
        let after = try BufferInspector.inspect(path: dir.path, now: now)
        #expect(after.contains("quarantined: 1 files\n  quarantine/\(segments[1]).at-78  78 bytes\n"))
        #expect(after.contains("  \(segments[1])  936 bytes  12 events\n"), "only the damaged record is gone")
    }

    /// A reused segment file after a crash: the new records, then frames of the file's earlier
    /// life, which the next start cuts (not quarantines); and a legacy `.dat` segment.
    @Test func saysWhatIsLeftFromAReusedFile() throws {
        let dir = try TempDir()
        let old = try RecordCodec.salted(RecordCodec.encodeFrames(records(0..<13)).bytes, salt: SegmentName.salt(1))
        let new = try RecordCodec.salted(RecordCodec.encodeFrames(records(40..<42)).bytes, salt: SegmentName.salt(5))
        try dir.write(SegmentName.fileName(5), new + old[new.count...])
        try dir.write(SegmentName.fileName(4, legacy: true), try RecordCodec.encodeFrames(records(30..<33)).bytes)
        let text = try BufferInspector.inspect(path: dir.path)
        #expect(text.contains("segments: 2, "))
        #expect(text.contains("  \(SegmentName.fileName(4, legacy: true))  234 bytes  3 events\n"))
        #expect(text.contains("  \(SegmentName.fileName(5))  1014 bytes  2 events  (record header checksum mismatch at offset 156: 858 bytes, left from the file's earlier use, cut on next start)\n"))
    }

    /// Each reader's line says how old the first event it has not acknowledged is. The
    /// buffer's oldest event can be older: a running shipper keeps acknowledged segment files to
    /// write the next segments into, and a reader that never acknowledged keeps everything.
    @Test func eachReaderSaysHowOldItsOldestWaitingEventIs() async throws {
        let dir = try TempDir()
        let b = try DiskBuffer(config: config(dir, segmentSize: 1024), readers: ["es"], logger: log.logger)
        try await b.append(records(0..<30))  // segments of 13, 13 and 4 events
        let (_, end) = try await readRecords(b, "es", count: 20, maxRecords: 20)
        try await b.acknowledge(reader: "es", through: try #require(end))
        let now = record(0).timestamp + 60_000_000_000
        let text = try BufferInspector.inspect(path: dir.path, now: now)
        // Record 20 is the 8th of segment 2.
        #expect(text.contains("  es: acknowledged through 2:546; lag 10 events, 780 bytes, the oldest from \(BufferInspector.formatTimestamp(record(20).timestamp)) (59s ago)\n"))
        #expect(text.contains("oldest event: \(BufferInspector.formatTimestamp(record(0).timestamp)) (1m 0s ago)\n"))

        // Segments 1 and 2 acknowledged: kept as spares; the wait starts at segment 3.
        let (_, more) = try await readRecords(b, "es", count: 6)
        try await b.acknowledge(reader: "es", through: try #require(more))
        #expect(dir.segments().count == 3 && b.stats().spareBytes == 2 * 1014)
        let spares = try BufferInspector.inspect(path: dir.path, now: now)
        #expect(spares.contains("lag 4 events, 312 bytes, the oldest from \(BufferInspector.formatTimestamp(record(26).timestamp))"))

        // Everything acknowledged: no oldest waiting event.
        let (_, last) = try await readRecords(b, "es", count: 4)
        try await b.acknowledge(reader: "es", through: try #require(last))
        let all = try BufferInspector.inspect(path: dir.path, now: now)
        #expect(all.contains("  es: acknowledged through 3:312; lag 0 events, 0 bytes\n"))
        try await b.close()
    }

    @Test func emptyAndMissingDirectories() throws {
        let dir = try TempDir()
        let text = try BufferInspector.inspect(path: dir.path)
        #expect(text == "buffer \(dir.path)\nsegments: 0, 0 bytes on disk, 0 events\noldest event: none\nreaders: none\nquarantined: none\n")
        // The error says what is wrong with the path: missing, or not a directory.
        #expect(throws: BufferError.io(operation: "inspect", path: dir.path + "/nope", errno: ENOENT)) {
            try BufferInspector.inspect(path: dir.path + "/nope")
        }
        #expect(FileManager.default.createFile(atPath: dir.path + "/file", contents: Data()))
        #expect(throws: BufferError.io(operation: "inspect", path: dir.path + "/file", errno: ENOTDIR)) {
            try BufferInspector.inspect(path: dir.path + "/file")
        }
    }

    @Test(arguments: [(0, "0 bytes"), (1023, "1023 bytes"), (1024, "1.0 KiB"), (5 << 20, "5.0 MiB"), (3 << 30 + 1 << 29, "3.5 GiB")])
    func byteFormatting(n: Int, text: String) {
        #expect(BufferInspector.formatBytes(Int64(n)) == text)
    }

    @Test func timestampFormatting() {
        #expect(BufferInspector.formatTimestamp(0) == "1970-01-01T00:00:00Z")
        #expect(BufferInspector.formatTimestamp(1_764_000_000_000_000_000) == "2025-11-24T16:00:00Z")
        #expect(BufferInspector.formatTimestamp(-1) == "1969-12-31T23:59:59Z")
        #expect(BufferInspector.formatAge(90 * 1_000_000_000) == "1m 30s")
        #expect(BufferInspector.formatAge(2 * 86_400 * 1_000_000_000 + 3_600_000_000_000) == "2d 1h")
    }
}
