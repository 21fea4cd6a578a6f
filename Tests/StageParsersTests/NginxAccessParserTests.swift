import Foundation
import ShipperCore
import StageParsers
import Testing

/// One expectation of a case table: the field is absent, or has this JSON value.
enum AccessWant: Sendable, Equatable {
    case absent
    case value(JSONValue)

    static func s(_ text: String) -> AccessWant { .value(.string(text)) }
    static func i(_ n: Int64) -> AccessWant { .value(.int(n)) }
    static func list(_ items: String...) -> AccessWant { .value(.array(items.map { .string($0) })) }
}

/// A row of a parser case table.
struct AccessCase: Sendable, CustomTestStringConvertible {
    var name: String
    var format: String
    var timezone: String = "UTC"
    var line: String
    /// nil: the line must not match.
    var want: [String: AccessWant]?
    /// When set, exactly these fields are added (besides `@timestamp`, which the test event already has).
    var only: Bool = false

    var testDescription: String { name }

    func check(_ parser: some LogParser) {
        let (result, event) = AccessLogTestSupport.parse(parser, line)
        guard let want else {
            #expect(result == .noMatch, "\(name): expected no match, got fields \(AccessLogTestSupport.addedPaths(event))")
            return
        }
        #expect(result == .consumed, "\(name): expected a match")
        guard result == .consumed else { return }
        for (path, w) in want.sorted(by: { $0.key < $1.key }) {
            let got = AccessLogTestSupport.json(event, path)
            switch w {
            case .absent: #expect(got == nil, "\(name): \(path) should be absent, is \(String(describing: got))")
            case .value(let v): #expect(got == v, "\(name): \(path)")
            }
        }
        if only {
            let added = Set(AccessLogTestSupport.addedPaths(event)).subtracting(["@timestamp"])
            let expected = Set(want.filter { $0.value != .absent }.keys).subtracting(["@timestamp"])
            #expect(added == expected, "\(name): unexpected field set")
        }
    }
}

@Suite struct NginxAccessParserTests {
    static let combinedParser = try! NginxAccessParser(config: NginxAccessConfig())

    // MARK: Done-when 1: Filebeat's golden file

    /// The fields of Filebeat's expected output that this parser must reproduce.
    static let beatsFields = [
        "@timestamp", "source.address", "source.ip", "nginx.access.remote_ip_list", "user.name",
        "http.request.method", "url.original", "http.version", "http.response.status_code",
        "http.response.body.bytes", "http.request.referrer", "user_agent.original",
    ]

    @Test func beatsAccessLogMatchesFilebeatExpectedOutput() throws {
        let lines = try AccessLogTestSupport.sampleLines("nginx-access/beats-access.log")
        let expectedDocument = try AccessLogTestSupport.sample("nginx-access/beats-access.log-expected.json")
        let expected = try JSONScanner.parseDocument(String(decoding: expectedDocument, as: UTF8.self))
        guard case .array(let events) = expected else {
            Issue.record("expected file is not an array")
            return
        }
        #expect(lines.count == 12)
        #expect(events.count == lines.count)
        var dashesOmitted = 0
        for (index, (line, want)) in zip(lines, events).enumerated() {
            let (result, event) = AccessLogTestSupport.parse(Self.combinedParser, line)
            #expect(result == .consumed, "line \(index + 1)")
            for field in Self.beatsFields {
                let got = AccessLogTestSupport.json(event, field)
                let w = want[field]
                if w == .string("-") {
                    // Deliberate difference: Filebeat keeps "-", we omit it.
                    #expect(got == nil, "line \(index + 1) \(field) should be omitted")
                    dashesOmitted += 1
                } else {
                    #expect(got == w, "line \(index + 1) \(field)")
                }
            }
            // url.path is a sub-slice of url.original.
            #expect(AccessLogTestSupport.json(event, "url.path") == want["url.original"])
        }
        #expect(dashesOmitted == 22)  // user.name on all 12 lines, referrer on 10
    }

    // MARK: Done-when 2: Vector's parse_nginx_log table

    static func vrlCases() throws -> [JSONValue] {
        let data = try AccessLogTestSupport.sample("nginx-access/vrl-parse_nginx_log-access-cases.json")
        guard case .array(let cases) = try JSONScanner.parseDocument(String(decoding: data, as: UTF8.self)) else {
            return []
        }
        return cases
    }

