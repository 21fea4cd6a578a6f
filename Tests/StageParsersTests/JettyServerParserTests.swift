import Foundation
import ShipperCore
import StageParsers
import Testing

private let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("../shared/samples")

private func parseJetty(_ line: [UInt8], timezone: String = "UTC") throws -> (ParseResult, LogEvent) {
    let parser = try JettyServerParser(config: JettyServerConfig(timezone: timezone))
    var event = LogEvent(message: line)
    guard case .string(let text)? = event[FieldPaths.message] else { return (.noMatch, event) }
    let result = parser.parse(text, into: &event)
    return (result, event)
}

private func parseJetty(_ line: String, timezone: String = "UTC") throws -> (ParseResult, LogEvent) {
    try parseJetty(Array(line.utf8), timezone: timezone)
}

/// A Jetty 9 warning with a Java stack trace, as the `multiline` stage (mode `java`) joins it
/// (`MultilineTests` feeds the same physical lines through the stage and checks it yields this text).
let jetty9StackTraceEvent = """
    2018-06-01 12:00:00.000:WARN:oejs.HttpChannel:qtp1381713434-17: /api/orders/17
    java.lang.IllegalStateException: boom
    \tat com.example.orders.OrderServlet.doGet(OrderServlet.java:42)
    \tat javax.servlet.http.HttpServlet.service(HttpServlet.java:687)
    \tat javax.servlet.http.HttpServlet.service(HttpServlet.java:790)
    \tat org.eclipse.jetty.servlet.ServletHolder.handle(ServletHolder.java:865)
    \tat org.eclipse.jetty.servlet.ServletHandler.doHandle(ServletHandler.java:535)
    \tat org.eclipse.jetty.server.handler.ScopedHandler.handle(ScopedHandler.java:146)
    \tat org.eclipse.jetty.server.Server.handle(Server.java:502)
    \tat org.eclipse.jetty.server.HttpChannel.handle(HttpChannel.java:364)
    Caused by: java.lang.NullPointerException: order 17 has no customer
    \tat com.example.orders.OrderRepository.load(OrderRepository.java:88)
    \tat com.example.orders.OrderServlet.doGet(OrderServlet.java:40)
    \t... 12 more
    """

/// A Jetty 12 (jetty-slf4j-impl) error with a suppressed exception and a cause, as `StdErrAppender`
/// prints them (`Caused by: ` alone on its line, the cause's class on the next one).
let jetty12StackTraceEvent = """
    2023-05-01 10:00:00.123:WARN :oejs.Response:qtp1740000325-42: writeError: status=500, message=Server Error
    org.eclipse.jetty.io.EofException: reset by peer
    \tat org.eclipse.jetty.io.SocketChannelEndPoint.flush(SocketChannelEndPoint.java:117)
    \tat org.eclipse.jetty.io.WriteFlusher.flush(WriteFlusher.java:422)
    Suppressed: 
    \t|java.lang.Throwable: HttpChannelState.Request@5a1b2c3d
    \t|\tat org.eclipse.jetty.server.internal.HttpChannelState.onError(HttpChannelState.java:702)
    Caused by: 
    java.io.IOException: Broken pipe
    \tat java.base/sun.nio.ch.SocketDispatcher.write0(Native Method)
    \tat java.base/sun.nio.ch.SocketDispatcher.write(SocketDispatcher.java:62)
    """

