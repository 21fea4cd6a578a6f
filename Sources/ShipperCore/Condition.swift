import Foundation

/// A test on an event's fields, used for a pipeline's `match:` and the `filter` stage.
///
/// Written in YAML as a mapping; every entry must hold (AND):
/// ```yaml
/// match:
///   service.name: nginx                 # equals
///   stream: [stdout, stderr]            # any of these
///   container.name: {prefix: companynews_}
///   http.response.status_code: {in: [500, 502, 503]}
///   error.type: {exists: true}
///   tags: {contains: _parse_failure}   # on a list: any element matches
///   any: [{stream: stderr}, {log.level: ERROR}]   # OR of conditions
///   not: {service.name: shipper}
/// ```
/// Operators: `equals`, `in`, `not_equals`, `prefix`, `suffix`, `contains`, `exists`, and
/// `matches` (a regular expression: the slow path, evaluated per event). Values compare as text:
/// `200` matches the number 200 and the string "200".
public indirect enum Condition: Sendable, Decodable {
    case all([Condition])
    case any([Condition])
    case not(Condition)
    case field(FieldPath, FieldMatcher)

    /// True when the event satisfies the condition.
    public func matches(_ event: LogEvent) -> Bool {
        switch self {
        case .all(let cs): return cs.allSatisfy { $0.matches(event) }
        case .any(let cs): return cs.contains { $0.matches(event) }
        case .not(let c): return !c.matches(event)
        case .field(let path, let matcher): return matcher.matches(event, path: path)
        }
    }

    public init(from decoder: any Decoder) throws {
        if var list = try? decoder.unkeyedContainer() {
            var items: [Condition] = []
            while !list.isAtEnd { items.append(try list.decode(Condition.self)) }
            self = .all(items)
            return
        }
        let c = try decoder.container(keyedBy: AnyKey.self)
        var parts: [Condition] = []
        for key in c.allKeys {
            switch key.stringValue {
            case "any":
                parts.append(.any(try c.decode([Condition].self, forKey: key)))
            case "all":
                parts.append(.all(try c.decode([Condition].self, forKey: key)))
            case "not":
                parts.append(.not(try c.decode(Condition.self, forKey: key)))
            default:
                let path = FieldPath.intern(key.stringValue)
                parts.append(.field(path, try c.decode(FieldMatcher.self, forKey: key)))
            }
        }
        if parts.isEmpty { throw ConfigValueError("a condition needs at least one field to test") }
        self = parts.count == 1 ? parts[0] : .all(parts)
    }
}

/// What a ``Condition`` expects of one field.
public struct FieldMatcher: Sendable, Decodable {
    public enum Operator: Sendable {
        case equals([[UInt8]])
        case notEquals([[UInt8]])
        case prefix([UInt8])
        case suffix([UInt8])
        case contains([UInt8])
        case exists(Bool)
        case matches(RegexBox)
    }

    public var operators: [Operator]

    public init(_ operators: [Operator]) { self.operators = operators }

    enum Keys: String, CodingKey, CaseIterable {
        case equals, `in`, not_equals, prefix, suffix, contains, exists, matches
    }

    public init(from decoder: any Decoder) throws {
        if (try? decoder.container(keyedBy: AnyKey.self)) != nil {
            let c = try decoder.container(keyedBy: Keys.self)
            var ops: [Operator] = []
            for key in c.allKeys {
                switch key {
                case .equals: ops.append(.equals([Array(try Self.text(c, key).utf8)]))
                case .in: ops.append(.equals(try c.decode([ScalarText].self, forKey: key).map { Array($0.text.utf8) }))
                case .not_equals:
                    if let many = try? c.decode([ScalarText].self, forKey: key) {
                        ops.append(.notEquals(many.map { Array($0.text.utf8) }))
                    } else {
                        ops.append(.notEquals([Array(try Self.text(c, key).utf8)]))
                    }
                case .prefix: ops.append(.prefix(Array(try Self.text(c, key).utf8)))
                case .suffix: ops.append(.suffix(Array(try Self.text(c, key).utf8)))
                case .contains: ops.append(.contains(Array(try Self.text(c, key).utf8)))
                case .exists: ops.append(.exists(try c.decode(Bool.self, forKey: key)))
                case .matches: ops.append(.matches(try RegexBox(pattern: try Self.text(c, key))))
                }
            }
            if ops.isEmpty { throw ConfigValueError("a field test needs an operator: \(Keys.allCases.map(\.rawValue).joined(separator: ", "))") }
            self.operators = ops
            return
        }
        if let list = try? decoder.singleValueContainer().decode([ScalarText].self) {
            self.operators = [.equals(list.map { Array($0.text.utf8) })]
            return
        }
        let value = try decoder.singleValueContainer().decode(ScalarText.self)
        self.operators = [.equals([Array(value.text.utf8)])]
    }

