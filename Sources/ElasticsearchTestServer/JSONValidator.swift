// A validating scanner for bulk document lines: decides, without building a `JSONValue` (no
// allocation), that a line is one JSON value `JSONParser` accepts. It mirrors the parser's rules
// (strict numbers and literals, escapes, UTF-8, depth, duplicate keys); whenever it is not sure
// (an error, a key with escapes or non-ASCII bytes, a very wide object) it answers nil and the
// caller runs `JSONParser`, which gives the exact error or tree. So it may only ever be stricter
// than the parser, never more lenient.

enum JSONValidator {
    enum Kind: Sendable, Equatable {
        case object
        case other
    }

    /// The kind of the single value in `buffer[from..<to]` when `JSONParser.parse(buffer, from:, to:)`
    /// would succeed; nil when it would fail or the scanner is unsure. `scratch` holds key hashes
    /// for duplicate detection (reuse it across calls to avoid allocating).
    static func validate(_ buffer: UnsafeBufferPointer<UInt8>, from: Int, to: Int, scratch: inout [UInt64]) -> Kind? {
        guard let base = buffer.baseAddress, from < to else { return nil }
        if scratch.count < keySlots { scratch = [UInt64](repeating: 0, count: keySlots) }
        return scratch.withUnsafeMutableBufferPointer { keys -> Kind? in
            var s = Scanner(p: base, pos: from, end: to, keys: keys.baseAddress!, keyCapacity: keys.count)
            s.skipWhitespace()
            guard s.pos < s.end else { return nil }
            let kind: Kind = base[s.pos] == UInt8(ascii: "{") ? .object : .other
            guard s.value() else { return nil }
            s.skipWhitespace()
            return s.pos == s.end ? kind : nil
        }
    }

    /// Widest object checked here (duplicate detection is quadratic); wider ones go to the parser.
    static let maxKeys = 128
    /// Room for the keys of all open objects (two words each); a document needing more goes to the parser.
    static let keySlots = 4096

    private struct Scanner {
        let p: UnsafePointer<UInt8>
        var pos: Int
        let end: Int
        var depth = 0
        /// Keys of the open objects: hash and (start << 32 | length), innermost object last.
        let keys: UnsafeMutablePointer<UInt64>
        var keyCount = 0
        let keyCapacity: Int

        init(p: UnsafePointer<UInt8>, pos: Int, end: Int, keys: UnsafeMutablePointer<UInt64>, keyCapacity: Int) {
            self.p = p
            self.pos = pos
            self.end = end
            self.keys = keys
            self.keyCapacity = keyCapacity
        }

        @inline(__always)
        mutating func skipWhitespace() {
            while pos < end {
                let c = p[pos]
                guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
                pos += 1
            }
        }

        mutating func value() -> Bool {
            guard pos < end else { return false }
            switch p[pos] {
            case UInt8(ascii: "{"): return object()
            case UInt8(ascii: "["): return array()
            case UInt8(ascii: "\""): return string()
            case UInt8(ascii: "t"): return literal(0x74, 0x72, 0x75, 0x65, count: 4)  // true
            case UInt8(ascii: "f"): return literal(0x66, 0x61, 0x6C, 0x73, count: 5)  // false (+ "e" below)
            case UInt8(ascii: "n"): return literal(0x6E, 0x75, 0x6C, 0x6C, count: 4)  // null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return number()
            default: return false
            }
        }

        /// `true`, `null`, `false`, not followed by a letter, digit or `_` (as `JSONParser.expectLiteral`).
        @inline(__always)
        mutating func literal(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, count: Int) -> Bool {
            guard end - pos >= count, p[pos] == a, p[pos + 1] == b, p[pos + 2] == c, p[pos + 3] == d else { return false }
            if count == 5 && p[pos + 4] != UInt8(ascii: "e") { return false }
            let after = pos + count
            if after < end {
                let x = p[after]
                if (x >= 0x61 && x <= 0x7A) || (x >= 0x41 && x <= 0x5A) || (x >= 0x30 && x <= 0x39) || x == 0x5F { return false }
            }
            pos = after
            return true
        }

