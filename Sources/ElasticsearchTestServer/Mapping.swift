// A small emulation of Elasticsearch dynamic mapping: enough to reject the documents ES would reject
// (a string in a long field, an object where a concrete value was mapped, strict mappings, the total
// fields limit, metadata fields in the source, data-stream `@timestamp`).

enum DynamicMode: String, Sendable {
    case `true`, `false`, strict, runtime

    init?(json: JSONValue) {
        switch json {
        case .bool(let b): self = b ? .true : .false
        case .string(let s): self.init(rawValue: s.lowercased())
        default: return nil
        }
    }
}

struct DynamicTemplate: Sendable {
    var name: String
    var match: [String] = []
    var unmatch: [String] = []
    var pathMatch: [String] = []
    var pathUnmatch: [String] = []
    var matchMappingType: [String] = []
    /// Mapping type to use; nil or `{dynamic_type}` = the inferred one.
    var type: String?

    func matches(path: String, name: String, detectedType: String) -> Bool {
        if !match.isEmpty && !match.contains(where: { Glob.matches($0, name) }) { return false }
        if unmatch.contains(where: { Glob.matches($0, name) }) { return false }
        if !pathMatch.isEmpty && !pathMatch.contains(where: { Glob.matches($0, path) }) { return false }
        if pathUnmatch.contains(where: { Glob.matches($0, path) }) { return false }
        if !matchMappingType.isEmpty && !matchMappingType.contains("*") && !matchMappingType.contains(detectedType) { return false }
        return true
    }
}

/// A mapped field type. The common ones are cases (cheap comparisons on the hot path).
enum FieldType: Equatable, Sendable {
    case object, nested, long, integer, short, byte, unsignedLong, float, double, halfFloat, scaledFloat, boolean
    case date, dateNanos, ip, text, keyword, flattened
    case other(String)

    init(_ name: String) {
        switch name {
        case "object": self = .object
        case "nested": self = .nested
        case "long": self = .long
        case "integer": self = .integer
        case "short": self = .short
        case "byte": self = .byte
        case "unsigned_long": self = .unsignedLong
        case "float": self = .float
        case "double": self = .double
        case "half_float": self = .halfFloat
        case "scaled_float": self = .scaledFloat
        case "boolean": self = .boolean
        case "date": self = .date
        case "date_nanos": self = .dateNanos
        case "ip": self = .ip
        case "text": self = .text
        case "keyword": self = .keyword
        case "flattened": self = .flattened
        default: self = .other(name)
        }
    }

    var name: String {
        switch self {
        case .object: return "object"
        case .nested: return "nested"
        case .long: return "long"
        case .integer: return "integer"
        case .short: return "short"
        case .byte: return "byte"
        case .unsignedLong: return "unsigned_long"
        case .float: return "float"
        case .double: return "double"
        case .halfFloat: return "half_float"
        case .scaledFloat: return "scaled_float"
        case .boolean: return "boolean"
        case .date: return "date"
        case .dateNanos: return "date_nanos"
        case .ip: return "ip"
        case .text: return "text"
        case .keyword: return "keyword"
        case .flattened: return "flattened"
        case .other(let n): return n
        }
    }

    var isObject: Bool { self == .object || self == .nested }

    static let objectAccepting: Set<String> = [
        "geo_point", "geo_shape", "shape", "point", "date_range", "integer_range", "long_range", "float_range", "double_range",
        "ip_range", "aggregate_metric_double", "histogram", "passthrough", "sparse_vector", "percolator", "join", "completion",
        "search_as_you_type",
    ]

    /// Leaf types that take an object value (flattened, geo_point, ranges, ...).
    var acceptsObjects: Bool {
        if self == .flattened { return true }
        if case .other(let n) = self { return FieldType.objectAccepting.contains(n) }
        return false
    }
}

