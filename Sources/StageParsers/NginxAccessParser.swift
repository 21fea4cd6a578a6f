import ShipperCore

/// Options of the `nginx_access` parser.
///
/// ```yaml
/// - type: nginx_access
///   format: main            # combined (default), main, or an nginx log_format string
///   timezone: Europe/Berlin # only for times written without an offset
/// ```
public struct NginxAccessConfig: Decodable, Sendable {
    /// The access log layout: `combined` (default; nginx's predefined format, also accepting one
    /// trailing `"$http_x_forwarded_for"`), `main` (the nginx Docker image's format: combined
    /// followed by `"$http_x_forwarded_for"`), or the text of an nginx `log_format` directive, e.g.
    /// `'$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time'`.
    ///
    /// Every variable must be separated from the next one by literal text (a space is enough), or
    /// be written between double quotes. Unknown variables are allowed: their values go to
    /// `nginx.access.<variable>` as strings.
    public var format: String
    /// IANA time zone name (`Europe/Berlin`), `UTC` (default) or a fixed offset (`+02:00`), used only
    /// for time variables written without a UTC offset (`$time_local` and `$time_iso8601` carry one).
    public var timezone: String

    public init() {
        self.format = "combined"
        self.timezone = "UTC"
    }

    public init(format: String = "combined", timezone: String = "UTC") {
        self.format = format
        self.timezone = timezone
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case format
        case timezone
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.format = try c.decodeIfPresent(String.self, forKey: .format) ?? "combined"
        self.timezone = try c.decodeIfPresent(String.self, forKey: .timezone) ?? "UTC"
        _ = try NginxAccessFormat.compile(format: format, timezone: timezone)
    }
}

/// The `nginx_access` parser: nginx access log lines in `combined`, `main` or any `log_format`.
///
/// The format is compiled once into a byte scanner (``AccessLogProgram``); parsing a line scans
/// from literal to literal and points fields at the bytes of the line. Fields (Elastic Common
/// Schema; values `-` and empty values are omitted):
///
/// | variable | field |
/// |---|---|
/// | `$remote_addr`, `$http_x_forwarded_for`, `$proxy_add_x_forwarded_for` | `source.address`, `source.ip`, `nginx.access.remote_ip_list` |
/// | `$remote_port` | `source.port` |
/// | `$remote_user` | `user.name` |
/// | `$time_local`, `$time_iso8601`, `$msec` | `@timestamp` |
/// | `$request` | `http.request.method`, `url.original`, `url.path`, `url.query`, `http.version` |
/// | `$request_method` | `http.request.method` |
/// | `$request_uri` | `url.original`, `url.path`, `url.query` |
/// | `$uri`, `$document_uri` | `url.path` |
/// | `$args`, `$query_string` | `url.query` |
/// | `$server_protocol` | `http.version` |
/// | `$status` | `http.response.status_code` |
/// | `$body_bytes_sent` | `http.response.body.bytes` |
/// | `$bytes_sent` | `http.response.bytes` (headers and body) |
/// | `$request_length` | `http.request.bytes` |
/// | `$request_time` | `event.duration` (nanoseconds) |
/// | `$http_referer` | `http.request.referrer` |
/// | `$http_user_agent` | `user_agent.original` |
/// | `$request_id` | `http.request.id` |
/// | `$host` | `url.domain` |
/// | `$scheme` | `url.scheme` |
/// | `$server_addr`, `$server_port` | `destination.address` / `destination.ip`, `destination.port` |
/// | `$content_type`, `$sent_http_content_type` | `http.request.mime_type`, `http.response.mime_type` |
/// | any other `$name` | `nginx.access.name` (string) |
///
/// The address chain is the X-Forwarded-For entries followed by `$remote_addr`'s (which may itself
/// be a list, `10.0.0.2, 10.0.0.1, 127.0.0.1`); `source.address` is its first public IP address,
/// else its first IP address, else its first entry, and `source.ip` is set only when that is an
/// IPv4/IPv6 address. A `$request` that is not `METHOD URI [HTTP/x.y]` (garbage sent to the port)
/// is kept whole in `nginx.access.request`. Two variables writing the same field: the later one is
/// kept as `nginx.access.<name>`. Values are not unescaped (`\x22` stays as written).
/// A line that does not fit the format returns `.noMatch` and leaves the event unchanged.
public struct NginxAccessParser: LogParser {
    let program: AccessLogProgram

    public init(config: NginxAccessConfig) throws {
        self.program = try NginxAccessFormat.compile(format: config.format, timezone: config.timezone)
    }

    public func parse(_ text: ArenaSlice, into event: inout LogEvent) -> ParseResult {
        program.parse(text, into: &event)
    }
}

/// The nginx front end: `log_format` text → tokens → ``AccessLogProgram``.
enum NginxAccessFormat {
    static let combined =
        #"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#
    static let forwardedTail = #" "$http_x_forwarded_for""#

