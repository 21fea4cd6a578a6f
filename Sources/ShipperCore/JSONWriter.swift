/// Byte-level JSON encoding of events: no Foundation, no intermediate strings.
///
/// Events are flat lists of dotted paths; ``write(_:into:)`` nests them into objects by path
/// segment, keeping the order in which each top-level (and nested) key first appears.
/// Text is escaped per RFC 8259 and invalid UTF-8 is replaced by U+FFFD, so the output is always
/// valid JSON whatever bytes the input had.
public enum JSONWriter {
    /// Appends the event as one compact JSON object (no trailing newline).
    public static func write(_ event: LogEvent, into out: inout [UInt8]) {
        event.withStorage { storage in
            writeObject(event.fields, storage: storage, into: &out)
        }
    }

    /// The event as compact JSON text.
    public static func string(_ event: LogEvent) -> String {
        var out: [UInt8] = []
        write(event, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Writes fields as one object, nested by path (the grouping ``EventEncoder`` caches per layout).
    static func writeObject(_ fields: some Collection<Field>, storage: ValueStorage, into out: inout [UInt8]) {
        let fields = Array(fields)
        EventEncoder.write(fields, plan: EventEncoder.makePlan(fields), storage: storage, into: &out)
    }

    /// Appends one value of the event whose storage is `storage`.
    public static func writeValue(_ value: FieldValue, storage: ValueStorage, into out: inout [UInt8]) {
        switch value {
        case .string(let s):
            writeString(UnsafeRawBufferPointer(rebasing: storage.arena[s.range]), into: &out)
        case .int(let i):
            writeInt(i, into: &out)
        case .double(let d):
            writeDouble(d, into: &out)
        case .bool(let b):
            out.append(contentsOf: b ? trueBytes : falseBytes)
        case .null:
            out.append(contentsOf: nullBytes)
        case .timestamp(let t):
            out.append(UInt8(ascii: "\""))
            t.write(into: &out)
            out.append(UInt8(ascii: "\""))
        case .array(let list):
            out.append(UInt8(ascii: "["))
            for (i, v) in storage.values[list.range].enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                writeValue(v, storage: storage, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let list):
            writeObject(storage.members[list.range], storage: storage, into: &out)
        }
    }

    private static let trueBytes: [UInt8] = Array("true".utf8)
    private static let falseBytes: [UInt8] = Array("false".utf8)
    private static let nullBytes: [UInt8] = Array("null".utf8)

    /// Appends a decimal integer.
    @inlinable
    public static func writeInt(_ value: Int64, into out: inout [UInt8]) {
        if value == 0 {
            out.append(UInt8(ascii: "0"))
            return
        }
        var magnitude = value.magnitude
        if value < 0 { out.append(UInt8(ascii: "-")) }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buf in
            var i = 20
            while magnitude > 0 {
                i -= 1
                buf[i] = UInt8(truncatingIfNeeded: magnitude % 10) &+ 48
                magnitude /= 10
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[i..<20]))
        }
    }

    /// Appends a number in the shortest form that reads back to the same double; `null` for NaN and
    /// infinities, which JSON cannot express.
    public static func writeDouble(_ value: Double, into out: inout [UInt8]) {
        guard value.isFinite else {
            out.append(contentsOf: nullBytes)
            return
        }
        if value == value.rounded(.towardZero) && abs(value) < 1e15 {
            writeInt(Int64(value), into: &out)
            return
        }
        var text = value.description
        text.withUTF8 { out.append(contentsOf: $0) }
    }