/// A field name or path compared code unit for code unit, as Elasticsearch (Java strings)
/// compares them. Swift's `String` equality and hashing follow canonical equivalence, so "é"
/// written precomposed (U+00E9) and as "e" + U+0301 would be one key in a `[String: …]`, where
/// Elasticsearch maps two fields.
struct ExactName: Hashable, Sendable {
    let string: String

    init(_ string: String) { self.string = string }

    static func == (a: ExactName, b: ExactName) -> Bool { a.string.utf8.elementsEqual(b.string.utf8) }

    func hash(into hasher: inout Hasher) {
        for byte in string.utf8 { hasher.combine(byte) }
    }

    /// Whether `a` sorts before `b` as Java's `String.compareTo` orders them (UTF-16 code units).
    static func precedes(_ a: String, _ b: String) -> Bool { a.utf16.lexicographicallyPrecedes(b.utf16) }

    /// Whether `a` and `b` are the same name (code unit for code unit).
    static func same(_ a: String, _ b: String) -> Bool { a.utf8.elementsEqual(b.utf8) }

    /// `names` in Java's order, each once (by code units).
    static func sorted(_ names: some Sequence<String>) -> [String] {
        var seen = Set<ExactName>()
        return names.filter { seen.insert(ExactName($0)).inserted }.sorted(by: precedes)
    }
}

/// A dictionary keyed by field path with ``ExactName`` semantics, read and written with `String`s.
struct ExactNameMap<Value>: ExpressibleByDictionaryLiteral {
    private var storage: [ExactName: Value] = [:]

    init(dictionaryLiteral elements: (String, Value)...) {
        for (k, v) in elements { storage[ExactName(k)] = v }
    }

    subscript(_ key: String) -> Value? {
        get { storage[ExactName(key)] }
        set { storage[ExactName(key)] = newValue }
    }

    subscript(_ key: String, default value: @autoclosure () -> Value) -> Value {
        get { storage[ExactName(key)] ?? value() }
        set { storage[ExactName(key)] = newValue }
    }

    var isEmpty: Bool { storage.isEmpty }
    var count: Int { storage.count }
    /// The keys, in no particular order.
    var keys: [String] { storage.keys.map(\.string) }
    var values: Dictionary<ExactName, Value>.Values { storage.values }
    /// Some entry (the only one when `count == 1`).
    var first: (key: String, value: Value)? { storage.first.map { ($0.key.string, $0.value) } }

    mutating func removeAll() { storage.removeAll() }
}

extension ExactNameMap: Sendable where Value: Sendable {}

extension ExactNameMap: Sequence {
    func makeIterator() -> some IteratorProtocol<(key: String, value: Value)> {
        storage.lazy.map { (key: $0.key.string, value: $0.value) }.makeIterator()
    }
}

/// The mapping of one index: a flat map from dotted field path to type (`object`, `nested`, `long`, ...).
struct IndexMapping: Sendable {
    var fields: ExactNameMap<FieldType> = [:]
    /// `dynamic` settings by object path ("" = root).
    var dynamic: ExactNameMap<DynamicMode> = [:]
    var dateDetection = true
    var numericDetection = false
    var dynamicTemplates: [DynamicTemplate] = []
    /// Number of mapped fields, counted like `index.mapping.total_fields.limit` does (multi-fields included).
    var fieldCount = 0
    /// Fields in insertion order (for `GET /{index}` / `_mapping`).
    var order: [String] = []

    static let metadataFields: Set<String> = [
        "_id", "_index", "_source", "_routing", "_seq_no", "_primary_term", "_version", "_ignored", "_field_names",
        "_doc_count", "_tier", "_nested_path", "_data_stream_timestamp", "_feature", "_tsid", "_ignored_source",
    ]

