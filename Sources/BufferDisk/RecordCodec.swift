/// Bytes ⇄ ``BufferRecord``: the record payload and the frame around it (see the format at the
/// top of `DiskBuffer.swift`). Pure functions; malformed bytes throw, they never trap.
public enum RecordCodec {
    /// Payload format version written in the first payload byte.
    public static let version: UInt8 = 1
    /// Frame header: payload length, payload CRC-32C, header CRC-32C (4 bytes each, little endian).
    public static let headerSize = 12
    /// The smallest valid payload: version, source, offset, timestamp, attribute count 0.
    public static let minPayload = 1 + 8 + 8 + 8 + 1
    /// The largest payload the format allows (512 MiB). Appending a larger record throws.
    public static let maxPayload = 512 << 20

    // MARK: Payload

    /// Size of the payload of `record` in bytes.
    public static func payloadSize(_ record: BufferRecord) -> Int {
        var n = 25 + varintSize(record.attributes.count) + record.document.count
        for a in record.attributes {
            let name = a.name.utf8.count
            n += varintSize(name) + name + varintSize(a.value.count) + a.value.count
        }
        return n
    }

    /// The payload of `record` (without the frame header).
    public static func encode(_ record: BufferRecord) -> [UInt8] {
        let size = payloadSize(record)
        return [UInt8](unsafeUninitializedCapacity: size) { buf, count in
            count = writePayload(record, to: UnsafeMutableRawPointer(buf.baseAddress!))
        }
    }

    /// Writes the payload of `record` at `p` (which has room for `payloadSize(record)` bytes);
    /// returns the number of bytes written.
    static func writePayload(_ record: BufferRecord, to base: UnsafeMutableRawPointer) -> Int {
        var p = base
        p.storeBytes(of: version, as: UInt8.self)
        p.storeBytes(of: record.source.littleEndian, toByteOffset: 1, as: UInt64.self)
        p.storeBytes(of: record.offset.littleEndian, toByteOffset: 9, as: Int64.self)
        p.storeBytes(of: record.timestamp.littleEndian, toByteOffset: 17, as: Int64.self)
        p += 25
        p = writeVarint(record.attributes.count, to: p)
        for a in record.attributes {
            let name = a.name.utf8
            p = writeVarint(name.count, to: p)
            if name.withContiguousStorageIfAvailable({ copy($0, to: p) }) == nil {
                copyArray(Array(name), to: p)
            }
            p += name.count
            p = writeVarint(a.value.count, to: p)
            copyArray(a.value, to: p)
            p += a.value.count
        }
        copyArray(record.document, to: p)
        p += record.document.count
        return p - base
    }

    /// Decodes a payload.
    ///
    /// - Throws: ``BufferError/malformed(_:)`` when the bytes are not a version-1 payload.
    public static func decode(_ bytes: [UInt8]) throws -> BufferRecord {
        try decode(bytes, payload: bytes.indices)
    }

    /// Decodes a payload (the record's document is a copy of its bytes).
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws -> BufferRecord {
        var record = BufferRecord(document: [])
        let documentStart = try decodeFields(bytes, into: &record)
        record.document = ArraySlice(UnsafeRawBufferPointer(rebasing: bytes[documentStart...]))
        return record
    }

    /// Decodes the payload at `payload` in `storage`; the record's document is a slice of
    /// `storage` (shared, not copied).
    public static func decode(_ storage: [UInt8], payload: Range<Int>) throws -> BufferRecord {
        var record = BufferRecord(document: [])
        let documentStart = try storage.withUnsafeBytes { b in
            try decodeFields(UnsafeRawBufferPointer(rebasing: b[payload]), into: &record)
        }
        record.document = storage[(payload.lowerBound + documentStart)..<payload.upperBound]
        return record
    }

