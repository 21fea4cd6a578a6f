import ShipperCore

/// Options of the `json` parser. (Stub: to be implemented.)
public struct JSONFieldConfig: Decodable, Sendable {
    public init() {}
    enum CodingKeys: String, CodingKey, CaseIterable { case timezone }
    public init(from decoder: any Decoder) throws {
        _ = try decoder.container(keyedBy: CodingKeys.self)
    }
}

/// The `json` parser. (Stub: to be implemented.)
public struct JSONFieldParser: LogParser {
    public init(config: JSONFieldConfig) throws {}
    public func parse(_ text: ArenaSlice, into event: inout LogEvent) -> ParseResult { .noMatch }
}
