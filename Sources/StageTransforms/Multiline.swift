import ShipperCore

/// Options of the `multiline` stage: which physical lines belong to one event.
///
/// ```yaml
/// - type: multiline
///   mode: java                 # stack traces join the line before them
/// - type: multiline
///   mode: start
///   start: timestamp           # a line starting with a timestamp starts an event
/// - type: multiline
///   mode: start
///   pattern: '^\['             # a line matching the regular expression starts an event (slow)
/// - type: multiline
///   mode: continue
///   pattern: '^\s'             # a line matching the regular expression continues the event (slow)
///   max_lines: 500
///   max_bytes: 1MiB
///   flush_timeout: 1s
/// ```
public struct MultilineConfig: Decodable, Sendable {
    /// How continuation lines are recognised.
    public enum Mode: String, Sendable, CaseIterable {
        /// Java stack traces: a line continues the event when it starts with a space or tab
        /// (`\tat com.x.Y(Y.java:10)`), with `Caused by:`, `Suppressed:` or `... N more` /
        /// `... N common frames omitted`, or when it is an exception line
        /// (`java.lang.IllegalStateException: boom`, `com.foo.MyException`, `org.x.Y$Inner: msg`).
        /// Every other line starts an event. Byte-level, fast.
        case java
        /// A line that matches `start` (or `pattern`) starts an event; other lines continue it.
        case start
        /// A line that matches `pattern` continues the event; other lines start one
        /// (Filebeat's `negate: false, match: after`).
        case `continue`
    }

    /// Built-in start-line rules for `mode: start`.
    public enum StartRule: String, Sendable, CaseIterable {
        /// The line starts (optionally after `[`) with a common timestamp: `2016-10-25`, `2016/10/25`,
        /// ISO 8601 `2016-10-25T14:49:34`, `25/Oct/2016:`, `25-Oct-2016`, `Oct 25` (syslog),
        /// `Tue Oct 25` and `14:49:34` (a time of day). Byte-level, fast.
        case timestamp
    }

    /// `java`, `start` or `continue` (required).
    public var mode: Mode
    /// With `mode: start`: a built-in start rule (`timestamp`). Give either `start` or `pattern`.
    public var start: StartRule?
    /// With `mode: start` or `mode: continue`: a regular expression (Swift `Regex` syntax, close to
    /// PCRE; searched anywhere in the line unless anchored with `^`). This is the slow path: every
    /// line is turned into a `String` and matched, costing microseconds per line; prefer
    /// `mode: java` or `start: timestamp` when they fit.
    public var pattern: String?
    /// Most lines in one event (default 500). When a continuation line would exceed it, the lines held
    /// so far are emitted as one event and the continuation starts the next one; both events get
    /// `log.flags: truncated`. No line is dropped.
    public var maxLines: Int
    /// Most bytes of `message` in one event (default 1 MiB), handled like ``maxLines``. A single line
    /// longer than this is emitted as it is.
    public var maxBytes: ByteSize
    /// How long an event waits for more lines after its last line (default `1s`; `500ms`, `2s`, `1m`).
    public var flushTimeout: ConfigDuration

    public init(
        mode: Mode, start: StartRule? = nil, pattern: String? = nil, maxLines: Int = 500,
        maxBytes: ByteSize = ByteSize(bytes: 1 << 20), flushTimeout: ConfigDuration = .seconds(1)
    ) throws {
        self.mode = mode
        self.start = start
        self.pattern = pattern
        self.maxLines = maxLines
        self.maxBytes = maxBytes
        self.flushTimeout = flushTimeout
        try validate()
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case mode, start, pattern
        case maxLines = "max_lines"
        case maxBytes = "max_bytes"
        case flushTimeout = "flush_timeout"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        guard let modeText = try c.decodeIfPresent(String.self, forKey: .mode) else {
            throw ConfigValueError("multiline needs 'mode': java, start or continue")
        }
        guard let mode = Mode(rawValue: modeText) else {
            throw ConfigValueError("unknown multiline mode '\(modeText)'; expected java, start or continue")
        }
        var start: StartRule?
        if let startText = try c.decodeIfPresent(String.self, forKey: .start) {
            guard let rule = StartRule(rawValue: startText) else {
                throw ConfigValueError("unknown multiline start rule '\(startText)'; expected timestamp (or use pattern:)")
            }
            start = rule
        }
        try self.init(
            mode: mode, start: start,
            pattern: try c.decodeIfPresent(String.self, forKey: .pattern),
            maxLines: try c.decodeIfPresent(Int.self, forKey: .maxLines) ?? 500,
            maxBytes: try c.decodeIfPresent(ByteSize.self, forKey: .maxBytes) ?? ByteSize(bytes: 1 << 20),
            flushTimeout: try c.decodeIfPresent(ConfigDuration.self, forKey: .flushTimeout) ?? .seconds(1))
    }

