import ShipperCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Options of the `jetty_server` parser.
///
/// ```yaml
/// - type: jetty_server
///   timezone: Europe/Berlin
/// ```
public struct JettyServerConfig: Decodable, Sendable {
    /// Time zone of the log's timestamps, which Jetty writes without a UTC offset (in the JVM's
    /// default zone, or `org.eclipse.jetty.logging.appender.ZONE_ID` on Jetty 10+): `UTC` (default),
    /// a fixed offset such as `+02:00`, or an IANA name such as `Europe/Berlin`.
    public var timezone: String

    /// The parsed ``timezone``.
    public let zone: TimeZoneRule

    public init(timezone: String = "UTC") throws {
        guard let zone = TimeZoneRule(timezone) else {
            throw ConfigValueError("unknown time zone '\(timezone)'; expected UTC, an offset such as +02:00, or an IANA name such as Europe/Berlin")
        }
        self.timezone = timezone
        self.zone = zone
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case timezone }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(timezone: c.decodeIfPresent(String.self, forKey: .timezone) ?? "UTC")
    }
}

/// The `jetty_server` parser: Jetty's own server log on stderr.
///
/// Reads both layouts:
/// - Jetty 9 `StdErrLog`: `2016-10-21 15:31:01.400:INFO:oejs.Server:main: Started @485ms`
///   (the logger may be empty, `INFO::main:`, or a long name, `org.eclipse.jetty.server.Server`;
///   debug is written `DBUG`);
/// - Jetty 10/11/12 `jetty-slf4j-impl`: `2020-02-17 19:11:35.563:INFO :oejl.LogTest:tname: testing`
///   (the level padded to five characters).
///
/// | field | from |
/// |---|---|
/// | `@timestamp` | the date and time, read in the configured `timezone` |
/// | `log.level` | the level as written, without padding (`INFO`, `WARN`, `DBUG`, `DEBUG`, `ERROR`, …) |
/// | `log.logger` | the logger name as written (condensed or long; absent when empty) |
/// | `process.thread.name` | the thread name (may hold spaces, brackets and colons, e.g. `qtp…-acceptor-0@…{0.0.0.0:8080}`) |
/// | `message` | the message of the first line |
/// | `error.type`, `error.message`, `error.stack_trace` | when the text continues with a Java stack trace (joined by a `multiline` stage): the exception class, its message, and the trace from the exception line on |
///
/// The thread name ends at the first `: ` outside brackets. When the lines after the first do not
/// start with an exception line (`java.lang.IllegalStateException: boom`), they stay in `message`.
/// Text that does not start with a Jetty prefix (a bare stack trace, say) is not matched.
/// Returns ``ParseResult/keptMessage``.
public struct JettyServerParser: LogParser {
    public let config: JettyServerConfig
    private let paths = JettyServerPaths()

    public init(config: JettyServerConfig) throws {
        self.config = config
    }

    public func parse(_ text: ArenaSlice, into event: inout LogEvent) -> ParseResult {
        let arena = event.arena
        guard text.start >= 0, text.count >= 0, text.upperBound <= arena.count else { return .noMatch }
        var line = JettyServerLine()
        let matched = arena.withUnsafeBytes { raw in
            line.parse(UnsafeRawBufferPointer(rebasing: raw[text.range]), base: text.lowerBound)
        }
        guard matched else { return .noMatch }
        line.apply(to: &event, zone: config.zone, paths: paths)
        return .keptMessage
    }
}

/// Paths set by the `jetty_server` parser (held by the parser, so the hot path reads no globals).
private struct JettyServerPaths: Sendable {
    let timestamp = FieldPaths.timestamp
    let message = FieldPaths.message
    let level = FieldPaths.logLevel
    let logger = FieldPaths.logLogger
    let threadName = FieldPath.intern("process.thread.name")
    let errorType = FieldPaths.errorType
    let errorMessage = FieldPaths.errorMessage
    let stackTrace = FieldPaths.errorStackTrace
    let process = FieldPath.intern("process")
    let error = FieldPath.intern("error")
    let log = FieldPath.intern("log")