@Suite struct JettyServerParserTests {
    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var line: String
        var level: String
        var logger: String?
        var thread: String?
        var message: String
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "jetty 9 empty logger",
            line: "2016-10-21 15:31:01.248:INFO::main: Logging initialized @332ms to org.eclipse.jetty.util.log.StdErrLog",
            level: "INFO", logger: nil, thread: "main", message: "Logging initialized @332ms to org.eclipse.jetty.util.log.StdErrLog"),
        Case(
            name: "jetty 9 long logger name",
            line: "2016-10-21 15:31:35.144:INFO:org.eclipse.jetty.server.Server:main: jetty-9.4.0-SNAPSHOT",
            level: "INFO", logger: "org.eclipse.jetty.server.Server", thread: "main", message: "jetty-9.4.0-SNAPSHOT"),
        Case(
            name: "braces and brackets in the message",
            line: "2015-06-17 14:16:12.782:INFO:oejs.ServerConnector:main: Started ServerConnector@711f39f9{SSL,[ssl, alpn, h2, h2-17, http/1.1]}{0.0.0.0:8443}",
            level: "INFO", logger: "oejs.ServerConnector", thread: "main",
            message: "Started ServerConnector@711f39f9{SSL,[ssl, alpn, h2, h2-17, http/1.1]}{0.0.0.0:8443}"),
        Case(
            name: "warning with empty logger",
            line: "2013-10-16 09:08:47.800:WARN::main: demo test-realm is deployed. DO NOT USE IN PRODUCTION!",
            level: "WARN", logger: nil, thread: "main", message: "demo test-realm is deployed. DO NOT USE IN PRODUCTION!"),
        Case(
            name: "colons and parentheses in the message",
            line: "2017-09-20 16:23:05.380:INFO:oejus.SslContextFactory:main: x509=X509@126253fd(jetty,h=[jetty.eclipse.org],w=[]) for SslContextFactory@57db2b13(file:///installs/repository/jetty/demo-base/etc/keystore,file:///installs/repository/jetty/demo-base/etc/keystore)",
            level: "INFO", logger: "oejus.SslContextFactory", thread: "main",
            message: "x509=X509@126253fd(jetty,h=[jetty.eclipse.org],w=[]) for SslContextFactory@57db2b13(file:///installs/repository/jetty/demo-base/etc/keystore,file:///installs/repository/jetty/demo-base/etc/keystore)"),
        Case(
            name: "jetty 9 debug is DBUG",
            line: "2018-06-01 12:00:00.001:DBUG:oeji.ManagedSelector:qtp1381713434-14: Selector loop woken up from select, 0/1 selected",
            level: "DBUG", logger: "oeji.ManagedSelector", thread: "qtp1381713434-14",
            message: "Selector loop woken up from select, 0/1 selected"),
        Case(
            name: "jetty 9 IGNORED",
            line: "2018-06-01 12:00:00.002:IGNORED:oejs.HttpParser:qtp1-1: org.eclipse.jetty.http.BadMessageException: 400: Illegal character",
            level: "IGNORED", logger: "oejs.HttpParser", thread: "qtp1-1",
            message: "org.eclipse.jetty.http.BadMessageException: 400: Illegal character"),
        Case(
            name: "jetty 12 padded level",
            line: "2020-02-17 19:11:35.563:INFO :oejl.LogTest:tname: testing:test,format1",
            level: "INFO", logger: "oejl.LogTest", thread: "tname", message: "testing:test,format1"),
        Case(
            name: "jetty 12 acceptor thread with colon inside braces",
            line: "2023-05-01 10:00:00.000:DEBUG:oejs.AbstractConnector:qtp1740000325-18-acceptor-0@6b1d1fcd-ServerConnector@4f8e5cde{HTTP/1.1, (http/1.1)}{0.0.0.0:8080}: accepted ch=java.nio.channels.SocketChannel[connected local=/127.0.0.1:8080]",
            level: "DEBUG", logger: "oejs.AbstractConnector",
            thread: "qtp1740000325-18-acceptor-0@6b1d1fcd-ServerConnector@4f8e5cde{HTTP/1.1, (http/1.1)}{0.0.0.0:8080}",
            message: "accepted ch=java.nio.channels.SocketChannel[connected local=/127.0.0.1:8080]"),
        Case(
            name: "thread name with spaces and a colon-space inside brackets",
            line: "2023-05-01 10:00:00.000:ERROR:c.e.Worker:Batch worker [pool: 2] #1: job failed: timeout",
            level: "ERROR", logger: "c.e.Worker", thread: "Batch worker [pool: 2] #1", message: "job failed: timeout"),
        Case(
            name: "thread with parentheses",
            line: "2023-05-01 10:00:00.000:TRACE:oejs.Foo:Scheduler-1234 (daemon): tick",
            level: "TRACE", logger: "oejs.Foo", thread: "Scheduler-1234 (daemon)", message: "tick"),
        Case(
            name: "empty message at end of line",
            line: "2020-02-17 19:11:35.563:INFO :oejl.JettyLoggerTest:tname: ",
            level: "INFO", logger: "oejl.JettyLoggerTest", thread: "tname", message: ""),
        Case(
            name: "MESSAGE_ALIGN padding",
            line: "2020-02-17 19:11:35.563:WARN :oejl.X:main:          aligned message",
            level: "WARN", logger: "oejl.X", thread: "main", message: "aligned message"),
        Case(
            name: "hidden stack on one line",
            line: "2020-02-17 19:11:35.563:WARN :oejs.HttpChannel:qtp1-2: /x: java.lang.IllegalStateException: boom",
            level: "WARN", logger: "oejs.HttpChannel", thread: "qtp1-2", message: "/x: java.lang.IllegalStateException: boom"),
    ]

    @Test(arguments: cases)
    func parsesCase(_ c: Case) throws {
        let (result, event) = try parseJetty(c.line)
        #expect(result == .keptMessage)
        #expect(event.string(FieldPaths.logLevel) == c.level)
        #expect(event.string(FieldPaths.logLogger) == c.logger)
        #expect(event.string(FieldPath.intern("process.thread.name")) == c.thread)
        #expect(event.string(FieldPaths.message) == c.message)
        #expect(event[FieldPaths.errorType] == nil)
    }

    @Test func timestampAndZone() throws {
        let line = "2020-02-17 19:11:35.563:INFO :oejl.LogTest:tname: testing"
        #expect(try parseJetty(line).1.jsonValue()["@timestamp"] == .string("2020-02-17T19:11:35.563Z"))
        #expect(
            try parseJetty(line, timezone: "Europe/Berlin").1.jsonValue()["@timestamp"]
                == .string("2020-02-17T18:11:35.563Z"))
        #expect(throws: ConfigValueError.self) { try JettyServerConfig(timezone: "+99:00") }
        let c = try JSONDecoder().decode(JettyServerConfig.self, from: Data(#"{"timezone":"-02:00"}"#.utf8))
        #expect(c.zone == .fixed(seconds: -7200))
    }

    /// Every line of the Jetty 9.4 documentation sample parses; the parts match a plain split.
    @Test func jetty94DocumentationLines() throws {
        let text = try String(contentsOf: samples.appendingPathComponent("jetty-server/jetty94-docs-stderrlog.log"), encoding: .utf8)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 80)
        for line in lines {
            let (result, event) = try parseJetty(String(line))
            #expect(result == .keptMessage, "\(line)")
            // Independent split: "<23-char time>:<LEVEL>:<logger>:main: <message>"
            let rest = line.dropFirst(24)
            let parts = rest.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            let level = String(parts[0])
            let logger = String(parts[1])
            let afterThread = parts[2]
            #expect(afterThread.hasPrefix("main: "))
            #expect(event.string(FieldPaths.logLevel) == level)
            #expect(event.string(FieldPaths.logLogger) == (logger.isEmpty ? nil : logger))
            #expect(event.string(FieldPath.intern("process.thread.name")) == "main")
            #expect(event.string(FieldPaths.message) == String(afterThread.dropFirst(6)))
            #expect(["INFO", "WARN"].contains(level))
        }
    }

    /// Jetty 12's own test expectations: each expected text, behind a timestamp, parses into the
    /// parts the test's inputs (logger, level, thread, message template and arguments) describe.
    @Test func jetty12Expectations() throws {
        let data = try Data(contentsOf: samples.appendingPathComponent("jetty-server/jetty12-slf4j-impl-test-expectations.json"))
        let doc = try data.withUnsafeBytes { try JSONScanner.parseDocument($0) }
        guard case .array(let tests)? = doc["cases"] else { throw CancellationError() }
        var checked = 0
        for t in tests {
            let logger = t["logger"]?.stringValue ?? ""
            let condensed = Self.condense(logger)
            let level = t["level"]?.stringValue ?? ""
            let thread = t["thread"]?.stringValue ?? ""
            var calls: [(line: String, template: String?, args: [JSONValue])] = []
            if let line = t["expected_line"]?.stringValue {
                guard case .array(let args)? = t["args"] else { continue }
                calls.append((line, t["message_template"]?.stringValue, args))
                // The full line also carries the timestamp (ZONE_ID=UTC).
                let (_, e) = try parseJetty(line)
                if case .int(let ms)? = t["timestamp_millis"], case .timestamp(let ts)? = e[FieldPaths.timestamp] {
                    #expect(ts.nanoseconds == ms * 1_000_000)
                } else {
                    Issue.record("no timestamp")
                }
            } else if case .array(let cs)? = t["calls"] {
                for c in cs {
                    guard let contains = c["expected_contains"]?.stringValue, case .array(let args)? = c["args"] else { continue }
                    calls.append(("2020-02-17 19:11:35.563:" + contains, c["template"]?.stringValue, args))
                }
            }
            for call in calls {
                let (result, event) = try parseJetty(call.line)
                #expect(result == .keptMessage, "\(call.line)")
                #expect(event.string(FieldPaths.logLevel) == level)
                #expect(event.string(FieldPaths.logLogger) == condensed)
                #expect(event.string(FieldPath.intern("process.thread.name")) == thread)
                #expect(event.string(FieldPaths.message) == Self.format(call.template, call.args), "\(call.line)")
                checked += 1
            }
        }
        #expect(checked == 9)
    }

    /// Jetty's NAME_CONDENSE: every package segment shortened to its first letter.
    static func condense(_ name: String) -> String {
        let parts = name.split(separator: ".")
        guard let last = parts.last else { return "" }
        return parts.dropLast().map { String($0.prefix(1)) }.joined() + "." + last
    }

    /// slf4j `{}` substitution: arguments in order, null as "null", extra arguments ignored.
    static func format(_ template: String?, _ args: [JSONValue]) -> String {
        guard let template else { return "" }
        var out = ""
        var rest = Substring(template)
        var next = 0
        while let r = rest.range(of: "{}") {
            out += rest[..<r.lowerBound]
            if next < args.count {
                out += args[next].stringValue ?? "null"
                next += 1
            } else {
                out += "{}"
            }
            rest = rest[r.upperBound...]
        }
        return out + rest
    }

    // MARK: Stack traces

    @Test func jetty9StackTrace() throws {
        let (result, event) = try parseJetty(jetty9StackTraceEvent)
        #expect(result == .keptMessage)
        #expect(event.string(FieldPaths.message) == "/api/orders/17")
        #expect(event.string(FieldPaths.logLevel) == "WARN")
        #expect(event.string(FieldPaths.logLogger) == "oejs.HttpChannel")
        #expect(event.string(FieldPath.intern("process.thread.name")) == "qtp1381713434-17")
        #expect(event.string(FieldPaths.errorType) == "java.lang.IllegalStateException")
        #expect(event.string(FieldPaths.errorMessage) == "boom")
        let trace = event.string(FieldPaths.errorStackTrace) ?? ""
        #expect(trace.hasPrefix("java.lang.IllegalStateException: boom\n\tat com.example.orders.OrderServlet.doGet"))
        #expect(trace.hasSuffix("Caused by: java.lang.NullPointerException: order 17 has no customer\n\tat com.example.orders.OrderRepository.load(OrderRepository.java:88)\n\tat com.example.orders.OrderServlet.doGet(OrderServlet.java:40)\n\t... 12 more"))
        #expect(trace.split(separator: "\n").count == 13)
    }

    @Test func jetty12StackTrace() throws {
        let (result, event) = try parseJetty(jetty12StackTraceEvent)
        #expect(result == .keptMessage)
        #expect(event.string(FieldPaths.message) == "writeError: status=500, message=Server Error")
        #expect(event.string(FieldPaths.logLevel) == "WARN")
        #expect(event.string(FieldPaths.errorType) == "org.eclipse.jetty.io.EofException")
        #expect(event.string(FieldPaths.errorMessage) == "reset by peer")
        #expect(event.string(FieldPaths.errorStackTrace)?.hasSuffix("SocketDispatcher.java:62)") == true)
        #expect(event.string(FieldPaths.errorStackTrace)?.hasPrefix("org.eclipse.jetty.io.EofException: reset by peer\n") == true)
    }

    @Test(arguments: [
        ("java.lang.NullPointerException", "java.lang.NullPointerException", nil),
        ("\tcom.example.Outer$InnerException: deep", "com.example.Outer$InnerException", "deep"),
        ("org.x.Y$Inner: msg", "org.x.Y$Inner", "msg"),
        ("java.lang.AssertionError: expected: <1> but was: <2>", "java.lang.AssertionError", "expected: <1> but was: <2>"),
        ("javax.servlet.ServletException:", "javax.servlet.ServletException", nil),
    ] as [(String, String, String?)])
    func exceptionLineShapes(_ exceptionLine: String, _ type: String, _ message: String?) throws {
        let text = "2018-06-01 12:00:00.000:WARN:oejs.HttpChannel:qtp1-1: /x\n\(exceptionLine)\n\tat a.B.c(B.java:1)"
        let (result, event) = try parseJetty(text)
        #expect(result == .keptMessage)
        #expect(event.string(FieldPaths.message) == "/x")
        #expect(event.string(FieldPaths.errorType) == type)
        #expect(event.string(FieldPaths.errorMessage) == message)
    }

    @Test func continuationThatIsNotATraceStaysInMessage() throws {
        let text = "2018-06-01 12:00:00.000:INFO:oejs.Server:main: first line\n  second line\nthird"
        let (result, event) = try parseJetty(text)
        #expect(result == .keptMessage)
        #expect(event.string(FieldPaths.message) == "first line\n  second line\nthird")
        #expect(event[FieldPaths.errorType] == nil)
    }

    @Test func bareStackTraceIsNotJetty() throws {
        for text in [
            "java.lang.IllegalStateException: boom\n\tat a.B.c(B.java:1)",
            "\tat com.example.orders.OrderServlet.doGet(OrderServlet.java:42)",
        ] {
            let (result, _) = try parseJetty(text)
            #expect(result == .noMatch)
        }
        let tomcat = try String(
            contentsOf: samples.appendingPathComponent("jetty-server/logstash-java_spec-tomcat-multiline-stacktrace.log"), encoding: .utf8)
        #expect(try parseJetty(tomcat).0 == .noMatch)
    }

    // MARK: Malformed input

    static let malformed: [(String, [UInt8])] = [
        ("empty", []),
        ("date only", Array("2018-06-01 12:00:00.000".utf8)),
        ("no level", Array("2018-06-01 12:00:00.000::oejs.Server:main: x".utf8)),
        ("lower-case level", Array("2018-06-01 12:00:00.000:info:oejs.Server:main: x".utf8)),
        ("no thread terminator", Array("2018-06-01 12:00:00.000:INFO:oejs.Server:main x".utf8)),
        ("logger only", Array("2018-06-01 12:00:00.000:INFO:oejs.Server".utf8)),
        ("no fraction", Array("2018-06-01 12:00:00:INFO:oejs.Server:main: x".utf8)),
        ("month 00", Array("2018-00-01 12:00:00.000:INFO:oejs.Server:main: x".utf8)),
        ("slash date", Array("2018/06/01 12:00:00.000:INFO:oejs.Server:main: x".utf8)),
        ("NUL in time", Array("2018-06-01 12:".utf8) + [0] + Array("0:00.000:INFO:a:main: x".utf8)),
        ("invalid UTF-8 level", Array("2018-06-01 12:00:00.000:".utf8) + [0xC3, 0x28] + Array(":a:main: x".utf8)),
        ("level too long", Array("2018-06-01 12:00:00.000:INFORMATIONAL:a:main: x".utf8)),
        ("newline before thread end", Array("2018-06-01 12:00:00.000:INFO:a:main\n: x".utf8)),
    ]

    @Test(arguments: malformed)
    func malformedInputIsNoMatchAndUntouched(_ name: String, _ bytes: [UInt8]) throws {
        let parser = try JettyServerParser(config: JettyServerConfig())
        var event = LogEvent(message: bytes)
        let before = event
        guard case .string(let text)? = event[FieldPaths.message] else { throw CancellationError() }
        #expect(parser.parse(text, into: &event) == .noMatch)
        #expect(event.fields == before.fields)
        #expect(event.arena == before.arena)
    }

    @Test func everyPrefixOfAValidLineIsSafe() throws {
        let parser = try JettyServerParser(config: JettyServerConfig())
        let line = Array(jetty9StackTraceEvent.utf8)
        let firstMatch = Array(jetty9StackTraceEvent.utf8.prefix(80)).firstIndex(of: UInt8(ascii: "/"))! - 1
        for length in 0...line.count {
            var event = LogEvent(message: line[0..<length])
            let before = event
            guard case .string(let text)? = event[FieldPaths.message] else { throw CancellationError() }
            let result = parser.parse(text, into: &event)
            if length < firstMatch {  // before "qtp1381713434-17:" is complete nothing can match
                #expect(result == .noMatch, "prefix \(length)")
            } else {
                #expect(result == .keptMessage, "prefix \(length)")
            }
            if result == .noMatch { #expect(event.fields == before.fields && event.arena == before.arena) }
        }
    }

    @Test func oddBytesInTheMessageAreKept() throws {
        let line = Array("2018-06-01 12:00:00.000:INFO:a:main: ".utf8) + [0x00, 0xFF, 0x41]
        let (result, event) = try parseJetty(line)
        #expect(result == .keptMessage)
        #expect(event.bytes(FieldPaths.message).map(Array.init) == [0x00, 0xFF, 0x41])
    }

    @Test func randomBytesNeverCrash() throws {
        let parser = try JettyServerParser(config: JettyServerConfig())
        var rng = SplitMix64(seed: 0xBEEF)
        let prefix = Array("2018-06-01 12:00:00.000:WARN :".utf8)
        var matched = 0
        for round in 0..<3000 {
            let length = Int(rng.next() % 120)
            var bytes = (0..<length).map { _ in
                // Bias towards the structural bytes so that deeper paths are exercised.
                let r = rng.next()
                let structural: [UInt8] = [0x3A, 0x20, 0x0A, 0x5B, 0x5D, 0x7B, 0x7D, 0x28, 0x29, 0x2E, 0x24, 0x09]
                return r % 3 == 0 ? structural[Int(r >> 8) % structural.count] : UInt8(truncatingIfNeeded: r >> 16)
            }
            if round % 2 == 0 { bytes = prefix + bytes }
            if round % 4 == 0 { bytes = prefix + Array("oejs.X:t: ".utf8) + bytes }
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
        #expect(matched >= 750)
    }

    @Test func oneMebibyteLine() throws {
        let body = [UInt8](repeating: UInt8(ascii: "y"), count: 1 << 20)
        let (result, event) = try parseJetty(Array("2018-06-01 12:00:00.000:INFO:a:main: ".utf8) + body)
        #expect(result == .keptMessage)
        #expect(event.bytes(FieldPaths.message)?.count == 1 << 20)
        // A 1 MiB "thread name" without a terminator: no match, no crash.
        let (r2, _) = try parseJetty(Array("2018-06-01 12:00:00.000:INFO:a:".utf8) + body)
        #expect(r2 == .noMatch)
    }
}

