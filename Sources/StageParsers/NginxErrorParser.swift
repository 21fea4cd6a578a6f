import ShipperCore

/// Options of the `nginx_error` parser. (Stub: to be implemented.)
public struct NginxErrorConfig: Decodable, Sendable {
    public init() {}
    enum CodingKeys: String, CodingKey, CaseIterable { case timezone }
    public init(from decoder: any Decoder) throws {
        _ = try decoder.container(keyedBy: CodingKeys.self)
    }
}

/// The `nginx_error` parser. (Stub: to be implemented.)
public struct NginxErrorParser: LogParser {
    public init(config: NginxErrorConfig) throws {}
    public func parse(_ text: ArenaSlice, into event: inout LogEvent) -> ParseResult { .noMatch }
}