    /// Applies a `mappings` object (from index creation or a template).
    mutating func merge(_ json: JSONValue) {
        guard let members = json.objectMembers else { return }
        for m in members {
            switch m.key {
            case "dynamic":
                if let d = DynamicMode(json: m.value) { dynamic[""] = d }
            case "date_detection":
                if let b = m.value.boolValue { dateDetection = b }
            case "numeric_detection":
                if let b = m.value.boolValue { numericDetection = b }
            case "properties":
                mergeProperties(m.value, prefix: "")
            case "dynamic_templates":
                if case .array(let list) = m.value {
                    for entry in list {
                        guard let named = entry.objectMembers?.first, let body = named.value.objectMembers else { continue }
                        var t = DynamicTemplate(name: named.key)
                        for b in body {
                            let strings: [String]
                            switch b.value {
                            case .string(let s): strings = [s]
                            case .array(let a): strings = a.compactMap(\.stringValue)
                            default: strings = []
                            }
                            switch b.key {
                            case "match": t.match = strings
                            case "unmatch": t.unmatch = strings
                            case "path_match": t.pathMatch = strings
                            case "path_unmatch": t.pathUnmatch = strings
                            case "match_mapping_type": t.matchMappingType = strings
                            case "mapping": t.type = b.value["type"]?.stringValue
                            case "runtime": t.type = b.value["type"]?.stringValue ?? "keyword"
                            default: break
                            }
                        }
                        dynamicTemplates.removeAll { $0.name == t.name }
                        dynamicTemplates.append(t)
                    }
                }
            default:
                break
            }
        }
    }

    private mutating func mergeProperties(_ json: JSONValue, prefix: String) {
        guard let members = json.objectMembers else { return }
        for m in members {
            // Dotted names in mappings are object paths too.
            let parts = m.key.dotSeparatedParts(omittingEmpty: true)
            var path = prefix
            for (i, part) in parts.enumerated() {
                path = path.isEmpty ? part : path + "." + part
                if i < parts.count - 1 { addField(path, "object") }
            }
            let def = m.value
            let type = def["type"]?.stringValue ?? (def["properties"] != nil ? "object" : "object")
            addField(path, type)
            if let d = def["dynamic"].flatMap(DynamicMode.init(json:)) { dynamic[path] = d }
            if let props = def["properties"] { mergeProperties(props, prefix: path) }
            if let multi = def["fields"]?.objectMembers {
                for sub in multi { addField(path + "." + sub.key, sub.value["type"]?.stringValue ?? "keyword", multiField: true) }
            }
        }
    }

    mutating func addField(_ path: String, _ type: String, multiField: Bool = false) {
        addField(path, FieldType(type))
    }

    mutating func addField(_ path: String, _ type: FieldType) {
        if fields[path] == nil {
            order.append(path)
            fieldCount += 1
        }
        fields[path] = type
    }

    /// The mapping as ES would show it (`{"properties":{...}}`).
    func json() -> JSONValue {
        var root: [JSONMember] = []
        if let d = dynamic[""] { root.append(JSONMember("dynamic", .string(d.rawValue))) }
        func props(_ prefix: String) -> [JSONMember] {
            var out: [JSONMember] = []
            // By bytes: a Character can be a dot and a combining mark after it.
            let children = order.filter { path in
                guard path.utf8.starts(with: prefix.utf8) else { return false }
                let rest = path.utf8.dropFirst(prefix.utf8.count)
                return !rest.isEmpty && !rest.contains(UInt8(ascii: "."))
            }
            for child in children.sorted(by: ExactName.precedes) {
                let name = String(decoding: child.utf8.dropFirst(prefix.utf8.count), as: UTF8.self)
                let type = fields[child] ?? .object
                var def: [JSONMember] = []
                if type == .object {
                    let sub = props(child + ".")
                    if !sub.isEmpty { def.append(JSONMember("properties", .object(sub))) }
                } else {
                    def.append(JSONMember("type", .string(type.name)))
                    if type == .nested {
                        let sub = props(child + ".")
                        if !sub.isEmpty { def.append(JSONMember("properties", .object(sub))) }
                    } else if type == .text, fields[child + ".keyword"] != nil {
                        def.append(JSONMember("fields", .obj(["keyword": .obj(["type": .string("keyword"), "ignore_above": .int(256)])])))
                    }
                }
                out.append(JSONMember(name, .object(def)))
            }
            return out
        }
        let p = props("")
        if !p.isEmpty { root.append(JSONMember("properties", .object(p))) }
        return .object(root)
    }
}

