import Foundation
import ShipperCore
import StageParsers
import Testing

private let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("../shared/samples")

/// Parses `line` (as the event's `message`) and returns the result and the event.
private func parseNginxError(_ line: [UInt8], timezone: String = "UTC") throws -> (ParseResult, LogEvent) {
    let parser = try NginxErrorParser(config: NginxErrorConfig(timezone: timezone))
    var event = LogEvent(message: line)
    guard case .string(let text)? = event[FieldPaths.message] else { return (.noMatch, event) }
    let result = parser.parse(text, into: &event)
    return (result, event)
}

private func parseNginxError(_ line: String, timezone: String = "UTC") throws -> (ParseResult, LogEvent) {
    try parseNginxError(Array(line.utf8), timezone: timezone)
}

/// Instant of an RFC 3339 string with any offset, in ms since the epoch.
private func epochMillis(_ rfc3339: String) -> Int64? {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    if let d = f.date(from: rfc3339) { return Int64((d.timeIntervalSince1970 * 1000).rounded()) }
    f.formatOptions = [.withInternetDateTime]
    if let d = f.date(from: rfc3339) { return Int64((d.timeIntervalSince1970 * 1000).rounded()) }
    return nil
}

private func timestampMillis(_ event: LogEvent) -> Int64? {
    guard case .timestamp(let t)? = event[FieldPaths.timestamp] else { return nil }
    return t.nanoseconds / 1_000_000
}

/// The nginx error lines a multiline `start: timestamp` stage makes of a file: a line starting with
/// a digit starts an entry, other lines continue it (the `MultilineTests` check that the stage groups
/// beats-error.log exactly like this).
private func nginxEntries(_ text: String) -> [(offset: Int, text: String)] {
    var entries: [(Int, String)] = []
    var offset = 0
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        defer { offset += line.utf8.count + 1 }
        if line.isEmpty && offset + line.utf8.count >= text.utf8.count { break }
        if let f = line.first, f.isNumber || entries.isEmpty {
            entries.append((offset, String(line)))
        } else {
            entries[entries.count - 1].1 += "\n" + line
        }
    }
    return entries
}