    /// True when no field of `event` other than `@timestamp` and `message` is at, above or below a
    /// path this parser sets, so new fields can be appended without searching.
    /// (One read-only pass by root ids: binding each path to a local cost a retain and release
    /// per field.)
    func noClash(_ fields: [Field]) -> Bool {
        let logRoot = log.rootID, processRoot = process.rootID, errorRoot = error.rootID
        return fields.withUnsafeBufferPointer { existing in
            for i in existing.indices {
                let root = existing[i].path.rootID
                if root == logRoot {
                    if existing[i].path.depth == 1 || level.isPrefix(of: existing[i].path) || logger.isPrefix(of: existing[i].path) {
                        return false
                    }
                } else if root == processRoot || root == errorRoot {
                    return false
                }
            }
            return true
        }
    }
}

private struct JettyServerLine {
    var time = CivilTime(year: 0, month: 0, day: 0)
    var level = ArenaSlice(start: 0, count: 0)
    var logger = ArenaSlice(start: 0, count: 0)
    var thread = ArenaSlice(start: 0, count: 0)
    var message = ArenaSlice(start: 0, count: 0)
    var errorType: ArenaSlice?
    var errorMessage: ArenaSlice?
    var stackTrace: ArenaSlice?

    /// Parses `p` (the text; `base` is its offset in the arena). False when it is not a Jetty 
    mutating func parse(_ p: UnsafeRawBufferPointer, base: Int) -> Bool {
        let n = p.count
        // "YYYY-MM-DD HH:MM:SS.f:L:" is at least 24 bytes.
        guard n >= 24 else { return false }
        guard let year = Self.digits(p, 0, 4), p[4] == UInt8(ascii: "-"),
            let month = Self.digits(p, 5, 2), p[7] == UInt8(ascii: "-"),
            let day = Self.digits(p, 8, 2), p[10] == UInt8(ascii: " "),
            let hour = Self.digits(p, 11, 2), p[13] == UInt8(ascii: ":"),
            let minute = Self.digits(p, 14, 2), p[16] == UInt8(ascii: ":"),
            let second = Self.digits(p, 17, 2), p[19] == UInt8(ascii: ".") || p[19] == UInt8(ascii: ",")
        else { return false }
        var i = 20
        var nanos = 0
        var fractionDigits = 0
        while i < n, Self.isDigit(p[i]), fractionDigits < 9 {
            nanos = nanos * 10 + Int(p[i] &- 48)
            fractionDigits += 1
            i += 1
        }
        guard fractionDigits > 0 else { return false }
        for _ in fractionDigits..<9 { nanos *= 10 }
        time = CivilTime(
            year: year, month: month, day: day, hour: hour, minute: minute, second: second,
            nanosecond: nanos, fractionDigits: fractionDigits)
        guard time.isValid else { return false }
        guard i < n, p[i] == UInt8(ascii: ":") else { return false }
        i += 1

        // Level: upper-case letters, then padding spaces (Jetty 10+), then ':'.
        let levelStart = i
        while i < n, p[i] >= UInt8(ascii: "A"), p[i] <= UInt8(ascii: "Z"), i - levelStart < 10 { i += 1 }
        let levelEnd = i
        guard levelEnd > levelStart else { return false }
        while i < n, p[i] == UInt8(ascii: " "), i - levelStart < 10 { i += 1 }
        guard i < n, p[i] == UInt8(ascii: ":") else { return false }
        level = ArenaSlice(start: base + levelStart, count: levelEnd - levelStart)
        i += 1

        // The first line ends at '\n' (a trailing '\r' is not part of it).
        var lineEnd = n
        if i < n, let base = p.baseAddress, let hit = memchr(base + i, 0x0A, n - i) {
            lineEnd = UnsafeRawPointer(hit) - base
        }
        let nextLine = lineEnd < n ? lineEnd + 1 : n
        if lineEnd > i, p[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }

        // Logger: up to the next ':' (may be empty).
        let loggerStart = i
        while i < lineEnd, p[i] != UInt8(ascii: ":") { i += 1 }
        guard i < lineEnd else { return false }
        logger = ArenaSlice(start: base + loggerStart, count: i - loggerStart)
        i += 1

        // Thread: up to ": " (or ':' at the end of the line), skipping colons inside brackets.
        let threadStart = i
        guard let threadEnd = Self.threadEnd(p, from: threadStart, to: lineEnd) else { return false }
        thread = ArenaSlice(start: base + threadStart, count: threadEnd - threadStart)
        i = threadEnd + 1
        // One space, or more when MESSAGE_ALIGN pads the message to a column.
        while i < lineEnd, p[i] == UInt8(ascii: " ") { i += 1 }
        let messageStart = i

        // A stack trace after the first line?
        if nextLine < n {
            var s = nextLine
            while s < n, p[s] == UInt8(ascii: " ") || p[s] == UInt8(ascii: "\t") { s += 1 }
            var e = s
            while e < n, p[e] != UInt8(ascii: "\n") { e += 1 }
            var traceEnd = n
            while traceEnd > s, p[traceEnd - 1] == UInt8(ascii: "\n") || p[traceEnd - 1] == UInt8(ascii: "\r") {
                traceEnd -= 1
            }
            if e > s, p[e - 1] == UInt8(ascii: "\r") { e -= 1 }
            if let header = JavaExceptionLine.read(p, s, e) {
                message = ArenaSlice(start: base + messageStart, count: lineEnd - messageStart)
                errorType = ArenaSlice(start: base + s, count: header.typeEnd - s)
                if let m = header.message, m.upperBound > m.lowerBound {
                    errorMessage = ArenaSlice(start: base + m.lowerBound, count: m.count)
                }
                stackTrace = ArenaSlice(start: base + s, count: traceEnd - s)
                return true
            }
            // Not a trace: the following lines are part of the message.
            message = ArenaSlice(start: base + messageStart, count: max(traceEnd, lineEnd) - messageStart)
            return true
        }
        message = ArenaSlice(start: base + messageStart, count: lineEnd - messageStart)
        return true
    }

