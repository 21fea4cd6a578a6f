import ShipperCore

/// Options of the `nginx_access` parser. (Stub: to be implemented.)
public struct NginxAccessConfig: Decodable, Sendable {
    public init() {}
    enum CodingKeys: String, CodingKey, CaseIterable { case timezone }
    public init(from decoder: any Decoder) throws {
        _ = try decoder.container(keyedBy: CodingKeys.self)
    }
}

/// The `nginx_access` parser. (Stub: to be implemented.)
public struct NginxAccessParser: LogParser {
    public init(config: NginxAccessConfig) throws {}
    public func parse(_ text: ArenaSlice, into event: inout LogEvent) -> ParseResult { .noMatch }
}
