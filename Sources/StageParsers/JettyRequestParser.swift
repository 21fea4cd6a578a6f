import ShipperCore

/// Options of the `jetty_request` parser. (Stub: to be implemented.)
public struct JettyRequestConfig: Decodable, Sendable {
    public init() {}
    enum CodingKeys: String, CodingKey, CaseIterable { case timezone }
    public init(from decoder: any Decoder) throws {
        _ = try decoder.container(keyedBy: CodingKeys.self)
    }
}

/// The `jetty_request` parser. (Stub: to be implemented.)
public struct JettyRequestParser: LogParser {
    public init(config: JettyRequestConfig) throws {}
    public func parse(_ text: ArenaSlice, into event: inout LogEvent) -> ParseResult { .noMatch }
}