    func validate() throws {
        switch mode {
        case .java:
            if start != nil || pattern != nil {
                throw ConfigValueError("multiline mode java takes neither 'start' nor 'pattern'")
            }
        case .start:
            if (start == nil) == (pattern == nil) {
                throw ConfigValueError("multiline mode start needs exactly one of 'start: timestamp' or 'pattern'")
            }
        case .continue:
            if start != nil { throw ConfigValueError("multiline mode continue takes 'pattern', not 'start'") }
            if pattern == nil { throw ConfigValueError("multiline mode continue needs 'pattern'") }
        }
        if let pattern {
            do {
                _ = try Regex(pattern)
            } catch {
                throw ConfigValueError("invalid multiline pattern '\(pattern)': \(error)")
            }
        }
        guard maxLines >= 1 else { throw ConfigValueError("max_lines must be at least 1, got \(maxLines)") }
        guard maxBytes.bytes >= 1 else { throw ConfigValueError("max_bytes must be at least 1 byte") }
    }
}

/// The `multiline` stage: joins physical lines into one event (stack traces, multi-line error
/// messages).
///
/// Each event entering the stage holds one line in `message`. Lines are grouped per
/// ``LogEvent/streamKey``, so the stdout and stderr of a container, or two files, never mix. The
/// joined event keeps the first line's fields (`@timestamp`, `log.offset`, `origin.offset`, …); its
/// `message` is the lines joined with `\n`, `origin.endOffset` is the last line's, and it gets
/// `log.flags: ["multiline"]` when it has more than one line (as Filebeat). A continuation line with
/// nothing before it in its stream starts an event.
///
/// Every event is held until the next line of its stream shows it is complete, so the stage delays
/// each stream by one line; ``flush(now:into:)`` emits events that have waited `flush_timeout`.
/// Timing: a held event's wait starts at the first `flush(now:)` call after its last line arrived
/// (no clock is read per line), so call `flush(now:)` periodically (every 100–250 ms); an event is
/// emitted between `flush_timeout` and `flush_timeout` + one flush interval after its last line.
///
/// Joining copies each continuation line's bytes onto the end of the first event's arena; the
/// common case (a one-line event followed by another first line) moves the held event out and
/// the new one in, without copying bytes. Events without a string `message` pass through (after the
/// event held for their stream).
public struct MultilineStage: Stage {
    public let config: MultilineConfig

    private enum Matcher {
        case java
        case timestamp
        /// A match starts an event (`mode: start` with `pattern`).
        case startRegex
        /// A match continues the event (`mode: continue`).
        case continueRegex
    }

    private struct Pending {
        var event: LogEvent
        /// Index of `message` in `event.fields`.
        var messageIndex: Int
        var lines: Int
        var bytes: Int
        /// The `now` of the first flush call after the last line arrived (nil until then).
        var seenAt: Timestamp?
        /// Arrival order, so a full flush emits streams in the order their events began.
        var sequence: UInt64
        /// Part of an event split by `max_lines` / `max_bytes`.
        var truncated: Bool

        /// A placeholder (no allocation).
        static var none: Pending {
            Pending(event: LogEvent(), messageIndex: 0, lines: 0, bytes: 0, seenAt: nil, sequence: 0, truncated: false)
        }

