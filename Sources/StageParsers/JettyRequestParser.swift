import ShipperCore

/// Options of the `jetty_request` parser.
///
/// ```yaml
/// - type: jetty_request
///   format: '%{client}a - %u %t "%r" %s %O "%{Referer}i" "%{User-Agent}i" %{ms}T'
///   timezone: UTC
/// ```
public struct JettyRequestConfig: Decodable, Sendable {
    /// The request log layout:
    /// - `ncsa` (default): Jetty's `NCSA_FORMAT` (`%{client}a - %u %t "%r" %s %O`) with the
    ///   `EXTENDED_NCSA_FORMAT` part (` "%{Referer}i" "%{User-Agent}i"`) optional, so both layouts
    ///   parse; the identity column may hold a value (Apache common/combined);
    /// - `extended_ncsa`: `EXTENDED_NCSA_FORMAT`, the referer/agent part required;
    /// - or a `CustomRequestLog` format string. Supported codes: `%%`, `%a`/`%{server}a`,
    ///   `%{client}a`, `%{remote}a`, `%{local}a`, `%p`/`%{server|client|local|remote}p`, `%I`, `%O`,
    ///   `%S` (each with optional `{CLF}`), `%C`/`%{name}C`, `%D`, `%{VAR}e`, `%f`, `%H`,
    ///   `%{Header}i`, `%k`, `%m`, `%{Header}o`, `%q`, `%r`, `%R`, `%s`, `%t`/`%{format|zone|locale}t`,
    ///   `%T`/`%{s|ms|us}T`, `%u`/`%{d}u`, `%U`, `%X`, `%{name}ti`, `%{name}to`, and the Apache
    ///   codes `%h`, `%l`, `%A`, `%b`, `%B`, `%v`. Status modifiers (`%!404,500{Referer}i`) are accepted.
    public var format: String
    /// IANA time zone name, `UTC` (default) or a fixed offset (`+02:00`), used only when a `%t`
    /// pattern writes no UTC offset and names no zone of its own (`%{yyyy-MM-dd HH:mm:ss|Europe/Berlin}t`).
    public var timezone: String

    public init() {
        self.format = "ncsa"
        self.timezone = "UTC"
    }

    public init(format: String = "ncsa", timezone: String = "UTC") {
        self.format = format
        self.timezone = timezone
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case format
        case timezone
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.format = try c.decodeIfPresent(String.self, forKey: .format) ?? "ncsa"
        self.timezone = try c.decodeIfPresent(String.self, forKey: .timezone) ?? "UTC"
        _ = try JettyRequestFormat.compile(format: format, timezone: timezone)
    }
}

/// The `jetty_request` parser: Jetty request log lines (`CustomRequestLog`, NCSA / extended NCSA,
/// which is the Apache combined layout).
///
/// Uses the same scanner engine as `nginx_access` and writes the same ECS fields:
/// `%{client}a`/`%{remote}a`/`%h` → `source.address`, `source.ip`, `jetty.access.remote_ip_list`
/// (with `%{X-Forwarded-For}i` first in the chain); `%u` → `user.name`; `%t` → `@timestamp`;
/// `%r` → `http.request.method`, `url.original`, `url.path`, `url.query`, `http.version`
/// (or `jetty.access.request` when it is not a request line); `%m`, `%U`, `%q`, `%H` → method,
/// `url.path`, `url.query`, `http.version`; `%s` → `http.response.status_code`; `%O`/`%b`/`%B` →
/// `http.response.body.bytes`; `%I` → `http.request.body.bytes`; `%S` → `network.bytes`;
/// `%D`/`%T` → `event.duration` (ns); `%{Referer}i` → `http.request.referrer`;
/// `%{User-Agent}i` → `user_agent.original`; `%a` (Jetty: the server name) and `%v` → `url.domain`;
/// `%p` → `url.port`; `%{client}p` → `source.port`; `%{local}a`/`%A` → `destination.address`/`.ip`;
/// `%{local}p` → `destination.port`; other headers → `jetty.access.http_<name>` (response:
/// `jetty.access.sent_http_<name>`); `%l` → `jetty.access.identity`; the rest under `jetty.access.`.
/// Values `-` and empty values are omitted. A line that does not fit returns `.noMatch`.
public struct JettyRequestParser: LogParser {
    let program: AccessLogProgram

