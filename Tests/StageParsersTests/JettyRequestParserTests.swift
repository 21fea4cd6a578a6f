import Foundation
import ShipperCore
import StageParsers
import Testing

@Suite struct JettyRequestParserTests {
    static let defaultParser = try! JettyRequestParser(config: JettyRequestConfig())

    // MARK: Done-when 3: Jetty samples

    /// The ops-agent golden file, reduced to `key: value` pairs per log entry.
    static func opsAgentEntries() throws -> [[String: String]] {
        let text = String(
            decoding: try AccessLogTestSupport.sample("jetty-request/ops-agent-jetty-access.output_fluentbit.yaml"),
            as: UTF8.self)
        var entries: [[String: String]] = []
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("- httpRequest:") {
                entries.append([:])
                continue
            }
            guard !entries.isEmpty, let colon = line.firstIndex(of: ":") else { continue }
            let key = String(line[..<colon])
            var value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("\"") && value.hasSuffix("\"") && value.count >= 2 {
                value = String(value.dropFirst().dropLast())
            }
            entries[entries.count - 1][key] = value
        }
        return entries
    }

    @Test func opsAgentSamplesMatchTheGoldenHTTPRequests() throws {
        let lines = try AccessLogTestSupport.sampleLines("jetty-request/ops-agent-jetty-access.input.log")
        let entries = try Self.opsAgentEntries()
        #expect(lines.count == 5)
        #expect(entries.count == 5)
        for (index, (line, want)) in zip(lines, entries).enumerated() {
            let (result, event) = AccessLogTestSupport.parse(Self.defaultParser, line)
            #expect(result == .consumed, "line \(index + 1)")
            func field(_ path: String) -> JSONValue? { AccessLogTestSupport.json(event, path) }
            func optional(_ value: String?) -> JSONValue? {
                guard let value, !value.isEmpty else { return nil }
                return .string(value)
            }
            #expect(field("source.ip") == optional(want["remoteIp"]), "line \(index + 1)")
            #expect(field("source.address") == optional(want["remoteIp"]), "line \(index + 1)")
            #expect(field("http.request.method") == optional(want["requestMethod"]), "line \(index + 1)")
            #expect(field("url.original") == optional(want["requestUrl"]), "line \(index + 1)")
            #expect(field("http.version").flatMap(\.stringValue).map { "HTTP/" + $0 } == want["protocol"])
            #expect(field("http.response.status_code") == want["status"].flatMap(Double.init).map { .int(Int64($0)) })
            #expect(
                field("http.response.body.bytes") == want["responseSize"].flatMap(Double.init).map { .int(Int64($0)) })
            #expect(field("http.request.referrer") == optional(want["referer"]), "line \(index + 1)")
            #expect(field("user_agent.original") == optional(want["userAgent"]), "line \(index + 1)")
            #expect(field("user.name") == optional(want["user"]), "line \(index + 1)")
            let ts = want["timestamp"]?.replacingOccurrences(of: ".000000000Z", with: ".000Z")
            #expect(field("@timestamp") == optional(ts), "line \(index + 1)")
        }
    }

    @Test func jetty12DocumentationExample() throws {
        let lines = try AccessLogTestSupport.sampleLines("jetty-request/jetty12-docs-operations-guide-requestlog-example.log")
        #expect(lines.count == 1)
        for config in [JettyRequestConfig(), JettyRequestConfig(format: "extended_ncsa")] {
            let (result, event) = AccessLogTestSupport.parse(try JettyRequestParser(config: config), lines[0])
            #expect(result == .consumed)
            #expect(AccessLogTestSupport.json(event, "source.ip") == .string("192.168.0.100"))
            #expect(AccessLogTestSupport.json(event, "@timestamp") == .string("2020-01-31T20:30:40.000Z"))
            #expect(AccessLogTestSupport.json(event, "http.response.body.bytes") == .int(6789))
            #expect(AccessLogTestSupport.json(event, "http.request.referrer") == nil)
            #expect(AccessLogTestSupport.json(event, "user.name") == nil)
            #expect(
                AccessLogTestSupport.json(event, "user_agent.original")
                    == .string(
                        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/97.0.4692.71 Safari/537.36"
                    ))
        }
    }

    // MARK: Done-when 2: Vector's parse_common_log / parse_apache_log table

    @Test func vectorCaseTable() throws {
        let data = try AccessLogTestSupport.sample("jetty-request/vrl-parse_common_and_apache_log-cases.json")
        guard case .array(let cases) = try JSONScanner.parseDocument(String(decoding: data, as: UTF8.self)) else {
            Issue.record("not an array")
            return
        }
        #expect(cases.count == 13)
        var matched = 0
        var rejected = 0
        for c in cases {
            let name = (c["function"]?.stringValue ?? "") + "/" + (c["name"]?.stringValue ?? "")
            guard let line = c["args"]?["value"]?.stringValue else { continue }
            var parser = Self.defaultParser
            if c["args"]?["timestamp_format"]?.stringValue == "%+" {
                // VRL's timestamp_format maps to a %{pattern}t in our format string.
                parser = try JettyRequestParser(
                    config: JettyRequestConfig(format: #"%{client}a %l %u %{yyyy-MM-dd'T'HH:mm:ssXXX}t "%r" %s %O"#))
            }
            let (result, event) = AccessLogTestSupport.parse(parser, line)
            guard case .object(let members)? = c["want"] else {
                #expect(result == .noMatch, "\(name): invalid line must not match")
                rejected += 1
                continue
            }
            if line == "- - - - - - -" {
                // Deliberate difference: no `[time]` and no quoted request, so it is not a request log
                // line for us; VRL accepts it as an empty object.
                #expect(result == .noMatch, "\(name)")
                rejected += 1
                continue
            }
            #expect(result == .consumed, "\(name)")
            matched += 1
            if members.isEmpty {
                // `- - - [-] "-" - -`: matches, every value is `-`, so no field is added.
                #expect(AccessLogTestSupport.addedPaths(event) == ["@timestamp"], "\(name)")
                #expect(AccessLogTestSupport.json(event, "@timestamp") == .string("1970-01-01T00:00:01.000Z"))
            }
            let method = AccessLogTestSupport.json(event, "http.request.method")?.stringValue ?? ""
            let url = AccessLogTestSupport.json(event, "url.original")?.stringValue ?? ""
            let version = AccessLogTestSupport.json(event, "http.version")?.stringValue ?? ""
            for m in members {
                let got: JSONValue?
                var want: JSONValue? = m.value
                switch m.key {
                case "host": got = AccessLogTestSupport.json(event, "source.address")
                case "identity": got = AccessLogTestSupport.json(event, "jetty.access.identity")
                case "user": got = AccessLogTestSupport.json(event, "user.name")
                case "timestamp":
                    got = AccessLogTestSupport.json(event, "@timestamp")
                    want = m.value["$timestamp"]?.stringValue.map { .string($0.replacingOccurrences(of: "Z", with: ".000Z")) }
                case "message": got = .string("\(method) \(url) HTTP/\(version)")
                case "method": got = AccessLogTestSupport.json(event, "http.request.method")
                case "path": got = AccessLogTestSupport.json(event, "url.original")
                case "protocol": got = .string("HTTP/\(version)")
                case "status": got = AccessLogTestSupport.json(event, "http.response.status_code")
                case "size": got = AccessLogTestSupport.json(event, "http.response.body.bytes")
                case "referrer": got = AccessLogTestSupport.json(event, "http.request.referrer")
                case "agent": got = AccessLogTestSupport.json(event, "user_agent.original")
                default:
                    Issue.record("\(name): unmapped VRL field \(m.key)")
                    continue
                }
                #expect(got == want, "\(name): \(m.key)")
            }
            if line.hasSuffix(" - -") {
                #expect(AccessLogTestSupport.json(event, "http.request.referrer") == nil)
                #expect(AccessLogTestSupport.json(event, "user_agent.original") == nil)
            }
        }
        #expect(matched == 7)
        #expect(rejected == 6)
    }

    // MARK: Done-when 4: case table

    static let cases: [AccessCase] = [
        AccessCase(
            name: "short NCSA form with the default format",
            format: "ncsa",
            line: #"127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /index.html HTTP/1.1" 200 2326"#,
            want: [
                "source.address": .s("127.0.0.1"), "source.ip": .s("127.0.0.1"),
                "jetty.access.remote_ip_list": .list("127.0.0.1"), "@timestamp": .s("2000-10-10T20:55:36.000Z"),
                "http.request.method": .s("GET"), "url.original": .s("/index.html"), "url.path": .s("/index.html"),
                "http.version": .s("1.1"), "http.response.status_code": .i(200), "http.response.body.bytes": .i(2326),
            ],
            only: true),
        AccessCase(
            name: "extended_ncsa requires the referer and agent",
            format: "extended_ncsa",
            line: #"127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /index.html HTTP/1.1" 200 2326"#,
            want: nil),
        AccessCase(
            name: "extended NCSA with IPv6 client",
            format: "ncsa",
            line: #"::1 - - [26/Aug/2021:16:49:43 +0000] "GET / HTTP/1.1" 200 10701 "-" "curl/7.64.0""#,
            want: ["source.ip": .s("::1"), "user_agent.original": .s("curl/7.64.0"), "http.request.referrer": .absent]),
        AccessCase(
            name: "unescaped quotes in the user agent (Jetty does not escape headers)",
            format: "ncsa",
            line: #"10.0.0.1 - bob [26/Aug/2021:16:49:43 +0000] "GET / HTTP/1.1" 200 1 "http://r/" "curl "x" y""#,
            want: ["user_agent.original": .s(#"curl "x" y"#), "http.request.referrer": .s("http://r/"), "user.name": .s("bob")]),
        AccessCase(
            name: "custom format with latency in ms and forwarded-for",
            format: #"%{client}a - %u %t "%r" %s %O "%{Referer}i" "%{User-Agent}i" "%{X-Forwarded-For}i" %{ms}T"#,
            line: #"10.0.0.7 - - [26/Aug/2021:16:49:43 +0000] "POST /api?x=1 HTTP/2.0" 201 45 "-" "app" "192.168.1.5, 203.0.113.50" 17"#,
            want: [
                "source.address": .s("203.0.113.50"), "source.ip": .s("203.0.113.50"),
                "jetty.access.remote_ip_list": .list("192.168.1.5", "203.0.113.50", "10.0.0.7"),
                "event.duration": .i(17_000_000), "url.query": .s("x=1"), "http.version": .s("2.0"),
            ]),
        AccessCase(
            name: "client and remote addresses, latency in microseconds",
            format: #"%{client}a %{remote}a:%{remote}p -> %{local}a:%{local}p %D "%r" %s"#,
            line: #"198.51.100.9 10.1.1.1:40000 -> 10.1.1.2:8080 2500 "GET / HTTP/1.1" 200"#,
            want: [
                "source.address": .s("198.51.100.9"), "jetty.access.remote_ip_list": .list("198.51.100.9", "10.1.1.1"),
                "source.port": .i(40000), "destination.address": .s("10.1.1.2"), "destination.ip": .s("10.1.1.2"),
                "destination.port": .i(8080), "event.duration": .i(2_500_000),
            ]),
        AccessCase(
            name: "separate request parts and server name",
            format: #"%a %m %U %q %H %s %{CLF}O %I %S %{us}T %T"#,
            line: #"shop.example.com GET /cart ?id=5 HTTP/1.1 200 - 12 900 1500 2"#,
            want: [
                "url.domain": .s("shop.example.com"), "http.request.method": .s("GET"), "url.path": .s("/cart"),
                "url.query": .s("id=5"), "http.version": .s("1.1"), "http.response.status_code": .i(200),
                "http.response.body.bytes": .absent, "http.request.body.bytes": .i(12), "network.bytes": .i(900),
                "event.duration": .i(1_500_000), "jetty.access.latency_s": .s("2"),
            ]),
        AccessCase(
            name: "Jetty's ?null query is omitted",
            format: #"%U%%%q %s"#,
            line: "/a%?null 200",
            want: ["url.path": .s("/a"), "url.query": .absent, "http.response.status_code": .i(200)]),
        AccessCase(
            name: "time pattern with zone parameter",
            format: #"%{yyyy-MM-dd HH:mm:ss.SSS|Europe/Berlin}t %s"#,
            line: "[2021-08-26 18:49:43.123] 200",
            want: ["@timestamp": .s("2021-08-26T16:49:43.123Z")]),
        AccessCase(
            name: "time pattern without zone uses the configured timezone",
            format: #"%{dd.MM.yyyy hh:mm:ss a}t %s"#,
            timezone: "America/New_York",
            line: "[05.01.2022 01:02:03 PM] 200",
            want: ["@timestamp": .s("2022-01-05T18:02:03.000Z")]),
        AccessCase(
            name: "time pattern with day and month names and GMT offset",
            format: #"%{EEE, d MMMM yyyy HH:mm:ss z}t %s"#,
            line: "[Wed, 5 January 2022 13:02:03 GMT] 200",
            want: ["@timestamp": .s("2022-01-05T13:02:03.000Z")]),
        AccessCase(
            name: "headers, cookies, trailers and generic codes",
            format: #"%{X-Request-Id}i %{Content-Type}o %{X-Custom.Thing}i %{JSESSIONID}C %k %X %R %{grpc-status}to "%f""#,
            line: #"abc-123 text/html v1 s3ss10n 4 + ServletHandler 0 "/var/www/index.html""#,
            want: [
                "http.request.id": .s("abc-123"), "http.response.mime_type": .s("text/html"),
                "jetty.access.http_x_custom_thing": .s("v1"), "jetty.access.cookie_jsessionid": .s("s3ss10n"),
                "jetty.access.keep_alive_requests": .i(4), "jetty.access.connection_status": .s("+"),
                "jetty.access.handler": .s("ServletHandler"), "jetty.access.sent_trailer_grpc_status": .s("0"),
                "jetty.access.filename": .s("/var/www/index.html"),
            ]),
        AccessCase(
            name: "status modifiers and Apache codes",
            format: #"%h %l %u %t "%r" %>s %b"#.replacingOccurrences(of: "%>s", with: "%!404s"),
            line: #"host.example - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 -"#,
            want: [
                "source.address": .s("host.example"), "source.ip": .absent, "http.response.status_code": .i(200),
                "http.response.body.bytes": .absent,
            ]),
        AccessCase(
            name: "request line '- - -' written for a request Jetty could not parse",
            format: "ncsa",
            line: #"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "- - -" 400 0"#,
            want: ["jetty.access.request": .s("- - -"), "http.request.method": .absent, "http.response.status_code": .i(400)]),
        AccessCase(
            name: "missing bracket",
            format: "ncsa",
            line: #"1.2.3.4 - - 10/Oct/2000:13:55:36 -0700 "GET / HTTP/1.0" 200 1"#,
            want: nil),
        AccessCase(
            name: "size is not a number",
            format: "ncsa",
            line: #"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1 garbage"#,
            want: nil),
    ]

    @Test(arguments: cases)
    func caseTable(_ c: AccessCase) throws {
        c.check(try JettyRequestParser(config: JettyRequestConfig(format: c.format, timezone: c.timezone)))
    }

    @Test(arguments: AccessLogTestSupport.malformedInputs.map(\.0))
    func malformedInputDoesNotMatch(_ name: String) throws {
        let bytes = AccessLogTestSupport.malformedInputs.first { $0.0 == name }!.1
        for format in ["ncsa", "extended_ncsa", #"%{client}a %s "%{User-Agent}i""#] {
            let parser = try JettyRequestParser(config: JettyRequestConfig(format: format))
            let (result, _) = AccessLogTestSupport.parse(parser, bytes)
            #expect(result == .noMatch, "\(name) with \(format)")
        }
    }

    // MARK: Done-when 5: configuration

    static let badFormats: [(String, String)] = [
        ("", "empty"),
        (#"%{client}a - %u %{dd/MMM/yyyy %s"#, "position 17"),
        (#"%{client}a %x"#, "'%x' at position 12"),
        (#"%{client}a %Z"#, "'%Z' at position 12"),
        (#"%{client}a%u"#, "position 1"),
        (#"%s %"#, "position 4"),
        (#"%{}i"#, "position 1"),
        (#"%i"#, "needs a parameter"),
        (#"%{bogus}a"#, "server, client, local or remote"),
        (#"%{min}T"#, "s, ms or us"),
        (#"%{yyyy-QQ}t"#, "'Q'"),
        (#"%{yyyy|Mars/Base}t"#, "unknown time zone"),
        (#"plain text"#, "no variables"),
    ]

    @Test(arguments: badFormats.map(\.0))
    func badFormatIsAConfigError(_ format: String) {
        let fragment = Self.badFormats.first { $0.0 == format }!.1
        do {
            _ = try JettyRequestParser(config: JettyRequestConfig(format: format))
            Issue.record("format '\(format)' was accepted")
        } catch let error as ConfigValueError {
            #expect(error.message.contains(fragment), "\(error.message)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func decodingValidates() throws {
        let config = try JSONDecoder().decode(JettyRequestConfig.self, from: Data("{}".utf8))
        #expect(config.format == "ncsa")
        #expect(config.timezone == "UTC")
        #expect(throws: ConfigValueError.self) {
            _ = try JSONDecoder().decode(JettyRequestConfig.self, from: Data(#"{"format":"%{client"}"#.utf8))
        }
        #expect(throws: ConfigValueError.self) {
            _ = try JSONDecoder().decode(JettyRequestConfig.self, from: Data(#"{"timezone":"Nowhere/City"}"#.utf8))
        }
    }
}
