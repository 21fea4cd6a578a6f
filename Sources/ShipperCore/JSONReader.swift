/// Why JSON text could not be read, and where.
public struct JSONError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public var offset: Int

    public init(_ reason: String, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String { "\(reason) at byte \(offset)" }
}

/// A byte-level JSON scanner for hot paths (Docker json-file lines, the `json` parser): reads
/// strings straight into an arena, skips values it does not need, validates UTF-8, and never traps
/// on any input.
public struct JSONScanner {
    public let bytes: UnsafeRawBufferPointer
    public var position: Int
    /// Nesting limit for ``skipValue()`` and ``parseValue()``.
    public var maxDepth = 512

    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer, position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    @inlinable public var isAtEnd: Bool { position >= bytes.count }

    @inlinable
    public mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    /// The next non-whitespace byte, without consuming it.
    @inlinable
    public mutating func peek() -> UInt8? {
        skipWhitespace()
        return position < bytes.count ? bytes[position] : nil
    }

    /// Consumes `byte` (after whitespace) or throws.
    @inlinable
    public mutating func expect(_ byte: UInt8) throws(JSONError) {
        skipWhitespace()
        guard position < bytes.count else { throw JSONError("unexpected end of input, expected '\(Character(Unicode.Scalar(byte)))'", at: position) }
        guard bytes[position] == byte else { throw unexpected("expected '\(Character(Unicode.Scalar(byte)))'") }
        position += 1
    }

    /// Consumes `byte` if it is next (after whitespace).
    @inlinable
    public mutating func consume(_ byte: UInt8) -> Bool {
        skipWhitespace()
        if position < bytes.count && bytes[position] == byte {
            position += 1
            return true
        }
        return false
    }

    @usableFromInline
    func unexpected(_ what: String) -> JSONError {
        guard position < bytes.count else { return JSONError("unexpected end of input, \(what)", at: position) }
        let b = bytes[position]
        let shown = b >= 0x20 && b < 0x7F ? "'\(Character(Unicode.Scalar(b)))'" : "byte 0x\(String(b, radix: 16))"
        return JSONError("unexpected \(shown), \(what)", at: position)
    }

