// A small ordered JSON model, parser and writer.
//
// Elasticsearch responses have a fixed key order and must be compact (shippers look for the
// literal substring `"errors":true`), so the server keeps objects as ordered member lists and
// writes JSON itself instead of going through JSONSerialization.

/// One JSON value. Objects keep their member order. Numbers keep their source text.
enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// The number as written (already validated against the JSON grammar).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([JSONMember])
    /// Pre-serialized JSON (a stored `_source`), spliced verbatim when writing.
    case raw([UInt8])

    static func int<I: BinaryInteger>(_ value: I) -> JSONValue { .number(String(value)) }

    static func double(_ value: Double) -> JSONValue {
        if value.isFinite, value == value.rounded(), abs(value) < 1e15 {
            return .number(String(Int64(value)) + ".0")
        }
        return .number(String(value))
    }

    /// Builds an object from key/value pairs, dropping pairs whose value is nil.
    static func obj(_ pairs: KeyValuePairs<String, JSONValue?>) -> JSONValue {
        var members: [JSONMember] = []
        members.reserveCapacity(pairs.count)
        for (key, value) in pairs {
            if let value { members.append(JSONMember(key, value)) }
        }
        return .object(members)
    }

    subscript(key: String) -> JSONValue? {
        if case .object(let members) = self {
            for member in members where member.key == key { return member.value }
            return nil
        }
        if case .raw(let bytes) = self, let parsed = try? JSONParser.parse(bytes) {
            return parsed[key]
        }
        return nil
    }

    var objectMembers: [JSONMember]? {
        if case .object(let members) = self { return members }
        if case .raw(let bytes) = self, case .object(let members)? = try? JSONParser.parse(bytes) { return members }
        return nil
    }

    var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The text ES's `parser.text()` would give for a scalar (strings, numbers, booleans).
    var scalarText: String? {
        switch self {
        case .string(let s): return s
        case .number(let n): return n
        case .bool(let b): return b ? "true" : "false"
        default: return nil
        }
    }

    var isScalar: Bool {
        switch self {
        case .string, .number, .bool: return true
        default: return false
        }
    }

    var int64Value: Int64? {
        switch self {
        case .number(let n):
            if let i = Int64(n) { return i }
            if let d = Double(n), d.isFinite, d == d.rounded(), abs(d) < 9.2e18 { return Int64(d) }
            return nil
        case .string(let s): return Int64(s)
        default: return nil
        }
    }

    var doubleValue: Double? {
        switch self {
        case .number(let n): return Double(n)
        case .string(let s): return Double(s)
        default: return nil
        }
    }

    var boolValue: Bool? {
        switch self {
        case .bool(let b): return b
        case .string("true"): return true
        case .string("false"): return false
        default: return nil
        }
    }

    /// Jackson token name of the first token of this value, as ES prints it in messages.
    var tokenName: String {
        switch self {
        case .null: return "VALUE_NULL"
        case .bool: return "VALUE_BOOLEAN"
        case .number(let n):
            return n.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) ? "VALUE_NUMBER_FLOAT" : "VALUE_NUMBER"
        case .string: return "VALUE_STRING"
        case .array: return "START_ARRAY"
        case .object, .raw: return "START_OBJECT"
        }
    }

    /// `raw` values parsed into a tree (recursively not needed: raw only appears at the top of a source).
    func resolvedRaw() -> JSONValue {
        if case .raw(let bytes) = self, let parsed = try? JSONParser.parse(bytes) { return parsed }
        return self
    }

    /// Semantic equality: objects compare member sets regardless of order, numbers numerically.
    func semanticallyEquals(_ other: JSONValue) -> Bool {
        switch (self.resolvedRaw(), other.resolvedRaw()) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b || (Double(a) != nil && Double(a) == Double(b))
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.semanticallyEquals($1) }
        case (.object(let a), .object(let b)):
            guard a.count == b.count else { return false }
            for member in a {
                guard let match = b.first(where: { $0.key == member.key }), match.value.semanticallyEquals(member.value) else {
                    return false
                }
            }
            return true
        default: return false
        }
    }
}

struct JSONMember: Equatable, Sendable {
    var key: String
    var value: JSONValue
    init(_ key: String, _ value: JSONValue) {
        self.key = key
        self.value = value
    }
}

// MARK: - Parser

