import Foundation
import ShipperCore
import StageTransforms
import Testing

private let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("../shared/samples")

private let logOffset = FieldPath.intern("log.offset")
private let streamPath = FieldPath.intern("stream")

/// One physical line as an input decoder makes it: `message`, `log.offset`, origin offsets, stream.
private func lineEvent(_ text: String, offset: Int64 = 0, stream: UInt64 = 0) -> LogEvent {
    var e = LogEvent(message: Array(text.utf8), timestamp: Timestamp(seconds: 1_700_000_000 + offset))
    e.set(logOffset, .int(offset))
    e.origin = EventOrigin(source: 7, offset: offset, endOffset: offset + Int64(text.utf8.count) + 1)
    e.streamKey = stream
    return e
}

/// Lines of `text` with their byte offsets.
private func physicalLines(_ text: String) -> [(String, Int64)] {
    var out: [(String, Int64)] = []
    var offset: Int64 = 0
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    if lines.last == "" { lines.removeLast() }
    for l in lines {
        out.append((String(l), offset))
        offset += Int64(l.utf8.count) + 1
    }
    return out
}

private func stage(_ yaml: String) throws -> MultilineStage {
    try MultilineStage(config: JSONDecoder().decode(MultilineConfig.self, from: Data(yaml.utf8)))
}

/// Runs lines through the stage and flushes at the end.
private func run(_ stage: inout MultilineStage, _ lines: [(String, Int64)], stream: UInt64 = 0) -> [LogEvent] {
    var out: [LogEvent] = []
    for (text, offset) in lines { stage.process(lineEvent(text, offset: offset, stream: stream), into: &out) }
    stage.flush(now: nil, into: &out)
    return out
}

private func messages(_ events: [LogEvent]) -> [String] { events.map { $0.string(FieldPaths.message) ?? "<none>" } }

private func flags(_ e: LogEvent) -> [String] {
    e.strings(FieldPaths.logFlags)
}

/// The same Jetty 9 trace as `jetty9StackTraceEvent` in JettyServerParserTests (the parser test
/// parses the joined text this stage must produce).
private let jetty9StackTrace = """
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

/// The same Jetty 12 trace as `jetty12StackTraceEvent` in JettyServerParserTests.
private let jetty12StackTrace = """
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

@Suite struct MultilineTests {
    // MARK: java mode

    struct Grouping: Sendable, CustomStringConvertible {
        var name: String
        var lines: [String]
        /// Number of lines in each resulting event, in order.
        var groups: [Int]
        var description: String { name }
    }

    static let javaCases: [Grouping] = [
        Grouping(
            name: "Jetty 9 trace between two lines",
            lines: ["2018-06-01 11:59:59.000:INFO:oejs.Server:main: Started @1234ms"]
                + jetty9StackTrace.components(separatedBy: "\n")
                + ["2018-06-01 12:00:01.000:INFO:oejs.Server:main: next"],
            groups: [1, 14, 1]),
        Grouping(name: "Jetty 12 trace", lines: jetty12StackTrace.components(separatedBy: "\n"), groups: [11]),
        Grouping(name: "single lines stay single", lines: ["a", "b", "c"], groups: [1, 1, 1]),
        Grouping(name: "continuation arriving first starts an event", lines: ["\tat a.B.c(B.java:1)", "x"], groups: [1, 1]),
        Grouping(name: "exception line first starts an event", lines: ["java.lang.IllegalStateException: boom", "\tat a.B.c(B.java:1)"], groups: [2]),
        Grouping(
            name: "logback common frames omitted, unindented",
            lines: ["ERROR boom", "com.foo.MyException", "\tat a.B.c(B.java:1)", "... 5 common frames omitted", "INFO next"],
            groups: [4, 1]),
        Grouping(name: "unindented Suppressed", lines: ["x", "Suppressed: java.io.IOException: y", "\tat a.B(B.java:1)"], groups: [3]),
        Grouping(name: "inner class exception", lines: ["x", "org.x.Y$Inner: msg", "com.foo.Outer$BadThingException"], groups: [3]),
        Grouping(
            name: "non-exception lines start events",
            lines: ["x", "com.example.App: started", "com.example.Widget", "Caused byte", "", "main.go: fine"],
            groups: [1, 1, 1, 1, 1, 1]),
        Grouping(name: "lower-case class is not an exception", lines: ["x", "java.lang.exception: nope"], groups: [1, 1]),
        Grouping(name: "space-indented continuation", lines: ["x", "    more", "  and more"], groups: [3]),
    ]