/// Checks one document against a mapping and collects the new dynamic fields.
struct MappingChecker {
    let mapping: IndexMapping
    let id: String
    let sourceLength: Int
    let totalFieldsLimit: Int
    let requestedTemplates: [String: String]
    var added: [(String, FieldType)] = []
    var addedLookup: ExactNameMap<FieldType> = [:]
    var addedCount = 0

    init(mapping: IndexMapping, id: String, sourceLength: Int, totalFieldsLimit: Int, requestedTemplates: [String: String]) {
        self.mapping = mapping
        self.id = id
        self.sourceLength = sourceLength
        self.totalFieldsLimit = totalFieldsLimit
        self.requestedTemplates = requestedTemplates
    }

    private var location: String { "[1:\(max(sourceLength, 1))]" }

    func type(of path: String) -> FieldType? {
        if let t = mapping.fields[path] { return t }
        return addedLookup.isEmpty ? nil : addedLookup[path]
    }

    private func dynamicMode(for objectPath: String) -> DynamicMode {
        var p = objectPath
        while true {
            if let d = mapping.dynamic[p] { return d }
            if p.isEmpty { return .true }
            // By bytes, as Elasticsearch splits field paths (a Character can be a dot and a
            // combining mark after it).
            if let dot = p.utf8.lastIndex(of: UInt8(ascii: ".")) { p = String(decoding: p.utf8[..<dot], as: UTF8.self) } else { p = "" }
        }
    }

    private func parsingError(_ reason: String, causedBy: ESError? = nil, type: String = "document_parsing_exception") -> ESError {
        ESError(status: 400, type: type, reason: "\(location) \(reason)", causedBy: causedBy)
    }

    /// Walks the document; throws the item error ES would report.
    mutating func check(_ doc: JSONValue) throws(ESError) {
        guard case .object(let members) = doc else {
            throw parsingError("failed to parse, document is empty")
        }
        for m in members where IndexMapping.metadataFields.contains(m.key) {
            throw parsingError(
                "Field [\(m.key)] is a metadata field and cannot be added inside a document. Use the index API request parameters.")
        }
        try walkObject(members, path: "")
        if addedCount > 0 && mapping.fieldCount + addedCount > totalFieldsLimit {
            let reason = "Limit of total fields [\(totalFieldsLimit)] has been exceeded while adding new fields [\(addedCount)]"
            throw parsingError("failed to parse: \(reason)", causedBy: .illegalArgument(reason))
        }
    }

    private mutating func walkObject(_ members: [JSONMember], path: String) throws(ESError) {
        for m in members {
            try walkField(name: m.key, value: m.value, parent: path)
        }
    }

    private mutating func walkField(name: String, value: JSONValue, parent: String) throws(ESError) {
        if name.isEmpty {
            throw parsingError("failed to parse: field name cannot be an empty string", causedBy: .illegalArgument("field name cannot be an empty string"))
        }
        var parentPath = parent
        var leafName = name
        if name.utf8.contains(UInt8(ascii: ".")) {
            let parts = name.dotSeparatedParts(omittingEmpty: false)
            if parts.contains(where: { $0.isEmpty }) {
                let reason = "object field starting or ending with a [.] makes object resolution ambiguous: [\(name)]"
                throw parsingError("failed to parse: \(reason)", causedBy: .illegalArgument(reason))
            }
            if parts.allSatisfy({ $0.allSatisfy(\.isWhitespace) }) {
                throw parsingError("field name cannot contain only whitespace: ['\(name)']")
            }
            for part in parts.dropLast() {
                let p = parentPath.isEmpty ? part : parentPath + "." + part
                if let t = type(of: p) {
                    if !t.isObject && t != .flattened {
                        throw parsingError(
                            "Could not dynamically add mapping for field [\(name)]. Existing mapping for [\(p)] must be of type object but found [\(t.name)].")
                    }
                    if t == .flattened { return }
                } else {
                    switch dynamicMode(for: parentPath) {
                    case .strict:
                        throw strictError(part, within: parentPath)
                    case .false:
                        return
                    case .true, .runtime:
                        addDynamic(p, .object)
                    }
                }
                parentPath = p
            }
            leafName = parts.last!
        }
        let path = parentPath.isEmpty ? leafName : parentPath + "." + leafName
        try walkValue(value, path: path, name: leafName, parent: parentPath)
    }

