import ShipperCore

/// A JSON string reader for the `log` value of Docker lines: finds special bytes eight at a time
/// and copies the plain runs between them, writing the unescaped text to raw memory.
///
/// It accepts exactly what ``JSONScanner/readString(into:)`` accepts (RFC 8259 escapes, surrogate
/// pairs, valid UTF-8, no raw control characters) and reports errors the same way.
enum StringUnescaper {
    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highs: UInt64 = 0x8080_8080_8080_8080

    /// A mask with the high bit set in the lowest byte of `x` that is `"`, `\`, below 0x20 or above
    /// 0x7F (bytes above the lowest flagged one may be flagged spuriously; only the lowest is used).
    @inline(__always)
    private static func specialMask(_ x: UInt64) -> UInt64 {
        let quote = x ^ (ones &* 0x22)
        let backslash = x ^ (ones &* 0x5C)
        let control = (x &- ones &* 0x20) & ~x
        let isQuote = (quote &- ones) & ~quote
        let isBackslash = (backslash &- ones) & ~backslash
        return (x | control | isQuote | isBackslash) & highs
    }

    /// Unescapes the string whose opening quote is at `quote` into `out`, which must have room for
    /// `bytes.count - quote` bytes. Returns the number of bytes written and the position after the
    /// closing quote.
    static func read(
        _ bytes: UnsafeRawBufferPointer, openingQuote quote: Int, into out: UnsafeMutableRawPointer
    ) throws(JSONError) -> (written: Int, end: Int) {
        let n = bytes.count
        guard let base = bytes.baseAddress else { throw JSONError("unterminated string", at: quote) }
        var i = quote + 1
        var o = 0
        while true {
            // Eight plain bytes at a time.
            while i + 8 <= n {
                let word = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                let mask = specialMask(UInt64(littleEndian: word))
                if mask == 0 {
                    out.storeBytes(of: word, toByteOffset: o, as: UInt64.self)
                    i += 8
                    o += 8
                    continue
                }
                let plain = mask.trailingZeroBitCount >> 3
                // Copying all eight is safe: `out` has room for the rest of the input.
                out.storeBytes(of: word, toByteOffset: o, as: UInt64.self)
                i += plain
                o += plain
                break
            }
            guard i < n else { throw JSONError("unterminated string", at: i) }
            let b = bytes[i]
            switch b {
            case 0x22:
                return (o, i + 1)
            case 0x5C:
                try escape(bytes, at: &i, into: out, at: &o)
            case 0x00..<0x20:
                throw JSONError("control character 0x\(String(b, radix: 16)) in string", at: i)
            case 0x80...:
                let len = UTF8Validation.sequenceLength(bytes, at: i)
                guard len > 0 else { throw JSONError("invalid UTF-8 in string", at: i) }
                for k in 0..<len { out.storeBytes(of: bytes[i + k], toByteOffset: o + k, as: UInt8.self) }
                i += len
                o += len
            default:
                out.storeBytes(of: b, toByteOffset: o, as: UInt8.self)
                i += 1
                o += 1
            }
        }
    }

    @inline(__always)
    private static func escape(
        _ bytes: UnsafeRawBufferPointer, at i: inout Int, into out: UnsafeMutableRawPointer, at o: inout Int
    ) throws(JSONError) {
        let n = bytes.count
        guard i + 1 < n else { throw JSONError("unterminated escape", at: i + 1) }
        let e = bytes[i + 1]
        let decoded: UInt8
        switch e {
        case UInt8(ascii: "\""): decoded = 0x22
        case UInt8(ascii: "\\"): decoded = 0x5C
        case UInt8(ascii: "/"): decoded = 0x2F
        case UInt8(ascii: "b"): decoded = 0x08
        case UInt8(ascii: "f"): decoded = 0x0C
        case UInt8(ascii: "n"): decoded = 0x0A
        case UInt8(ascii: "r"): decoded = 0x0D
        case UInt8(ascii: "t"): decoded = 0x09
        case UInt8(ascii: "u"):
            var scalar = try hex4(bytes, at: i + 2)
            var consumed = 6
            if scalar >= 0xD800 && scalar < 0xDC00 {
                guard i + 7 < n, bytes[i + 6] == 0x5C, bytes[i + 7] == UInt8(ascii: "u") else {
                    throw JSONError("lone surrogate \\u\(String(scalar, radix: 16))", at: i)
                }
                let low = try hex4(bytes, at: i + 8)
                guard low >= 0xDC00 && low < 0xE000 else { throw JSONError("invalid surrogate pair", at: i + 6) }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                consumed = 12
            } else if scalar >= 0xDC00 && scalar < 0xE000 {
                throw JSONError("lone surrogate \\u\(String(scalar, radix: 16))", at: i)
            }
            o += writeUTF8(scalar, into: out + o)
            i += consumed
            return
        default:
            throw JSONError("invalid escape '\\\(Character(Unicode.Scalar(e)))'", at: i)
        }
        out.storeBytes(of: decoded, toByteOffset: o, as: UInt8.self)
        o += 1
        i += 2
    }

    @inline(__always)
    private static func hex4(_ bytes: UnsafeRawBufferPointer, at start: Int) throws(JSONError) -> UInt32 {
        guard start + 4 <= bytes.count else { throw JSONError("truncated \\u escape", at: start) }
        var v: UInt32 = 0
        for k in 0..<4 {
            let c = bytes[start + k]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw JSONError("invalid hex digit in \\u escape", at: start + k)
            }
            v = v << 4 | d
        }
        return v
    }

    /// Writes a scalar (at most U+10FFFF) as UTF-8; at most as many bytes as its `\u` escape had.
    @inline(__always)
    private static func writeUTF8(_ v: UInt32, into p: UnsafeMutableRawPointer) -> Int {
        switch v {
        case ..<0x80:
            p.storeBytes(of: UInt8(v), as: UInt8.self)
            return 1
        case ..<0x800:
            p.storeBytes(of: UInt8(0xC0 | (v >> 6)), as: UInt8.self)
            (p + 1).storeBytes(of: UInt8(0x80 | (v & 0x3F)), as: UInt8.self)
            return 2
        case ..<0x10000:
            p.storeBytes(of: UInt8(0xE0 | (v >> 12)), as: UInt8.self)
            (p + 1).storeBytes(of: UInt8(0x80 | ((v >> 6) & 0x3F)), as: UInt8.self)
            (p + 2).storeBytes(of: UInt8(0x80 | (v & 0x3F)), as: UInt8.self)
            return 3
        default:
            p.storeBytes(of: UInt8(0xF0 | (v >> 18)), as: UInt8.self)
            (p + 1).storeBytes(of: UInt8(0x80 | ((v >> 12) & 0x3F)), as: UInt8.self)
            (p + 2).storeBytes(of: UInt8(0x80 | ((v >> 6) & 0x3F)), as: UInt8.self)
            (p + 3).storeBytes(of: UInt8(0x80 | (v & 0x3F)), as: UInt8.self)
            return 4
        }
    }
}
