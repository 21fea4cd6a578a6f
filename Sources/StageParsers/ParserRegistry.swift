import ShipperCore

/// Parser types by their `type:` name in a pipeline's `parse` stage.
public enum ParserRegistry {
    /// Every parser type name, in documentation order.
    public static let names = ["nginx_access", "nginx_error", "jetty_request", "jetty_server", "json", "regex"]

    /// Builds the parser `type` from its options (decoded with `decoder`, which rejects unknown keys).
    public static func make(type: String, decoder: any Decoder) throws -> any LogParser {
        switch type {
        case "nginx_access": return try NginxAccessParser(config: NginxAccessConfig(from: decoder))
        case "nginx_error": return try NginxErrorParser(config: NginxErrorConfig(from: decoder))
        case "jetty_request": return try JettyRequestParser(config: JettyRequestConfig(from: decoder))
        case "jetty_server": return try JettyServerParser(config: JettyServerConfig(from: decoder))
        case "json": return try JSONFieldParser(config: JSONFieldConfig(from: decoder))
        case "regex": return try RegexParser(config: RegexConfig(from: decoder))
        default:
            throw ConfigValueError("unknown parser type '\(type)'; expected one of: \(names.joined(separator: ", "))")
        }
    }
}
