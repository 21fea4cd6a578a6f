import ShipperCore
import Testing

@testable import BufferDisk

@Suite struct RecordCodecTests {
    static let cases: [(String, BufferRecord)] = [
        ("empty document", BufferRecord(document: [])),
        ("no origin", BufferRecord(source: 0, offset: -1, timestamp: 0, document: Array("{}".utf8))),
        ("typical", BufferRecord(source: 0xDEAD_BEEF_0000_0001, offset: 123_456_789, timestamp: 1_764_000_000_123_456_789,
                                 attributes: [BufferAttribute(name: "service.name", value: Array("web".utf8))],
                                 document: Array(#"{"message":"GET / 200","service":{"name":"web"}}"#.utf8))),
        ("extreme numbers", BufferRecord(source: .max, offset: .min, timestamp: .min, document: [0])),
        ("negative timestamp", BufferRecord(source: 1, offset: .max, timestamp: -1, document: [0x7B, 0x7D])),
        ("large document", BufferRecord(document: (0..<1_100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })),
        ("many attributes", BufferRecord(attributes: (0..<1000).map { BufferAttribute(name: "field.\($0)", value: Array(String($0 * 7).utf8)) },
                                         document: Array("{}".utf8))),
        ("empty attribute name and value", BufferRecord(attributes: [BufferAttribute(name: "", value: [])], document: [1, 2, 3])),
        ("long attribute (multi-byte varint)", BufferRecord(attributes: [BufferAttribute(name: String(repeating: "n", count: 300), value: [UInt8](repeating: 9, count: 70_000))], document: [])),
        ("unicode", BufferRecord(attributes: [BufferAttribute(name: "kubernetes.labels.app/名前", value: Array("Grüße 🚀".utf8))],
                                 document: Array(#"{"message":"héllo wörld ✓ 日本語 🚀"}"#.utf8))),
        ("binary document", BufferRecord(document: [0, 0xFF, 0x80, 0x0A, 0x00])),
    ]

    @Test(arguments: cases)
    func payloadRoundTrip(name: String, record: BufferRecord) throws {
        let bytes = RecordCodec.encode(record)
        #expect(bytes.count == RecordCodec.payloadSize(record), "\(name)")
        #expect(try RecordCodec.decode(bytes) == record, "\(name)")
    }

    @Test func framesRoundTrip() throws {
        let all = Self.cases.map(\.1)
        let batch = try RecordCodec.encodeFrames(all)
        #expect(batch.frameEnds.count == all.count)
        #expect(batch.frameEnds.last == batch.bytes.count)
        #expect(try RecordCodec.decodeFrames(batch.bytes) == all)
        // Each frame on its own, and its header says what it holds.
        for (i, r) in all.enumerated() {
            let start = i == 0 ? 0 : batch.frameEnds[i - 1]
            let frame = Array(batch.bytes[start..<batch.frameEnds[i]])
            #expect(frame == (try RecordCodec.encodeFrame(r)))
            let header = frame.withUnsafeBytes { RecordCodec.header(at: $0.baseAddress!, salt: 0) }
            #expect(header == .valid(length: frame.count - 12, crc: CRC32C.checksum(frame[12...])))
        }
    }

    @Test func payloadLayoutIsAsDocumented() throws {
        let r = BufferRecord(source: 0x0102_0304_0506_0708, offset: 0x10, timestamp: 0x20,
                             attributes: [BufferAttribute(name: "a", value: [0x42])], document: Array("{}".utf8))
        let b = RecordCodec.encode(r)
        #expect(b == [1, 8, 7, 6, 5, 4, 3, 2, 1, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0x61, 1, 0x42, 0x7B, 0x7D])
        let frame = try RecordCodec.encodeFrame(r)
        #expect(Array(frame[0..<4]) == [UInt8(b.count), 0, 0, 0])
    }

    static let malformed: [(String, [UInt8])] = [
        ("empty", []),
        ("too short", [1, 0, 0]),
        ("unknown version", [2] + [UInt8](repeating: 0, count: 25)),
        ("varint never ends", [1] + [UInt8](repeating: 0, count: 24) + [0x80, 0x80, 0x80, 0x80, 0x80, 0x80]),
        ("varint too large", [1] + [UInt8](repeating: 0, count: 24) + [0xFF, 0xFF, 0xFF, 0xFF, 0x7F]),
        ("attribute count beyond payload", [1] + [UInt8](repeating: 0, count: 24) + [0x05, 0x01]),
        ("name length beyond payload", [1] + [UInt8](repeating: 0, count: 24) + [0x01, 0x09, 0x61]),
        ("value length beyond payload", [1] + [UInt8](repeating: 0, count: 24) + [0x01, 0x01, 0x61, 0x05, 0x00]),
        ("name not UTF-8", [1] + [UInt8](repeating: 0, count: 24) + [0x01, 0x02, 0xC3, 0x28, 0x00]),
        ("truncated name", [1] + [UInt8](repeating: 0, count: 24) + [0x01, 0x03, 0x61]),
    ]

    @Test(arguments: malformed)
    func malformedPayloadsThrow(name: String, bytes: [UInt8]) {
        #expect(throws: BufferError.self, "\(name)") { try RecordCodec.decode(bytes) }
    }

    @Test func everyPrefixOfAPayloadWithAttributesFailsOrDecodesWithoutTrapping() throws {
        let r = Self.cases[2].1
        let bytes = RecordCodec.encode(r)
        for n in 0..<bytes.count {
            // A prefix either throws or (cut inside the document) decodes to a shorter document.
            if let d = try? RecordCodec.decode(Array(bytes[..<n])) {
                #expect(d.attributes == r.attributes && d.document.count < r.document.count)
            }
        }
    }

    @Test func randomBytesNeverTrap() {
        var rng = SplitMix64(seed: 42)
        var decoded = 0
        for _ in 0..<5000 {
            let n = Int(rng.next() % 80)
            var bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if n > 0 && rng.next() % 2 == 0 { bytes[0] = 1 }
            if (try? RecordCodec.decode(bytes)) != nil { decoded += 1 }
            _ = try? RecordCodec.decodeFrames(bytes)
            if n >= 12 { _ = bytes.withUnsafeBytes { RecordCodec.header(at: $0.baseAddress!, salt: 0) } }
        }
        #expect(decoded > 0)  // some random payloads with version 1 are valid: the decoder is total
    }

    @Test func corruptFramesAreRejected() throws {
        let frame = try RecordCodec.encodeFrame(Self.cases[2].1)
        for bit in stride(from: 0, to: frame.count * 8, by: 13) {
            var f = frame
            f[bit / 8] ^= UInt8(1 << (bit % 8))
            #expect(throws: BufferError.self, "bit \(bit)") { try RecordCodec.decodeFrames(f) }
            #expect(DiskBuffer.decodeFrame(f, f.indices, salt: 0) == nil)
        }
        #expect(throws: BufferError.self) { try RecordCodec.decodeFrames(Array(frame.dropLast())) }
    }

    /// The buffer's read path: frames decoded in place from the bytes of one read (at any offset
    /// in them), the documents slices of those bytes: the same records as decoding copies.
    @Test func framesDecodeInPlaceFromSharedStorage() throws {
        var storage: [UInt8] = [0xAA, 0xBB, 0xCC]  // the frames start at an offset
        var ranges: [Range<Int>] = []
        for (_, record) in Self.cases {
            let frame = try RecordCodec.encodeFrame(record)
            ranges.append(storage.count..<(storage.count + frame.count))
            storage += frame
        }
        for ((name, record), range) in zip(Self.cases, ranges) {
            let decoded = try #require(DiskBuffer.decodeFrame(storage, range, salt: 0), "\(name)")
            #expect(decoded == record, "\(name)")
            #expect(decoded.document.endIndex == range.upperBound, "\(name): the document is a slice of the storage")
            let copied = try storage.withUnsafeBytes { try RecordCodec.decode(UnsafeRawBufferPointer(rebasing: $0[(range.lowerBound + RecordCodec.headerSize)..<range.upperBound])) }
            #expect(copied == record, "\(name)")
        }
        // A frame range one byte short or long is refused.
        #expect(DiskBuffer.decodeFrame(storage, ranges[1].lowerBound..<(ranges[1].upperBound - 1), salt: 0) == nil)
        #expect(DiskBuffer.decodeFrame(storage, ranges[1].lowerBound..<(ranges[1].upperBound + 1), salt: 0) == nil)
    }

    @Test func tooLargeRecordIsRefused() {
        // Payload size is computed without allocating the record's bytes twice.
        let r = BufferRecord(document: [UInt8](repeating: 0, count: RecordCodec.maxPayload))
        #expect(throws: BufferError.recordTooLarge(RecordCodec.maxPayload + 26)) { try RecordCodec.encodeFrames([r]) }
    }
}

@Suite struct BatchWriterTests {
    @Test func writesTheBytesEncodeFramesWrites() throws {
        let records = RecordCodecTests.cases.map(\.1)
        var writer = RecordCodec.BatchWriter(capacity: 16)
        for _ in 0..<2 {  // the second round reuses the memory of the first
            writer.reset()
            #expect(writer.isEmpty)
            for r in records {
                try writer.append(source: r.source, offset: r.offset, timestamp: r.timestamp, attributes: r.attributes) {
                    $0.append(contentsOf: r.document)
                }
            }
            let expected = try RecordCodec.encodeFrames(records)
            #expect(writer.count == records.count)
            #expect(writer.batch.bytes == expected.bytes)
            #expect(writer.batch.frameEnds == expected.frameEnds)
            #expect(try RecordCodec.decodeFrames(writer.batch.bytes) == records)
        }
    }
}