    /// Reads a string, appending its unescaped UTF-8 bytes to `out`; returns their range in `out`.
    @inlinable
    public mutating func readString(into out: inout [UInt8]) throws(JSONError) -> Range<Int> {
        try expect(UInt8(ascii: "\""))
        let start = out.count
        var runStart = position
        while true {
            // Skip 8 plain bytes at a time (no quote, backslash, control byte or non-ASCII).
            position = JSONBytes.plainRunEnd(bytes, from: position)
            guard position < bytes.count else { throw JSONError("unterminated string", at: position) }
            let b = bytes[position]
            if b == 0x22 {
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<position]))
                position += 1
                return start..<out.count
            }
            if b == 0x5C {
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<position]))
                try readEscape(into: &out)
                runStart = position
                continue
            }
            if b < 0x20 { throw JSONError("control character 0x\(String(b, radix: 16)) in string", at: position) }
            if b >= 0x80 {
                let len = UTF8Validation.sequenceLength(bytes, at: position)
                guard len > 0 else { throw JSONError("invalid UTF-8 in string", at: position) }
                position += len
                continue
            }
            position += 1
        }
    }

    /// Reads a string and compares it with `literal` without copying (escapes are compared decoded).
    @inlinable
    public mutating func readKey() throws(JSONError) -> (range: Range<Int>, escaped: Bool) {
        try expect(UInt8(ascii: "\""))
        let start = position
        var escaped = false
        while true {
            guard position < bytes.count else { throw JSONError("unterminated string", at: position) }
            let b = bytes[position]
            if b == 0x22 {
                position += 1
                return (start..<(position - 1), escaped)
            }
            if b == 0x5C {
                escaped = true
                position += 2
                continue
            }
            if b < 0x20 { throw JSONError("control character in string", at: position) }
            position += 1
        }
    }

    @usableFromInline
    mutating func readEscape(into out: inout [UInt8]) throws(JSONError) {
        position += 1  // backslash
        guard position < bytes.count else { throw JSONError("unterminated escape", at: position) }
        let e = bytes[position]
        position += 1
        switch e {
        case UInt8(ascii: "\""): out.append(0x22)
        case UInt8(ascii: "\\"): out.append(0x5C)
        case UInt8(ascii: "/"): out.append(0x2F)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try readHex4()
            if scalar >= 0xD800 && scalar < 0xDC00 {
                // High surrogate: a low one must follow.
                if position + 1 < bytes.count && bytes[position] == 0x5C && bytes[position + 1] == UInt8(ascii: "u") {
                    position += 2
                    let low = try readHex4()
                    guard low >= 0xDC00 && low < 0xE000 else { throw JSONError("invalid surrogate pair", at: position - 6) }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else {
                    throw JSONError("lone surrogate \\u\(String(scalar, radix: 16))", at: position - 6)
                }
            } else if scalar >= 0xDC00 && scalar < 0xE000 {
                throw JSONError("lone surrogate \\u\(String(scalar, radix: 16))", at: position - 6)
            }
            appendUTF8(scalar, into: &out)
        default:
            throw JSONError("invalid escape '\\\(Character(Unicode.Scalar(e)))'", at: position - 2)
        }
    }

    @usableFromInline
    mutating func readHex4() throws(JSONError) -> UInt32 {
        guard position + 4 <= bytes.count else { throw JSONError("truncated \\u escape", at: position) }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[position]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw JSONError("invalid hex digit in \\u escape", at: position)
            }
            v = v << 4 | d
            position += 1
        }
        return v
    }

    @usableFromInline
    func appendUTF8(_ v: UInt32, into out: inout [UInt8]) {
        switch v {
        case ..<0x80: out.append(UInt8(v))
        case ..<0x800:
            out.append(UInt8(0xC0 | (v >> 6)))
            out.append(UInt8(0x80 | (v & 0x3F)))
        case ..<0x10000:
            out.append(UInt8(0xE0 | (v >> 12)))
            out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (v & 0x3F)))
        default:
            out.append(UInt8(0xF0 | (v >> 18)))
            out.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (v & 0x3F)))
        }
    }

    /// A number read from JSON text.
    public enum Number: Sendable, Equatable {
        case int(Int64)
        case double(Double)
    }

    /// Reads a number per the JSON grammar. Integers that do not fit in 64 bits become doubles.
    public mutating func readNumber() throws(JSONError) -> Number {
        skipWhitespace()
        let start = position
        var isInteger = true
        if position < bytes.count && bytes[position] == UInt8(ascii: "-") { position += 1 }
        guard position < bytes.count, bytes[position] >= 0x30 && bytes[position] <= 0x39 else {
            throw unexpected("expected a digit")
        }
        if bytes[position] == 0x30 {
            position += 1
        } else {
            while position < bytes.count && bytes[position] >= 0x30 && bytes[position] <= 0x39 { position += 1 }
        }
        if position < bytes.count && bytes[position] == UInt8(ascii: ".") {
            isInteger = false
            position += 1
            let digits = position
            while position < bytes.count && bytes[position] >= 0x30 && bytes[position] <= 0x39 { position += 1 }
            guard position > digits else { throw unexpected("expected a digit after '.'") }
        }
        if position < bytes.count && (bytes[position] | 0x20) == UInt8(ascii: "e") {
            isInteger = false
            position += 1
            if position < bytes.count && (bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-")) {
                position += 1
            }
            let digits = position
            while position < bytes.count && bytes[position] >= 0x30 && bytes[position] <= 0x39 { position += 1 }
            guard position > digits else { throw unexpected("expected a digit in exponent") }
        }
        let text = UnsafeRawBufferPointer(rebasing: bytes[start..<position])
        if isInteger, let v = Self.parseInt64(text) { return .int(v) }
        let string = String(decoding: text, as: UTF8.self)
        return .double(Double(string) ?? .nan)
    }

    @usableFromInline
    static func parseInt64(_ text: UnsafeRawBufferPointer) -> Int64? {
        var i = 0
        var negative = false
        if text.first == UInt8(ascii: "-") {
            negative = true
            i = 1
        }
        guard i < text.count, text.count - i <= 19 else { return nil }
        var v: Int64 = 0
        while i < text.count {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(text[i] - 0x30))
            if o1 || o2 { return nil }
            v = a
            i += 1
        }
        return negative ? -v : v
    }

    /// Skips one value of any kind, validating it.
    public mutating func skipValue() throws(JSONError) {
        var scratch: [UInt8] = []
        _ = try parse(depth: 0, build: false, scratch: &scratch)
    }

    /// Parses one value into a tree.
    public mutating func parseValue() throws(JSONError) -> JSONValue {
        var scratch: [UInt8] = []
        return try parse(depth: 0, build: true, scratch: &scratch)
    }

    /// Parses a complete document: one value and nothing but whitespace after it.
    public static func parseDocument(_ bytes: UnsafeRawBufferPointer) throws(JSONError) -> JSONValue {
        var scanner = JSONScanner(bytes)
        let value = try scanner.parseValue()
        scanner.skipWhitespace()
        guard scanner.isAtEnd else { throw scanner.unexpected("expected end of input") }
        return value
    }

    public static func parseDocument(_ text: String) throws(JSONError) -> JSONValue {
        let bytes = Array(text.utf8)
        do {
            return try bytes.withUnsafeBytes { try parseDocument($0) }
        } catch let error as JSONError {
            throw error
        } catch {
            throw JSONError("\(error)", at: 0)
        }
    }

    private mutating func parse(depth: Int, build: Bool, scratch: inout [UInt8]) throws(JSONError) -> JSONValue {
        guard depth < maxDepth else { throw JSONError("nesting deeper than \(maxDepth)", at: position) }
        guard let b = peek() else { throw JSONError("unexpected end of input, expected a value", at: position) }
        switch b {
        case UInt8(ascii: "{"):
            position += 1
            var members: [JSONMember] = []
            if consume(UInt8(ascii: "}")) { return .object(members) }
            repeat {
                scratch.removeAll(keepingCapacity: true)
                let r = try readString(into: &scratch)
                let key = build ? String(decoding: scratch[r], as: UTF8.self) : ""
                try expect(UInt8(ascii: ":"))
                let v = try parse(depth: depth + 1, build: build, scratch: &scratch)
                if build { members.append(JSONMember(key, v)) }
            } while consume(UInt8(ascii: ","))
            try expect(UInt8(ascii: "}"))
            return .object(members)
        case UInt8(ascii: "["):
            position += 1
            var items: [JSONValue] = []
            if consume(UInt8(ascii: "]")) { return .array(items) }
            repeat {
                let v = try parse(depth: depth + 1, build: build, scratch: &scratch)
                if build { items.append(v) }
            } while consume(UInt8(ascii: ","))
            try expect(UInt8(ascii: "]"))
            return .array(items)
        case UInt8(ascii: "\""):
            scratch.removeAll(keepingCapacity: true)
            let r = try readString(into: &scratch)
            return build ? .string(String(decoding: scratch[r], as: UTF8.self)) : .null
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        default:
            switch try readNumber() {
            case .int(let i): return .int(i)
            case .double(let d): return .double(d)
            }
        }
    }

    private mutating func literal(_ word: StaticString) throws(JSONError) {
        let n = word.utf8CodeUnitCount
        guard position + n <= bytes.count else { throw JSONError("unexpected end of input in literal", at: position) }
        let w = UnsafeRawBufferPointer(start: word.utf8Start, count: n)
        guard UnsafeRawBufferPointer(rebasing: bytes[position..<(position + n)]).elementsEqual(w) else {
            throw unexpected("expected a value")
        }
        position += n
    }
}