        mutating func number() -> Bool {
            @inline(__always) func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
            if p[pos] == UInt8(ascii: "-") {
                pos += 1
                guard pos < end, isDigit(p[pos]) else { return false }
            }
            if p[pos] == UInt8(ascii: "0") {
                pos += 1
                if pos < end, isDigit(p[pos]) { return false }
            } else {
                while pos < end, isDigit(p[pos]) { pos += 1 }
            }
            if pos < end, p[pos] == UInt8(ascii: ".") {
                pos += 1
                let digits = pos
                while pos < end, isDigit(p[pos]) { pos += 1 }
                if pos == digits { return false }
            }
            if pos < end, p[pos] == UInt8(ascii: "e") || p[pos] == UInt8(ascii: "E") {
                pos += 1
                if pos < end, p[pos] == UInt8(ascii: "+") || p[pos] == UInt8(ascii: "-") { pos += 1 }
                let digits = pos
                while pos < end, isDigit(p[pos]) { pos += 1 }
                if pos == digits { return false }
            }
            if pos < end {
                let c = p[pos]
                if (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) { return false }
            }
            return true
        }

        /// Eight bytes at `i` contain a quote, a backslash, a control character or a non-ASCII byte.
        @inline(__always)
        func special(_ i: Int) -> Bool {
            let w = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
            let ones: UInt64 = 0x0101_0101_0101_0101
            let high: UInt64 = 0x8080_8080_8080_8080
            let q = w ^ (ones &* 0x22)
            let b = w ^ (ones &* 0x5C)
            let hasQuote = (q &- ones) & ~q
            let hasBackslash = (b &- ones) & ~b
            let hasControl = (w &- ones &* 0x20) & ~w
            return ((hasQuote | hasBackslash | hasControl) & high) | (w & high) != 0
        }

        /// A string value: control characters rejected, escapes checked, raw non-ASCII runs
        /// validated as UTF-8.
        mutating func string() -> Bool {
            pos += 1  // "
            var runStart = pos
            var ascii = true
            while true {
                while pos + 8 <= end && !special(pos) { pos += 8 }
                guard pos < end else { return false }
                let c = p[pos]
                if c == UInt8(ascii: "\"") {
                    if !ascii && !UTF8Check.isValid(p + runStart, pos - runStart) { return false }
                    pos += 1
                    return true
                }
                if c == UInt8(ascii: "\\") {
                    if !ascii && !UTF8Check.isValid(p + runStart, pos - runStart) { return false }
                    ascii = true
                    pos += 1
                    guard pos < end else { return false }
                    let e = p[pos]
                    pos += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                        UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        break
                    case UInt8(ascii: "u"):
                        guard let scalar = hex4() else { return false }
                        if scalar >= 0xD800 && scalar < 0xDC00, pos + 1 < end, p[pos] == UInt8(ascii: "\\"), p[pos + 1] == UInt8(ascii: "u") {
                            pos += 2
                            guard let low = hex4(), low >= 0xDC00 && low < 0xE000 else { return false }
                        }
                    default:
                        return false
                    }
                    runStart = pos
                    continue
                }
                if c < 0x20 { return false }
                if c >= 0x80 { ascii = false }
                pos += 1
            }
        }

