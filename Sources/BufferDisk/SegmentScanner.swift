#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Segment file names: `segment-<id, 20 digits>.seg`, and `.dat` for segments written before
/// frames carried their segment's salt (read as before, never written again).
enum SegmentName {
    static let prefix = "segment-"
    static let suffix = ".seg"
    static let legacySuffix = ".dat"

    static func fileName(_ id: UInt64, legacy: Bool = false) -> String {
        prefix + String(id).leftPadded(to: 20) + (legacy ? legacySuffix : suffix)
    }

    /// The salt of the frames of segment `id` (see "Frame" in `DiskBuffer.swift`): a bijection of
    /// the id's low 32 bits, so segments whose ids differ by less than 2^32 never share one.
    /// Legacy (`.dat`) segments have salt 0.
    static func salt(_ id: UInt64, legacy: Bool = false) -> UInt32 {
        legacy ? 0 : UInt32(truncatingIfNeeded: id) &* 0x9E37_79B1 ^ 0x5EED_5A17
    }

    /// The low 32 bits of the id whose salt is `salt` (0x0E8B2F51 is 0x9E3779B1's inverse
    /// modulo 2^32).
    static func id(ofSalt salt: UInt32) -> UInt32 {
        (salt ^ 0x5EED_5A17) &* 0x0E8B_2F51
    }

    /// The id of a segment file name: exactly `segment-`, 20 ASCII digits and `.seg` or `.dat`,
    /// byte by byte (opening a buffer reads every name in its directory).
    static func id(fromFileName name: String) -> UInt64? { parse(name)?.id }

    /// The id of a segment file name and whether it is a legacy (`.dat`) one.
    static func parse(_ name: String) -> (id: UInt64, legacy: Bool)? {
        var name = name
        return name.withUTF8 { b -> (id: UInt64, legacy: Bool)? in
            let digitsStart = prefixBytes.count
            guard b.count == digitsStart + 20 + suffixBytes.count, b.starts(with: prefixBytes) else { return nil }
            let tail = b[(digitsStart + 20)...]
            let legacy: Bool
            if tail.elementsEqual(suffixBytes) {
                legacy = false
            } else if tail.elementsEqual(legacySuffixBytes) {
                legacy = true
            } else {
                return nil
            }
            var id: UInt64 = 0
            for c in b[digitsStart..<(digitsStart + 20)] {
                guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
                let (times10, o1) = id.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(UInt64(c - UInt8(ascii: "0")))
                guard !o1, !o2 else { return nil }
                id = sum
            }
            // Ids near the top of the range would leave no room for the next ones: not ours.
            return id < 1 << 62 ? (id, legacy) : nil
        }
    }
    static let prefixBytes = Array(prefix.utf8)
    static let suffixBytes = Array(suffix.utf8)
    static let legacySuffixBytes = Array(legacySuffix.utf8)
}

/// The result of reading a segment file from the start and checking every frame.
struct SegmentScan: Sendable {
    /// Size of the file.
    var fileSize: Int64
    /// End of the last valid record (the file is valid up to here).
    var validEnd: Int64
    /// End offset of every valid record.
    var ends: [UInt32]
    /// `timestamp` of the first valid record.
    var firstTimestamp: Int64?
    /// What is wrong at `validEnd`, nil when the whole file is valid.
    var problem: Problem?
    /// Every byte from `validEnd` to the end of the file is zero (left by a crash on some file
    /// systems after the size was updated but before the data was written).
    var restIsZero = false

    enum Problem: Equatable, Sendable {
        /// Fewer than 12 bytes left: a header cut short.
        case shortHeader
        /// The header CRC does not match.
        case corruptHeader
        /// The header is intact but its length is outside the format's limits.
        case impossibleLength(Int)
        /// The header is intact, the payload runs past the end of the file.
        case shortPayload(length: Int)
        /// The payload CRC does not match.
        case payloadCRC(length: Int)
    }

