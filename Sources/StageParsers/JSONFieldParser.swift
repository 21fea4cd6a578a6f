import ShipperCore

/// Options of the `json` parser.
///
/// ```yaml
/// - type: json
///   target: app        # optional; default: the event's top level
/// ```
public struct JSONFieldConfig: Decodable, Sendable {
    /// Where the parsed keys go: empty (the default) merges them at the top level of the event;
    /// a dotted path such as `app` puts them below it (`{"a":1}` → `app.a`).
    public var target: String

    public init(target: String = "") {
        self.target = target
    }

    public static let defaults = JSONFieldConfig()

    enum CodingKeys: String, CodingKey, CaseIterable { case target }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let target = try c.decodeIfPresent(String.self, forKey: .target) ?? Self.defaults.target
        if !target.isEmpty {
            let segments = target.split(separator: ".", omittingEmptySubsequences: false)
            guard !segments.contains(where: \.isEmpty) else {
                throw ConfigValueError("target '\(target)' is not a field path; write e.g. 'app' or 'app.payload'")
            }
        }
        self.init(target: target)
    }
}

/// The `json` parser: the field holds a JSON object (an application's structured log line); its
/// keys become event fields.
///
/// - Nested objects are flattened into dotted paths (`{"http":{"method":"GET"}}` → `http.method`,
///   written back nested by the JSON writer); an empty object stays `{}`.
/// - Strings, numbers (64-bit integers as `.int`, others as `.double`), booleans and `null` keep
///   their JSON type; arrays stay arrays (objects inside arrays stay objects).
/// - Keys replace existing fields at the same path (the last duplicate key wins). A key with dots
///   (`"a.b"`) is a path like any other.
/// - With the default (top-level) `target`, a `message` key becomes the event's `message` (the
///   parser then reports that it kept a message, so the parse stage does not remove it); a string
///   `@timestamp` key is kept as text for a timestamp stage to parse.
/// - Anything that is not exactly one JSON object (a string, a number, invalid JSON, invalid UTF-8
///   in a string, nesting deeper than 64 levels, text after the object) does not match, and the
///   event is left as it was.
public struct JSONFieldParser: LogParser {
    /// The target path; nil for the top level.
    let target: FieldPath?
    static let maxDepth = 64

    public init(config: JSONFieldConfig) throws {
        target = config.target.isEmpty ? nil : FieldPath.intern(config.target)
    }

    public func parse(_ text: ArenaSlice, into event: inout LogEvent) -> ParseResult {
        let arena = event.arena
        guard text.lowerBound >= 0, text.upperBound <= arena.count, text.count >= 0 else { return .noMatch }
        var fields: [Field] = []
        /// Unescaped strings, appended to the arena after a successful parse at `base`.
        var extra: [UInt8] = []
        let base = arena.count
        /// Array elements and object members, appended to the event's after a successful parse.
        var values: [FieldValue] = []
        var members: [Field] = []
        let ok: Bool = arena.withUnsafeBytes { all in
            let bytes = UnsafeRawBufferPointer(rebasing: all[text.range])
            var reader = Reader(
                scanner: JSONScanner(bytes), textStart: text.lowerBound, base: base, valuesBase: event.values.count,
                membersBase: event.members.count)
            do throws(JSONError) {
                guard reader.scanner.peek() == UInt8(ascii: "{") else { return false }
                try reader.readObject(prefix: target, depth: 0, into: &fields, extra: &extra)
                reader.scanner.skipWhitespace()
                values = reader.values
                members = reader.members
                return reader.scanner.isAtEnd
            } catch {
                return false
            }
        }
        guard ok else { return .noMatch }
        if !extra.isEmpty { event.arena.append(contentsOf: extra) }
        if !values.isEmpty { event.values.append(contentsOf: values) }
        if !members.isEmpty { event.members.append(contentsOf: members) }
        var keptMessage = false
        if target == nil {
            for field in fields where field.path.ancestor(atDepth: 1) == FieldPaths.message { keptMessage = true }
        }
        event.fields.reserveCapacity(event.fields.count + fields.count)
        // In linear time: a line may hold thousands of keys.
        event.set(contentsOf: fields)
        return keptMessage ? .keptMessage : .consumed
    }

