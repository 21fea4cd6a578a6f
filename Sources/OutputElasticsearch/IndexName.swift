import ShipperCore

/// A compiled index name template: literals, `%{field}` references and `%Y %m %d %H` (UTC).
public struct IndexNameTemplate: Sendable, Equatable, CustomStringConvertible {
    enum Part: Sendable, Equatable {
        case literal([UInt8])
        case field(String)
        case year, month, day, hour
    }

    let parts: [Part]
    /// The template text as configured.
    public let description: String

    /// Field paths the template reads (in order of first use).
    public var fields: [String] {
        var out: [String] = []
        for case .field(let f) in parts where !out.contains(f) { out.append(f) }
        return out
    }

    /// True when the template reads the timestamp.
    public var usesTime: Bool { parts.contains { $0 == .year || $0 == .month || $0 == .day || $0 == .hour } }

    /// Compiles `text`. Literal parts are lowercased; a literal containing a character that is never
    /// legal in an index name is a config error (field values are cleaned when rendered instead).
    public init(_ text: String) throws {
        description = text
        let bytes = Array(text.utf8)
        var parts: [Part] = []
        var literal: [UInt8] = []
        func flush() {
            if !literal.isEmpty { parts.append(.literal(literal)) }
            literal = []
        }
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            guard b == UInt8(ascii: "%") else {
                if IndexName.isIllegal(b) {
                    throw ConfigValueError(
                        "index '\(text)': '\(Character(Unicode.Scalar(b)))' is not allowed in an index name (not allowed: \\ / * ? \" < > | space , # :)")
                }
                literal.append(b >= 0x41 && b <= 0x5A ? b | 0x20 : b)
                i += 1
                continue
            }
            guard i + 1 < bytes.count else { throw ConfigValueError("index '\(text)': '%' at the end; write %% for a literal %") }
            let next = bytes[i + 1]
            switch next {
            case UInt8(ascii: "%"):
                literal.append(UInt8(ascii: "%"))
                i += 2
            case UInt8(ascii: "Y"): flush(); parts.append(.year); i += 2
            case UInt8(ascii: "m"): flush(); parts.append(.month); i += 2
            case UInt8(ascii: "d"): flush(); parts.append(.day); i += 2
            case UInt8(ascii: "H"): flush(); parts.append(.hour); i += 2
            case UInt8(ascii: "{"):
                guard let close = bytes[(i + 2)...].firstIndex(of: UInt8(ascii: "}")) else {
                    throw ConfigValueError("index '\(text)': '%{' at character \(i + 1) has no closing '}'")
                }
                let name = String(decoding: bytes[(i + 2)..<close], as: UTF8.self)
                if name.isEmpty { throw ConfigValueError("index '\(text)': empty field reference '%{}'") }
                flush()
                parts.append(.field(name))
                i = close + 1
            default:
                throw ConfigValueError(
                    "index '\(text)': unknown placeholder '%\(Character(Unicode.Scalar(next)))'; use %{field}, %Y, %m, %d or %H")
            }
        }
        flush()
        if parts.isEmpty { throw ConfigValueError("index must not be empty") }
        if case .literal(let l)? = parts.first, let first = l.first,
            first == UInt8(ascii: "_") || first == UInt8(ascii: "-") || first == UInt8(ascii: "+")
        {
            throw ConfigValueError("index '\(text)' must not start with '_', '-' or '+'")
        }
        self.parts = parts
    }

    /// Appends the rendered (not yet sanitized) name. A missing field renders as `_`.
    public func render(attributes: [DocumentAttribute], timestamp: Int64, into out: inout [UInt8]) {
        var civil: (year: Int, month: Int, day: Int, hour: Int)?
        for part in parts {
            switch part {
            case .literal(let bytes):
                out.append(contentsOf: bytes)
            case .field(let name):
                if let a = attributes.first(where: { $0.name == name }) {
                    out.append(contentsOf: a.value)
                } else {
                    out.append(UInt8(ascii: "_"))
                }
            case .year, .month, .day, .hour:
                let c = civil ?? Self.civil(timestamp)
                civil = c
                switch part {
                case .year: Self.write(c.year, digits: 4, into: &out)
                case .month: Self.write(c.month, digits: 2, into: &out)
                case .day: Self.write(c.day, digits: 2, into: &out)
                default: Self.write(c.hour, digits: 2, into: &out)
                }
            }
        }
    }

    static func civil(_ nanoseconds: Int64) -> (year: Int, month: Int, day: Int, hour: Int) {
        var secs = nanoseconds / 1_000_000_000
        if nanoseconds % 1_000_000_000 < 0 { secs -= 1 }
        var days = secs / 86_400
        var rem = secs % 86_400
        if rem < 0 {
            rem += 86_400
            days -= 1
        }
        let (y, m, d) = Civil.civil(fromDays: days)
        return (y, m, d, Int(rem / 3600))
    }

    static func write(_ value: Int, digits: Int, into out: inout [UInt8]) {
        var v = value < 0 ? 0 : value
        var tmp = [UInt8](repeating: UInt8(ascii: "0"), count: max(digits, 1))
        var i = tmp.count - 1
        while v > 0 && i >= 0 {
            tmp[i] = UInt8(truncatingIfNeeded: v % 10) &+ 48
            v /= 10
            i -= 1
        }
        if v > 0 {
            out.append(contentsOf: String(value).utf8)
        } else {
            out.append(contentsOf: tmp)
        }
    }
}

/// Index name rules (PROTOCOL.md §9) and the cleaning applied to rendered names.
public enum IndexName {
    /// Used when nothing legal is left of a rendered name.
    public static let fallback = "shipper-invalid-index-name"
    /// The limit on an index name, in UTF-8 bytes.
    public static let maxBytes = 255