/// One member of a JSON object.
public struct JSONMember: Sendable, Equatable {
    public var key: String
    public var value: JSONValue

    public init(_ key: String, _ value: JSONValue) {
        self.key = key
        self.value = value
    }
}

/// A JSON document as a tree. Used off the hot path: tests, expected events, config-level values.
public indirect enum JSONValue: Sendable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    /// Members in document order.
    case object([JSONMember])

    /// The member `key` of an object.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.last { $0.key == key }?.value
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// Numbers compare by value (`1` equals `1.0`).
    public func sameValue(as other: JSONValue) -> Bool {
        switch (self, other) {
        case (.int(let a), .double(let b)): return Double(a) == b
        case (.double(let a), .int(let b)): return a == Double(b)
        case (.array(let a), .array(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.sameValue(as: $1) }
        case (.object(let a), .object(let b)):
            return a.count == b.count && a.allSatisfy { m in b.contains { $0.key == m.key && $0.value.sameValue(as: m.value) } }
        default: return self == other
        }
    }

    /// Leaves keyed by dotted path (`{"http":{"version":"1.1"}}` → `http.version`); arrays are leaves.
    public func flattened(prefix: String = "") -> [(path: String, value: JSONValue)] {
        guard case .object(let members) = self else { return [(prefix, self)] }
        var out: [(String, JSONValue)] = []
        for m in members {
            let p = prefix.isEmpty ? m.key : prefix + "." + m.key
            if case .object(let inner) = m.value, !inner.isEmpty {
                out.append(contentsOf: m.value.flattened(prefix: p))
            } else {
                out.append((p, m.value))
            }
        }
        return out
    }

    /// The value at a dotted path, looking through nested objects and literal dotted keys.
    public func value(atPath path: String) -> JSONValue? {
        flattened().last { $0.path == path }?.value
    }

    /// Compact JSON text.
    public var description: String {
        var out: [UInt8] = []
        write(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    public func write(into out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i): JSONWriter.writeInt(i, into: &out)
        case .double(let d): JSONWriter.writeDouble(d, into: &out)
        case .string(let s): JSONWriter.writeString(s, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, v) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                v.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (i, m) in members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONWriter.writeString(m.key, into: &out)
                out.append(UInt8(ascii: ":"))
                m.value.write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }
}

extension LogEvent {
    /// The event as a JSON tree (nested by path), for tests and `test-pipeline` expectations.
    public func jsonValue() -> JSONValue {
        var out: [UInt8] = []
        JSONWriter.write(self, into: &out)
        return (try? out.withUnsafeBytes { (b) throws(JSONError) -> JSONValue in try JSONScanner.parseDocument(b) }) ?? .null
    }
}

extension JSONValue: Decodable {
    /// Generic decoding (the YAML config decoder reads JSON values directly, keeping quoting).
    public init(from decoder: any Decoder) throws {
        if let c = try? decoder.container(keyedBy: AnyKey.self) {
            self = .object(try c.allKeys.map { JSONMember($0.stringValue, try c.decode(JSONValue.self, forKey: $0)) })
            return
        }
        if var c = try? decoder.unkeyedContainer() {
            var items: [JSONValue] = []
            while !c.isAtEnd { items.append(try c.decode(JSONValue.self)) }
            self = .array(items)
            return
        }
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int64.self) {
            self = .int(i)
        } else if let d = try? c.decode(Double.self) {
            self = .double(d)
        } else {
            self = .string(try c.decode(String.self))
        }
    }
}
