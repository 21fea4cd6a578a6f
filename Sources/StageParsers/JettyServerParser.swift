import ShipperCore

/// Options of the `jetty_server` parser. (Stub: to be implemented.)
public struct JettyServerConfig: Decodable, Sendable {
    public init() {}
    enum CodingKeys: String, CodingKey, CaseIterable { case timezone }
    public init(from decoder: any Decoder) throws {
        _ = try decoder.container(keyedBy: CodingKeys.self)
    }
}

/// The `jetty_server` parser. (Stub: to be implemented.)
public struct JettyServerParser: LogParser {
    public init(config: JettyServerConfig) throws {}
    public func parse(_ text: ArenaSlice, into event: inout LogEvent) -> ParseResult { .noMatch }
}