    private func strictError(_ name: String, within parent: String) -> ESError {
        ESError(
            status: 400, type: "strict_dynamic_mapping_exception",
            reason: "\(location) mapping set to strict, dynamic introduction of [\(name)] within [\(parent.isEmpty ? "_doc" : parent)] is not allowed")
    }

    private mutating func walkValue(_ value: JSONValue, path: String, name: String, parent: String) throws(ESError) {
        switch value {
        case .null:
            return
        case .array(let values):
            for v in values { try walkValue(v, path: path, name: name, parent: parent) }
        case .object(let members):
            if let t = type(of: path) {
                if t.isObject {
                    try walkObject(members, path: path)
                } else if t.acceptsObjects {
                    return
                } else {
                    throw parsingError(
                        "failed to parse field [\(path)] of type [\(t.name)] in document with id '\(id)'. Preview of field's value: '\(preview(value))'",
                        causedBy: ESError(status: 400, type: "illegal_state_exception", reason: "Can't get text on a START_OBJECT at 1:\(max(sourceLength, 1))"))
                }
            } else {
                switch dynamicMode(for: parent) {
                case .strict: throw strictError(name, within: parent)
                case .false: return
                case .true, .runtime:
                    addDynamic(path, try templateType(path: path, name: name, detected: "object") ?? .object)
                    if let t = type(of: path), t.isObject {
                        try walkObject(members, path: path)
                    }
                }
            }
        case .raw:
            try walkValue(value.resolvedRaw(), path: path, name: name, parent: parent)
        case .bool, .number, .string:
            if let t = type(of: path) {
                try checkScalar(value, type: t, path: path, name: name)
            } else {
                switch dynamicMode(for: parent) {
                case .strict: throw strictError(name, within: parent)
                case .false: return
                case .true, .runtime:
                    let detected = detectType(value)
                    let t = try templateType(path: path, name: name, detected: detected.matchType) ?? detected.fieldType
                    addDynamic(path, t)
                    if t == .text && detected.fieldType == .text { addDynamic(path + ".keyword", .keyword) }
                    try checkScalar(value, type: t, path: path, name: name)
                }
            }
        }
    }

    private func templateType(path: String, name: String, detected: String) throws(ESError) -> FieldType? {
        if mapping.dynamicTemplates.isEmpty && requestedTemplates.isEmpty { return nil }
        if let requested = requestedTemplates[path] {
            guard let t = mapping.dynamicTemplates.first(where: { $0.name == requested }) else {
                let reason = "Can't find dynamic template for dynamic template name [\(requested)] of field [\(path)]"
                throw ESError(status: 400, type: "document_parsing_exception", reason: "[-1:\(sourceLength)] failed to parse: \(reason)",
                    causedBy: .illegalArgument(reason))
            }
            return t.type.flatMap { $0 == "{dynamic_type}" ? nil : FieldType($0) }
        }
        for t in mapping.dynamicTemplates where t.matches(path: path, name: name, detectedType: detected) {
            return t.type.flatMap { $0 == "{dynamic_type}" ? nil : FieldType($0) }
        }
        return nil
    }

    private mutating func addDynamic(_ path: String, _ fieldType: FieldType) {
        guard self.type(of: path) == nil else { return }
        let type = fieldType
        added.append((path, type))
        addedLookup[path] = type
        addedCount += 1
    }

