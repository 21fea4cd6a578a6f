import ShipperCore

/// One entry of `parsers:`: a parser name (`nginx_access`) or a mapping with `type:` and options.
public struct ParserSpec: Decodable, Sendable {
    public let name: String
    public let parser: any LogParser

    public init(name: String, parser: any LogParser) {
        self.name = name
        self.parser = parser
    }

    enum Keys: String, CodingKey { case type }

    public init(from decoder: any Decoder) throws {
        if let name = try? decoder.singleValueContainer().decode(String.self) {
            self.name = name
            self.parser = try ParserRegistry.make(type: name, decoder: EmptyMappingDecoder())
            return
        }
        let c = try decoder.container(keyedBy: Keys.self)
        guard c.contains(.type) else {
            throw ConfigValueError("a parser needs 'type:' (one of: \(ParserRegistry.names.joined(separator: ", ")))")
        }
        let type = try c.decode(String.self, forKey: .type)
        guard ParserRegistry.names.contains(type) else {
            throw ConfigValueError("unknown parser type '\(type)'; expected one of: \(ParserRegistry.names.joined(separator: ", "))")
        }
        self.name = type
        self.parser = try ParserRegistry.make(type: type, decoder: decoder.ignoring(keys: ["type"]))
    }
}

/// Options of the `parse` stage.
///
/// ```yaml
/// - type: parse
///   field: message                    # the text to parse (default: message)
///   parsers: [nginx_access, nginx_error]
///   keep_original: false              # copy the text to event.original
/// ```
public struct ParseStageConfig: Decodable, Sendable {
    /// The field holding the text to parse.
    public var field: String = "message"
    /// Parsers tried in order; the first that matches wins.
    public var parsers: [ParserSpec]
    /// Keep the parsed text in `event.original`.
    public var keepOriginal: Bool = false

    enum CodingKeys: String, CodingKey, CaseIterable {
        case field, parsers
        case keepOriginal = "keep_original"
    }

    public init(parsers: [ParserSpec], field: String = "message", keepOriginal: Bool = false) {
        self.parsers = parsers
        self.field = field
        self.keepOriginal = keepOriginal
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        field = try c.decodeIfPresent(String.self, forKey: .field) ?? "message"
        parsers = try c.decode([ParserSpec].self, forKey: .parsers)
        keepOriginal = try c.decodeIfPresent(Bool.self, forKey: .keepOriginal) ?? false
        if parsers.isEmpty { throw ConfigValueError("'parsers' must name at least one parser") }
    }
}

/// Tries its parsers in order on one field. When none matches, the event keeps the text, gets the
/// tag `_parse_failure` and a reason in `shipper.failure.reason`: nothing is dropped.
public struct ParseStage: Stage {
    let field: FieldPath
    let parsers: [any LogParser]
    let keepOriginal: Bool
    let failureReason: String

    public init(config: ParseStageConfig) {
        field = FieldPath.intern(config.field)
        parsers = config.parsers.map(\.parser)
        keepOriginal = config.keepOriginal
        failureReason = "no parser matched \(config.field) (tried \(config.parsers.map(\.name).joined(separator: ", ")))"
    }

    public func process(_ event: consuming LogEvent, into output: inout [LogEvent]) {
        apply(&event)
        output.append(consume event)
    }

    /// Parses in place.
    public func apply(_ event: inout LogEvent) {
        guard let index = event.index(of: field) else {
            fail(&event, reason: "field \(field.dotted) is missing")
            return
        }
        guard case .string(let slice) = event.fields[index].value else {
            fail(&event, reason: "field \(field.dotted) is not text")
            return
        }
        for parser in parsers {
            switch parser.parse(slice, into: &event) {
            case .noMatch:
                continue
            case .consumed:
                if keepOriginal { event.set(FieldPaths.eventOriginal, .string(slice)) }
                // Usually still where it was (parsers append); else look it up again.
                let i = index < event.fields.count && event.fields[index].path === field ? index : event.index(of: field)
                if let i, case .string(let s) = event.fields[i].value, s == slice {
                    event.fields.remove(at: i)
                }
                return
            case .keptMessage:
                if keepOriginal { event.set(FieldPaths.eventOriginal, .string(slice)) }
                return
            }
        }
        fail(&event, reason: failureReason)
    }

    private func fail(_ event: inout LogEvent, reason: String) {
        event.addTag(EventTags.parseFailure)
        event.set(FieldPaths.failureReason, string: reason)
    }
}
