import Foundation
import NIOCore
import ShipperCore
import Testing

@testable import OutputElasticsearch

@Suite("Backoff, host rotation, gzip, dead-letter records")
struct PartsTests {
    @Test(arguments: [(0, 1000), (1, 2000), (2, 4000), (5, 32_000), (6, 60_000), (7, 60_000), (63, 60_000), (10_000, 60_000), (-1, 1000)])
    func backoffCeiling(_ attempt: Int, _ milliseconds: Int) {
        let b = Backoff(initial: .seconds(1), maximum: .seconds(60))
        #expect(b.ceiling(attempt: attempt) == .milliseconds(milliseconds))
    }

    @Test func backoffHasFullJitter() {
        let b = Backoff(initial: .milliseconds(100), maximum: .seconds(10))
        var rng = SplitMix64(seed: 7)
        let delays = (0..<2000).map { _ in b.delay(attempt: 3, using: &rng) }
        #expect(delays.allSatisfy { $0 >= .zero && $0 <= .milliseconds(800) })
        #expect(delays.contains { $0 < .milliseconds(100) }, "full jitter reaches near zero")
        #expect(delays.contains { $0 > .milliseconds(700) })
    }

    @Test func roundRobin() {
        var r = HostRotation(count: 3, cooldown: .seconds(10))
        let now = ContinuousClock.now
        #expect((0..<6).map { _ in r.pick(now: now) } == [0, 1, 2, 0, 1, 2])
    }

    @Test func failingHostCoolsDown() {
        var r = HostRotation(count: 3, cooldown: .seconds(10))
        let t0 = ContinuousClock.now
        #expect(r.pick(now: t0) == 0)
        r.failed(0, now: t0)
        #expect((0..<4).map { _ in r.pick(now: t0) } == [1, 2, 1, 2])
        #expect(r.hasAvailable(now: t0))
        // After the cool-down it is used again.
        let later = t0 + .seconds(11)
        #expect(Set((0..<3).map { _ in r.pick(now: later) }) == [0, 1, 2])
    }

    @Test func allHostsDownPicksTheFirstToRecover() {
        var r = HostRotation(count: 3, cooldown: .seconds(10))
        let t0 = ContinuousClock.now
        r.failed(1, now: t0)
        r.failed(0, now: t0 + .seconds(2))
        r.failed(2, now: t0 + .seconds(1))
        #expect(!r.hasAvailable(now: t0 + .seconds(3)))
        #expect(r.pick(now: t0 + .seconds(3)) == 1)
        r.succeeded(2)
        #expect(r.pick(now: t0 + .seconds(3)) == 2)
    }