    /// True when the bad bytes are what an interrupted append leaves at the end of a file: a
    /// short header or payload, a CRC mismatch in the very last record, or only zeros.
    var looksTorn: Bool {
        guard let problem else { return false }
        if restIsZero { return true }
        let rest = fileSize - validEnd
        switch problem {
        case .shortHeader, .shortPayload: return true
        case .corruptHeader, .impossibleLength: return rest <= Int64(RecordCodec.headerSize)
        case let .payloadCRC(length): return rest == Int64(RecordCodec.headerSize + length)
        }
    }

    var problemDescription: String {
        guard let problem else { return "valid" }
        switch problem {
        case .shortHeader: return "record header cut short"
        case .corruptHeader: return "record header checksum mismatch"
        case let .impossibleLength(n): return "impossible record length \(n)"
        case let .shortPayload(n): return "record of \(n) bytes cut short"
        case let .payloadCRC(n): return "checksum mismatch in a record of \(n) bytes"
        }
    }
}

/// Reads a segment file sequentially, checking each frame (header CRC, length, payload CRC).
enum SegmentScanner {
    static let window = 1 << 20

    static func scan(_ file: FileHandle, salt: UInt32) throws -> SegmentScan {
        let size = try file.size()
        var reader = WindowReader(file: file, size: size)
        var result = SegmentScan(fileSize: size, validEnd: 0, ends: [])
        var off: Int64 = 0
        let h = Int64(RecordCodec.headerSize)
        while off < size {
            guard size - off >= h else {
                result.problem = .shortHeader
                break
            }
            let header = try reader.withBytes(at: off, count: RecordCodec.headerSize) { RecordCodec.header(at: $0.baseAddress!, salt: salt) }
            guard case let .valid(length, crc)? = header else {
                if case let .impossibleLength(n)? = header { result.problem = .impossibleLength(n) } else { result.problem = .corruptHeader }
                break
            }
            guard off + h + Int64(length) <= size, off + h + Int64(length) <= Int64(UInt32.max) else {
                result.problem = .shortPayload(length: length)
                break
            }
            let check = try reader.withBytes(at: off + h, count: length) { p in
                (CRC32C.update(0, p) == crc, RecordCodec.timestamp(ofPayload: p.baseAddress!))
            }
            guard let (valid, timestamp) = check, valid else {
                result.problem = .payloadCRC(length: length)
                break
            }
            if result.firstTimestamp == nil { result.firstTimestamp = timestamp }
            off += h + Int64(length)
            result.ends.append(UInt32(off))
        }
        result.validEnd = off
        if result.problem != nil { result.restIsZero = try reader.isZero(from: off) }
        return result
    }
}

/// Sequential reads through a window buffer (one pread per window, not per record).
struct WindowReader {
    let file: FileHandle
    let size: Int64
    var buffer: [UInt8] = []
    var start: Int64 = 0
    var count = 0

    init(file: FileHandle, size: Int64) {
        self.file = file
        self.size = size
    }

    /// Calls `body` with the bytes `[offset, offset + count)`, nil when the file is shorter.
    mutating func withBytes<T>(at offset: Int64, count n: Int, _ body: (UnsafeRawBufferPointer) -> T) throws -> T? {
        guard offset >= 0, n >= 0, offset + Int64(n) <= size else { return nil }
        if !(offset >= start && offset + Int64(n) <= start + Int64(count)) {
            let want = max(n, min(SegmentScanner.window, Int(size - offset)))
            if buffer.count < want { buffer = [UInt8](repeating: 0, count: want) }
            let f = file
            let got = try buffer.withUnsafeMutableBytes { (b) throws -> Int in
                try f.read(into: UnsafeMutableRawBufferPointer(rebasing: b[0..<want]), at: offset)
            }
            start = offset
            count = got
            guard got >= n else { return nil }
        }
        let i = Int(offset - start)
        return buffer.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[i..<(i + n)])) }
    }

    /// Whether every byte from `offset` to the end of the file is zero.
    mutating func isZero(from offset: Int64) throws -> Bool {
        var off = offset
        while off < size {
            let n = Int(min(Int64(SegmentScanner.window), size - off))
            guard let zero = try withBytes(at: off, count: n, { $0.allSatisfy { $0 == 0 } }), zero else { return false }
            off += Int64(n)
        }
        return true
    }
}