    static func compile(format: String, timezone: String) throws(ConfigValueError) -> AccessLogProgram {
        guard let zone = TimeZoneRule(timezone) else {
            throw ConfigValueError(
                "timezone '\(timezone)' is not a known time zone; expected an IANA name such as 'Europe/Berlin', "
                    + "'UTC' or an offset such as '+02:00'")
        }
        switch format {
        case "combined":
            return try AccessLogProgram(
                main: tokens(combined, zone: zone), tail: tokens(forwardedTail, zone: zone, offset: combined.count),
                namespace: "nginx.access", formatText: "combined")
        case "main":
            return try AccessLogProgram(
                main: tokens(combined + forwardedTail, zone: zone), namespace: "nginx.access", formatText: "main")
        default:
            return try AccessLogProgram(main: tokens(format, zone: zone), namespace: "nginx.access", formatText: format)
        }
    }

    /// Splits an nginx `log_format` string into literals and `$variable` / `${variable}` tokens.
    static func tokens(_ format: String, zone: TimeZoneRule, offset: Int = 0) throws(ConfigValueError)
        -> [AccessLogFormatToken]
    {
        let chars = Array(format.unicodeScalars)
        var out: [AccessLogFormatToken] = []
        var literal: [UInt8] = []
        var literalPosition = 1
        func isNameChar(_ c: Unicode.Scalar) -> Bool {
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "_"
        }
        func flush() {
            if !literal.isEmpty {
                out.append(AccessLogFormatToken(kind: .literal(literal), position: literalPosition + offset))
                literal = []
            }
        }
        var i = 0
        while i < chars.count {
            let c = chars[i]
            guard c == "$" else {
                if literal.isEmpty { literalPosition = i + 1 }
                literal.append(contentsOf: Array(String(c).utf8))
                i += 1
                continue
            }
            let position = i + 1
            var j = i + 1
            var name = ""
            if j < chars.count && chars[j] == "{" {
                j += 1
                while j < chars.count && isNameChar(chars[j]) {
                    name.unicodeScalars.append(chars[j])
                    j += 1
                }
                guard j < chars.count, chars[j] == "}", !name.isEmpty else {
                    throw ConfigValueError(
                        "format '\(format)': '${' at position \(position + offset) must be followed by a variable "
                            + "name and '}'")
                }
                j += 1
            } else {
                while j < chars.count && isNameChar(chars[j]) {
                    name.unicodeScalars.append(chars[j])
                    j += 1
                }
                guard !name.isEmpty else {
                    throw ConfigValueError(
                        "format '\(format)': '$' at position \(position + offset) is not followed by a variable name "
                            + "(letters, digits, '_')")
                }
            }
            flush()
            let lower = name.lowercased()
            out.append(
                AccessLogFormatToken(
                    kind: .variable(display: "$" + name, generic: lower, role: role(of: lower, zone: zone)),
                    position: position + offset))
            i = j
        }
        flush()
        return out
    }

    /// The meaning of an nginx variable.
    static func role(of name: String, zone: TimeZoneRule) -> AccessLogRole {
        switch name {
        case "remote_addr": return .clientAddress
        case "http_x_forwarded_for", "proxy_add_x_forwarded_for": return .forwardedFor
        case "remote_port": return .integer(AccessLogPaths.sourcePort)
        case "remote_user": return .string(AccessLogPaths.userName)
        case "time_local": return .time(.clf, zone)
        case "time_iso8601": return .time(.iso8601, zone)
        case "msec": return .time(.epochSeconds, zone)
        case "request": return .requestLine
        case "request_method": return .string(AccessLogPaths.method)
        case "request_uri": return .requestURI
        case "uri", "document_uri": return .string(AccessLogPaths.urlPath)
        case "args", "query_string": return .query
        case "server_protocol": return .httpVersion
        case "status": return .integer(AccessLogPaths.statusCode)
        case "body_bytes_sent": return .integer(AccessLogPaths.responseBodyBytes)
        case "bytes_sent": return .integer(AccessLogPaths.responseBytes)
        case "request_length": return .integer(AccessLogPaths.requestBytes)
        case "request_time": return .duration(nanosecondsPerUnit: 1_000_000_000)
        case "http_referer": return .string(AccessLogPaths.referrer)
        case "http_user_agent": return .string(AccessLogPaths.userAgent)
        case "request_id": return .string(AccessLogPaths.requestID)
        case "host": return .string(AccessLogPaths.urlDomain)
        case "scheme": return .string(AccessLogPaths.urlScheme)
        case "server_addr": return .destinationAddress
        case "server_port": return .integer(AccessLogPaths.destinationPort)
        case "content_type": return .string(AccessLogPaths.requestMimeType)
        case "sent_http_content_type": return .string(AccessLogPaths.responseMimeType)
        default: return .string(FieldPath.intern("nginx.access." + name))
        }
    }
}