    @Test func gzipRoundTripWithAReusedStream() throws {
        let compressor = try GzipCompressor(level: 1)
        let first = Array(String(repeating: #"{"create":{"_index":"logs","_id":"x"}}\n{"message":"hello"}\n"#, count: 2000).utf8)
        let second = Array("short body\n".utf8)
        for input in [first, second, first, []] {
            var buffer = try compressor.compress(input)
            let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
            #expect(bytes.prefix(2) == [0x1f, 0x8b], "a gzip member")
            #expect(Inflate.decompress(bytes) == input)
            if input.count > 10_000 { #expect(bytes.count < input.count / 10) }
        }
        #expect(Inflate.decompress([1, 2, 3, 4]) == nil)
    }

    /// A member fed in pieces (as bulk bodies are, while they are built) decodes to the same bytes
    /// as the whole input, for igzip (levels 1-3) and zlib (4-9), with pieces of any size, an empty
    /// last piece, and a stream reused after it.
    @Test(arguments: [1, 3, 6, 9])
    func gzipFedInPiecesRoundTrips(_ level: Int32) throws {
        let compressor = try GzipCompressor(level: level)
        var rng = SplitMix64(seed: UInt64(level))
        // Compressible text with incompressible stretches (stored blocks), 300 KB.
        var input = Array(String(repeating: #"{"create":{"_index":"logs","_id":"x"}}\n{"message":"hello"}\n"#, count: 3000).utf8)
        for i in stride(from: 0, to: input.count, by: 977) { input[i] = UInt8(truncatingIfNeeded: rng.next()) }
        input += (0..<40_000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        for pieceSize in [1_000_000, 65_536, 4093, 1] {
            let pieces = pieceSize == 1 ? input.prefix(3000).map { [$0] } : stride(from: 0, to: input.count, by: pieceSize).map { Array(input[$0..<min(input.count, $0 + pieceSize)]) }
            let whole = pieces.flatMap { $0 }
            for lastEmpty in [true, false] {
                var out = ByteBufferAllocator().buffer(capacity: 16)
                compressor.begin()
                for (k, piece) in pieces.enumerated() {
                    try piece.withUnsafeBytes { try compressor.feed($0, last: !lastEmpty && k == pieces.count - 1, into: &out) }
                }
                if lastEmpty { try compressor.feed(UnsafeRawBufferPointer(start: nil, count: 0), last: true, into: &out) }
                let bytes = out.readBytes(length: out.readableBytes) ?? []
                #expect(bytes.prefix(2) == [0x1f, 0x8b], "level \(level), pieces of \(pieceSize)")
                #expect(Inflate.decompress(bytes) == whole, "level \(level), pieces of \(pieceSize), empty last piece: \(lastEmpty)")
            }
        }
        var again = try compressor.compress(Array("after\n".utf8))
        #expect(Inflate.decompress(again.readBytes(length: again.readableBytes) ?? []) == Array("after\n".utf8))
    }

    @Test func deadLetterRecordRoundTrip() throws {
        let item = BulkItem(
            index: "logs-web-2024.11.14", id: "23I4Ee7FxMHOTZ910MntFw", document: Array(#"{"message":"x\ny","n":1}"#.utf8),
            source: 0xfeed_face_cafe_beef, offset: 1234, timestamp: 1_731_622_400_000_000_000)
        let error = ElasticsearchError(
            type: "document_parsing_exception", reason: "bad",
            json: Array(#"{"type":"document_parsing_exception","reason":"bad","caused_by":{"type":"x","reason":"y"}}"#.utf8))
        var line: [UInt8] = []
        DeadLetterRecord(item: item, status: 400, error: error).encode(
            output: "es", now: Timestamp(nanoseconds: 1_731_622_401_000_000_000), into: &line)
        let text = String(decoding: line, as: UTF8.self)
        #expect(
            text
                == #"{"@timestamp":"2024-11-14T22:13:21.000Z","output":"es","status":400,"error":{"type":"document_parsing_exception","reason":"bad","caused_by":{"type":"x","reason":"y"}},"index":"logs-web-2024.11.14","_id":"23I4Ee7FxMHOTZ910MntFw","source":18369614221190020847,"offset":1234,"event_timestamp":"2024-11-14T22:13:20.000000000Z","document":{"message":"x\ny","n":1}}"#
                + "\n")
        let back = try line.dropLast().withUnsafeBytes { try DeadLetterRecord.decode(line: $0) }
        #expect(back.item.index == item.index)
        #expect(back.item.id == item.id)
        #expect(back.item.document == item.document)
        #expect(back.item.source == item.source && back.item.offset == 1234)
        #expect(back.status == 400)
        #expect(back.error.type == "document_parsing_exception")
    }

    @Test func invalidDocumentsAreKeptAsText() throws {
        let item = BulkItem(index: "i", id: "x", document: Array("{\"broken\":\n".utf8))
        var line: [UInt8] = []
        DeadLetterRecord(item: item, status: 400, error: ElasticsearchError(type: "t", reason: "r")).encode(
            output: "es", now: Timestamp(nanoseconds: 0), into: &line)
        #expect(line.filter { $0 == 0x0A }.count == 1, "one line")
        #expect(String(decoding: line, as: UTF8.self).contains(#""document_text":"{\"broken\":\n""#))
        let back = try line.dropLast().withUnsafeBytes { try DeadLetterRecord.decode(line: $0) }
        #expect(back.item.document == item.document)
    }

    @Test func deadLetterFileReadSkipsBadLines() throws {
        let dir = try makeTempDirectory()
        let file = DeadLetterFile(path: dir + "/nested/dl.ndjson")
        var lines: [UInt8] = []
        for i in 0..<3 {
            DeadLetterRecord(
                item: BulkItem(index: "i", id: "id\(i)", document: Array(#"{"n":\#(i)}"#.utf8)), status: 400,
                error: ElasticsearchError(type: "t", reason: "r")
            ).encode(output: "es", now: Timestamp(nanoseconds: 0), into: &lines)
        }
        try file.append(lines)
        try file.append(Array("not json\n\n{\"index\":\"i\"}\n".utf8))
        let (records, unreadable) = try DeadLetterRecord.read(path: dir + "/nested/dl.ndjson")
        #expect(records.map(\.item.id) == ["id0", "id1", "id2"])
        #expect(unreadable == 2)
    }

    @Test func percentEncoding() {
        #expect(ElasticsearchOutput.percentEncode("errors,items.*.error,items.*.status") == "errors,items.*.error,items.*.status")
        #expect(ElasticsearchOutput.percentEncode("a b&c=d/é") == "a%20b%26c%3Dd%2F%C3%A9")
    }
}