    /// Reads JSON from a slice of the arena, producing fields whose strings point either at the
    /// arena (strings without escapes) or at `extra` shifted by `base`.
    private struct Reader {
        var scanner: JSONScanner
        /// Where the scanned bytes start in the arena.
        let textStart: Int
        /// Where `extra` will start in the arena.
        let base: Int
        /// Where `values` and `members` will start in the event's.
        let valuesBase: Int
        let membersBase: Int
        var values: [FieldValue] = []
        var members: [Field] = []
        var keyBuffer: [UInt8] = []

        mutating func readObject(
            prefix: FieldPath?, depth: Int, into fields: inout [Field], extra: inout [UInt8]
        ) throws(JSONError) {
            try scanner.expect(UInt8(ascii: "{"))
            if scanner.consume(UInt8(ascii: "}")) { return }
            repeat {
                keyBuffer.removeAll(keepingCapacity: true)
                let k = try scanner.readString(into: &keyBuffer)
                let key = String(decoding: keyBuffer[k], as: UTF8.self)
                guard let path = prefix.map({ $0.appendingIfRoom(key) }) ?? FieldPath.internIfRoom(key) else {
                    throw JSONError(
                        "a field name longer than \(FieldPath.inputMaxBytes) bytes or of more than \(FieldPath.inputMaxDepth) levels, or more distinct field names than shipper keeps (\(FieldPath.inputLimit))",
                        at: scanner.position)
                }
                try scanner.expect(UInt8(ascii: ":"))
                if scanner.peek() == UInt8(ascii: "{") {
                    guard depth + 1 < JSONFieldParser.maxDepth else {
                        throw JSONError("nesting deeper than \(JSONFieldParser.maxDepth)", at: scanner.position)
                    }
                    let before = fields.count
                    try readObject(prefix: path, depth: depth + 1, into: &fields, extra: &extra)
                    if fields.count == before { fields.append(Field(path, .object(ValueList(start: 0, count: 0)))) }
                } else {
                    fields.append(Field(path, try readValue(depth: depth + 1, extra: &extra)))
                }
            } while scanner.consume(UInt8(ascii: ","))
            try scanner.expect(UInt8(ascii: "}"))
        }

        mutating func readValue(depth: Int, extra: inout [UInt8]) throws(JSONError) -> FieldValue {
            guard depth < JSONFieldParser.maxDepth else {
                throw JSONError("nesting deeper than \(JSONFieldParser.maxDepth)", at: scanner.position)
            }
            switch scanner.peek() {
            case UInt8(ascii: "\""):
                let rawStart = scanner.position + 1
                let r = try scanner.readString(into: &extra)
                let rawCount = scanner.position - 1 - rawStart
                if r.count == rawCount {
                    // No escapes: point at the text in place.
                    extra.removeLast(r.count)
                    return .string(ArenaSlice(start: textStart + rawStart, count: rawCount))
                }
                return .string(ArenaSlice(start: base + r.lowerBound, count: r.count))
            case UInt8(ascii: "["):
                scanner.position += 1
                var items: [FieldValue] = []
                if scanner.consume(UInt8(ascii: "]")) { return .array(ValueList(start: 0, count: 0)) }
                repeat {
                    items.append(try readValue(depth: depth + 1, extra: &extra))
                } while scanner.consume(UInt8(ascii: ","))
                try scanner.expect(UInt8(ascii: "]"))
                let list = ValueList(start: valuesBase + values.count, count: items.count)
                values.append(contentsOf: items)
                return .array(list)
            case UInt8(ascii: "{"):
                // An object inside an array: kept as an object value, its keys set as at the top
                // level (the last duplicate wins, `a` and `a.b` do not both stay): Elasticsearch
                // refuses a document with a key twice in one object.
                var inner: [Field] = []
                try readObject(prefix: nil, depth: depth, into: &inner, extra: &extra)
                var object = LogEvent()
                object.set(contentsOf: inner)
                let list = ValueList(start: membersBase + members.count, count: object.fields.count)
                members.append(contentsOf: object.fields)
                return .object(list)
            case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
                switch try scanner.parseValue() {
                case .bool(let b): return .bool(b)
                default: return .null
                }
            default:
                switch try scanner.readNumber() {
                case .int(let i): return .int(i)
                case .double(let d): return .double(d)
                }
            }
        }
    }
}