struct JSONParseError: Error, Equatable, Sendable {
    /// Jackson-like message, e.g. `Unexpected character ('x' (code 120)): was expecting ...`.
    var message: String
    /// 1-based column (byte offset + 1) of the problem within the parsed text.
    var column: Int
    /// 1-based line of the problem within the parsed text.
    var line: Int
}

/// A strict JSON parser (RFC 8259, duplicate keys rejected like ES's strict duplicate detection).
struct JSONParser {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var pos: Int
    private let end: Int
    private let origin: Int
    private var depth = 0

    static let maxDepth = 200

    private init(_ bytes: UnsafeBufferPointer<UInt8>, start: Int, end: Int) {
        self.bytes = bytes
        self.pos = start
        self.end = end
        self.origin = start
    }

    /// Parses exactly one value; anything but whitespace after it is an error.
    static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { (buffer) throws(JSONParseError) -> JSONValue in
            try parse(buffer, from: 0, to: buffer.count)
        }
    }

    static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    static func parse(_ buffer: UnsafeBufferPointer<UInt8>, from: Int, to: Int) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(buffer, start: from, end: to)
        parser.skipWhitespace()
        guard parser.pos < parser.end else {
            throw parser.error("No content to map due to end-of-input")
        }
        let value = try parser.parseValue()
        parser.skipWhitespace()
        if parser.pos < parser.end {
            throw parser.error("Unexpected character (\(parser.describe(parser.bytes[parser.pos]))): expected end-of-input")
        }
        return value
    }

    enum Leading: Sendable {
        case empty
        /// The first value and whether more (non-whitespace) input follows it, and whether that rest is a valid value.
        case value(JSONValue, trailing: Trailing)
    }

    enum Trailing: Sendable {
        case none
        case validValue
        case garbage(JSONParseError)
    }

    /// Parses the first value of a line and reports what follows it (used for bulk action lines).
    static func parseLeading(_ buffer: UnsafeBufferPointer<UInt8>, from: Int, to: Int) throws(JSONParseError) -> Leading {
        var parser = JSONParser(buffer, start: from, end: to)
        parser.skipWhitespace()
        if parser.pos >= parser.end { return .empty }
        let value = try parser.parseValue()
        parser.skipWhitespace()
        if parser.pos >= parser.end { return .value(value, trailing: .none) }
        do {
            _ = try parser.parseValue()
            return .value(value, trailing: .validValue)
        } catch {
            return .value(value, trailing: .garbage(error))
        }
    }

    private func error(_ message: String, at position: Int? = nil) -> JSONParseError {
        let p = position ?? pos
        var line = 1
        var lineStart = origin
        // Offsets are relative to the parsed range; NDJSON lines are single-line, so this is cheap.
        var i = origin
        while i < p && i < end {
            if bytes[i] == UInt8(ascii: "\n") {
                line += 1
                lineStart = i + 1
            }
            i += 1
        }
        return JSONParseError(message: message, column: p - lineStart + 1, line: line)
    }

    private func describe(_ byte: UInt8) -> String {
        if byte < 0x20 {
            return "CTRL-CHAR, code \(byte)"
        }
        if byte < 0x80 {
            return "'\(Character(Unicode.Scalar(byte)))' (code \(byte))"
        }
        return "code \(byte)"
    }

    private mutating func skipWhitespace() {
        while pos < end {
            let c = bytes[pos]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 {
                pos += 1
            } else {
                return
            }
        }
    }

    private mutating func parseValue() throws(JSONParseError) -> JSONValue {
        guard pos < end else {
            throw error("Unexpected end-of-input: expected a value")
        }
        let c = bytes[pos]
        switch c {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default:
            if c >= 0x80 || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "z")) {
                throw unrecognizedToken()
            }
            throw error("Unexpected character (\(describe(c))): expected a valid value (JSON String, Number, Array, Object or token 'null', 'true' or 'false')")
        }
    }

    private func unrecognizedToken() -> JSONParseError {
        var e = pos
        while e < end {
            let c = bytes[e]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 || c == UInt8(ascii: ",") || c == UInt8(ascii: "]")
                || c == UInt8(ascii: "}") || c == UInt8(ascii: ":") {
                break
            }
            e += 1
        }
        let token = String(decoding: UnsafeBufferPointer(rebasing: bytes[pos..<e]), as: UTF8.self)
        return error("Unrecognized token '\(token)': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')")
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let count = literal.utf8CodeUnitCount
        let lit = literal.utf8Start
        if end - pos >= count {
            var ok = true
            for i in 0..<count where bytes[pos + i] != lit[i] {
                ok = false
                break
            }
            if ok {
                let after = pos + count
                if after < end {
                    let c = bytes[after]
                    let isLetter = (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
                        || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "_")
                    if isLetter { throw unrecognizedToken() }
                }
                pos += count
                return
            }
        }
        throw unrecognizedToken()
    }

    private mutating func parseObject() throws(JSONParseError) -> JSONValue {
        let start = pos
        depth += 1
        if depth > JSONParser.maxDepth { throw error("Document nesting depth exceeds the maximum allowed (\(JSONParser.maxDepth))") }
        pos += 1  // {
        var members: [JSONMember] = []
        skipWhitespace()
        if pos < end && bytes[pos] == UInt8(ascii: "}") {
            pos += 1
            depth -= 1
            return .object(members)
        }
        var seen: Set<ExactName>? = nil
        while true {
            skipWhitespace()
            guard pos < end else {
                throw error("Unexpected end-of-input: expected close marker for Object (start marker at column \(start + 1))")
            }
            guard bytes[pos] == UInt8(ascii: "\"") else {
                if bytes[pos] == UInt8(ascii: "}") && !members.isEmpty {
                    throw error("Unexpected character ('}' (code 125)): was expecting double-quote to start field name")
                }
                throw error("Unexpected character (\(describe(bytes[pos]))): was expecting double-quote to start field name")
            }
            let keyStart = pos
            let key = try parseString()
            // Duplicate detection (ES enables Jackson's STRICT_DUPLICATE_DETECTION), by code
            // units: canonically equivalent names are different fields.
            if members.count < 8 {
                for m in members where m.key.utf8.elementsEqual(key.utf8) {
                    throw error("Duplicate field '\(key)'", at: keyStart)
                }
            } else {
                if seen == nil { seen = Set(members.map { ExactName($0.key) }) }
                if !seen!.insert(ExactName(key)).inserted { throw error("Duplicate field '\(key)'", at: keyStart) }
            }
            skipWhitespace()
            guard pos < end else {
                throw error("Unexpected end-of-input: expected close marker for Object (start marker at column \(start + 1))")
            }
            guard bytes[pos] == UInt8(ascii: ":") else {
                throw error("Unexpected character (\(describe(bytes[pos]))): was expecting a colon to separate field name and value")
            }
            pos += 1
            skipWhitespace()
            let value = try parseValue()
            members.append(JSONMember(key, value))
            skipWhitespace()
            guard pos < end else {
                throw error("Unexpected end-of-input: expected close marker for Object (start marker at column \(start + 1))")
            }
            let c = bytes[pos]
            if c == UInt8(ascii: ",") {
                pos += 1
                continue
            }
            if c == UInt8(ascii: "}") {
                pos += 1
                depth -= 1
                return .object(members)
            }
            throw error("Unexpected character (\(describe(c))): was expecting comma to separate Object entries")
        }
    }

    private mutating func parseArray() throws(JSONParseError) -> JSONValue {
        let start = pos
        depth += 1
        if depth > JSONParser.maxDepth { throw error("Document nesting depth exceeds the maximum allowed (\(JSONParser.maxDepth))") }
        pos += 1
        var values: [JSONValue] = []
        skipWhitespace()
        if pos < end && bytes[pos] == UInt8(ascii: "]") {
            pos += 1
            depth -= 1
            return .array(values)
        }
        while true {
            skipWhitespace()
            guard pos < end else {
                throw error("Unexpected end-of-input: expected close marker for Array (start marker at column \(start + 1))")
            }
            values.append(try parseValue())
            skipWhitespace()
            guard pos < end else {
                throw error("Unexpected end-of-input: expected close marker for Array (start marker at column \(start + 1))")
            }
            let c = bytes[pos]
            if c == UInt8(ascii: ",") {
                pos += 1
                continue
            }
            if c == UInt8(ascii: "]") {
                pos += 1
                depth -= 1
                return .array(values)
            }
            throw error("Unexpected character (\(describe(c))): was expecting comma to separate Array entries")
        }
    }

    private mutating func parseString() throws(JSONParseError) -> String {
        let quote = pos
        pos += 1
        let start = pos
        // Fast path: no escapes.
        while pos < end {
            let c = bytes[pos]
            if c == UInt8(ascii: "\"") {
                let slice = UnsafeBufferPointer(rebasing: bytes[start..<pos])
                pos += 1
                return try makeString(slice, at: start)
            }
            if c == UInt8(ascii: "\\") { break }
            if c < 0x20 {
                throw error("Illegal unquoted character ((\(describe(c)))): has to be escaped using backslash to be included in string value")
            }
            pos += 1
        }
        if pos >= end {
            throw error("Unexpected end-of-input: was expecting closing quote for a string value", at: end)
        }
        // Slow path with escapes.
        var out: [UInt8] = Array(UnsafeBufferPointer(rebasing: bytes[start..<pos]))
        while pos < end {
            let c = bytes[pos]
            if c == UInt8(ascii: "\"") {
                pos += 1
                return try out.withUnsafeBufferPointer { (b) throws(JSONParseError) -> String in try makeString(b, at: quote) }
            }
            if c < 0x20 {
                throw error("Illegal unquoted character ((\(describe(c)))): has to be escaped using backslash to be included in string value")
            }
            if c != UInt8(ascii: "\\") {
                out.append(c)
                pos += 1
                continue
            }
            pos += 1
            guard pos < end else { break }
            let e = bytes[pos]
            pos += 1
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
                    // High surrogate: expect a low surrogate.
                    if pos + 1 < end && bytes[pos] == UInt8(ascii: "\\") && bytes[pos + 1] == UInt8(ascii: "u") {
                        pos += 2
                        let low = try readHex4()
                        if low >= 0xDC00 && low < 0xE000 {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            throw error("Invalid surrogate pair")
                        }
                    } else {
                        scalar = 0xFFFD
                    }
                } else if scalar >= 0xDC00 && scalar < 0xE000 {
                    scalar = 0xFFFD
                }
                let us = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                out.append(contentsOf: Array(String(Character(us)).utf8))
            default:
                throw error("Unrecognized character escape \(describe(e))", at: pos - 1)
            }
        }
        throw error("Unexpected end-of-input: was expecting closing quote for a string value", at: end)
    }

    private mutating func readHex4() throws(JSONParseError) -> UInt32 {
        guard end - pos >= 4 else { throw error("Unexpected end-of-input in character escape sequence") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[pos]
            var d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw error("Unexpected character (\(describe(c))): expected a hex-digit for character escape sequence")
            }
            v = v << 4 | d
            pos += 1
        }
        return v
    }

    private func makeString(_ slice: UnsafeBufferPointer<UInt8>, at position: Int) throws(JSONParseError) -> String {
        // ASCII fast path.
        var ascii = true
        for b in slice where b >= 0x80 {
            ascii = false
            break
        }
        if ascii { return String(decoding: slice, as: UTF8.self) }
        guard let s = String(validating: slice, as: UTF8.self) else {
            throw error("Invalid UTF-8 middle byte", at: position)
        }
        return s
    }

    private mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = pos
        if bytes[pos] == UInt8(ascii: "-") {
            pos += 1
            guard pos < end, bytes[pos] >= UInt8(ascii: "0"), bytes[pos] <= UInt8(ascii: "9") else {
                if pos < end, bytes[pos] == UInt8(ascii: "I") || bytes[pos] == UInt8(ascii: "N") {
                    throw error("Non-standard token '-Infinity': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow")
                }
                throw error("Unexpected character (\(pos < end ? describe(bytes[pos]) : "end-of-input")) in numeric value: expected digit (0-9) to follow minus sign, for valid numeric value")
            }
        }
        if bytes[pos] == UInt8(ascii: "0") {
            pos += 1
            if pos < end, bytes[pos] >= UInt8(ascii: "0"), bytes[pos] <= UInt8(ascii: "9") {
                throw error("Invalid numeric value: Leading zeroes not allowed")
            }
        } else {
            while pos < end, bytes[pos] >= UInt8(ascii: "0"), bytes[pos] <= UInt8(ascii: "9") { pos += 1 }
        }
        if pos < end, bytes[pos] == UInt8(ascii: ".") {
            pos += 1
            let digits = pos
            while pos < end, bytes[pos] >= UInt8(ascii: "0"), bytes[pos] <= UInt8(ascii: "9") { pos += 1 }
            if pos == digits {
                throw error("Unexpected character (\(pos < end ? describe(bytes[pos]) : "end-of-input")) in numeric value: Decimal point not followed by a digit")
            }
        }
        if pos < end, bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") {
            pos += 1
            if pos < end, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
            let digits = pos
            while pos < end, bytes[pos] >= UInt8(ascii: "0"), bytes[pos] <= UInt8(ascii: "9") { pos += 1 }
            if pos == digits {
                throw error("Unexpected character (\(pos < end ? describe(bytes[pos]) : "end-of-input")) in numeric value: Exponent indicator not followed by a digit")
            }
        }
        if pos < end {
            let c = bytes[pos]
            if (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z")) {
                throw error("Unexpected character (\(describe(c))): Expected space separating root-level values")
            }
        }
        return .number(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self))
    }
}