    private static func text(_ c: KeyedDecodingContainer<Keys>, _ key: Keys) throws -> String {
        try c.decode(ScalarText.self, forKey: key).text
    }

    /// True when every operator holds for the field at `path`.
    public func matches(_ event: LogEvent, path: FieldPath) -> Bool {
        let value = event[path]
        for op in operators {
            if case .exists(let want) = op {
                let has = value != nil || event.contains(path)
                if has != want { return false }
                continue
            }
            guard let value else {
                if case .notEquals = op { continue }
                return false
            }
            if !Self.test(op, value, event) { return false }
        }
        return true
    }

    private static func test(_ op: Operator, _ value: FieldValue, _ event: LogEvent) -> Bool {
        if case .array(let list) = value {
            let items = event.elements(list)
            if case .notEquals = op { return items.allSatisfy { test(op, $0, event) } }
            return items.contains { test(op, $0, event) }
        }
        if case .string(let slice) = value {
            return event.arena.withUnsafeBytes { arena in
                testBytes(op, UnsafeRawBufferPointer(rebasing: arena[slice.range]))
            }
        }
        guard let text = event.text(of: value) else { return false }
        var t = text
        return t.withUTF8 { testBytes(op, UnsafeRawBufferPointer($0)) }
    }

    private static func testBytes(_ op: Operator, _ bytes: UnsafeRawBufferPointer) -> Bool {
        switch op {
        case .equals(let options): return options.contains { $0.elementsEqual(bytes) }
        case .notEquals(let options): return !options.contains { $0.elementsEqual(bytes) }
        case .prefix(let p): return bytes.count >= p.count && bytes.prefix(p.count).elementsEqual(p)
        case .suffix(let s): return bytes.count >= s.count && bytes.suffix(s.count).elementsEqual(s)
        case .contains(let needle): return ByteSearch.find(needle, in: bytes) != nil
        case .exists: return true
        case .matches(let regex): return regex.matches(String(decoding: bytes, as: UTF8.self))
        }
    }
}

/// A scalar config value read as text whatever its YAML type (`200`, `true`, `nginx`).
public struct ScalarText: Decodable, Sendable {
    public var text: String

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) {
            text = s
        } else if let i = try? c.decode(Int64.self) {
            text = String(i)
        } else if let d = try? c.decode(Double.self) {
            text = String(d)
        } else if let b = try? c.decode(Bool.self) {
            text = b ? "true" : "false"
        } else {
            throw ConfigValueError("expected a single value (text, number or boolean)")
        }
    }
}

/// A compiled regular expression shared across threads (read-only after creation).
public final class RegexBox: @unchecked Sendable {
    public let pattern: String
    public let regex: NSRegularExpression

    public init(pattern: String) throws {
        self.pattern = pattern
        do {
            regex = try NSRegularExpression(pattern: pattern)
        } catch {
            // Swift's own parser explains what is wrong and where; NSRegularExpression does not.
            var reason = "not a valid ICU regular expression"
            do { _ = try Regex(pattern) } catch { reason = "\(error)" }
            throw ConfigValueError("invalid regular expression '\(pattern)': \(reason)")
        }
    }

    public func matches(_ text: String) -> Bool {
        regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }
}

/// A coding key for mappings whose keys are data (field paths), not a fixed set.
public struct AnyKey: CodingKey, Sendable {
    public var stringValue: String
    public var intValue: Int?
    public init(stringValue: String) { self.stringValue = stringValue }
    public init(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }
}

/// Byte substring search.
public enum ByteSearch {
    /// The offset of the first occurrence of `needle` in `haystack`.
    @inlinable
    public static func find(_ needle: [UInt8], in haystack: UnsafeRawBufferPointer, from start: Int = 0) -> Int? {
        let n = needle.count
        guard n > 0 else { return start }
        guard haystack.count >= n else { return nil }
        let first = needle[0]
        var i = start
        let last = haystack.count - n
        while i <= last {
            if haystack[i] == first {
                var j = 1
                while j < n && haystack[i + j] == needle[j] { j += 1 }
                if j == n { return i }
            }
            i += 1
        }
        return nil
    }
}