    public init(config: JettyRequestConfig) throws {
        self.program = try JettyRequestFormat.compile(format: config.format, timezone: config.timezone)
    }

    public func parse(_ text: ArenaSlice, into event: inout LogEvent) -> ParseResult {
        program.parse(text, into: &event)
    }
}

/// The Jetty front end: `CustomRequestLog` format text → tokens → ``AccessLogProgram``.
enum JettyRequestFormat {
    static let namespace = "jetty.access"
    static let ncsa = #"%{client}a - %u %t "%r" %s %O"#
    static let lenientNCSA = #"%{client}a %l %u %t "%r" %s %O"#
    static let extendedPart = #" "%{Referer}i" "%{User-Agent}i""#

    static func compile(format: String, timezone: String) throws(ConfigValueError) -> AccessLogProgram {
        guard let zone = TimeZoneRule(timezone) else {
            throw ConfigValueError(
                "timezone '\(timezone)' is not a known time zone; expected an IANA name such as 'Europe/Berlin', "
                    + "'UTC' or an offset such as '+02:00'")
        }
        switch format {
        case "ncsa":
            return try AccessLogProgram(
                main: tokens(lenientNCSA, zone: zone),
                tail: tokens(extendedPart, zone: zone, offset: lenientNCSA.count),
                namespace: namespace, formatText: "ncsa")
        case "extended_ncsa":
            return try AccessLogProgram(
                main: tokens(ncsa + extendedPart, zone: zone), namespace: namespace, formatText: "extended_ncsa")
        default:
            return try AccessLogProgram(main: tokens(format, zone: zone), namespace: namespace, formatText: format)
        }
    }