        /// Appends `\n` and the line's bytes to the held message.
        mutating func append(line: ArenaSlice, of other: borrowing LogEvent) {
            guard case .string(var message) = event.fields[messageIndex].value else { return }
            let extra = 1 + Int(line.count)
            // (No reserveCapacity here: exact reservations would defeat the array's geometric growth.)
            if message.upperBound != event.arena.count {
                // The message is not at the end of the arena: move it there once, so it can grow.
                let start = event.arena.count
                for k in message.range { event.arena.append(event.arena[k]) }
                message = ArenaSlice(start: start, count: Int(message.count))
            }
            event.arena.append(0x0A)
            other.arena.withUnsafeBytes { raw in
                event.arena.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[line.range]))
            }
            event.fields[messageIndex].value = .string(ArenaSlice(start: message.lowerBound, count: Int(message.count) + extra))
            event.origin.endOffset = other.origin.endOffset
            lines += 1
            bytes &+= extra
            seenAt = nil
        }
    }

    private let matcher: Matcher
    private let regex: Regex<AnyRegexOutput>?
    private let maxLines: Int
    private let maxBytes: Int
    private let timeout: Int64
    /// The held event of the stream seen last (`hotKey`): a run of lines from one stream touches no hash table.
    private var hot = Pending.none
    private var hasHot = false
    private var hotKey: UInt64 = 0
    /// Held events of the other streams.
    private var pending: [UInt64: Pending] = [:]
    private var sequence: UInt64 = 0

    private static let flagsPath = FieldPaths.logFlags

    public func forEachHeldOrigin(_ body: (EventOrigin) -> Void) {
        if hasHot { body(hot.event.origin) }
        for p in pending.values { body(p.event.origin) }
    }

    public init(config: MultilineConfig) throws {
        try config.validate()
        self.config = config
        switch config.mode {
        case .java:
            matcher = .java
            regex = nil
        case .start:
            if let pattern = config.pattern {
                matcher = .startRegex
                regex = try Regex(pattern)
            } else {
                matcher = .timestamp
                regex = nil
            }
        case .continue:
            matcher = .continueRegex
            regex = try Regex(config.pattern ?? "")
        }
        maxLines = config.maxLines
        maxBytes = config.maxBytes.bytes
        timeout = config.flushTimeout.nanoseconds
    }

    /// Number of streams with an event held back.
    public var pendingCount: Int { pending.count + (hasHot ? 1 : 0) }

    public mutating func process(_ event: consuming LogEvent, into output: inout [LogEvent]) {
        var spent: [LogEvent] = []
        process(event, into: &output, spent: &spent)
    }

    public mutating func process(_ event: consuming LogEvent, into output: inout [LogEvent], spent: inout [LogEvent]) {
        let key = event.streamKey
        if key != hotKey { switchHot(to: key) }
        guard let mi = event.index(of: FieldPaths.message), case .string(let line) = event.fields[mi].value,
            line.start >= 0, line.count >= 0, line.upperBound <= event.arena.count
        else {
            // Not a line: release what its stream holds first, to keep the order.
            if hasHot { output.append(Self.finish(takeHot())) }
            output.append(event)
            return
        }
        guard hasHot else {
            hot = newPending(event, messageIndex: mi, line: line, truncated: false)
            hasHot = true
            return
        }
        let continues = event.arena.withUnsafeBytes { raw in
            isContinuation(UnsafeRawBufferPointer(rebasing: raw[line.range]))
        }
        var truncated = false
        if continues {
            if hot.lines < maxLines, hot.bytes &+ 1 &+ Int(line.count) <= maxBytes {
                hot.append(line: line, of: event)
                spent.append(event)  // its line is in the held event now
                return
            }
            // Too long: emit what is held, continue in a new event; nothing is dropped.
            truncated = true
            hot.truncated = true
        }
        var finished = newPending(event, messageIndex: mi, line: line, truncated: truncated)
        swap(&finished, &hot)
        output.append(Self.finish(finished))
    }

    public mutating func flush(now: Timestamp?, into output: inout [LogEvent]) {
        // Park the hot stream with the others for the scan; it is taken back at the end.
        if hasHot { pending[hotKey] = takeHot() }
        defer {
            if let held = pending.removeValue(forKey: hotKey) {
                hot = held
                hasHot = true
            }
        }
        guard !pending.isEmpty else { return }
        var ready: [(sequence: UInt64, key: UInt64)] = []
        var i = pending.startIndex
        while i != pending.endIndex {
            if let now {
                if let seen = pending.values[i].seenAt {
                    if now.nanoseconds &- seen.nanoseconds >= timeout {
                        ready.append((pending.values[i].sequence, pending.keys[i]))
                    }
                } else {
                    pending.values[i].seenAt = now
                    if timeout <= 0 { ready.append((pending.values[i].sequence, pending.keys[i])) }
                }
            } else {
                ready.append((pending.values[i].sequence, pending.keys[i]))
            }
            i = pending.index(after: i)
        }
        ready.sort { $0.sequence < $1.sequence }
        for r in ready {
            if let held = pending.removeValue(forKey: r.key) { output.append(Self.finish(held)) }
        }
    }

    /// Makes `key` the hot stream: parks the current hot event in the table, takes out `key`'s.
    private mutating func switchHot(to key: UInt64) {
        if hasHot { pending[hotKey] = takeHot() }
        if let held = pending.removeValue(forKey: key) {
            hot = held
            hasHot = true
        }
        hotKey = key
    }

    /// Moves the hot event out, leaving an empty placeholder.
    private mutating func takeHot() -> Pending {
        var out = Pending.none
        swap(&out, &hot)
        hasHot = false
        return out
    }

    // MARK: Internals

    private mutating func newPending(_ event: consuming LogEvent, messageIndex: Int, line: ArenaSlice, truncated: Bool)
        -> Pending
    {
        sequence &+= 1
        return Pending(
            event: event, messageIndex: messageIndex, lines: 1, bytes: Int(line.count), seenAt: nil,
            sequence: sequence, truncated: truncated)
    }

    private func isContinuation(_ p: UnsafeRawBufferPointer) -> Bool {
        switch matcher {
        case .java: return MultilineRules.javaContinues(p)
        case .timestamp: return !MultilineRules.startsWithTimestamp(p)
        case .startRegex, .continueRegex:
            guard let regex else { return false }
            let text = String(decoding: p, as: UTF8.self)
            let matched = (try? regex.firstMatch(in: text)) != nil
            return matcher == .continueRegex ? matched : !matched
        }
    }

    private static func finish(_ held: consuming Pending) -> LogEvent {
        var event = held.event
        if held.lines > 1 || held.truncated {
            var flags: [FieldValue] = []
            if case .array(let existing)? = event[flagsPath] { flags.append(contentsOf: event.elements(existing)) }
            if held.lines > 1 { flags.append(.string(event.append(string: "multiline"))) }
            if held.truncated { flags.append(.string(event.append(string: "truncated"))) }
            event.set(flagsPath, event.appendArray(flags))
        }
        return event
    }
}