    private func detectType(_ value: JSONValue) -> (fieldType: FieldType, matchType: String) {
        switch value {
        case .bool: return (.boolean, "boolean")
        case .number(let n):
            if n.utf8.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) {
                return (.float, "double")
            }
            return (.long, "long")
        case .string(let s):
            if mapping.dateDetection && DateDetection.looksLikeDate(s) { return (.date, "date") }
            if mapping.numericDetection {
                if Int64(s) != nil { return (.long, "long") }
                if Double(s) != nil { return (.float, "double") }
            }
            return (.text, "string")
        default: return (.text, "string")
        }
    }

    private func preview(_ value: JSONValue) -> String {
        switch value {
        case .string(let s): return s
        case .number(let n): return n
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        case .array(let a): return "[" + a.map(preview).joined(separator: ", ") + "]"
        case .object(let members): return "{" + members.map { "\($0.key)=\(preview($0.value))" }.joined(separator: ", ") + "}"
        case .raw: return preview(value.resolvedRaw())
        }
    }

    private func fieldError(_ path: String, _ type: FieldType, _ value: JSONValue, cause: ESError) -> ESError {
        parsingError(
            "failed to parse field [\(path)] of type [\(type.name)] in document with id '\(id)'. Preview of field's value: '\(preview(value))'",
            causedBy: cause)
    }

    private func checkScalar(_ value: JSONValue, type: FieldType, path: String, name: String) throws(ESError) {
        switch type {
        case .object, .nested:
            throw parsingError("object mapping for [\(path)] tried to parse field [\(name)] as object, but found a concrete value")
        case .long, .integer, .short, .byte, .unsignedLong:
            let text: String
            switch value {
            case .number(let n): text = n
            case .string(let s): text = s.trimmingCharacters(inSet: " \t")
            case .bool(let b):
                throw fieldError(path, type, value, cause: .illegalArgument("Current token (\(b ? "VALUE_TRUE" : "VALUE_FALSE")) not numeric, can not use numeric value accessors"))
            default: return
            }
            if type == .long, Int64(text) != nil { return }
            guard let d = Double(text), d.isFinite else {
                throw fieldError(path, type, value, cause: .illegalArgument("For input string: \"\(text)\""))
            }
            let (lo, hi): (Double, Double)
            switch type {
            case .integer: (lo, hi) = (-2147483648, 2147483647)
            case .short: (lo, hi) = (-32768, 32767)
            case .byte: (lo, hi) = (-128, 127)
            case .unsignedLong: (lo, hi) = (0, 18446744073709551616.0)
            default: (lo, hi) = (-9223372036854775808.0, 9223372036854775807.0.nextDown)
            }
            if d < lo || d > hi {
                let article = type == .integer ? "an" : "a"
                throw fieldError(path, type, value, cause: .illegalArgument("Value [\(text)] is out of range for \(article) \(type.name)"))
            }
        case .float, .double, .halfFloat, .scaledFloat:
            let text: String
            switch value {
            case .number(let n): text = n
            case .string(let s): text = s.trimmingCharacters(inSet: " \t")
            case .bool(let b):
                throw fieldError(path, type, value, cause: .illegalArgument("Current token (\(b ? "VALUE_TRUE" : "VALUE_FALSE")) not numeric, can not use numeric value accessors"))
            default: return
            }
            guard let d = Double(text) else {
                throw fieldError(path, type, value, cause: ESError(status: 400, type: "number_format_exception", reason: "For input string: \"\(text)\""))
            }
            if !d.isFinite {
                throw fieldError(path, type, value, cause: .illegalArgument("[\(type.name)] supports only finite values, but got [\(text)]"))
            }
        case .boolean:
            switch value {
            case .bool: return
            case .string(let s) where s == "true" || s == "false" || s.isEmpty: return
            default:
                let text = value.scalarText ?? ""
                throw fieldError(path, type, value, cause: .illegalArgument("Failed to parse value [\(text)] as only [true] or [false] are allowed."))
            }
        case .date, .dateNanos:
            switch value {
            case .number: return
            case .string(let s):
                if DateDetection.isValidDate(s) { return }
                throw fieldError(path, type, value, cause: .illegalArgument("failed to parse date field [\(s)] with format [strict_date_optional_time||epoch_millis]"))
            default:
                throw fieldError(path, type, value, cause: .illegalArgument("failed to parse date field [\(value.scalarText ?? "")] with format [strict_date_optional_time||epoch_millis]"))
            }
        case .ip:
            guard let s = value.stringValue, IPAddress.isValid(s) else {
                let text = value.scalarText ?? ""
                throw fieldError(path, type, value, cause: .illegalArgument("'\(text)' is not an IP string literal."))
            }
        default:
            return
        }
    }
}