    /// Splits a `CustomRequestLog` format into literals and `%MODIFIERS{PARAM}CODE` tokens.
    static func tokens(_ format: String, zone: TimeZoneRule, offset: Int = 0) throws(ConfigValueError)
        -> [AccessLogFormatToken]
    {
        let chars = Array(format.unicodeScalars)
        var out: [AccessLogFormatToken] = []
        func fail(_ message: String) -> ConfigValueError {
            ConfigValueError("format '\(format)': \(message)")
        }
        func literal(_ text: String, _ position: Int) {
            out.append(AccessLogFormatToken(kind: .literal(Array(text.utf8)), position: position + offset))
        }
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c != "%" {
                var text = ""
                let start = i
                while i < chars.count && chars[i] != "%" {
                    text.unicodeScalars.append(chars[i])
                    i += 1
                }
                literal(text, start + 1)
                continue
            }
            let position = i + 1
            var j = i + 1
            // Modifiers: !?[0-9,]+ (status codes for which the value is logged; otherwise `-`).
            if j < chars.count && chars[j] == "!" { j += 1 }
            while j < chars.count && ((chars[j] >= "0" && chars[j] <= "9") || chars[j] == ",") { j += 1 }
            var param: String? = nil
            if j < chars.count && chars[j] == "{" {
                var k = j + 1
                var text = ""
                while k < chars.count && chars[k] != "}" {
                    text.unicodeScalars.append(chars[k])
                    k += 1
                }
                guard k < chars.count else {
                    throw fail("'%{' at position \(position + offset) is not closed by '}'")
                }
                guard !text.isEmpty else { throw fail("'%{}' at position \(position + offset) has an empty parameter") }
                param = text
                j = k + 1
            }
            guard j < chars.count else {
                throw fail("'%' at position \(position + offset) is not followed by a format code")
            }
            var code = String(chars[j])
            if chars[j] == "t" && j + 1 < chars.count && (chars[j + 1] == "i" || chars[j + 1] == "o") {
                code += String(chars[j + 1])
            }
            j += code.unicodeScalars.count
            let display = String(String.UnicodeScalarView(chars[i..<j]))
            i = j
            if code == "%" {
                literal("%", position)
                continue
            }
            if code == "t" {
                // Jetty writes the time between brackets.
                let (layout, timeZone) = try timeLayout(param, zone: zone, display: display, position: position + offset)
                literal("[", position)
                out.append(
                    AccessLogFormatToken(
                        kind: .variable(display: display, generic: "time", role: .time(layout, timeZone)),
                        position: position + offset))
                literal("]", position)
                continue
            }
            let (generic, role) = try self.role(
                code: code, param: param, display: display, position: position + offset, fail: fail)
            out.append(
                AccessLogFormatToken(
                    kind: .variable(display: display, generic: generic, role: role), position: position + offset))
        }
        return out
    }

    /// `X-Forwarded-For` → `x_forwarded_for`.
    static func fieldName(_ header: String) -> String {
        var out = ""
        for u in header.lowercased().unicodeScalars {
            let ok = (u >= "a" && u <= "z") || (u >= "0" && u <= "9") || u == "_"
            out.unicodeScalars.append(ok ? u : "_")
        }
        return out
    }

    static func role(
        code: String, param: String?, display: String, position: Int, fail: (String) -> ConfigValueError
    ) throws(ConfigValueError) -> (String, AccessLogRole) {
        func ns(_ name: String) -> FieldPath { FieldPath.intern(namespace + "." + name) }
        func requireParam() throws(ConfigValueError) -> String {
            guard let param else { throw fail("'\(display)' at position \(position) needs a parameter: %{name}\(code)") }
            return param
        }
        func invalid(_ expected: String) -> ConfigValueError {
            fail("'\(display)' at position \(position): invalid parameter '\(param ?? "")'; expected \(expected)")
        }
        func clf() throws(ConfigValueError) {
            if let param, param.lowercased() != "clf" { throw invalid("'CLF' or none") }
        }
        switch code {
        case "a":
            switch param ?? "server" {
            case "server": return ("server_name", .string(AccessLogPaths.urlDomain))
            case "client": return ("client_address", .clientAddress)
            case "remote": return ("remote_address", .clientAddress)
            case "local": return ("local_address", .destinationAddress)
            default: throw invalid("server, client, local or remote")
            }
        case "p":
            switch param ?? "server" {
            case "server": return ("server_port", .integer(AccessLogPaths.urlPort))
            case "client": return ("client_port", .integer(AccessLogPaths.sourcePort))
            case "remote": return ("remote_port", .integer(AccessLogPaths.sourcePort))
            case "local": return ("local_port", .integer(AccessLogPaths.destinationPort))
            default: throw invalid("server, client, local or remote")
            }
        case "I":
            try clf()
            return ("bytes_received", .integer(AccessLogPaths.requestBodyBytes))
        case "O":
            try clf()
            return ("bytes_sent", .integer(AccessLogPaths.responseBodyBytes))
        case "S":
            try clf()
            return ("bytes_transferred", .integer(AccessLogPaths.networkBytes))
        case "C":
            if let param { return ("cookie_" + fieldName(param), .string(ns("cookie_" + fieldName(param)))) }
            return ("cookies", .string(ns("cookies")))
        case "D": return ("latency_us", .duration(nanosecondsPerUnit: 1_000))
        case "e":
            let name = "env_" + fieldName(try requireParam())
            return (name, .string(ns(name)))
        case "f": return ("filename", .string(ns("filename")))
        case "H": return ("protocol", .httpVersion)
        case "i":
            let header = try requireParam()
            switch header.lowercased() {
            case "referer", "referrer": return ("http_referer", .string(AccessLogPaths.referrer))
            case "user-agent": return ("http_user_agent", .string(AccessLogPaths.userAgent))
            case "x-forwarded-for": return ("http_x_forwarded_for", .forwardedFor)
            case "x-request-id": return ("http_x_request_id", .string(AccessLogPaths.requestID))
            case "content-type": return ("http_content_type", .string(AccessLogPaths.requestMimeType))
            case "host": return ("http_host", .string(AccessLogPaths.urlDomain))
            default:
                let name = "http_" + fieldName(header)
                return (name, .string(ns(name)))
            }
        case "k": return ("keep_alive_requests", .integer(ns("keep_alive_requests")))
        case "m": return ("method", .string(AccessLogPaths.method))
        case "o":
            let header = try requireParam()
            if header.lowercased() == "content-type" {
                return ("sent_http_content_type", .string(AccessLogPaths.responseMimeType))
            }
            let name = "sent_http_" + fieldName(header)
            return (name, .string(ns(name)))
        case "q": return ("query", .query)
        case "r": return ("request", .requestLine)
        case "R": return ("handler", .string(ns("handler")))
        case "s": return ("status", .integer(AccessLogPaths.statusCode))
        case "T":
            switch param ?? "s" {
            case "s": return ("latency_s", .duration(nanosecondsPerUnit: 1_000_000_000))
            case "ms": return ("latency_ms", .duration(nanosecondsPerUnit: 1_000_000))
            case "us": return ("latency_us", .duration(nanosecondsPerUnit: 1_000))
            default: throw invalid("s, ms or us")
            }
        case "u":
            guard param == nil || param == "d" else { throw invalid("'d' or none") }
            return ("user", .string(AccessLogPaths.userName))
        case "U": return ("path", .string(AccessLogPaths.urlPath))
        case "X": return ("connection_status", .string(ns("connection_status")))
        case "ti":
            let name = "trailer_" + fieldName(try requireParam())
            return (name, .string(ns(name)))
        case "to":
            let name = "sent_trailer_" + fieldName(try requireParam())
            return (name, .string(ns(name)))
        // Apache mod_log_config codes, accepted for Apache-style formats.
        case "h": return ("remote_host", .clientAddress)
        case "l": return ("identity", .string(ns("identity")))
        case "A": return ("local_address", .destinationAddress)
        case "b", "B": return ("bytes_sent", .integer(AccessLogPaths.responseBodyBytes))
        case "v": return ("server_name", .string(AccessLogPaths.urlDomain))
        default:
            throw fail(
                "unknown format code '%\(code)' at position \(position); supported: %% a p I O S C D e f H i k m o q r "
                    + "R s t T u U X ti to (and Apache's h l A b B v)")
        }
    }

    /// The layout of `%t` / `%{format|timeZone|locale}t` and the zone for offset-less times.
    static func timeLayout(_ param: String?, zone: TimeZoneRule, display: String, position: Int)
        throws(ConfigValueError) -> (AccessLogTimeLayout, TimeZoneRule)
    {
        guard let param else { return (.clf, zone) }
        let parts = param.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        guard parts.count <= 3 else {
            throw ConfigValueError("'\(display)' at position \(position): too many '|' in the parameter")
        }
        var timeZone = zone
        if parts.count >= 2 {
            var name = parts[1]
            for prefix in ["GMT", "UTC"] where name.hasPrefix(prefix) && name.count > 3 {
                name = String(name.dropFirst(3))
            }
            guard let z = TimeZoneRule(name) else {
                throw ConfigValueError("'\(display)' at position \(position): unknown time zone '\(parts[1])'")
            }
            timeZone = z
        }
        let pattern = parts[0]
        if pattern == "dd/MMM/yyyy:HH:mm:ss ZZZ" || pattern == "dd/MMM/yyyy:HH:mm:ss Z" { return (.clf, timeZone) }
        do {
            return (.pattern(try AccessLogTimePattern.compile(pattern)), timeZone)
        } catch {
            throw ConfigValueError("'\(display)' at position \(position): \(error.message)")
        }
    }
}