// MARK: - Writer

struct JSONWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
    }

    static func compact(_ value: JSONValue) -> [UInt8] {
        var w = JSONWriter()
        w.write(value)
        return w.bytes
    }

    static func compactString(_ value: JSONValue) -> String {
        String(decoding: compact(value), as: UTF8.self)
    }

    mutating func write(_ value: JSONValue) {
        switch value {
        case .null: bytes.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case .bool(let b): bytes.append(contentsOf: b ? Array("true".utf8) : Array("false".utf8))
        case .number(let n): bytes.append(contentsOf: n.utf8)
        case .string(let s): writeString(s)
        case .raw(let raw): bytes.append(contentsOf: raw)
        case .array(let values):
            bytes.append(UInt8(ascii: "["))
            var first = true
            for v in values {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                write(v)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members):
            bytes.append(UInt8(ascii: "{"))
            var first = true
            for m in members {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                writeString(m.key)
                bytes.append(UInt8(ascii: ":"))
                write(m.value)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    mutating func writeString(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): bytes.append(0x5C); bytes.append(0x22)
            case UInt8(ascii: "\\"): bytes.append(0x5C); bytes.append(0x5C)
            case 0x0A: bytes.append(0x5C); bytes.append(UInt8(ascii: "n"))
            case 0x0D: bytes.append(0x5C); bytes.append(UInt8(ascii: "r"))
            case 0x09: bytes.append(0x5C); bytes.append(UInt8(ascii: "t"))
            case 0x08: bytes.append(0x5C); bytes.append(UInt8(ascii: "b"))
            case 0x0C: bytes.append(0x5C); bytes.append(UInt8(ascii: "f"))
            case 0..<0x20:
                bytes.append(contentsOf: Array("\\u00".utf8))
                bytes.append(JSONWriter.hex[Int(b >> 4)])
                bytes.append(JSONWriter.hex[Int(b & 0xF)])
            default: bytes.append(b)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Pretty printing in the style of Jackson's default pretty printer (`"key" : value`), used for `?pretty`.
    static func pretty(_ value: JSONValue) -> [UInt8] {
        var w = JSONWriter()
        w.writePretty(value.resolvedRaw(), indent: 0)
        w.bytes.append(0x0A)
        return w.bytes
    }

    private mutating func newline(_ indent: Int) {
        bytes.append(0x0A)
        for _ in 0..<indent { bytes.append(0x20) }
    }

    private mutating func writePretty(_ value: JSONValue, indent: Int) {
        switch value {
        case .array(let values):
            if values.isEmpty { bytes.append(contentsOf: Array("[ ]".utf8)); return }
            bytes.append(UInt8(ascii: "["))
            for (i, v) in values.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                newline(indent + 2)
                writePretty(v.resolvedRaw(), indent: indent + 2)
            }
            newline(indent)
            bytes.append(UInt8(ascii: "]"))
        case .object(let members):
            if members.isEmpty { bytes.append(contentsOf: Array("{ }".utf8)); return }
            bytes.append(UInt8(ascii: "{"))
            for (i, m) in members.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                newline(indent + 2)
                writeString(m.key)
                bytes.append(contentsOf: Array(" : ".utf8))
                writePretty(m.value.resolvedRaw(), indent: indent + 2)
            }
            newline(indent)
            bytes.append(UInt8(ascii: "}"))
        default:
            write(value)
        }
    }
}