    @Test func vectorCaseTable() throws {
        let cases = try Self.vrlCases()
        #expect(cases.count == 7)
        var valid = 0
        var invalid = 0
        for c in cases {
            let name = c["name"]?.stringValue ?? "?"
            guard let line = c["args"]?["value"]?.stringValue, let format = c["args"]?["format"]?.stringValue else {
                Issue.record("\(name): malformed case")
                continue
            }
            let parser = try NginxAccessParser(config: NginxAccessConfig(format: format))
            let (result, event) = AccessLogTestSupport.parse(parser, line)
            guard let want = c["want"], case .object(let members) = want else {
                #expect(c["want_error"] != nil)
                #expect(result == .noMatch, "\(name): invalid line must not match")
                invalid += 1
                continue
            }
            valid += 1
            #expect(result == .consumed, "\(name)")
            let list = AccessLogTestSupport.json(event, "nginx.access.remote_ip_list")
            let forwarded = want["http_x_forwarded_for"]?.stringValue
            for m in members {
                switch m.key {
                case "client", "remote_addr":
                    // The peer address is the last entry of the address chain.
                    guard case .array(let items)? = list else {
                        Issue.record("\(name): no remote_ip_list")
                        continue
                    }
                    #expect(items.last == m.value, "\(name): \(m.key)")
                    if forwarded == nil {
                        #expect(AccessLogTestSupport.json(event, "source.address") == m.value)
                        #expect(AccessLogTestSupport.json(event, "source.ip") == m.value)
                    }
                case "http_x_forwarded_for":
                    guard case .array(let items)? = list, case .string(let text) = m.value else {
                        Issue.record("\(name): no remote_ip_list")
                        continue
                    }
                    let entries = text.components(separatedBy: ", ").map { JSONValue.string($0) }
                    #expect(Array(items.prefix(entries.count)) == entries, "\(name): forwarded entries lead the chain")
                    // First public address of the chain.
                    #expect(AccessLogTestSupport.json(event, "source.ip") == entries.first)
                case "remote_user", "user":
                    #expect(AccessLogTestSupport.json(event, "user.name") == m.value, "\(name)")
                case "timestamp":
                    guard let t = m.value["$timestamp"]?.stringValue else { continue }
                    let normalized = t.hasSuffix("Z") && !t.contains(".") ? String(t.dropLast()) + ".000Z" : t
                    #expect(AccessLogTestSupport.json(event, "@timestamp") == .string(normalized), "\(name)")
                case "request":
                    let method = AccessLogTestSupport.json(event, "http.request.method")?.stringValue ?? ""
                    let url = AccessLogTestSupport.json(event, "url.original")?.stringValue ?? ""
                    let version = AccessLogTestSupport.json(event, "http.version")?.stringValue ?? ""
                    #expect(.string("\(method) \(url) HTTP/\(version)") == m.value, "\(name)")
                case "status":
                    #expect(AccessLogTestSupport.json(event, "http.response.status_code") == m.value, "\(name)")
                case "size", "body_bytes_size":
                    #expect(AccessLogTestSupport.json(event, "http.response.body.bytes") == m.value, "\(name)")
                case "referer", "http_referer":
                    let got = AccessLogTestSupport.json(event, "http.request.referrer")
                    // Deliberate difference: VRL keeps "-" here; we omit `-` values.
                    #expect(got == (m.value == .string("-") ? nil : m.value), "\(name)")
                case "agent", "http_user_agent":
                    #expect(AccessLogTestSupport.json(event, "user_agent.original") == m.value, "\(name)")
                default:
                    Issue.record("\(name): unmapped VRL field \(m.key)")
                }
            }
        }
        #expect(valid == 6)
        #expect(invalid == 1)
    }

    // MARK: Done-when 4: case table