/// The byte-level line rules of the `java` mode and `start: timestamp`.
enum MultilineRules {
    // MARK: java

    /// True when a line continues the event before it in Java stack-trace terms.
    static func javaContinues(_ p: UnsafeRawBufferPointer) -> Bool {
        let n = p.count
        guard n > 0 else { return false }
        let b = p[0]
        if b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") { return true }
        if b == UInt8(ascii: "C") { return hasPrefix(p, "Caused by:") }
        if b == UInt8(ascii: "S") { return hasPrefix(p, "Suppressed:") }
        if b == UInt8(ascii: ".") { return hasPrefix(p, "... ") }
        if b == UInt8(ascii: "[") { return hasPrefix(p, "[CIRCULAR REFERENCE") }
        return isExceptionLine(p)
    }

    static func hasPrefix(_ p: UnsafeRawBufferPointer, _ prefix: StaticString) -> Bool {
        let count = prefix.utf8CodeUnitCount
        guard p.count >= count else { return false }
        let base = prefix.utf8Start
        for j in 0..<count where p[j] != base[j] { return false }
        return true
    }

    /// `java.lang.IllegalStateException: boom`, `com.foo.MyException`, `org.x.Y$Inner: msg`: a qualified
    /// class name (two or more identifiers, the last upper-case) that ends in `Exception`, `Error` or
    /// `Throwable` (or has such a `$` part), optionally followed by `:` and a message; with a message,
    /// an inner class name (`$`) is enough. The `jetty_server` parser applies the same rule.
    static func isExceptionLine(_ p: UnsafeRawBufferPointer) -> Bool {
        JavaExceptionLine.read(p, 0, p.count) != nil
    }