    /// Appends a quoted, escaped JSON string.
    public static func writeString(_ string: String, into out: inout [UInt8]) {
        var s = string
        s.withUTF8 { writeString(UnsafeRawBufferPointer($0), into: &out) }
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends bytes as a quoted JSON string: escapes `"`, `\` and control characters, and replaces
    /// each byte that is not part of valid UTF-8 with U+FFFD.
    @inlinable
    public static func writeString(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        writeEscaped(bytes, into: &out)
        out.append(UInt8(ascii: "\""))
    }

    /// Like ``writeString(_:into:)`` without the quotes.
    public static func writeEscaped(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        let n = bytes.count
        var runStart = 0
        var i = 0
        while i < n {
            // Skip 8 plain bytes at a time: none below 0x20, none of `"` and `\`, none above 0x7F.
            i = JSONBytes.plainRunEnd(bytes, from: i)
            guard i < n else { break }
            let b = bytes[i]
            if b >= 0x20 && b < 0x80 && b != 0x22 && b != 0x5C {
                i += 1
                continue
            }
            if b >= 0x80 {
                let len = UTF8Validation.sequenceLength(bytes, at: i)
                if len > 0 {
                    i += len
                    continue
                }
            }
            if i > runStart { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<i])) }
            switch b {
            case 0x22: out.append(contentsOf: [0x5C, 0x22])
            case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
            case ..<0x20:
                out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0xF)]])
            default:
                out.append(contentsOf: [0xEF, 0xBF, 0xBD])  // invalid UTF-8 byte → U+FFFD
            }
            i += 1
            runStart = i
        }
        if n > runStart { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<n])) }
    }
}

/// UTF-8 validation helpers (RFC 3629: no overlongs, no surrogates, at most U+10FFFF).
public enum UTF8Validation {
    /// Length of the valid UTF-8 sequence starting at `i` (1–4), or 0 if the bytes there are not valid UTF-8.
    @inlinable
    public static func sequenceLength(_ bytes: UnsafeRawBufferPointer, at i: Int) -> Int {
        let n = bytes.count
        let b0 = bytes[i]
        if b0 < 0x80 { return 1 }
        @inline(__always) func cont(_ j: Int) -> Bool { j < n && bytes[j] & 0xC0 == 0x80 }
        switch b0 {
        case 0xC2...0xDF:
            return cont(i + 1) ? 2 : 0
        case 0xE0...0xEF:
            guard cont(i + 1), cont(i + 2) else { return 0 }
            let b1 = bytes[i + 1]
            if b0 == 0xE0 && b1 < 0xA0 { return 0 }  // overlong
            if b0 == 0xED && b1 >= 0xA0 { return 0 }  // surrogate
            return 3
        case 0xF0...0xF4:
            guard cont(i + 1), cont(i + 2), cont(i + 3) else { return 0 }
            let b1 = bytes[i + 1]
            if b0 == 0xF0 && b1 < 0x90 { return 0 }
            if b0 == 0xF4 && b1 >= 0x90 { return 0 }
            return 4
        default:
            return 0
        }
    }

    /// True when all of `bytes` is valid UTF-8.
    public static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        let n = bytes.count
        while i < n {
            if bytes[i] < 0x80 {
                i += 1
                continue
            }
            let len = sequenceLength(bytes, at: i)
            if len == 0 { return false }
            i += len
        }
        return true
    }
}

/// Byte classes of JSON text.
public enum JSONBytes {
    /// The high bit of each byte of `w` that is `"`, `\`, a control character or not ASCII, and
    /// possibly of bytes above such a byte (never below: only "is there one" and the lowest one are exact).
    @inlinable @inline(__always)
    public static func specialMask(_ w: UInt64) -> UInt64 {
        let quote = w ^ 0x2222_2222_2222_2222
        let slash = w ^ 0x5C5C_5C5C_5C5C_5C5C
        let control = (w &- 0x2020_2020_2020_2020) & ~w
        let isQuote = (quote &- 0x0101_0101_0101_0101) & ~quote
        let isSlash = (slash &- 0x0101_0101_0101_0101) & ~slash
        return (control | isQuote | isSlash | w) & 0x8080_8080_8080_8080
    }

    /// The index of the first byte at or after `start` that a JSON string cannot carry as it is
    /// (`"`, `\\`, a control byte, or a non-ASCII byte that needs UTF-8 checking), looking 8 bytes at
    /// a time; it may stop early, before the last 8 bytes, where callers go on byte by byte.
    @inlinable @inline(__always)
    public static func plainRunEnd(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
        var i = start
        while i &+ 8 <= bytes.count {
            if specialMask(bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)) != 0 { break }
            i &+= 8
        }
        return i
    }
}
