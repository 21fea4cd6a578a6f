import ShipperCore
import StageParsers

/// The parsers, each given the whole input as `message` of an event that has other fields before
/// it (so the message does not start the arena). Checks: a parser that answers `.noMatch` left the
/// event exactly as it was (the `LogParser` contract); every event a parser changed passes
/// ``EventCheck``.
enum ParserTargets {
    static let now = Timestamp(nanoseconds: 1_764_000_000_123_000_000)

    /// Builds a parser at start-up; a configuration that does not compile is a harness bug.
    static func make(_ name: String, _ body: () throws -> any LogParser) -> (String, any LogParser) {
        do {
            return (name, try body())
        } catch {
            failCheck("cannot build parser \(name): \(error)")
        }
    }

    static let nginxAccessParsers = [
        make("nginx_access combined") { try NginxAccessParser(config: NginxAccessConfig(format: "combined")) },
        make("nginx_access main") { try NginxAccessParser(config: NginxAccessConfig(format: "main", timezone: "Europe/Berlin")) },
        make("nginx_access custom 1") {
            try NginxAccessParser(config: NginxAccessConfig(
                format: #"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time "$http_x_forwarded_for" $request_id $msec"#))
        },
        make("nginx_access custom 2") {
            try NginxAccessParser(config: NginxAccessConfig(
                format: #"$time_iso8601 $remote_addr:$remote_port "$request_method $scheme://$host $request_uri $server_protocol" $status $bytes_sent $request_length $upstream_response_time $server_addr:$server_port "$content_type" $args"#,
                timezone: "+02:00"))
        },
    ]
    static let nginxErrorParsers = [
        make("nginx_error") { try NginxErrorParser(config: NginxErrorConfig(timezone: "Europe/Berlin")) },
    ]
    static let jettyRequestParsers = [
        make("jetty_request ncsa") { try JettyRequestParser(config: JettyRequestConfig(format: "ncsa")) },
        make("jetty_request custom 1") {
            try JettyRequestParser(config: JettyRequestConfig(
                format: #"%{client}a - %u %t "%r" %s %O "%{Referer}i" "%{User-Agent}i" %{ms}T %{X-Forwarded-For}i %D"#))
        },
        make("jetty_request custom 2") {
            try JettyRequestParser(config: JettyRequestConfig(
                format: #"%{yyyy-MM-dd HH:mm:ss.SSS|Europe/Berlin}t %h %l %u "%m %U %q %H" %s %b %{server}p %{local}a %{client}p %I %S"#))
        },
    ]
    static let jettyServerParsers = [
        make("jetty_server") { try JettyServerParser(config: JettyServerConfig(timezone: "UTC")) },
    ]
    static let jsonParsers = [
        make("json root") { try JSONFieldParser(config: JSONFieldConfig()) },
        make("json target") { try JSONFieldParser(config: JSONFieldConfig(target: "app.payload")) },
    ]
    static let regexParsers = [
        make("regex") {
            try RegexParser(config: RegexConfig(
                pattern: #"^(?<source.ip>\S+) \[(?<@timestamp>[^\]]+)\] (?<http.response.status_code>\d{3}) (?<event.duration>\d+(?:\.\d+)?) (?<app.ok>\w+) (?<message>.*)$"#,
                types: ["http.response.status_code": .int, "event.duration": .double, "app.ok": .bool],
                timezone: "Europe/Berlin"))
        },
        make("regex unanchored") {
            try RegexParser(config: RegexConfig(
                pattern: #"user=(?<user.name>\w+)|id=(?<app.id>\d+)|t=(?<app.t>\S+)"#,
                types: ["app.id": .int, "app.t": .timestamp]))
        },
    ]

    static func nginxAccess(_ data: UnsafeRawBufferPointer) { run(nginxAccessParsers, data) }
    static func nginxError(_ data: UnsafeRawBufferPointer) { run(nginxErrorParsers, data) }
    static func jettyRequest(_ data: UnsafeRawBufferPointer) { run(jettyRequestParsers, data) }
    static func jettyServer(_ data: UnsafeRawBufferPointer) { run(jettyServerParsers, data) }
    static func json(_ data: UnsafeRawBufferPointer) { run(jsonParsers, data) }
    static func regex(_ data: UnsafeRawBufferPointer) { run(regexParsers, data) }

    static let filePath = FieldPath.intern("log.file.path")

    /// Blocks `shipper run` adds after decoding: a container's metadata and the host (which
    /// the encoder writes as a prepared run while intact), and one whose fields parsers also set
    /// (replaced or removed by the parse, so the run no longer applies).
    static let blocks = [
        FieldBlock(
            FieldBlock([
                (FieldPath.intern("container.id"), "0123abcd"), (FieldPath.intern("container.name"), "web.1.x"),
                (FieldPath.intern("container.labels.com_docker_swarm_service_name"), "web"), (FieldPath.intern("service.name"), "web"),
            ]),
            FieldBlock([(FieldPath.intern("host.name"), "node-1")])),
        FieldBlock([
            (FieldPath.intern("source.address"), "block"), (FieldPath.intern("http.version"), "9"), (FieldPath.intern("url.path"), "/b"),
            (FieldPath.intern("log.level"), "info"), (FieldPath.intern("user.name"), "\"q\""),
        ]),
    ]

    /// An event as a decoder makes it: fields before and after `message`; for two inputs in three,
    /// then one of ``blocks``.
    static func event(message: UnsafeRawBufferPointer) -> LogEvent {
        var event = LogEvent()
        event.set(FieldPaths.timestamp, .timestamp(now))
        event.set(filePath, string: "/var/lib/docker/containers/0123abcd/0123abcd-json.log".utf8)
        event.set(FieldPaths.message, string: message)
        event.set(FieldPaths.stream, string: "stdout".utf8)
        if message.count % 3 != 0 { event.add(blocks[message.count % 3 - 1]) }
        return event
    }

    static func run(_ parsers: [(String, any LogParser)], _ data: UnsafeRawBufferPointer) {
        for (name, parser) in parsers {
            var e = event(message: data)
            guard case .string(let slice)? = e[FieldPaths.message] else { failCheck("no message") }
            let before = e
            let result = parser.parse(slice, into: &e)
            if result == .noMatch {
                if !EventCheck.same(e, before) {
                    failCheck("\(name) answered noMatch but changed the event: \(JSONWriter.string(before)) → \(JSONWriter.string(e))")
                }
                continue  // unchanged: the event as built above, nothing new to write
            }
            EventCheck.verify(e, "\(name) (\(result))")
        }
    }
}