    static let cases: [AccessCase] = [
        AccessCase(
            name: "combined, full field set",
            format: "combined",
            line: #"203.0.113.7 - alice [10/Oct/2000:13:55:36 -0700] "GET /search?q=a&b=c HTTP/1.1" 200 2326 "http://example.com/start" "curl/8.0""#,
            want: [
                "source.address": .s("203.0.113.7"), "source.ip": .s("203.0.113.7"),
                "nginx.access.remote_ip_list": .list("203.0.113.7"), "user.name": .s("alice"),
                "@timestamp": .s("2000-10-10T20:55:36.000Z"), "http.request.method": .s("GET"),
                "url.original": .s("/search?q=a&b=c"), "url.path": .s("/search"), "url.query": .s("q=a&b=c"),
                "http.version": .s("1.1"), "http.response.status_code": .i(200),
                "http.response.body.bytes": .i(2326), "http.request.referrer": .s("http://example.com/start"),
                "user_agent.original": .s("curl/8.0"),
            ],
            only: true),
        AccessCase(
            name: "combined accepts a trailing forwarded-for field (Filebeat test.log line 2)",
            format: "combined",
            line: #"172.17.0.1 - - [29/May/2017:19:02:48 +0000] "GET /stringpatch HTTP/1.1" 404 612 "-" "Mozilla/5.0 (Windows NT 6.1; rv:15.0) Gecko/20120716 Firefox/15.0a2" "-""#,
            want: [
                "source.ip": .s("172.17.0.1"), "http.response.status_code": .i(404),
                "user_agent.original": .s("Mozilla/5.0 (Windows NT 6.1; rv:15.0) Gecko/20120716 Firefox/15.0a2"),
                "http.request.referrer": .absent, "user.name": .absent,
            ]),
        AccessCase(
            name: "address list in remote_addr, all private: first entry (Filebeat test.log line 1)",
            format: "combined",
            line: #"10.0.0.2, 10.0.0.1, 127.0.0.1 - - [07/Dec/2016:11:05:07 +0100] "GET /ocelot HTTP/1.1" 200 571 "-" "Mozilla/5.0""#,
            want: [
                "source.address": .s("10.0.0.2"), "source.ip": .s("10.0.0.2"),
                "nginx.access.remote_ip_list": .list("10.0.0.2", "10.0.0.1", "127.0.0.1"),
                "@timestamp": .s("2016-12-07T10:05:07.000Z"),
            ]),
        AccessCase(
            name: "address list in remote_addr with a public entry (Filebeat test.log line 3)",
            format: "combined",
            line: #"10.0.0.2, 10.0.0.1, 85.181.35.98 - - [07/Dec/2016:11:05:07 +0100] "GET /ocelot HTTP/1.1" 200 571 "-" "Mozilla/5.0""#,
            want: [
                "source.address": .s("85.181.35.98"), "source.ip": .s("85.181.35.98"),
                "nginx.access.remote_ip_list": .list("10.0.0.2", "10.0.0.1", "85.181.35.98"),
            ]),
        AccessCase(
            name: "main: forwarded-for with private and public entries",
            format: "main",
            line: #"172.24.0.3 - - [31/Dec/2024:17:32:06 +0000] "GET / HTTP/1.1" 200 615 "-" "curl/8.11.1" "10.1.2.3, 192.168.0.9, 198.51.100.23, 10.10.1.1""#,
            want: [
                "source.address": .s("198.51.100.23"), "source.ip": .s("198.51.100.23"),
                "nginx.access.remote_ip_list": .list("10.1.2.3", "192.168.0.9", "198.51.100.23", "10.10.1.1", "172.24.0.3"),
            ]),
        AccessCase(
            name: "main: forwarded-for all private, CGNAT and link-local count as private",
            format: "main",
            line: #"172.24.0.3 - - [31/Dec/2024:17:32:06 +0000] "GET / HTTP/1.1" 200 615 "-" "curl/8.11.1" "100.64.1.1, 169.254.3.4""#,
            want: [
                "source.address": .s("100.64.1.1"), "source.ip": .s("100.64.1.1"),
                "nginx.access.remote_ip_list": .list("100.64.1.1", "169.254.3.4", "172.24.0.3"),
            ]),
        AccessCase(
            name: "main: forwarded-for with unknown and IPv6 entries",
            format: "main",
            line: #"10.0.0.9 - - [31/Dec/2024:17:32:06 +0000] "GET / HTTP/1.1" 200 615 "-" "curl/8.11.1" "unknown, fd00::1, 2a03:2880:f12f:83:face:b00c:0:25de""#,
            want: [
                "source.address": .s("2a03:2880:f12f:83:face:b00c:0:25de"),
                "source.ip": .s("2a03:2880:f12f:83:face:b00c:0:25de"),
                "nginx.access.remote_ip_list": .list("unknown", "fd00::1", "2a03:2880:f12f:83:face:b00c:0:25de", "10.0.0.9"),
            ]),
        AccessCase(
            name: "main requires the forwarded-for field",
            format: "main",
            line: #"172.24.0.3 - - [31/Dec/2024:17:32:06 +0000] "GET / HTTP/1.1" 200 615 "-" "curl/8.11.1""#,
            want: nil),
        AccessCase(
            name: "IPv6 client",
            format: "combined",
            line: #"2001:db8::8a2e:370:7334 - - [26/Aug/2021:16:49:43 +0000] "GET / HTTP/2.0" 200 10 "-" "curl""#,
            want: [
                "source.address": .s("2001:db8::8a2e:370:7334"), "source.ip": .s("2001:db8::8a2e:370:7334"),
                "http.version": .s("2.0"),
            ]),
        AccessCase(
            name: "IPv4-mapped IPv6 loopback client",
            format: "combined",
            line: #"::ffff:127.0.0.1 - - [26/Aug/2021:16:49:43 +0000] "GET / HTTP/1.1" 200 10 "-" "curl""#,
            want: ["source.ip": .s("::ffff:127.0.0.1")]),
        AccessCase(
            name: "unix socket client is an address but not an IP",
            format: "combined",
            line: #"unix: - - [26/Aug/2021:16:49:43 +0000] "GET / HTTP/1.1" 200 10 "-" "curl""#,
            want: ["source.address": .s("unix:"), "source.ip": .absent, "nginx.access.remote_ip_list": .list("unix:")]),
        AccessCase(
            name: "hostname client goes to source.address only",
            format: "combined",
            line: #"proxy.example.com - - [26/Aug/2021:16:49:43 +0000] "GET / HTTP/1.1" 200 10 "-" "curl""#,
            want: ["source.address": .s("proxy.example.com"), "source.ip": .absent]),
        AccessCase(
            name: "nginx-escaped quotes stay as written",
            format: "combined",
            line: #"1.2.3.4 - - [26/Aug/2021:16:49:43 +0000] "GET /a\x22b HTTP/1.1" 200 10 "-" "Mozilla \x22quoted\x22""#,
            want: ["url.original": .s(#"/a\x22b"#), "user_agent.original": .s(#"Mozilla \x22quoted\x22"#)]),
        AccessCase(
            name: "unescaped quotes inside the user agent (escape=none)",
            format: "combined",
            line: #"1.2.3.4 - - [26/Aug/2021:16:49:43 +0000] "GET / HTTP/1.1" 200 10 "-" "Mozilla "quoted" (x)""#,
            want: ["user_agent.original": .s(#"Mozilla "quoted" (x)"#), "http.request.referrer": .absent]),
        AccessCase(
            name: "backslash-escaped quotes inside the referrer",
            format: "combined",
            line: #"1.2.3.4 - - [26/Aug/2021:16:49:43 +0000] "GET / HTTP/1.1" 200 10 "http://a/\" "x" "ua""#,
            want: ["http.request.referrer": .s(#"http://a/\" "x"#), "user_agent.original": .s("ua")]),
        AccessCase(
            name: "garbage request line is kept raw",
            format: "combined",
            line: #"1.2.3.4 - - [26/Aug/2021:16:49:43 +0000] "\x16\x03\x01\x00\xA5\x01\x00\x00\xA1\x03\x03" 400 157 "-" "-""#,
            want: [
                "nginx.access.request": .s(#"\x16\x03\x01\x00\xA5\x01\x00\x00\xA1\x03\x03"#),
                "http.request.method": .absent, "url.original": .absent, "http.version": .absent,
                "http.response.status_code": .i(400), "user_agent.original": .absent,
            ]),
        AccessCase(
            name: "request '-' gives no request fields",
            format: "combined",
            line: #"1.2.3.4 - - [26/Aug/2021:16:49:43 +0000] "-" 400 0 "-" "-""#,
            want: [
                "nginx.access.request": .absent, "http.request.method": .absent, "url.original": .absent,
                "http.response.body.bytes": .i(0),
            ]),
        AccessCase(
            name: "empty request (Filebeat test.log line 7)",
            format: "combined",
            line: #"127.0.0.1 - - [12/Apr/2018:09:48:40 +0200] "" 400 0 "-" "-""#,
            want: [
                "http.request.method": .absent, "nginx.access.request": .absent, "http.response.status_code": .i(400),
                "@timestamp": .s("2018-04-12T07:48:40.000Z"),
            ]),
        AccessCase(
            name: "HTTP/0.9 request without protocol",
            format: "combined",
            line: #"1.2.3.4 - - [26/Aug/2021:16:49:43 +0000] "GET /old" 200 10 "-" "-""#,
            want: ["http.request.method": .s("GET"), "url.original": .s("/old"), "http.version": .absent]),
        AccessCase(
            name: "request with text that is not a protocol",
            format: "combined",
            line: #"1.2.3.4 - - [26/Aug/2021:16:49:43 +0000] "GET /a b c" 400 10 "-" "-""#,
            want: ["nginx.access.request": .s("GET /a b c"), "http.request.method": .absent]),
        AccessCase(
            name: "absolute-form request target",
            format: "combined",
            line: #"1.2.3.4 - - [26/Aug/2021:16:49:43 +0000] "GET http://example.com/a/b?x=1 HTTP/1.1" 200 10 "-" "-""#,
            want: [
                "url.original": .s("http://example.com/a/b?x=1"), "url.path": .s("/a/b"), "url.query": .s("x=1"),
            ]),
        AccessCase(
            name: "CONNECT authority-form has no path",
            format: "combined",
            line: #"1.2.3.4 - - [26/Aug/2021:16:49:43 +0000] "CONNECT example.com:443 HTTP/1.1" 200 10 "-" "-""#,
            want: [
                "http.request.method": .s("CONNECT"), "url.original": .s("example.com:443"), "url.path": .absent,
                "url.query": .absent,
            ]),
        AccessCase(
            name: "custom log_format with timings, upstream and host",
            format: #"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" rt=$request_time uct="$upstream_connect_time" urt="$upstream_response_time" host=$host"#,
            line: #"198.51.100.1 - - [01/Mar/2024:12:00:00 +0100] "POST /api HTTP/1.1" 201 17 "-" "app/1.0" rt=0.123 uct="0.001" urt="0.100, 0.020" host=example.org"#,
            want: [
                "event.duration": .i(123_000_000), "nginx.access.upstream_connect_time": .s("0.001"),
                "nginx.access.upstream_response_time": .s("0.100, 0.020"), "url.domain": .s("example.org"),
                "@timestamp": .s("2024-03-01T11:00:00.000Z"), "http.response.status_code": .i(201),
            ]),
        AccessCase(
            name: "time_iso8601 and request parts as separate variables",
            format: #"$time_iso8601 $remote_addr:$remote_port $request_method $scheme://$host $request_uri $server_protocol $status $bytes_sent $request_length"#,
            line: #"2024-03-01T12:00:00+01:00 192.0.2.1:51234 PUT https://example.org /x?y=1 HTTP/1.1 204 310 1200"#,
            want: [
                "@timestamp": .s("2024-03-01T11:00:00.000Z"), "source.ip": .s("192.0.2.1"), "source.address": .s("192.0.2.1"), "source.port": .i(51234),
                "http.request.method": .s("PUT"), "url.scheme": .s("https"), "url.domain": .s("example.org"),
                "url.original": .s("/x?y=1"), "url.path": .s("/x"), "url.query": .s("y=1"), "http.version": .s("1.1"),
                "http.response.status_code": .i(204), "http.response.bytes": .i(310), "http.request.bytes": .i(1200),
                "nginx.access.remote_ip_list": .list("192.0.2.1"),
            ],
            only: true),
        AccessCase(
            name: "msec timestamp and braces syntax",
            format: #"${msec}|${status}|${uri}?${args}|${upstream_addr}"#,
            line: #"1457357111.123|200|/index.html?a=1|10.0.0.5:8080"#,
            want: [
                "@timestamp": .s("2016-03-07T13:25:11.123Z"), "http.response.status_code": .i(200),
                "url.path": .s("/index.html"), "url.query": .s("a=1"), "nginx.access.upstream_addr": .s("10.0.0.5:8080"),
            ]),
        AccessCase(
            name: "iso8601 without offset uses the configured timezone",
            format: #"$time_iso8601 $status"#,
            timezone: "Europe/Berlin",
            line: "2024-07-01T12:00:00 200",
            want: ["@timestamp": .s("2024-07-01T10:00:00.000Z")]),
        AccessCase(
            name: "a second variable for the same field is kept under nginx.access",
            format: #""$request" $request_uri $status"#,
            line: #""GET /a?b HTTP/1.1" /a?b 200"#,
            want: ["url.original": .s("/a?b"), "nginx.access.request_uri": .s("/a?b")]),
        AccessCase(
            name: "format with trailing space and line with trailing CR",
            format: #"$remote_addr [$time_local] $status "#,
            line: "1.2.3.4 [10/Oct/2000:13:55:36 -0700] 200\r",
            want: ["http.response.status_code": .i(200)]),
        AccessCase(
            name: "NUL bytes inside a quoted field",
            format: "combined",
            line: "1.2.3.4 - - [26/Aug/2021:16:49:43 +0000] \"GET / HTTP/1.1\" 200 10 \"-\" \"a\u{0}b\"",
            want: ["user_agent.original": .s("a\u{0}b")]),
        AccessCase(
            name: "request_time that is not a number",
            format: "$status $request_time",
            line: "200 fast",
            want: nil),
        AccessCase(
            name: "literal text missing",
            format: "combined",
            line: #"1.2.3.4 [26/Aug/2021:16:49:43 +0000] "GET / HTTP/1.1" 200 10 "-" "-""#,
            want: nil),
    ]

    @Test(arguments: cases)
    func caseTable(_ c: AccessCase) throws {
        c.check(try NginxAccessParser(config: NginxAccessConfig(format: c.format, timezone: c.timezone)))
    }

    @Test func invalidUTF8InsideAFieldIsKeptAsBytes() {
        var line = Array(#"1.2.3.4 - - [26/Aug/2021:16:49:43 +0000] "GET / HTTP/1.1" 200 10 "-" ""#.utf8)
        line += [0xFF, 0xC3, 0x28, UInt8(ascii: "\"")]
        let (result, event) = AccessLogTestSupport.parse(Self.combinedParser, line)
        #expect(result == .consumed)
        #expect(event.bytes(FieldPath.intern("user_agent.original")).map(Array.init) == [0xFF, 0xC3, 0x28])
    }

    /// The address chain keeps every entry in order, however long it is (the parser keeps the
    /// first 16 entries while choosing source.address and walks longer chains twice).
    @Test(arguments: [1, 2, 15, 16, 17, 40])
    func addressChainsOfAnyLengthAreKeptWhole(entries: Int) throws {
        let parser = try NginxAccessParser(config: NginxAccessConfig(format: "main"))
        let chain = (0..<entries).map { $0 == entries - 1 ? "203.0.113.\($0)" : "10.0.\($0 / 250).\($0 % 250 + 1)" }
        let line = #"192.168.7.7 - - [26/Aug/2021:16:49:43 +0000] "GET / HTTP/1.1" 200 10 "-" "curl/8" ""#
            + chain.joined(separator: ", ") + "\""
        let (result, event) = AccessLogTestSupport.parse(parser, line)
        #expect(result == .consumed)
        let want = (chain + ["192.168.7.7"]).map { JSONValue.string($0) }
        #expect(AccessLogTestSupport.json(event, "nginx.access.remote_ip_list") == .array(want))
        // The first public address of the chain: the last forwarded entry.
        #expect(AccessLogTestSupport.json(event, "source.address") == .string(chain[entries - 1]))
        #expect(AccessLogTestSupport.json(event, "source.ip") == .string(chain[entries - 1]))
    }

    @Test func megabyteUserAgentParses() {
        let ua = String(repeating: "x", count: 1 << 20)
        let line = #"1.2.3.4 - - [26/Aug/2021:16:49:43 +0000] "GET / HTTP/1.1" 200 10 "-" ""# + ua + "\""
        let (result, event) = AccessLogTestSupport.parse(Self.combinedParser, line)
        #expect(result == .consumed)
        #expect(event.bytes(FieldPath.intern("user_agent.original"))?.count == 1 << 20)
    }

    @Test(arguments: AccessLogTestSupport.malformedInputs.map(\.0))
    func malformedInputDoesNotMatch(_ name: String) throws {
        let bytes = AccessLogTestSupport.malformedInputs.first { $0.0 == name }!.1
        for format in ["combined", "main", #"$remote_addr $status "$http_user_agent""#] {
            let parser = try NginxAccessParser(config: NginxAccessConfig(format: format))
            let (result, _) = AccessLogTestSupport.parse(parser, bytes)
            #expect(result == .noMatch, "\(name) with \(format)")
        }
    }

    // MARK: The event around the parsed fields

    @Test func replacesTheDecoderTimestampInPlaceAndKeepsOtherFields() {
        let line = #"1.2.3.4 - - [26/Aug/2021:16:49:43 +0000] "GET / HTTP/1.1" 200 10 "-" "-""#
        let (result, event) = AccessLogTestSupport.parse(Self.combinedParser, line)
        #expect(result == .consumed)
        let paths = event.fields.map(\.path.dotted)
        #expect(paths.prefix(3) == ["log.file.path", "@timestamp", "message"])
        #expect(paths.filter { $0 == "@timestamp" }.count == 1)
        #expect(AccessLogTestSupport.json(event, "@timestamp") == .string("2021-08-26T16:49:43.000Z"))
        #expect(event.string(FieldPaths.message) == line)
    }

    @Test func removesConflictingEarlierFields() {
        var event = LogEvent(message: Array(#"1.2.3.4 - - [26/Aug/2021:16:49:43 +0000] "GET /p HTTP/1.1" 200 10 "-" "-""#.utf8))
        event.set(FieldPath.intern("url"), string: "scalar url")
        event.set(FieldPath.intern("source.ip.extra"), .int(1))
        guard case .string(let slice)? = event[FieldPaths.message] else { return }
        #expect(Self.combinedParser.parse(slice, into: &event) == .consumed)
        #expect(event[FieldPath.intern("url")] == nil)
        #expect(event[FieldPath.intern("source.ip.extra")] == nil)
        #expect(event.string(FieldPath.intern("url.original")) == "/p")
        #expect(event.string(FieldPath.intern("source.ip")) == "1.2.3.4")
        #expect(JSONWriter.string(event).contains(#""url":{"original":"/p","path":"/p"}"#))
    }

    @Test func sliceOutsideTheArenaDoesNotMatch() {
        var event = LogEvent(message: Array("1.2.3.4".utf8))
        let before = event.fields
        #expect(Self.combinedParser.parse(ArenaSlice(start: 2, count: 1000), into: &event) == .noMatch)
        #expect(Self.combinedParser.parse(ArenaSlice(start: -5, count: 3), into: &event) == .noMatch)
        #expect(event.fields == before)
    }

    // MARK: Done-when 5: configuration

    static let badFormats: [(String, String)] = [
        ("", "empty"),
        ("   ", "empty"),
        ("$remote_addr$remote_user [$time_local]", "position 1"),
        ("$remote_addr - $remote_user$status", "position 16"),
        ("$remote_addr - $ [x]", "position 16"),
        ("$remote_addr - ${remote_user", "position 16"),
        ("${} $status", "position 1"),
        ("no variables here", "no variables"),
        ("$status $status $status", "only once"),
    ]

    @Test(arguments: badFormats.map(\.0))
    func badFormatIsAConfigError(_ format: String) {
        let fragment = Self.badFormats.first { $0.0 == format }!.1
        do {
            _ = try NginxAccessParser(config: NginxAccessConfig(format: format))
            Issue.record("format '\(format)' was accepted")
        } catch let error as ConfigValueError {
            #expect(error.message.contains(fragment), "\(error.message)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func unknownVariablesAreAllowed() throws {
        let parser = try NginxAccessParser(config: NginxAccessConfig(format: "$foo_bar $ssl_protocol"))
        let (result, event) = AccessLogTestSupport.parse(parser, "x TLSv1.3")
        #expect(result == .consumed)
        #expect(event.string(FieldPath.intern("nginx.access.foo_bar")) == "x")
        #expect(event.string(FieldPath.intern("nginx.access.ssl_protocol")) == "TLSv1.3")
    }

    @Test func decodingValidatesFormatAndTimezone() throws {
        let ok = try JSONDecoder().decode(NginxAccessConfig.self, from: Data(#"{"format":"main"}"#.utf8))
        #expect(ok.format == "main")
        #expect(ok.timezone == "UTC")
        let defaults = try JSONDecoder().decode(NginxAccessConfig.self, from: Data("{}".utf8))
        #expect(defaults.format == "combined")
        #expect(throws: ConfigValueError.self) {
            _ = try JSONDecoder().decode(NginxAccessConfig.self, from: Data(#"{"format":"$a$b"}"#.utf8))
        }
        #expect(throws: ConfigValueError.self) {
            _ = try JSONDecoder().decode(NginxAccessConfig.self, from: Data(#"{"timezone":"Mars/Olympus"}"#.utf8))
        }
    }
}
