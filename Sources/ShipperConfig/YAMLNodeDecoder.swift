import ShipperCore
import Yams

/// A `Decoder` over a Yams node tree that knows where every value came from.
///
/// Differences from a plain YAML decoder, all for the user's sake:
/// - a mapping decoded with `CaseIterable` coding keys refuses keys it does not know, naming the
///   key, its line and column, the keys it accepts, and the closest one;
/// - every error (wrong type, missing key, a value the component refused with
///   ``ConfigValueError``) becomes a ``ConfigError`` with `file:line:column`;
/// - numbers and booleans are only read from plain scalars: `"1.1"` in quotes stays a string.
public struct YAMLNodeDecoder: ConfigDecoding {
    public let node: Node
    public let file: String
    public let codingPath: [any CodingKey]
    public var userInfo: [CodingUserInfoKey: Any] { [:] }
    let ignoredKeys: Set<String>
    /// The mark of the nearest enclosing node that has one (for error positions).
    let fallbackMark: Mark?

    public init(node: Node, file: String, codingPath: [any CodingKey] = [], ignoredKeys: Set<String> = []) {
        self.init(node: node, file: file, codingPath: codingPath, ignoredKeys: ignoredKeys, fallbackMark: nil)
    }

    init(node: Node, file: String, codingPath: [any CodingKey], ignoredKeys: Set<String>, fallbackMark: Mark?) {
        self.node = node
        self.file = file
        self.codingPath = codingPath
        self.ignoredKeys = ignoredKeys
        self.fallbackMark = node.mark ?? fallbackMark
    }

    public func ignoring(keys: Set<String>) -> any Decoder {
        YAMLNodeDecoder(node: node, file: file, codingPath: codingPath, ignoredKeys: ignoredKeys.union(keys), fallbackMark: fallbackMark)
    }

    public var location: String {
        let m = fallbackMark
        return "\(file):\(m?.line ?? 1):\(m?.column ?? 1)"
    }

    func error(_ message: String, at mark: Mark? = nil) -> ConfigError {
        let m = mark ?? fallbackMark
        return ConfigError(file: file, line: m?.line ?? 1, column: m?.column ?? 1, message: message)
    }

    /// Where the key a component's message is about is: by the ``ConfigValueError`` convention a
    /// message starts with that key, bare, quoted or after its parents' keys (`max_in_flight must
    /// be 1 to 64`, `'discovery_interval' must be …`, `index 'x': …`, `retry.max_backoff (1s) …`).
    /// The mark of the longest key of this mapping the message so starts with, followed by a
    /// space, quote, colon, comma, parenthesis or full stop; nil when there is none (the error then
    /// points at the mapping).
    func markOfKey(beginning message: String) -> Mark? {
        guard case .mapping(let mapping) = node else { return nil }
        let text = message.hasPrefix("'") ? message.dropFirst() : Substring(message)
        // `a.b.key …`: the key after the parents' (the first word's last dotted part).
        let word = text.prefix { $0 != " " && $0 != "'" && $0 != ":" && $0 != "," && $0 != "(" }
        let starts = [text] + (word.lastIndex(of: ".").map { [text[text.index(after: $0)...]] } ?? [])
        let ends: Set<Character> = [" ", "'", ":", ",", ".", "("]
        var best: (length: Int, mark: Mark)?
        for (key, _) in mapping {
            guard let name = key.scalar?.string, !name.isEmpty, let mark = key.mark else { continue }
            for start in starts where start.hasPrefix(name) {
                let next = start.dropFirst(name.count).first
                if (next == nil || ends.contains(next!)) && name.count > best?.length ?? 0 { best = (name.count, mark) }
            }
        }
        return best?.mark
    }

    func child(_ node: Node, key: any CodingKey, ignoredKeys: Set<String> = []) -> YAMLNodeDecoder {
        YAMLNodeDecoder(node: node, file: file, codingPath: codingPath + [key], ignoredKeys: ignoredKeys, fallbackMark: fallbackMark)
    }

    /// Where a value is in the config, as `a.b[2].c`, for messages.
    var pathText: String {
        var out = ""
        for key in codingPath {
            if let i = key.intValue {
                out += "[\(i)]"
            } else {
                out += out.isEmpty ? key.stringValue : "." + key.stringValue
            }
        }
        return out
    }

    // MARK: Decoder