enum DateDetection {
    /// Dynamic date detection (`strict_date_optional_time`): at least `yyyy-MM-dd`.
    static func looksLikeDate(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard b.count >= 10, b.count <= 40 else { return false }
        return parseISO(b, requireDay: true)
    }

    /// Accepted by a `date` field with the default format `strict_date_optional_time||epoch_millis`.
    static func isValidDate(_ s: String) -> Bool {
        let b = Array(s.utf8)
        if b.isEmpty { return false }
        if Int64(s) != nil || (Double(s) != nil && !s.contains("e") && !s.contains("E")) { return true }  // epoch_millis
        return parseISO(b, requireDay: false)
    }

    private static func parseISO(_ b: [UInt8], requireDay: Bool) -> Bool {
        var i = 0
        func digits(_ n: Int) -> Int? {
            guard i + n <= b.count else { return nil }
            var v = 0
            for k in 0..<n {
                let c = b[i + k]
                guard c >= 48 && c <= 57 else { return nil }
                v = v * 10 + Int(c - 48)
            }
            i += n
            return v
        }
        func eat(_ c: Character) -> Bool {
            if i < b.count && b[i] == c.asciiValue! {
                i += 1
                return true
            }
            return false
        }
        guard digits(4) != nil else { return false }
        if i == b.count { return !requireDay }
        guard eat("-"), let month = digits(2), (1...12).contains(month) else { return false }
        if i == b.count { return !requireDay }
        guard eat("-"), let day = digits(2), (1...31).contains(day) else { return false }
        if i == b.count { return true }
        guard eat("T") || eat("t") else { return false }
        guard let hh = digits(2), hh < 24 else { return false }
        if i < b.count && eat(":") {
            guard let mm = digits(2), mm < 60 else { return false }
            if i < b.count && eat(":") {
                guard let ss = digits(2), ss < 61 else { return false }
                if i < b.count && (eat(".") || eat(",")) {
                    var n = 0
                    while i < b.count && b[i] >= 48 && b[i] <= 57 {
                        i += 1
                        n += 1
                    }
                    guard n >= 1 && n <= 9 else { return false }
                }
            }
        }
        if i == b.count { return true }
        if eat("Z") || eat("z") { return i == b.count }
        guard eat("+") || eat("-") else { return false }
        guard let zh = digits(2), zh < 19 else { return false }
        if i == b.count { return true }
        _ = eat(":")
        guard digits(2) != nil else { return false }
        return i == b.count
    }
}

enum IPAddress {
    static func isValid(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 4 {
            return parts.allSatisfy { p in
                guard !p.isEmpty, p.count <= 3, let v = Int(p), v <= 255 else { return false }
                return true
            }
        }
        if s.contains(":") {
            let allowed = Set("0123456789abcdefABCDEF:.%")
            return s.allSatisfy { allowed.contains($0) } && s.split(separator: ":", omittingEmptySubsequences: false).count <= 9
        }
        return false
    }
}

extension String {
    /// The parts between dots, split by bytes as Elasticsearch splits field paths: `Character`
    /// splitting keeps a dot that a combining mark follows (one `Character`) inside a part.
    func dotSeparatedParts(omittingEmpty: Bool) -> [String] {
        utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: omittingEmpty).map { String(Substring($0)) }
    }
}