@Suite struct NginxErrorParserTests {
    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var line: String
        var expected: [(String, JSONValue)]
        var absent: [String] = []
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "beats line with referrer",
            line: #"2016/10/25 14:49:34 [error] 54053#0: *1 open() "/usr/local/Cellar/nginx/1.10.2_1/html/favicon.ico" failed (2: No such file or directory), client: 127.0.0.1, server: localhost, request: "GET /favicon.ico HTTP/1.1", host: "localhost:8080", referrer: "http://localhost:8080/""#,
            expected: [
                ("@timestamp", .string("2016-10-25T14:49:34.000Z")), ("log.level", .string("error")),
                ("process.pid", .int(54053)), ("process.thread.id", .int(0)), ("nginx.error.connection_id", .int(1)),
                ("message", .string(#"open() "/usr/local/Cellar/nginx/1.10.2_1/html/favicon.ico" failed (2: No such file or directory)"#)),
                ("source.address", .string("127.0.0.1")), ("source.ip", .string("127.0.0.1")),
                ("nginx.error.server", .string("localhost")), ("http.request.method", .string("GET")),
                ("url.original", .string("/favicon.ico")), ("http.version", .string("1.1")),
                ("url.domain", .string("localhost")), ("url.port", .int(8080)),
                ("http.request.referrer", .string("http://localhost:8080/")),
            ],
            absent: ["nginx.error.request", "nginx.error.upstream"]),
        Case(
            name: "no connection id, no context",
            line: "2021/06/17 19:25:59 [notice] 133309#133309: signal process started",
            expected: [
                ("log.level", .string("notice")), ("process.pid", .int(133309)), ("process.thread.id", .int(133309)),
                ("message", .string("signal process started")),
            ],
            absent: ["nginx.error.connection_id", "source.address"]),
        Case(
            name: "upstream and HTTP/2.0",
            line: #"2022/04/15 08:16:13 [error] 7164#7164: *20 connect() failed (113: No route to host) while connecting to upstream, client: 10.244.0.0, server: test.local, request: "GET / HTTP/2.0", upstream: "http://127.0.0.1:80/""#,
            expected: [
                ("message", .string("connect() failed (113: No route to host) while connecting to upstream")),
                ("nginx.error.upstream", .string("http://127.0.0.1:80/")), ("http.version", .string("2.0")),
                ("url.original", .string("/")), ("nginx.error.server", .string("test.local")),
            ]),
        Case(
            name: "empty server name, host without port",
            line: #"2021/01/02 03:04:05 [warn] 1#2: *3 a client request body is buffered to a temporary file /var/cache/nginx/client_temp/0000000001, client: 1.2.3.4, server: , request: "POST /upload HTTP/1.1", host: "example.com""#,
            expected: [
                ("message", .string("a client request body is buffered to a temporary file /var/cache/nginx/client_temp/0000000001")),
                ("http.request.method", .string("POST")), ("url.domain", .string("example.com")),
            ],
            absent: ["nginx.error.server", "url.port"]),
        Case(
            name: "IPv6 client and bracketed host",
            line: #"2021/01/02 03:04:05 [error] 1#1: *9 open() "/x" failed (2: No such file or directory), client: 2001:db8::1, server: _, request: "GET /x HTTP/1.1", host: "[::1]:8443""#,
            expected: [
                ("source.address", .string("2001:db8::1")), ("source.ip", .string("2001:db8::1")),
                ("nginx.error.server", .string("_")), ("url.domain", .string("[::1]")), ("url.port", .int(8443)),
            ]),
        Case(
            name: "unix socket client is not an IP",
            line: #"2021/01/02 03:04:05 [error] 1#1: *9 recv() failed (104: Connection reset by peer), client: unix:, server: local"#,
            expected: [("source.address", .string("unix:")), ("nginx.error.server", .string("local"))],
            absent: ["source.ip"]),
        Case(
            name: "request that is not a request line",
            line: #"2021/01/02 03:04:05 [info] 1#1: *9 client sent invalid method while reading client request line, client: 10.1.2.3, server: a, request: "\x16\x03\x01 garbage here""#,
            expected: [("nginx.error.request", .string(#"\x16\x03\x01 garbage here"#))],
            absent: ["http.request.method", "url.original"]),
        Case(
            name: "stream module context stays in message",
            line: #"2021/01/02 03:04:05 [error] 1#1: *9 connect() failed (111: Connection refused) while connecting to upstream, client: 1.2.3.4, server: 0.0.0.0:5432, upstream: "10.0.0.2:5432", bytes from/to client:0/0, bytes from/to upstream:0/0"#,
            expected: [
                ("message", .string(#"connect() failed (111: Connection refused) while connecting to upstream, client: 1.2.3.4, server: 0.0.0.0:5432, upstream: "10.0.0.2:5432", bytes from/to client:0/0, bytes from/to upstream:0/0"#))
            ],
            absent: ["source.address", "nginx.error.upstream"]),
        Case(
            name: "', client: ' inside the message",
            line: #"2021/01/02 03:04:05 [error] 1#1: *5 upstream sent "x, client: y" while reading response header from upstream, client: 10.0.0.1, server: s, request: "GET /a HTTP/1.1", upstream: "http://10.0.0.2:8080/a", host: "h""#,
            expected: [
                ("message", .string(#"upstream sent "x, client: y" while reading response header from upstream"#)),
                ("source.address", .string("10.0.0.1")), ("nginx.error.upstream", .string("http://10.0.0.2:8080/a")),
                ("url.domain", .string("h")),
            ]),
        Case(
            name: "quote inside the request line",
            line: #"2021/01/02 03:04:05 [error] 1#1: *5 open() "/a"b" failed (2: No such file or directory), client: 10.0.0.1, server: s, request: "GET /a"b HTTP/1.1", host: "h:80""#,
            expected: [("url.original", .string(#"/a"b"#)), ("url.domain", .string("h")), ("url.port", .int(80))]),
        Case(
            name: "multi-line FastCGI message with context at the end",
            line: "2019/10/30 23:26:34 [error] 205860#205860: *180289 FastCGI sent in stderr: \"PHP message: one\nPHP message: two\" while reading response header from upstream, client: 192.0.2.7, server: example.org, request: \"GET /index.php HTTP/1.1\", upstream: \"fastcgi://unix:/run/php/php7.3-fpm.sock:\", host: \"example.org\"",
            expected: [
                ("message", .string("FastCGI sent in stderr: \"PHP message: one\nPHP message: two\" while reading response header from upstream")),
                ("nginx.error.upstream", .string("fastcgi://unix:/run/php/php7.3-fpm.sock:")),
                ("nginx.error.connection_id", .int(180289)),
            ]),
        Case(
            name: "empty message",
            line: "2021/06/17 19:25:59 [notice] 1#1: ",
            expected: [("message", .string("")), ("process.pid", .int(1))]),
        Case(
            name: "mail proxy login",
            line: #"2021/01/02 03:04:05 [info] 1#1: *7 client login failed: "Authentication failed" while in http auth state, client: 192.0.2.1, server: 0.0.0.0:143, login: "bob""#,
            expected: [
                ("user.name", .string("bob")), ("nginx.error.server", .string("0.0.0.0:143")),
                ("message", .string(#"client login failed: "Authentication failed" while in http auth state"#)),
            ]),
        Case(
            name: "subrequest",
            line: #"2021/01/02 03:04:05 [error] 1#1: *7 x, client: 192.0.2.1, server: s, request: "GET / HTTP/1.1", subrequest: "/auth", host: "h""#,
            expected: [("nginx.error.subrequest", .string("/auth")), ("message", .string("x"))]),
        Case(
            name: "'-' values are omitted",
            line: #"2021/01/02 03:04:05 [error] 1#1: *7 x, client: 192.0.2.1, server: s, request: "GET / HTTP/1.1", host: "h", referrer: "-""#,
            expected: [("url.domain", .string("h"))],
            absent: ["http.request.referrer"]),
        Case(
            name: "crit with star not a connection id",
            line: "2021/01/02 03:04:05 [crit] 10#10: *abc is not a number",
            expected: [("message", .string("*abc is not a number")), ("log.level", .string("crit"))],
            absent: ["nginx.error.connection_id"]),
    ]

    @Test(arguments: cases)
    func parsesCase(_ c: Case) throws {
        let (result, event) = try parseNginxError(c.line)
        #expect(result == .keptMessage)
        let json = event.jsonValue()
        for (path, value) in c.expected {
            #expect(json.value(atPath: path) == value, "\(path)")
        }
        for path in c.absent {
            #expect(json.value(atPath: path) == nil, "\(path) should be absent")
        }
    }

    @Test func timezoneOptions() throws {
        let line = "2021/06/17 19:25:59 [notice] 1#1: x"
        #expect(try parseNginxError(line).1.jsonValue()["@timestamp"] == .string("2021-06-17T19:25:59.000Z"))
        #expect(
            try parseNginxError(line, timezone: "Europe/Berlin").1.jsonValue()["@timestamp"]
                == .string("2021-06-17T17:25:59.000Z"))
        #expect(
            try parseNginxError(line, timezone: "-02:00").1.jsonValue()["@timestamp"]
                == .string("2021-06-17T21:25:59.000Z"))
        #expect(throws: ConfigValueError.self) { try NginxErrorConfig(timezone: "Mars/Olympus") }
    }

    @Test func replacesExistingFieldsInPlace() throws {
        // A docker-decoded event already has @timestamp, stream and a log.offset.
        let parser = try NginxErrorParser(config: NginxErrorConfig())
        var event = LogEvent(message: Array("2021/06/17 19:25:59 [warn] 1#1: *2 hello, client: 1.2.3.4".utf8),
                             timestamp: Timestamp(seconds: 1))
        event.set(FieldPath.intern("log.offset"), .int(42))
        event.set(FieldPath.intern("log.level"), string: Array("stale".utf8))
        guard case .string(let text)? = event[FieldPaths.message] else { throw CancellationError() }
        #expect(parser.parse(text, into: &event) == .keptMessage)
        let json = event.jsonValue()
        #expect(json.value(atPath: "log.level") == .string("warn"))
        #expect(json.value(atPath: "log.offset") == .int(42))
        #expect(json["@timestamp"] == .string("2021-06-17T19:25:59.000Z"))
        #expect(event.fields.filter { $0.path == FieldPaths.logLevel }.count == 1)
    }

    /// beats-error.log, grouped into entries as the multiline stage does; Filebeat's values
    /// (made with timezone -02:00), except that we move `, client: …` out of `message`.
    @Test func beatsGoldenFile() throws {
        let log = try String(contentsOf: samples.appendingPathComponent("nginx-error/beats-error.log"), encoding: .utf8)
        let expectedText = try Data(contentsOf: samples.appendingPathComponent("nginx-error/beats-error.log-expected.json"))
        let expected = try expectedText.withUnsafeBytes { try JSONScanner.parseDocument($0) }
        guard case .array(let docs) = expected else { throw CancellationError() }
        let entries = nginxEntries(log)
        #expect(entries.count == 4)
        #expect(docs.count == entries.count)
        for (entry, doc) in zip(entries, docs) {
            let (result, event) = try parseNginxError(entry.text, timezone: "-02:00")
            #expect(result == .keptMessage)
            let json = event.jsonValue()
            #expect(doc["log.offset"] == .int(Int64(entry.offset)))
            #expect(timestampMillis(event) == epochMillis(doc["@timestamp"]?.stringValue ?? ""))
            for key in ["log.level", "process.pid", "process.thread.id", "nginx.error.connection_id"] {
                #expect(json.value(atPath: key)?.sameValue(as: doc[key] ?? .null) == true, "\(key)")
            }
            // Filebeat keeps the context in message; ours must be its message minus the context,
            // and the context must be rebuilt exactly from our fields.
            let beatsMessage = doc["message"]?.stringValue ?? ""
            let ours = json["message"]?.stringValue ?? "<none>"
            var context = ""
            if let client = json.value(atPath: "source.address")?.stringValue {
                context += ", client: \(client)"
                if let s = json.value(atPath: "nginx.error.server")?.stringValue { context += ", server: \(s)" }
                if let m = json.value(atPath: "http.request.method")?.stringValue,
                    let u = json.value(atPath: "url.original")?.stringValue,
                    let v = json.value(atPath: "http.version")?.stringValue
                {
                    context += ", request: \"\(m) \(u) HTTP/\(v)\""
                }
                if let d = json.value(atPath: "url.domain")?.stringValue {
                    context += ", host: \"\(d)"
                    if case .int(let port)? = json.value(atPath: "url.port") { context += ":\(port)" }
                    context += "\""
                }
                if let r = json.value(atPath: "http.request.referrer")?.stringValue { context += ", referrer: \"\(r)\"" }
            }
            #expect(ours + context == beatsMessage)
            #expect(!ours.contains("client:"))
        }
        // The multi-line entry keeps its newlines.
        let third = try parseNginxError(entries[2].text, timezone: "-02:00").1
        #expect((third.string(FieldPaths.message) ?? "").split(separator: "\n").count == 3)
    }

    /// Vector's VRL `parse_nginx_log(format: "error")` cases; VRL names mapped to ours.
    @Test func vrlCases() throws {
        let data = try Data(contentsOf: samples.appendingPathComponent("nginx-error/vrl-parse_nginx_log-error-cases.json"))
        let doc = try data.withUnsafeBytes { try JSONScanner.parseDocument($0) }
        guard case .array(let cases) = doc else { throw CancellationError() }
        #expect(cases.count == 4)
        for c in cases {
            let name = c["name"]?.stringValue ?? "?"
            guard let input = c["args"]?["value"]?.stringValue, case .object(let want)? = c["want"] else {
                Issue.record("malformed case \(name)")
                continue
            }
            let (result, event) = try parseNginxError(input)
            #expect(result == .keptMessage, "\(name)")
            let json = event.jsonValue()
            for m in want {
                let ours: JSONValue?
                switch m.key {
                case "timestamp":
                    let want = epochMillis(m.value["$timestamp"]?.stringValue ?? "")
                    #expect(timestampMillis(event) == want, "\(name) timestamp")
                    continue
                case "severity": ours = json.value(atPath: "log.level")
                case "pid": ours = json.value(atPath: "process.pid")
                case "tid": ours = json.value(atPath: "process.thread.id")
                case "cid": ours = json.value(atPath: "nginx.error.connection_id")
                case "message": ours = json["message"]
                case "client": ours = json.value(atPath: "source.address")
                case "server": ours = json.value(atPath: "nginx.error.server")
                case "upstream": ours = json.value(atPath: "nginx.error.upstream")
                case "referer": ours = json.value(atPath: "http.request.referrer")
                case "request":
                    let m = json.value(atPath: "http.request.method")?.stringValue ?? "?"
                    let u = json.value(atPath: "url.original")?.stringValue ?? "?"
                    let v = json.value(atPath: "http.version")?.stringValue ?? "?"
                    ours = .string("\(m) \(u) HTTP/\(v)")
                case "host":
                    var h = json.value(atPath: "url.domain")?.stringValue ?? "?"
                    if case .int(let port)? = json.value(atPath: "url.port") { h += ":\(port)" }
                    ours = .string(h)
                default:
                    Issue.record("\(name): unmapped VRL key \(m.key)")
                    continue
                }
                #expect(ours?.sameValue(as: m.value) == true, "\(name) \(m.key): \(String(describing: ours)) vs \(m.value)")
            }
        }
    }

    /// Access-log lines (the VRL `main_line_invalid` idea the other way round) are not error lines.
    @Test func accessLinesDoNotMatch() throws {
        for file in ["nginx-access/beats-access.log", "nginx-access/vrl-parse_nginx_log-access.log"] {
            let text = try String(contentsOf: samples.appendingPathComponent(file), encoding: .utf8)
            for line in text.split(separator: "\n") {
                let (result, _) = try parseNginxError(String(line))
                #expect(result == .noMatch, "\(line)")
            }
        }
    }

    // MARK: Malformed input

    static let malformed: [(String, [UInt8])] = [
        ("empty", []),
        ("date only", Array("2016/10/25 14:49:34".utf8)),
        ("no level bracket", Array("2016/10/25 14:49:34 error 1#1: x".utf8)),
        ("month 13", Array("2016/13/25 14:49:34 [error] 1#1: x".utf8)),
        ("hour 25", Array("2016/10/25 25:49:34 [error] 1#1: x".utf8)),
        ("pid overflow", Array("2016/10/25 14:49:34 [error] 99999999999999999999999#1: x".utf8)),
        ("no tid", Array("2016/10/25 14:49:34 [error] 1: x".utf8)),
        ("no colon", Array("2016/10/25 14:49:34 [error] 1#1 x".utf8)),
        ("dash date", Array("2016-10-25 14:49:34 [error] 1#1: x".utf8)),
        ("NUL in date", [0x32, 0x30, 0x31, 0x36, 0x2F, 0x00] + Array("10/25 14:49:34 [error] 1#1: x".utf8)),
        ("invalid UTF-8 level", Array("2016/10/25 14:49:34 [".utf8) + [0xFF, 0xFE] + Array("] 1#1: x".utf8)),
        ("bare stack frame", Array("\tat com.x.Y(Y.java:10)".utf8)),
    ]

    @Test(arguments: malformed)
    func malformedInputIsNoMatchAndUntouched(_ name: String, _ bytes: [UInt8]) throws {
        let parser = try NginxErrorParser(config: NginxErrorConfig())
        var event = LogEvent(message: bytes)
        let before = event
        guard case .string(let text)? = event[FieldPaths.message] else { throw CancellationError() }
        #expect(parser.parse(text, into: &event) == .noMatch)
        #expect(event.fields == before.fields)
        #expect(event.arena == before.arena)
    }

    @Test func everyPrefixOfAValidLineIsSafe() throws {
        let parser = try NginxErrorParser(config: NginxErrorConfig())
        let line = Array(Self.cases[0].line.utf8)
        for length in 0...line.count {
            var event = LogEvent(message: line[0..<length])
            let before = event
            guard case .string(let text)? = event[FieldPaths.message] else { throw CancellationError() }
            let result = parser.parse(text, into: &event)
            if length < 36 {  // up to "54053#0:" nothing can match
                #expect(result == .noMatch, "prefix \(length)")
            }
            if result == .noMatch {
                #expect(event.fields == before.fields && event.arena == before.arena)
            } else {
                #expect(event.string(FieldPaths.message) != nil)
            }
        }
    }

    @Test func oddBytesInTheMessageAreKept() throws {
        // NUL and invalid UTF-8 after a valid prefix: matched, bytes kept as they are.
        let line = Array("2016/10/25 14:49:34 [error] 1#1: *2 a".utf8) + [0x00, 0xFF, 0xC3] + Array(", client: 1.2.3.4".utf8)
        let (result, event) = try parseNginxError(line)
        #expect(result == .keptMessage)
        #expect(event.bytes(FieldPaths.message).map(Array.init) == [0x61, 0x00, 0xFF, 0xC3])
        #expect(event.string(FieldPath.intern("source.address")) == "1.2.3.4")
    }

    @Test func randomBytesNeverCrash() throws {
        let parser = try NginxErrorParser(config: NginxErrorConfig())
        var rng = SplitMix64(seed: 0x5EED)
        let prefix = Array("2016/10/25 14:49:34 [error] 1#1: *2 ".utf8)
        var matched = 0
        for round in 0..<3000 {
            let length = Int(rng.next() % 200)
            var bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if round % 2 == 0 {
                // Keep a valid header half of the time, and sprinkle context keys.
                bytes = prefix + bytes
                if round % 4 == 0 { bytes += Array(", client: 1.2.3.4, request: \"GET".utf8) + bytes.prefix(10) }
            }
            var event = LogEvent(message: bytes)
            let before = event
            guard case .string(let text)? = event[FieldPaths.message] else { throw CancellationError() }
            let result = parser.parse(text, into: &event)
            if result == .noMatch {
                #expect(event.fields == before.fields && event.arena == before.arena)
            } else {
                matched += 1
                _ = JSONWriter.string(event)
            }
        }
        #expect(matched >= 1500)
    }

    @Test func oneMebibyteLine() throws {
        let body = [UInt8](repeating: UInt8(ascii: "x"), count: 1 << 20)
        let line = Array("2016/10/25 14:49:34 [error] 1#1: *2 ".utf8) + body + Array(", client: 1.2.3.4".utf8)
        let (result, event) = try parseNginxError(line)
        #expect(result == .keptMessage)
        #expect(event.bytes(FieldPaths.message)?.count == 1 << 20)

        // Hostile: many ", client: " occurrences that never form a valid context; must finish quickly.
        var hostile = Array("2016/10/25 14:49:34 [error] 1#1: ".utf8)
        let unit = Array(", client: a, request: \"x".utf8)
        while hostile.count < 1 << 20 { hostile += unit }
        let (r2, e2) = try parseNginxError(hostile)
        #expect(r2 == .keptMessage)
        #expect(e2.bytes(FieldPaths.message)?.count == hostile.count - 33)
    }

    @Test func configDecoding() throws {
        let c = try JSONDecoder().decode(NginxErrorConfig.self, from: Data(#"{"timezone":"Europe/Berlin"}"#.utf8))
        #expect(c.timezone == "Europe/Berlin")
        #expect(try JSONDecoder().decode(NginxErrorConfig.self, from: Data("{}".utf8)).zone == .utc)
        #expect(throws: ConfigValueError.self) {
            try JSONDecoder().decode(NginxErrorConfig.self, from: Data(#"{"timezone":"nowhere"}"#.utf8))
        }
    }
}