    public func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard let mapping = node.mapping else {
            throw error("expected a mapping (key: value pairs)\(whereText), found \(node.kindDescription)")
        }
        if let iterable = Key.self as? any (CaseIterable & CodingKey).Type {
            let allowed = Self.names(iterable)
            for (keyNode, _) in mapping {
                let key = keyNode.string ?? ""
                if !allowed.contains(key) && !ignoredKeys.contains(key) {
                    var message = "unknown key '\(key)'\(whereText)"
                    if let near = Self.closest(to: key, in: allowed) { message += "; did you mean '\(near)'?" } else { message += "." }
                    message += " Accepted keys: \(allowed.sorted().joined(separator: ", "))."
                    throw error(message, at: keyNode.mark)
                }
            }
        }
        return KeyedDecodingContainer(KeyedContainer<Key>(decoder: self, mapping: mapping))
    }

    public func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard let sequence = node.sequence else {
            throw error("expected a list\(whereText), found \(node.kindDescription)")
        }
        return UnkeyedContainer(decoder: self, items: Array(sequence))
    }

    public func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleContainer(decoder: self)
    }

    var whereText: String { codingPath.isEmpty ? "" : " for '\(pathText)'" }

    private static func names<K: CaseIterable & CodingKey>(_ type: K.Type) -> [String] {
        K.allCases.map(\.stringValue)
    }

    static func closest(to key: String, in candidates: [String]) -> String? {
        var best: (String, Int)?
        for c in candidates {
            let d = editDistance(Array(key.lowercased().utf8), Array(c.lowercased().utf8))
            if d <= max(2, c.count / 3), best == nil || d < best!.1 { best = (c, d) }
        }
        return best?.0
    }

    static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var prev = Array(0...b.count)
        var cur = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            cur[0] = i
            for j in 1...b.count {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&prev, &cur)
        }
        return prev[b.count]
    }

    /// Decodes `T` from this node, turning every error into a located ``ConfigError``.
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        do {
            if T.self == JSONValue.self { return try JSONValue(yaml: node, decoder: self) as! T }
            return try T(from: self)
        } catch let e as ConfigError {
            throw e
        } catch let e as ConfigErrors {
            throw e
        } catch let e as ConfigValueError {
            throw error(e.message + whereText, at: markOfKey(beginning: e.message))
        } catch let e as DecodingError {
            throw error(Self.describe(e, type: T.self) + whereText)
        } catch {
            throw self.error("\(error)\(whereText)")
        }
    }

    static func describe<T>(_ e: DecodingError, type: T.Type) -> String {
        if let cases = (T.self as? any CaseIterable.Type).map({ caseNames($0) }), !cases.isEmpty {
            return "expected one of: \(cases.joined(separator: ", "))"
        }
        switch e {
        case .dataCorrupted(let c): return c.debugDescription
        case .keyNotFound(let k, _): return "missing required key '\(k.stringValue)'"
        case .typeMismatch(_, let c): return c.debugDescription
        case .valueNotFound(_, let c): return c.debugDescription
        @unknown default: return "\(e)"
        }
    }

    private static func caseNames<C: CaseIterable>(_ type: C.Type) -> [String] {
        C.allCases.map { c in
            if let r = c as? any RawRepresentable { return "\(r.rawValue)" }
            return "\(c)"
        }
    }
}