        @inline(__always)
        mutating func hex4() -> UInt32? {
            guard end - pos >= 4 else { return nil }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = p[pos]
                let d: UInt32
                switch c {
                case 0x30...0x39: d = UInt32(c - 0x30)
                case 0x61...0x66: d = UInt32(c - 0x61 + 10)
                case 0x41...0x46: d = UInt32(c - 0x41 + 10)
                default: return nil
                }
                v = v << 4 | d
                pos += 1
            }
            return v
        }

        /// A key: ASCII without escapes only (anything else goes to the parser), hashed for the
        /// duplicate check.
        @inline(__always)
        mutating func key() -> UInt64? {
            pos += 1  // "
            let start = pos
            while pos + 8 <= end && !special(pos) { pos += 8 }
            while pos < end {
                let c = p[pos]
                if c == UInt8(ascii: "\"") { break }
                if c == UInt8(ascii: "\\") || c < 0x20 || c >= 0x80 { return nil }
                pos += 1
            }
            guard pos < end else { return nil }
            // Eight bytes at a time; equal hashes are compared again byte by byte.
            let m: UInt64 = 0xBF58_476D_1CE4_E5B9
            var h = UInt64(pos - start) &* 0x9E37_79B9_7F4A_7C15
            var i = start
            while i + 8 <= pos {
                h = (h ^ UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)) &* m
                h ^= h >> 31
                i += 8
            }
            if i < pos {
                var w: UInt64 = 0
                if i + 8 <= end {
                    w = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self) & (~0 >> (64 - 8 * UInt64(pos - i)))
                } else {
                    for k in i..<pos { w |= UInt64(p[k]) << (8 * UInt64(k - i)) }
                }
                h = (h ^ w) &* m
                h ^= h >> 29
            }
            pos += 1
            return h
        }

        mutating func object() -> Bool {
            depth += 1
            if depth > JSONParser.maxDepth { return false }
            pos += 1  // {
            skipWhitespace()
            if pos < end && p[pos] == UInt8(ascii: "}") {
                pos += 1
                depth -= 1
                return true
            }
            // This object's keys are keys[frame..<keyCount].
            let frame = keyCount
            defer { keyCount = frame }
            // One bit per key hash: only a key whose bit is already set is compared with the others.
            var seen: (UInt64, UInt64) = (0, 0)
            while true {
                skipWhitespace()
                guard pos < end, p[pos] == UInt8(ascii: "\"") else { return false }
                let keyStart = pos + 1
                guard let h = key() else { return false }
                let keyLength = pos - 1 - keyStart
                let bit: UInt64 = 1 << (h >> 58 & 63)
                let maybeSeen = (h >> 57 & 1 == 0 ? seen.0 : seen.1) & bit != 0
                if h >> 57 & 1 == 0 { seen.0 |= bit } else { seen.1 |= bit }
                if maybeSeen {
                    var i = frame
                    while i < keyCount {
                        if keys[i] == h {
                            // Same hash: a duplicate only if the bytes are equal too.
                            let other = Int(keys[i + 1] >> 32), otherLength = Int(keys[i + 1] & 0xFFFF_FFFF)
                            if otherLength == keyLength && memcmpEqual(p + other, p + keyStart, keyLength) { return false }
                        }
                        i += 2
                    }
                }
                if (keyCount - frame) / 2 >= JSONValidator.maxKeys || keyCount + 2 > keyCapacity { return false }
                keys[keyCount] = h
                keys[keyCount + 1] = UInt64(keyStart) << 32 | UInt64(keyLength)
                keyCount += 2
                skipWhitespace()
                guard pos < end, p[pos] == UInt8(ascii: ":") else { return false }
                pos += 1
                skipWhitespace()
                guard value() else { return false }
                skipWhitespace()
                guard pos < end else { return false }
                let c = p[pos]
                pos += 1
                if c == UInt8(ascii: ",") { continue }
                if c == UInt8(ascii: "}") {
                    depth -= 1
                    return true
                }
                return false
            }
        }

        mutating func array() -> Bool {
            depth += 1
            if depth > JSONParser.maxDepth { return false }
            pos += 1  // [
            skipWhitespace()
            if pos < end && p[pos] == UInt8(ascii: "]") {
                pos += 1
                depth -= 1
                return true
            }
            while true {
                skipWhitespace()
                guard value() else { return false }
                skipWhitespace()
                guard pos < end else { return false }
                let c = p[pos]
                pos += 1
                if c == UInt8(ascii: ",") { continue }
                if c == UInt8(ascii: "]") {
                    depth -= 1
                    return true
                }
                return false
            }
        }

        @inline(__always)
        func memcmpEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
            for i in 0..<n where a[i] != b[i] { return false }
            return true
        }
    }
}

/// Strict UTF-8 validation, as `String(validating:as:)` (no overlong forms, surrogates or values
/// above U+10FFFF).
enum UTF8Check {
    static func isValid(_ p: UnsafePointer<UInt8>, _ count: Int) -> Bool {
        var i = 0
        @inline(__always) func cont(_ j: Int) -> Bool { j < count && p[j] & 0xC0 == 0x80 }
        while i < count {
            let c = p[i]
            if c < 0x80 {
                i += 1
                continue
            }
            switch c {
            case 0xC2...0xDF:
                guard cont(i + 1) else { return false }
                i += 2
            case 0xE0:
                guard i + 1 < count, p[i + 1] >= 0xA0 && p[i + 1] <= 0xBF, cont(i + 2) else { return false }
                i += 3
            case 0xE1...0xEC, 0xEE...0xEF:
                guard cont(i + 1), cont(i + 2) else { return false }
                i += 3
            case 0xED:
                guard i + 1 < count, p[i + 1] >= 0x80 && p[i + 1] <= 0x9F, cont(i + 2) else { return false }
                i += 3
            case 0xF0:
                guard i + 1 < count, p[i + 1] >= 0x90 && p[i + 1] <= 0xBF, cont(i + 2), cont(i + 3) else { return false }
                i += 4
            case 0xF1...0xF3:
                guard cont(i + 1), cont(i + 2), cont(i + 3) else { return false }
                i += 4
            case 0xF4:
                guard i + 1 < count, p[i + 1] >= 0x80 && p[i + 1] <= 0x8F, cont(i + 2), cont(i + 3) else { return false }
                i += 4
            default:
                return false
            }
        }
        return true
    }
}
