import ShipperCore

/// Options of the `regex` parser. (Stub: to be implemented.)
public struct RegexConfig: Decodable, Sendable {
    public init() {}
    enum CodingKeys: String, CodingKey, CaseIterable { case timezone }
    public init(from decoder: any Decoder) throws {
        _ = try decoder.container(keyedBy: CodingKeys.self)
    }
}

/// The `regex` parser. (Stub: to be implemented.)
public struct RegexParser: LogParser {
    public init(config: RegexConfig) throws {}
    public func parse(_ text: ArenaSlice, into event: inout LogEvent) -> ParseResult { .noMatch }
}