extension Node {
    var kindDescription: String {
        switch self {
        case .scalar(let s):
            if s.style == .plain && (s.string.isEmpty || s.string == "~" || s.string == "null") { return "nothing (null)" }
            return "the value '\(s.string)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    /// True for a plain (unquoted) scalar, the only kind read as a number, boolean or null.
    var isPlainScalar: Bool {
        guard case .scalar(let s) = self else { return false }
        return s.style == .plain
    }

    var isNull: Bool {
        guard case .scalar(let s) = self, s.style == .plain else { return false }
        return s.string.isEmpty || s.string == "~" || s.string == "null" || s.string == "Null" || s.string == "NULL"
    }
}

struct ConfigKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init(intValue: Int) {
        self.stringValue = "\(intValue)"
        self.intValue = intValue
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: YAMLNodeDecoder
    let mapping: Node.Mapping
    /// For large mappings (many pipelines or sources), the values by key: a scan per key made
    /// decoding quadratic (2,500 pipelines took seconds). The first of duplicate keys wins, as in
    /// the scan.
    let index: [String: Node]?
    var codingPath: [any CodingKey] { decoder.codingPath }

    init(decoder: YAMLNodeDecoder, mapping: Node.Mapping) {
        self.decoder = decoder
        self.mapping = mapping
        if mapping.count > 16 {
            var index: [String: Node] = [:]
            for (k, v) in mapping {
                if let s = k.string, index[s] == nil { index[s] = v }
            }
            self.index = index
        } else {
            self.index = nil
        }
    }

    var allKeys: [Key] { mapping.compactMap { k, _ in k.string.flatMap { Key(stringValue: $0) } } }

    func node(_ key: Key) -> Node? {
        if let index { return index[key.stringValue] }
        for (k, v) in mapping where k.string == key.stringValue { return v }
        return nil
    }

    func contains(_ key: Key) -> Bool { node(key) != nil }

    func required(_ key: Key) throws -> Node {
        guard let n = node(key) else {
            throw decoder.error("missing required key '\(key.stringValue)'\(decoder.whereText)")
        }
        return n
    }

    func decodeNil(forKey key: Key) throws -> Bool { node(key)?.isNull ?? true }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        let n = try required(key)
        return try decoder.child(n, key: key).decode(T.self)
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let n = node(key), !n.isNull else { return nil }
        return try decoder.child(n, key: key).decode(T.self)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        try decoder.child(try required(key), key: key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try decoder.child(try required(key), key: key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { decoder }

    func superDecoder(forKey key: Key) throws -> any Decoder { decoder.child(try required(key), key: key) }
}

private struct UnkeyedContainer: UnkeyedDecodingContainer {
    let decoder: YAMLNodeDecoder
    let items: [Node]
    var currentIndex = 0
    var codingPath: [any CodingKey] { decoder.codingPath }
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    init(decoder: YAMLNodeDecoder, items: [Node]) {
        self.decoder = decoder
        self.items = items
    }

    mutating func next() throws -> YAMLNodeDecoder {
        guard !isAtEnd else { throw decoder.error("the list\(decoder.whereText) has too few items") }
        defer { currentIndex += 1 }
        return decoder.child(items[currentIndex], key: ConfigKey(intValue: currentIndex))
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else { return false }
        if items[currentIndex].isNull {
            currentIndex += 1
            return true
        }
        return false
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().decode(T.self) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try next().container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }

    mutating func superDecoder() throws -> any Decoder { try next() }
}

private struct SingleContainer: SingleValueDecodingContainer {
    let decoder: YAMLNodeDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }
    var node: Node { decoder.node }

    func decodeNil() -> Bool { node.isNull }

    func scalarText(_ expected: String) throws -> String {
        guard case .scalar(let s) = node else {
            throw decoder.error("expected \(expected)\(decoder.whereText), found \(node.kindDescription)")
        }
        return s.string
    }

    func decode(_ type: Bool.Type) throws -> Bool {
        let t = try scalarText("true or false")
        if node.isPlainScalar {
            switch t.lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default: break
            }
        }
        throw decoder.error("expected true or false\(decoder.whereText), found '\(t)'")
    }

    func decode(_ type: String.Type) throws -> String {
        if node.isNull { throw decoder.error("expected a text value\(decoder.whereText), found nothing (null)") }
        return try scalarText("a text value")
    }

    func decode(_ type: Double.Type) throws -> Double {
        let t = try scalarText("a number")
        guard node.isPlainScalar, let v = Double(t.replacingUnderscores()) else {
            throw decoder.error("expected a number\(decoder.whereText), found '\(t)'")
        }
        return v
    }

    func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }

    func integer<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
        let t = try scalarText("a whole number")
        guard node.isPlainScalar, let v = I(t.replacingUnderscores()) else {
            throw decoder.error("expected a whole number\(decoder.whereText), found '\(t)'")
        }
        return v
    }

    func decode(_ type: Int.Type) throws -> Int { try integer(Int.self) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(Int8.self) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(Int16.self) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(Int32.self) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(Int64.self) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(UInt.self) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(UInt8.self) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(UInt16.self) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(UInt32.self) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(UInt64.self) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoder.decode(T.self) }
}

extension String {
    fileprivate func replacingUnderscores() -> String { contains("_") ? filter { $0 != "_" } : self }
}

extension JSONValue {
    /// Reads a YAML node as JSON: plain scalars resolve to null, booleans and numbers; quoted
    /// ones stay strings; mappings keep their order.
    init(yaml node: Node, decoder: YAMLNodeDecoder) throws {
        switch node {
        case .scalar(let s):
            if s.style != .plain {
                self = .string(s.string)
            } else if node.isNull {
                self = .null
            } else if s.string == "true" || s.string == "false" {
                self = .bool(s.string == "true")
            } else if let i = Int64(s.string) {
                self = .int(i)
            } else if let d = Double(s.string), s.string.first.map({ $0.isNumber || $0 == "-" || $0 == "." }) == true {
                self = .double(d)
            } else {
                self = .string(s.string)
            }
        case .sequence(let seq):
            self = .array(try seq.enumerated().map { i, n in try JSONValue(yaml: n, decoder: decoder.child(n, key: ConfigKey(intValue: i))) })
        case .mapping(let map):
            self = .object(try map.map { k, v in
                let key = k.string ?? ""
                return JSONMember(key, try JSONValue(yaml: v, decoder: decoder.child(v, key: ConfigKey(stringValue: key))))
            })
        case .alias:
            throw decoder.error("aliases are not supported here")
        }
    }
}