    @Test(arguments: javaCases)
    func javaGrouping(_ c: Grouping) throws {
        var s = try stage(#"{"mode":"java"}"#)
        let lines = physicalLines(c.lines.joined(separator: "\n") + "\n")
        let out = run(&s, lines)
        #expect(out.map { ($0.string(FieldPaths.message) ?? "").split(separator: "\n", omittingEmptySubsequences: false).count } == c.groups)
        // Nothing lost, nothing reordered.
        #expect(messages(out).joined(separator: "\n") == c.lines.joined(separator: "\n"))
        for e in out {
            let n = (e.string(FieldPaths.message) ?? "").split(separator: "\n", omittingEmptySubsequences: false).count
            #expect(flags(e) == (n > 1 ? ["multiline"] : []))
        }
    }

    @Test func jettyTraceBecomesTheParserInput() throws {
        var s = try stage(#"{"mode":"java"}"#)
        let out = run(&s, physicalLines(jetty9StackTrace))
        #expect(messages(out) == [jetty9StackTrace])
        var s12 = try stage(#"{"mode":"java"}"#)
        #expect(messages(run(&s12, physicalLines(jetty12StackTrace))) == [jetty12StackTrace])
    }

    @Test func tomcatStackTraceIsOneEvent() throws {
        let text = try String(
            contentsOf: samples.appendingPathComponent("jetty-server/logstash-java_spec-tomcat-multiline-stacktrace.log"), encoding: .utf8)
        let lines = physicalLines(text)
        #expect(lines.count == 30)
        var s = try stage(#"{"mode":"java"}"#)
        let out = run(&s, lines)
        #expect(out.count == 1)
        #expect(out.first?.string(FieldPaths.message) == lines.map(\.0).joined(separator: "\n"))
        #expect(out.first.map(flags) == ["multiline"])
        #expect(out.first?.origin.offset == 0)
        #expect(out.first?.origin.endOffset == Int64(text.utf8.count))
    }

    // MARK: start: timestamp

    /// beats-error.log grouped as Filebeat groups it: 4 events at the expected offsets, the third
    /// multi-line; Filebeat's `message` is the tail of ours (it drops the `date [level] pid#tid: *cid` head).
    @Test func beatsNginxErrorLog() throws {
        let text = try String(contentsOf: samples.appendingPathComponent("nginx-error/beats-error.log"), encoding: .utf8)
        let expectedData = try Data(contentsOf: samples.appendingPathComponent("nginx-error/beats-error.log-expected.json"))
        guard case .array(let docs) = try expectedData.withUnsafeBytes({ try JSONScanner.parseDocument($0) }) else {
            throw CancellationError()
        }
        var s = try stage(#"{"mode":"start","start":"timestamp"}"#)
        let lines = physicalLines(text)
        #expect(lines.count == 6)
        let out = run(&s, lines)
        #expect(out.count == 4)
        #expect(out.count == docs.count)
        for (event, doc) in zip(out, docs) {
            guard case .int(let expectedOffset)? = doc["log.offset"] else { throw CancellationError() }
            #expect(event[logOffset] == .int(expectedOffset))
            #expect(event.origin.offset == expectedOffset)
            let beats = doc["message"]?.stringValue ?? "<none>"
            #expect((event.string(FieldPaths.message) ?? "").hasSuffix(beats))
            let beatsFlags: [String] = {
                if case .array(let a)? = doc["log.flags"] { return a.compactMap(\.stringValue) }
                return []
            }()
            #expect(flags(event) == beatsFlags)
        }
        #expect(out[2].origin.endOffset == 1386)
        #expect(out[3].origin.endOffset == Int64(text.utf8.count))
    }

    @Test(arguments: [
        ("2016-10-25 14:49:34 x", true), ("2016/10/25 14:49:34 x", true), ("2016-10-25T14:49:34.123Z x", true),
        ("[2016-10-25 14:49:34] x", true), ("[25/Oct/2016:14:49:34 +0000] x", true), ("25/Oct/2016:14:49:34", true),
        ("30-Dec-2020 11:44:31.277 SEVERE", true), ("Oct 25 14:49:34 host x", true), ("Oct  5 14:49:34 host x", true),
        ("Tue Oct 25 14:49:34 2016", true), ("[Wed Oct 11 14:32:52.123 2000] [error]", true), ("14:49:34.123 [main] INFO", true),
        ("PHP message: x", false), ("\tat a.B(B.java:1)", false), ("2016 was a year", false), ("12345", false),
        ("Octopus 25", false), ("", false), ("[", false), ("20", false), ("1.2.3.4 - - x", false), ("25/Oct", false),
    ])
    func timestampStartRule(_ line: String, _ starts: Bool) throws {
        var s = try stage(#"{"mode":"start","start":"timestamp"}"#)
        let out = run(&s, [("2016-10-25 14:49:34 first", 0), (line, 100)])
        #expect(out.count == (starts ? 2 : 1), "\(line)")
    }

    // MARK: pattern modes

    @Test func startPattern() throws {
        var s = try stage(#"{"mode":"start","pattern":"^\\["}"#)
        let out = run(&s, physicalLines("[a] one\n two\nthree\n[b] four\n"))
        #expect(messages(out) == ["[a] one\n two\nthree", "[b] four"])
    }

    @Test func continuePattern() throws {
        var s = try stage(#"{"mode":"continue","pattern":"^\\s"}"#)
        let out = run(&s, physicalLines("one\n two\n\tthree\nfour\n  five\n"))
        #expect(messages(out) == ["one\n two\n\tthree", "four\n  five"])
        // A matching line with nothing before it starts an event.
        var first = try stage(#"{"mode":"continue","pattern":"^\\s"}"#)
        #expect(messages(run(&first, physicalLines(" lead\nx\n"))) == [" lead", "x"])
    }

    // MARK: streams, timing, limits

    @Test func streamsDoNotMix() throws {
        var s = try stage(#"{"mode":"java"}"#)
        var out: [LogEvent] = []
        s.process(lineEvent("out: start", offset: 0, stream: 1), into: &out)
        s.process(lineEvent("err: Exception in thread main", offset: 0, stream: 2), into: &out)
        s.process(lineEvent("\tat out.Frame(A.java:1)", offset: 11, stream: 1), into: &out)
        s.process(lineEvent("java.lang.IllegalStateException: err", offset: 30, stream: 2), into: &out)
        s.process(lineEvent("\tat err.Frame(B.java:2)", offset: 67, stream: 2), into: &out)
        s.process(lineEvent("out: next", offset: 34, stream: 1), into: &out)
        #expect(messages(out) == ["out: start\n\tat out.Frame(A.java:1)"])
        #expect(s.pendingCount == 2)
        s.flush(now: nil, into: &out)
        // A full flush emits in the order the events began.
        #expect(messages(out) == [
            "out: start\n\tat out.Frame(A.java:1)",
            "err: Exception in thread main\njava.lang.IllegalStateException: err\n\tat err.Frame(B.java:2)",
            "out: next",
        ])
        #expect(out.map(\.streamKey) == [1, 2, 1])
        #expect(s.pendingCount == 0)
    }

    @Test func flushTimeout() throws {
        var s = try stage(#"{"mode":"java","flush_timeout":"500ms"}"#)
        let t0 = Timestamp(seconds: 1_000)
        func at(_ ms: Int64) -> Timestamp { Timestamp(nanoseconds: t0.nanoseconds + ms * 1_000_000) }
        var out: [LogEvent] = []
        s.process(lineEvent("first", stream: 1), into: &out)
        s.flush(now: at(0), into: &out)  // the wait starts here
        s.flush(now: at(499), into: &out)
        #expect(out.isEmpty)
        // A continuation restarts the wait.
        s.process(lineEvent("\tat x.Y(Y.java:1)", offset: 6, stream: 1), into: &out)
        s.process(lineEvent("other stream", stream: 2), into: &out)
        s.flush(now: at(600), into: &out)
        #expect(out.isEmpty)
        s.flush(now: at(1099), into: &out)
        #expect(out.isEmpty)
        s.flush(now: at(1100), into: &out)
        #expect(messages(out) == ["first\n\tat x.Y(Y.java:1)", "other stream"])
        #expect(s.pendingCount == 0)
        // After the timeout a late continuation starts its own event.
        s.process(lineEvent("\tat late.Frame(L.java:1)", stream: 1), into: &out)
        s.flush(now: nil, into: &out)
        #expect(messages(out).last == "\tat late.Frame(L.java:1)")
    }

    @Test func zeroTimeoutEmitsAtFirstFlush() throws {
        var s = try stage(#"{"mode":"java","flush_timeout":0}"#)
        var out: [LogEvent] = []
        s.process(lineEvent("a"), into: &out)
        s.flush(now: Timestamp(seconds: 5), into: &out)
        #expect(messages(out) == ["a"])
    }

    @Test func maxLinesSplitsWithoutLoss() throws {
        var s = try stage(#"{"mode":"java","max_lines":3}"#)
        let lines = ["head"] + (1...6).map { "\tat f\($0)(F.java:\($0))" } + ["next"]
        let out = run(&s, physicalLines(lines.joined(separator: "\n")))
        #expect(messages(out) == [
            lines[0...2].joined(separator: "\n"), lines[3...5].joined(separator: "\n"), lines[6], "next",
        ])
        #expect(out.map(flags) == [["multiline", "truncated"], ["multiline", "truncated"], ["truncated"], []])
    }

    /// Each line joined into a held event is handed back as spent (for the worker's event pool),
    /// whole, in order; lines that start an event, or that a limit split off, are not.
    @Test func joinedLinesAreHandedBackAsSpent() throws {
        var s = try stage(#"{"mode":"java","max_lines":3}"#)
        let lines = physicalLines(["head", "\tat a(A.java:1)", "\tat b(B.java:2)", "\tat c(C.java:3)", "next", "\tat d(D.java:4)"].joined(separator: "\n"))
        var out: [LogEvent] = []
        var spent: [LogEvent] = []
        for (text, offset) in lines { s.process(lineEvent(text, offset: offset), into: &out, spent: &spent) }
        s.flush(now: nil, into: &out)
        #expect(messages(out) == ["head\n\tat a(A.java:1)\n\tat b(B.java:2)", "\tat c(C.java:3)", "next\n\tat d(D.java:4)"])
        #expect(spent.map { $0.string(FieldPaths.message) } == ["\tat a(A.java:1)", "\tat b(B.java:2)", "\tat d(D.java:4)"])
        #expect(spent.map(\.origin.offset) == [lines[1].1, lines[2].1, lines[5].1])
    }

    @Test func maxBytesSplitsWithoutLoss() throws {
        var s = try stage(#"{"mode":"java","max_bytes":"20"}"#)
        // "0123456789" + "\n" + " 12345678" = 20 bytes fits; the next line does not.
        let out = run(&s, physicalLines("0123456789\n 12345678\n x\n" + String(repeating: "y", count: 50) + "\n"))
        #expect(messages(out) == ["0123456789\n 12345678", " x", String(repeating: "y", count: 50)])
        #expect(out.map(flags) == [["multiline", "truncated"], ["truncated"], []])
    }

    @Test func originAndFirstLineFieldsAreKept() throws {
        var s = try stage(#"{"mode":"java"}"#)
        var out: [LogEvent] = []
        var first = lineEvent("head", offset: 100)
        // A field written after the message: the joined message must still be one contiguous slice.
        first.set(streamPath, string: Array("stderr".utf8))
        let partial = first.append(string: "partial")
        first.set(FieldPaths.logFlags, first.appendArray([.string(partial)]))
        s.process(first, into: &out)
        s.process(lineEvent("\tat a(A.java:1)", offset: 105), into: &out)
        s.process(lineEvent("\tat b(B.java:2)", offset: 121), into: &out)
        s.flush(now: nil, into: &out)
        #expect(out.count == 1)
        let e = try #require(out.first)
        #expect(e.string(FieldPaths.message) == "head\n\tat a(A.java:1)\n\tat b(B.java:2)")
        #expect(e.string(streamPath) == "stderr")
        #expect(e[logOffset] == .int(100))
        #expect(e[FieldPaths.timestamp] == .timestamp(Timestamp(seconds: 1_700_000_100)))
        #expect(e.origin.offset == 100)
        #expect(e.origin.endOffset == 121 + 16)
        #expect(e.origin.source == 7)
        #expect(flags(e) == ["partial", "multiline"])
    }

    @Test func eventsWithoutMessagePassThroughInOrder() throws {
        var s = try stage(#"{"mode":"java"}"#)
        var out: [LogEvent] = []
        s.process(lineEvent("held", stream: 3), into: &out)
        var noMessage = LogEvent()
        noMessage.set(FieldPath.intern("x"), .int(1))
        noMessage.streamKey = 3
        s.process(noMessage, into: &out)
        #expect(messages(out) == ["held", "<none>"])
        #expect(s.pendingCount == 0)
    }

    @Test func oddBytesAndLongLines() throws {
        var s = try stage(#"{"mode":"start","start":"timestamp","max_bytes":"2MiB"}"#)
        let big = String(repeating: "z", count: 1 << 20)
        var out: [LogEvent] = []
        var nul = LogEvent(message: [0x00, 0xFF, 0xFE, 0x0A])
        nul.origin = EventOrigin(source: 1, offset: 0, endOffset: 4)
        s.process(nul, into: &out)
        s.process(lineEvent(big, offset: 4), into: &out)
        s.process(LogEvent(message: [UInt8]()), into: &out)
        s.flush(now: nil, into: &out)
        #expect(out.count == 1)
        let e = try #require(out.first)
        let joined = try #require(e.bytes(FieldPaths.message))
        let expectedCount: Int = 4 + 1 + big.utf8.count + 1
        #expect(joined.count == expectedCount)
        #expect(Array(joined.prefix(5)) == [0x00, 0xFF, 0xFE, 0x0A, 0x0A])
    }

    // MARK: config

    @Test func configDecoding() throws {
        let c = try JSONDecoder().decode(
            MultilineConfig.self,
            from: Data(#"{"mode":"start","start":"timestamp","max_lines":10,"max_bytes":"1MiB","flush_timeout":"2s"}"#.utf8))
        #expect(c.mode == .start)
        #expect(c.start == .timestamp)
        #expect(c.maxLines == 10)
        #expect(c.maxBytes.bytes == 1 << 20)
        #expect(c.flushTimeout.nanoseconds == 2_000_000_000)
        let d = try JSONDecoder().decode(MultilineConfig.self, from: Data(#"{"mode":"java"}"#.utf8))
        #expect(d.maxLines == 500 && d.maxBytes.bytes == 1 << 20 && d.flushTimeout.nanoseconds == 1_000_000_000)
        for (text, ns) in [("500ms", 500_000_000), ("1m", 60_000_000_000)] as [(String, Int64)] {
            let e = try JSONDecoder().decode(MultilineConfig.self, from: Data(#"{"mode":"java","flush_timeout":"\#(text)"}"#.utf8))
            #expect(e.flushTimeout.nanoseconds == ns)
        }
    }

    @Test(arguments: [
        #"{}"#,
        #"{"mode":"sideways"}"#,
        #"{"mode":"java","pattern":"x"}"#,
        #"{"mode":"java","start":"timestamp"}"#,
        #"{"mode":"start"}"#,
        #"{"mode":"start","start":"timestamp","pattern":"x"}"#,
        #"{"mode":"start","start":"date"}"#,
        #"{"mode":"continue"}"#,
        #"{"mode":"continue","pattern":"(unclosed"}"#,
        #"{"mode":"start","pattern":"[z-a]"}"#,
        #"{"mode":"java","max_lines":0}"#,
        #"{"mode":"java","max_bytes":0}"#,
    ])
    func invalidConfig(_ json: String) {
        #expect(throws: (any Error).self) { try JSONDecoder().decode(MultilineConfig.self, from: Data(json.utf8)) }
        let isValueError: Bool
        do {
            _ = try JSONDecoder().decode(MultilineConfig.self, from: Data(json.utf8))
            isValueError = false
        } catch {
            isValueError = error is ConfigValueError
        }
        #expect(isValueError, "\(json)")
    }
}