    /// Index of the ':' that ends the thread name: the first one followed by a space or the end of
    /// the line outside `[]{}()`; if brackets never balance, the first such ':' at any depth.
    static func threadEnd(_ p: UnsafeRawBufferPointer, from: Int, to end: Int) -> Int? {
        var depth = 0
        var firstAnyDepth = -1
        var i = from
        while i < end {
            let b = p[i]
            switch b {
            case UInt8(ascii: "["), UInt8(ascii: "{"), UInt8(ascii: "("): depth += 1
            case UInt8(ascii: "]"), UInt8(ascii: "}"), UInt8(ascii: ")"): if depth > 0 { depth -= 1 }
            case UInt8(ascii: ":"):
                if i + 1 == end || p[i + 1] == UInt8(ascii: " ") {
                    if depth == 0 { return i }
                    if firstAnyDepth < 0 { firstAnyDepth = i }
                }
            default: break
            }
            i += 1
        }
        return firstAnyDepth >= 0 ? firstAnyDepth : nil
    }

    @inline(__always)
    static func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }

    static func digits(_ p: UnsafeRawBufferPointer, _ at: Int, _ count: Int) -> Int? {
        var v = 0
        for k in at..<(at + count) {
            let b = p[k]
            guard isDigit(b) else { return nil }
            v = v * 10 + Int(b &- 48)
        }
        return v
    }

    func apply(to event: inout LogEvent, zone: TimeZoneRule, paths: JettyServerPaths) {
        let fresh = paths.noClash(event.fields)
        @inline(__always) func put(_ path: FieldPath, _ value: FieldValue) {
            if fresh { event.appendField(path, value) } else { event.set(path, value) }
        }
        event.fields.reserveCapacity(event.fields.count + 8)
        // Replace the two that usually exist first, while the field list is short.
        event.set(paths.timestamp, .timestamp(time.timestamp(zone: zone)))
        event.set(paths.message, .string(message))
        put(paths.level, .string(level))
        if !logger.isEmpty { put(paths.logger, .string(logger)) }
        if !thread.isEmpty { put(paths.threadName, .string(thread)) }
        if let t = errorType {
            put(paths.errorType, .string(t))
            if let m = errorMessage { put(paths.errorMessage, .string(m)) }
            if let s = stackTrace { put(paths.stackTrace, .string(s)) }
        }
    }
}