    /// `\ / * ? " < > |`, space, `,`, `#`, `:` and control characters.
    @inlinable
    public static func isIllegal(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "*"), UInt8(ascii: "?"), UInt8(ascii: "\""), UInt8(ascii: "<"),
            UInt8(ascii: ">"), UInt8(ascii: "|"), UInt8(ascii: " "), UInt8(ascii: ","), UInt8(ascii: "#"), UInt8(ascii: ":"), 0x7F:
            return true
        default:
            return b < 0x20
        }
    }

    /// Makes `name` a legal index name: lowercase, illegal characters → `_`, no leading `_ - +`,
    /// at most 255 bytes (cut at a character boundary), not `.`/`..`/empty (→ ``fallback``).
    public static func sanitize(_ name: [UInt8]) -> String {
        var bytes = name
        if bytes.contains(where: { $0 >= 0x80 }) {
            // Non-ASCII: lowercase by Unicode rules (invalid UTF-8 becomes U+FFFD).
            bytes = Array(String(decoding: bytes, as: UTF8.self).lowercased().utf8)
        }
        for i in bytes.indices {
            let b = bytes[i]
            if b >= 0x41 && b <= 0x5A {
                bytes[i] = b | 0x20
            } else if isIllegal(b) {
                bytes[i] = UInt8(ascii: "_")
            }
        }
        var start = 0
        while start < bytes.count, bytes[start] == UInt8(ascii: "_") || bytes[start] == UInt8(ascii: "-") || bytes[start] == UInt8(ascii: "+") {
            start += 1
        }
        var end = min(bytes.count, start + maxBytes)
        if end < bytes.count {
            // Do not cut inside a UTF-8 sequence.
            while end > start && bytes[end] & 0xC0 == 0x80 { end -= 1 }
        }
        let result = bytes[start..<end]
        if result.isEmpty || result.elementsEqual([0x2E]) || result.elementsEqual([0x2E, 0x2E]) { return fallback }
        return String(decoding: result, as: UTF8.self)
    }
}

/// Turns a document into its target index (or data stream) name.
public struct IndexResolver: Sendable {
    enum Mode: Sendable {
        case index(IndexNameTemplate)
        case dataStream(type: IndexNameTemplate, dataset: IndexNameTemplate, namespace: IndexNameTemplate)
    }

    let mode: Mode
    /// The name every document gets, when the template reads neither fields nor the time.
    let constantName: String?

    public init(config: ElasticsearchOutputConfig) throws {
        if let ds = config.dataStream {
            mode = .dataStream(
                type: try IndexNameTemplate(ds.type), dataset: try IndexNameTemplate(ds.dataset),
                namespace: try IndexNameTemplate(ds.namespace))
        } else {
            mode = .index(try IndexNameTemplate(config.index))
        }
        if case .index(let t) = mode, t.fields.isEmpty, !t.usesTime {
            var scratch: [UInt8] = []
            t.render(attributes: [], timestamp: 0, into: &scratch)
            constantName = IndexName.sanitize(scratch)
        } else {
            constantName = nil
        }
    }

    /// Field paths the names depend on.
    public var fields: [String] {
        switch mode {
        case .index(let t): return t.fields
        case .dataStream(let t, let d, let n):
            var out = t.fields
            for f in d.fields + n.fields where !out.contains(f) { out.append(f) }
            return out
        }
    }

    /// Writes the raw (unsanitized) name into `scratch` (cleared first).
    func renderRaw(_ doc: OutgoingDocument, into scratch: inout [UInt8]) {
        scratch.removeAll(keepingCapacity: true)
        switch mode {
        case .index(let t):
            t.render(attributes: doc.attributes, timestamp: doc.timestamp, into: &scratch)
        case .dataStream(let t, let d, let n):
            t.render(attributes: doc.attributes, timestamp: doc.timestamp, into: &scratch)
            for part in [d, n] {
                scratch.append(UInt8(ascii: "-"))
                let start = scratch.count
                part.render(attributes: doc.attributes, timestamp: doc.timestamp, into: &scratch)
                // The data stream naming scheme has no '-' inside dataset or namespace.
                for i in start..<scratch.count where scratch[i] == UInt8(ascii: "-") { scratch[i] = UInt8(ascii: "_") }
            }
        }
    }

    /// The legal index name for `doc`.
    public func name(for doc: OutgoingDocument) -> String {
        var scratch: [UInt8] = []
        renderRaw(doc, into: &scratch)
        return IndexName.sanitize(scratch)
    }


    /// Index names and ids for a batch; consecutive documents with the same raw name share one
    /// `String`.
    public func items(for documents: [OutgoingDocument]) -> [BulkItem] {
        var items: [BulkItem] = []
        items.reserveCapacity(documents.count)
        if let name = constantName {
            for doc in documents {
                items.append(
                    BulkItem(
                        index: name, id: DocumentID.make(doc), document: doc.document, source: doc.source, offset: doc.offset,
                        timestamp: doc.timestamp, isSingleLine: doc.isSingleLine))
            }
            return items
        }
        var scratch: [UInt8] = []
        var lastRaw: [UInt8] = []
        var lastName = ""
        for doc in documents {
            renderRaw(doc, into: &scratch)
            if lastName.isEmpty || scratch != lastRaw {
                lastName = IndexName.sanitize(scratch)
                swap(&lastRaw, &scratch)
            }
            items.append(
                BulkItem(
                    index: lastName, id: DocumentID.make(doc), document: doc.document, source: doc.source, offset: doc.offset,
                    timestamp: doc.timestamp, isSingleLine: doc.isSingleLine))
        }
        return items
    }
}