    /// Decodes everything but the document into `record`; returns where the document starts.
    static func decodeFields(_ bytes: UnsafeRawBufferPointer, into record: inout BufferRecord) throws -> Int {
        guard bytes.count >= minPayload else { throw BufferError.malformed("payload of \(bytes.count) bytes is too short") }
        guard bytes[0] == version else { throw BufferError.malformed("unknown record version \(bytes[0])") }
        record.source = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 1, as: UInt64.self))
        record.offset = Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: 9, as: Int64.self))
        record.timestamp = Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: 17, as: Int64.self))
        var i = 25
        let count = try readVarint(bytes, &i)
        // Every attribute takes at least two bytes: bounds the reservation on corrupt input.
        guard count <= (bytes.count - i) / 2 else { throw BufferError.malformed("attribute count \(count) exceeds the payload") }
        if count == 0 { return i }
        var attributes: [BufferAttribute] = []
        attributes.reserveCapacity(count)
        for _ in 0..<count {
            let nameLength = try readVarint(bytes, &i)
            guard nameLength <= bytes.count - i else { throw BufferError.malformed("attribute name runs past the payload") }
            guard let name = String(validating: UnsafeRawBufferPointer(rebasing: bytes[i..<(i + nameLength)]), as: UTF8.self) else {
                throw BufferError.malformed("attribute name is not UTF-8")
            }
            i += nameLength
            let valueLength = try readVarint(bytes, &i)
            guard valueLength <= bytes.count - i else { throw BufferError.malformed("attribute value runs past the payload") }
            let value = [UInt8](UnsafeRawBufferPointer(rebasing: bytes[i..<(i + valueLength)]))
            i += valueLength
            attributes.append(BufferAttribute(name: name, value: value))
        }
        record.attributes = attributes
        return i
    }

    /// The `timestamp` field of a payload that starts at `p` (at least `minPayload` bytes).
    static func timestamp(ofPayload p: UnsafeRawPointer) -> Int64 {
        Int64(littleEndian: p.loadUnaligned(fromByteOffset: 17, as: Int64.self))
    }

    // MARK: Frames

    /// Records encoded back to back as frames, ready for one write.
    public struct EncodedBatch: Sendable {
        /// The frames.
        public var bytes: [UInt8]
        /// End offset in `bytes` of each frame.
        public var frameEnds: [Int]
    }

    /// Encodes `records` as consecutive frames in one contiguous buffer.
    ///
    /// - Throws: ``BufferError/recordTooLarge(_:)`` for a record above ``maxPayload``.
    public static func encodeFrames(_ records: [BufferRecord]) throws -> EncodedBatch {
        var ends: [Int] = []
        ends.reserveCapacity(records.count)
        var total = 0
        for r in records {
            let n = payloadSize(r)
            guard n <= maxPayload else { throw BufferError.recordTooLarge(n) }
            total += headerSize + n
            ends.append(total)
        }
        let bytes = [UInt8](unsafeUninitializedCapacity: total) { buf, count in
            guard let base = buf.baseAddress else { return }
            var start = 0
            for (r, end) in zip(records, ends) {
                let frame = UnsafeMutableRawPointer(base + start)
                let length = writePayload(r, to: frame + headerSize)
                sealFrame(frame, payloadLength: length)
                start = end
            }
            count = total
        }
        return EncodedBatch(bytes: bytes, frameEnds: ends)
    }

    /// Builds an ``EncodedBatch`` record by record, with each document written straight into
    /// the frame (no record value, no copy). Reuse one writer: ``reset()`` keeps its capacity.
    public struct BatchWriter: Sendable {
        /// The frames written so far, for ``DiskBuffer/appendWithoutWaitingForSync(_:)-(EncodedBatch)``.
        public internal(set) var batch = EncodedBatch(bytes: [], frameEnds: [])

        public init(capacity: Int = 0) {
            batch.bytes.reserveCapacity(capacity)
        }

        public var isEmpty: Bool { batch.frameEnds.isEmpty }
        public var count: Int { batch.frameEnds.count }

        /// Empties the writer, keeping its memory.
        public mutating func reset() {
            batch.bytes.removeAll(keepingCapacity: true)
            batch.frameEnds.removeAll(keepingCapacity: true)
        }

        /// Appends one record whose document `writeDocument` appends to the bytes it is given.
        ///
        /// - Throws: ``BufferError/recordTooLarge(_:)`` (and writes nothing) for a payload above ``maxPayload``.
        public mutating func append(
            source: UInt64, offset: Int64, timestamp: Int64, attributes: [BufferAttribute] = [],
            document writeDocument: (inout [UInt8]) -> Void
        ) throws {
            let start = batch.bytes.count
            // The payload without its document: what payloadSize counts for an empty document.
            let record = BufferRecord(source: source, offset: offset, timestamp: timestamp, attributes: attributes, document: [])
            batch.bytes.append(contentsOf: repeatElement(0, count: headerSize &+ payloadSize(record)))
            batch.bytes.withUnsafeMutableBytes { b in
                _ = writePayload(record, to: b.baseAddress! + start + headerSize)
            }
            writeDocument(&batch.bytes)
            let payloadLength = batch.bytes.count &- start &- headerSize
            guard payloadLength <= maxPayload else {
                batch.bytes.removeSubrange(start...)
                throw BufferError.recordTooLarge(payloadLength)
            }
            batch.bytes.withUnsafeMutableBytes { b in sealFrame(b.baseAddress! + start, payloadLength: payloadLength) }
            batch.frameEnds.append(batch.bytes.count)
        }
    }

    /// Encodes one record as a frame.
    public static func encodeFrame(_ record: BufferRecord) throws -> [UInt8] {
        try encodeFrames([record]).bytes
    }

    /// Fills in the header of the frame at `frame` whose payload of `payloadLength` bytes is
    /// already written after the header.
    static func sealFrame(_ frame: UnsafeMutableRawPointer, payloadLength: Int) {
        let crc = CRC32C.update(0, UnsafeRawBufferPointer(start: frame + headerSize, count: payloadLength))
        frame.storeBytes(of: UInt32(payloadLength).littleEndian, as: UInt32.self)
        frame.storeBytes(of: crc.littleEndian, toByteOffset: 4, as: UInt32.self)
        let headerCRC = CRC32C.update(0, UnsafeRawBufferPointer(start: frame, count: 8))
        frame.storeBytes(of: headerCRC.littleEndian, toByteOffset: 8, as: UInt32.self)
    }

    /// What a frame header says.
    enum Header: Equatable {
        /// A valid header: the payload length and its CRC.
        case valid(length: Int, crc: UInt32)
        /// The header CRC does not match: nothing in it can be trusted.
        case corrupt
        /// The header CRC matches but the length is outside the format's limits.
        case impossibleLength(Int)
    }

    /// Checks the 12 header bytes at `p`, of a frame in a segment whose frames have `salt`.
    static func header(at p: UnsafeRawPointer, salt: UInt32) -> Header {
        let length = UInt32(littleEndian: p.loadUnaligned(as: UInt32.self))
        let crc = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        let stored = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        guard CRC32C.update(0, UnsafeRawBufferPointer(start: p, count: 8)) ^ salt == stored else { return .corrupt }
        let n = Int(length)
        guard n >= minPayload, n <= maxPayload else { return .impossibleLength(n) }
        return .valid(length: n, crc: crc)
    }

    /// The salt the 12 header bytes at `p` were sealed with, if they are a header: recovery tells
    /// frames left from a segment file's earlier use (salted for an earlier segment) from damage.
    static func salt(ofHeaderAt p: UnsafeRawPointer) -> UInt32 {
        CRC32C.update(0, UnsafeRawBufferPointer(start: p, count: 8)) ^ UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
    }

    /// XORs `salt` into the header checksum of each frame of `bytes[start..<ends.last]` (frames
    /// end at `ends`): frames are encoded with salt 0 and salted for the segment they are written
    /// to; doing it again takes the salt out.
    static func xorSalt(_ salt: UInt32, _ bytes: UnsafeMutableRawBufferPointer, start: Int, ends: ArraySlice<Int>) {
        guard salt != 0, let base = bytes.baseAddress else { return }
        var frame = start
        for end in ends {
            let p = base + frame + 8
            p.storeBytes(of: (UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)) ^ salt).littleEndian, as: UInt32.self)
            frame = end
        }
    }

    /// `frames` (whole frames, salt 0, e.g. from ``encodeFrames(_:)``) with `salt` for a
    /// segment file: for tests and tools that write segments themselves.
    public static func salted(_ frames: [UInt8], salt: UInt32) throws -> [UInt8] {
        var out = frames
        var ends: [Int] = []
        var i = 0
        while i < out.count {
            guard out.count - i >= headerSize else { throw BufferError.malformed("short frame header at \(i)") }
            let n = out.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: i, as: UInt32.self))) }
            guard n <= out.count - i - headerSize else { throw BufferError.malformed("short payload at \(i)") }
            i += headerSize + n
            ends.append(i)
        }
        out.withUnsafeMutableBytes { xorSalt(salt, $0, start: 0, ends: ends[...]) }
        return out
    }

    /// Decodes the frames in `bytes` (which must hold whole frames only, e.g. a file written by
    /// the buffer, whose frames have `salt`): every record, or the first error.
    public static func decodeFrames(_ bytes: [UInt8], salt: UInt32 = 0) throws -> [BufferRecord] {
        try bytes.withUnsafeBytes { (b) throws -> [BufferRecord] in
            var out: [BufferRecord] = []
            var i = 0
            while i < b.count {
                guard b.count - i >= headerSize else { throw BufferError.malformed("short frame header at \(i)") }
                guard case let .valid(n, crc) = header(at: b.baseAddress! + i, salt: salt) else { throw BufferError.malformed("bad frame header at \(i)") }
                guard n <= b.count - i - headerSize else { throw BufferError.malformed("short payload at \(i)") }
                let payload = UnsafeRawBufferPointer(rebasing: b[(i + headerSize)..<(i + headerSize + n)])
                guard CRC32C.update(0, payload) == crc else { throw BufferError.malformed("payload CRC mismatch at \(i)") }
                out.append(try decode(payload))
                i += headerSize + n
            }
            return out
        }
    }

    // MARK: Varints (unsigned LEB128, at most 5 bytes / 32 bits)

    static func varintSize(_ v: Int) -> Int {
        var v = UInt(v)
        var n = 1
        while v >= 0x80 {
            v >>= 7
            n += 1
        }
        return n
    }

    static func writeVarint(_ v: Int, to p: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
        var v = UInt(v)
        var p = p
        while v >= 0x80 {
            p.storeBytes(of: UInt8(truncatingIfNeeded: v) | 0x80, as: UInt8.self)
            v >>= 7
            p += 1
        }
        p.storeBytes(of: UInt8(v), as: UInt8.self)
        return p + 1
    }

    static func readVarint(_ b: UnsafeRawBufferPointer, _ i: inout Int) throws -> Int {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard i < b.count else { throw BufferError.malformed("truncated length") }
            let byte = b[i]
            i += 1
            v |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { break }
            shift += 7
            guard shift < 35 else { throw BufferError.malformed("length varint too long") }
        }
        guard v <= UInt64(UInt32.max) else { throw BufferError.malformed("length out of range") }
        return Int(v)
    }

    private static func copy(_ src: UnsafeBufferPointer<UInt8>, to p: UnsafeMutableRawPointer) {
        if let s = src.baseAddress, src.count > 0 { p.copyMemory(from: s, byteCount: src.count) }
    }

    private static func copyArray(_ a: [UInt8], to p: UnsafeMutableRawPointer) {
        a.withUnsafeBufferPointer { copy($0, to: p) }
    }

    private static func copyArray(_ a: ArraySlice<UInt8>, to p: UnsafeMutableRawPointer) {
        a.withUnsafeBufferPointer { copy($0, to: p) }
    }
}