    static func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }

    static func digits(_ p: UnsafeRawBufferPointer, _ at: Int, _ count: Int) -> Bool {
        guard at + count <= p.count else { return false }
        for k in at..<(at + count) where !isDigit(p[k]) { return false }
        return true
    }

    static func isMonth(_ p: UnsafeRawBufferPointer, _ at: Int) -> Bool {
        guard at + 3 <= p.count else { return false }
        return Civil.month(abbreviation: p[at], p[at + 1], p[at + 2]) != nil
    }

    static func isWeekday(_ p: UnsafeRawBufferPointer, _ at: Int) -> Bool {
        guard at + 3 <= p.count else { return false }
        let key = (UInt32(p[at] | 0x20) << 16) | (UInt32(p[at + 1] | 0x20) << 8) | UInt32(p[at + 2] | 0x20)
        switch key {
        case 0x6D_6F6E, 0x74_7565, 0x77_6564, 0x74_6875, 0x66_7269, 0x73_6174, 0x73_756E: return true  // mon…sun
        default: return false
        }
    }

    /// `Oct 25` / `Oct  5` at `at`.
    static func isMonthDay(_ p: UnsafeRawBufferPointer, _ at: Int) -> Bool {
        guard isMonth(p, at), at + 5 < p.count, p[at + 3] == UInt8(ascii: " ") else { return false }
        let a = p[at + 4]
        let b = p[at + 5]
        return (isDigit(a) || a == UInt8(ascii: " ")) && isDigit(b)
    }

    /// True when the line starts (optionally after `[`) with a common timestamp.
    static func startsWithTimestamp(_ p: UnsafeRawBufferPointer) -> Bool {
        let n = p.count
        var i = 0
        if n > 0, p[0] == UInt8(ascii: "[") { i = 1 }
        guard i + 5 <= n else { return false }
        let c0 = p[i]
        if isDigit(c0) {
            // YYYY-MM-DD, YYYY/MM/DD (ISO 8601 included)
            if digits(p, i, 4), i + 10 <= n {
                let sep = p[i + 4]
                if (sep == UInt8(ascii: "-") || sep == UInt8(ascii: "/")), digits(p, i + 5, 2), p[i + 7] == sep,
                    digits(p, i + 8, 2)
                {
                    return true
                }
            }
            // dd/Mon/yyyy, dd-Mon-yyyy
            if digits(p, i, 2), i + 11 <= n {
                let sep = p[i + 2]
                if (sep == UInt8(ascii: "/") || sep == UInt8(ascii: "-")), isMonth(p, i + 3), p[i + 6] == sep,
                    digits(p, i + 7, 4)
                {
                    return true
                }
            }
            // HH:MM:SS
            if digits(p, i, 2), i + 8 <= n, p[i + 2] == UInt8(ascii: ":"), digits(p, i + 3, 2),
                p[i + 5] == UInt8(ascii: ":"), digits(p, i + 6, 2)
            {
                return true
            }
            return false
        }
        // Mon dd, Day Mon dd
        if isMonthDay(p, i) { return true }
        if isWeekday(p, i), i + 3 < n, p[i + 3] == UInt8(ascii: " "), isMonthDay(p, i + 4) { return true }
        return false
    }
}
