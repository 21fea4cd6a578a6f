import ShipperCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Options of the `nginx_error` parser.
///
/// ```yaml
/// - type: nginx_error
///   timezone: Europe/Berlin
/// ```
public struct NginxErrorConfig: Decodable, Sendable {
    /// Time zone of the log's timestamps, which nginx writes without a UTC offset (`2016/10/25 14:49:34`
    /// is the server's local time): `UTC` (default), a fixed offset such as `+02:00` / `-0700`, or an
    /// IANA name such as `Europe/Berlin` (daylight-saving rules applied).
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

/// The `nginx_error` parser: nginx's error log.
///
/// Reads lines such as
/// `2016/10/25 14:49:34 [error] 54053#0: *1 open() "/html/favicon.ico" failed (2: No such file or directory), client: 127.0.0.1, server: localhost, request: "GET /favicon.ico HTTP/1.1", host: "localhost:8080", referrer: "http://localhost:8080/"`
/// and sets:
///
/// | field | from |
/// |---|---|
/// | `@timestamp` | the date and time, read in the configured `timezone` |
/// | `log.level` | the level in brackets (`error`, `warn`, `notice`, …) |
/// | `process.pid`, `process.thread.id` | `54053#0` (numbers) |
/// | `nginx.error.connection_id` | `*1` (number; absent for messages not tied to a connection) |
/// | `message` | the error text, without the `, client: …` context that nginx appends |
/// | `source.address`, `source.ip` | `client:` (`source.ip` only when it is an IP address) |
/// | `nginx.error.server` | `server:` (the `server_name` of the virtual server) |
/// | `user.name` | `login:` (mail proxy) |
/// | `http.request.method`, `url.original`, `http.version` | `request:` when it is a request line; otherwise the raw text goes to `nginx.error.request` |
/// | `nginx.error.subrequest` | `subrequest:` |
/// | `nginx.error.upstream` | `upstream:` |
/// | `url.domain`, `url.port` | `host:` (the `Host` header, split at the port) |
/// | `http.request.referrer` | `referrer:` |
///
/// The message may span several lines (FastCGI stderr output joined by a `multiline` stage): the
/// `, client: …` context is recognised at the end of the whole text. When that context cannot be
/// read exactly (an unknown key, as in the stream module's `bytes from/to client:`), it stays in
/// `message`. Returns ``ParseResult/keptMessage``.
public struct NginxErrorParser: LogParser {
    public let config: NginxErrorConfig
    private let paths = NginxErrorPaths()

    public init(config: NginxErrorConfig) throws {
        self.config = config
    }

    public func parse(_ text: ArenaSlice, into event: inout LogEvent) -> ParseResult {
        let arena = event.arena
        guard text.start >= 0, text.count >= 0, text.upperBound <= arena.count else { return .noMatch }
        var line = NginxErrorLine()
        let matched = arena.withUnsafeBytes { raw in
            line.parse(UnsafeRawBufferPointer(rebasing: raw[text.range]), base: text.lowerBound)
        }
        guard matched else { return .noMatch }
        line.apply(to: &event, zone: config.zone, paths: paths)
        return .keptMessage
    }
}

/// Paths set by the `nginx_error` parser (held by the parser, so the hot path reads no globals).
private struct NginxErrorPaths: Sendable {
    let timestamp = FieldPaths.timestamp
    let message = FieldPaths.message
    let level = FieldPaths.logLevel
    let pid = FieldPath.intern("process.pid")
    let tid = FieldPath.intern("process.thread.id")
    let connectionID = FieldPath.intern("nginx.error.connection_id")
    let sourceAddress = FieldPath.intern("source.address")
    let sourceIP = FieldPath.intern("source.ip")
    let server = FieldPath.intern("nginx.error.server")
    let userName = FieldPath.intern("user.name")
    let method = FieldPath.intern("http.request.method")
    let urlOriginal = FieldPath.intern("url.original")
    let httpVersion = FieldPath.intern("http.version")
    let request = FieldPath.intern("nginx.error.request")
    let subrequest = FieldPath.intern("nginx.error.subrequest")
    let upstream = FieldPath.intern("nginx.error.upstream")
    let urlDomain = FieldPath.intern("url.domain")
    let urlPort = FieldPath.intern("url.port")
    let referrer = FieldPath.intern("http.request.referrer")
    /// Top-level objects written besides `log` (for the "no clashing field" fast path).
    let process = FieldPath.intern("process")
    let nginx = FieldPath.intern("nginx")
    let source = FieldPath.intern("source")
    let user = FieldPath.intern("user")
    let http = FieldPath.intern("http")
    let url = FieldPath.intern("url")
    let log = FieldPath.intern("log")

    /// True when no field of `event` other than `@timestamp` and `message` is at, above or below a
    /// path this parser sets, so new fields can be appended without searching.
    func noClash(_ fields: [Field]) -> Bool {
        for f in fields {
            let path = f.path
            if path === timestamp || path === message { continue }
            let top = path.ancestor(atDepth: 1)
            if top === log {
                if path.depth == 1 || level.isPrefix(of: path) { return false }
                continue
            }
            if top === process || top === nginx || top === source || top === user || top === http || top === url {
                return false
            }
            if !path.interned { return false }  // compare by text below: rare, be safe
        }
        return true
    }
}

/// The parts of one error-log entry, as arena ranges (absolute offsets) and numbers.
private struct NginxErrorLine {
    var time = CivilTime(year: 0, month: 0, day: 0)
    var level = ArenaSlice(start: 0, count: 0)
    var pid: Int64 = 0
    var tid: Int64 = 0
    var connectionID: Int64 = -1
    var message = ArenaSlice(start: 0, count: 0)
    var tail = NginxErrorTail()

    // MARK: Scanning

    /// Parses `p` (the text; `base` is its offset in the arena). False when it is not an error-log line.
    mutating func parse(_ p: UnsafeRawBufferPointer, base: Int) -> Bool {
        let n = p.count
        // "YYYY/MM/DD HH:MM:SS [" is 21 bytes.
        guard n >= 21 else { return false }
        guard let year = Self.digits(p, 0, 4), p[4] == UInt8(ascii: "/"),
            let month = Self.digits(p, 5, 2), p[7] == UInt8(ascii: "/"),
            let day = Self.digits(p, 8, 2), p[10] == UInt8(ascii: " "),
            let hour = Self.digits(p, 11, 2), p[13] == UInt8(ascii: ":"),
            let minute = Self.digits(p, 14, 2), p[16] == UInt8(ascii: ":"),
            let second = Self.digits(p, 17, 2), p[19] == UInt8(ascii: " "), p[20] == UInt8(ascii: "[")
        else { return false }
        time = CivilTime(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        guard time.isValid else { return false }

        // [level]
        var i = 21
        let levelStart = i
        while i < n, Self.isLetter(p[i]), i - levelStart < 16 { i += 1 }
        guard i > levelStart, i < n, p[i] == UInt8(ascii: "]") else { return false }
        level = ArenaSlice(start: base + levelStart, count: i - levelStart)
        i += 1
        guard i < n, p[i] == UInt8(ascii: " ") else { return false }
        i += 1

        // pid#tid:
        guard let processID = Self.number(p, &i), i < n, p[i] == UInt8(ascii: "#") else { return false }
        i += 1
        guard let threadID = Self.number(p, &i), i < n, p[i] == UInt8(ascii: ":") else { return false }
        i += 1
        pid = processID
        tid = threadID
        if i < n {
            guard p[i] == UInt8(ascii: " ") else { return false }
            i += 1
        }

        // *connection_id (optional)
        if i < n, p[i] == UInt8(ascii: "*") {
            var j = i + 1
            if let cid = Self.number(p, &j), j == n || p[j] == UInt8(ascii: " ") {
                connectionID = cid
                i = j < n ? j + 1 : j
            }
        }

        // message [, client: …]
        let messageStart = i
        var messageEnd = n
        if let tailStart = NginxErrorTail.locate(p, from: messageStart, into: &tail, base: base) {
            messageEnd = tailStart
        }
        message = ArenaSlice(start: base + messageStart, count: messageEnd - messageStart)
        return true
    }

    @inline(__always)
    static func isLetter(_ b: UInt8) -> Bool { (b | 0x20) >= UInt8(ascii: "a") && (b | 0x20) <= UInt8(ascii: "z") }

    @inline(__always)
    static func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }

    /// Exactly `count` digits at `at`.
    static func digits(_ p: UnsafeRawBufferPointer, _ at: Int, _ count: Int) -> Int? {
        var v = 0
        for k in at..<(at + count) {
            let b = p[k]
            guard isDigit(b) else { return nil }
            v = v * 10 + Int(b &- 48)
        }
        return v
    }

    /// 1 to 18 digits at `i`, advancing `i`.
    static func number(_ p: UnsafeRawBufferPointer, _ i: inout Int) -> Int64? {
        let start = i
        var v: Int64 = 0
        while i < p.count, isDigit(p[i]) {
            guard i - start < 18 else { return nil }
            v = v &* 10 &+ Int64(p[i] &- 48)
            i += 1
        }
        return i > start ? v : nil
    }

    // MARK: Writing

    func apply(to event: inout LogEvent, zone: TimeZoneRule, paths: NginxErrorPaths) {
        // Append without searching when no existing field can clash with ours (the usual case);
        // `@timestamp` and `message` normally exist already and are replaced in place.
        let fresh = paths.noClash(event.fields)
        @inline(__always) func put(_ path: FieldPath, _ value: FieldValue) {
            if fresh { event.appendField(path, value) } else { event.set(path, value) }
        }
        event.fields.reserveCapacity(event.fields.count + 12)
        // Replace the two that usually exist first, while the field list is short.
        event.set(paths.timestamp, .timestamp(time.timestamp(zone: zone)))
        event.set(paths.message, .string(message))
        put(paths.level, .string(level))
        put(paths.pid, .int(pid))
        put(paths.tid, .int(tid))
        if connectionID >= 0 { put(paths.connectionID, .int(connectionID)) }
        if let v = tail.client {
            put(paths.sourceAddress, .string(v))
            if tail.clientIsIP { put(paths.sourceIP, .string(v)) }
        }
        if let v = tail.server { put(paths.server, .string(v)) }
        if let v = tail.login { put(paths.userName, .string(v)) }
        if let v = tail.request {
            if let m = tail.method {
                put(paths.method, .string(m))
                if let u = tail.url { put(paths.urlOriginal, .string(u)) }
                if let h = tail.httpVersion { put(paths.httpVersion, .string(h)) }
            } else {
                put(paths.request, .string(v))
            }
        }
        if let v = tail.subrequest { put(paths.subrequest, .string(v)) }
        if let v = tail.upstream { put(paths.upstream, .string(v)) }
        if let v = tail.hostDomain {
            put(paths.urlDomain, .string(v))
            if tail.hostPort >= 0 { put(paths.urlPort, .int(tail.hostPort)) }
        }
        if let v = tail.referrer { put(paths.referrer, .string(v)) }
    }
}

/// The `, client: …, server: …, request: "…"` context nginx appends to an error message.
private struct NginxErrorTail {
    var client: ArenaSlice?
    var clientIsIP = false
    var server: ArenaSlice?
    var login: ArenaSlice?
    var request: ArenaSlice?
    var method: ArenaSlice?
    var url: ArenaSlice?
    var httpVersion: ArenaSlice?
    var subrequest: ArenaSlice?
    var upstream: ArenaSlice?
    var hostDomain: ArenaSlice?
    var hostPort: Int64 = -1
    var referrer: ArenaSlice?

    /// `, client: ` — where the context starts.
    static let clientMarker: StaticString = ", client: "
    /// How many `, client: ` occurrences are tried before giving up (bounds the work on hostile input).
    static let maxCandidates = 8

    /// Finds where the context starts: the first `, client: ` from which the rest of the text reads
    /// as a well-formed context up to its end. Fills `tail` and returns the start offset (relative to `p`).
    static func locate(_ p: UnsafeRawBufferPointer, from start: Int, into tail: inout NginxErrorTail, base: Int) -> Int? {
        var from = start
        var tries = 0
        while tries < maxCandidates, let at = findClientMarker(p, from: from) {
            tries += 1
            if tail.read(p, at: at, base: base) { return at }
            tail = NginxErrorTail()
            from = at + 1
        }
        return nil
    }

    static func findClientMarker(_ p: UnsafeRawBufferPointer, from: Int) -> Int? {
        var i = from
        while i + 10 <= p.count, let comma = find(UInt8(ascii: ","), p, from: i, to: p.count - 9) {
            if matches(p, comma, clientMarker) { return comma }
            i = comma + 1
        }
        return nil
    }

    /// The first `byte` in `p[from..<to]` (memchr).
    @inline(__always)
    static func find(_ byte: UInt8, _ p: UnsafeRawBufferPointer, from: Int, to: Int) -> Int? {
        guard from < to, let base = p.baseAddress else { return nil }
        guard let hit = memchr(base + from, Int32(byte), to - from) else { return nil }
        return UnsafeRawPointer(hit) - base
    }

    @inline(__always)
    static func matches(_ p: UnsafeRawBufferPointer, _ at: Int, _ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard at + count <= p.count else { return false }
        let t = text.utf8Start
        for j in 0..<count where p[at + j] != t[j] { return false }
        return true
    }

    /// Known keys in the order nginx writes them (`ngx_http_log_error_handler`, `ngx_mail_log_error`):
    /// client 0, server 1, login 2, request 3, subrequest 4, upstream 5, host 6, referrer 7.
    static func keyIndex(_ p: UnsafeRawBufferPointer, _ s: Int, _ e: Int) -> Int? {
        switch e - s {
        case 4: return matches(p, s, "host") ? 6 : nil
        case 5: return matches(p, s, "login") ? 2 : nil
        case 6:
            if matches(p, s, "client") { return 0 }
            return matches(p, s, "server") ? 1 : nil
        case 7: return matches(p, s, "request") ? 3 : nil
        case 8:
            if matches(p, s, "upstream") { return 5 }
            return matches(p, s, "referrer") ? 7 : nil
        case 10: return matches(p, s, "subrequest") ? 4 : nil
        default: return nil
        }
    }

    /// At `p[at...]`: `, <key>: ` for a known key ordered after `after`; returns the key and where its value starts.
    static func keyAt(_ p: UnsafeRawBufferPointer, at: Int, after: Int) -> (key: Int, value: Int)? {
        let n = p.count
        guard at + 2 < n, p[at] == UInt8(ascii: ","), p[at + 1] == UInt8(ascii: " ") else { return nil }
        let s = at + 2
        var i = s
        while i < n, i - s <= 10, p[i] >= UInt8(ascii: "a"), p[i] <= UInt8(ascii: "z") { i += 1 }
        guard i + 1 < n, p[i] == UInt8(ascii: ":"), p[i + 1] == UInt8(ascii: " "),
            let k = keyIndex(p, s, i), k > after
        else { return nil }
        return (k, i + 2)
    }

    /// Reads the whole context starting at `at` (which holds `, client: `). False unless it runs to the end.
    mutating func read(_ p: UnsafeRawBufferPointer, at: Int, base: Int) -> Bool {
        let n = p.count
        var i = at
        var last = -1
        while i < n {
            guard let (k, v) = NginxErrorTail.keyAt(p, at: i, after: last) else { return false }
            if last == -1 && k != 0 { return false }
            last = k
            i = v
            let valueStart: Int
            let valueEnd: Int
            if k != 0, i < n, p[i] == UInt8(ascii: "\"") {
                // Quoted: ends at the first quote followed by the next known key or the end of the text.
                valueStart = i + 1
                var q = valueStart
                var end = -1
                while let quote = NginxErrorTail.find(UInt8(ascii: "\""), p, from: q, to: n) {
                    if quote + 1 == n || NginxErrorTail.keyAt(p, at: quote + 1, after: k) != nil {
                        end = quote
                        break
                    }
                    q = quote + 1
                }
                guard end >= 0 else { return false }
                valueEnd = end
                i = end + 1
            } else {
                // Unquoted: up to the next ", " (client addresses and server names hold none).
                valueStart = i
                var q = i
                while q < n, !(p[q] == UInt8(ascii: ",") && q + 1 < n && p[q + 1] == UInt8(ascii: " ")) {
                    if p[q] == UInt8(ascii: "\n") { return false }
                    q += 1
                }
                valueEnd = q
                i = q
            }
            store(key: k, p, valueStart, valueEnd, base: base)
        }
        return client != nil
    }

    mutating func store(key: Int, _ p: UnsafeRawBufferPointer, _ s: Int, _ e: Int, base: Int) {
        // `-` and empty values are omitted.
        if e <= s || (e - s == 1 && p[s] == UInt8(ascii: "-")) { return }
        let slice = ArenaSlice(start: base + s, count: e - s)
        switch key {
        case 0:
            client = slice
            clientIsIP = NginxErrorTail.isIP(p, s, e)
        case 1: server = slice
        case 2: login = slice
        case 3:
            request = slice
            readRequestLine(p, s, e, base: base)
        case 4: subrequest = slice
        case 5: upstream = slice
        case 6: readHost(p, s, e, base: base)
        default: referrer = slice
        }
    }

    /// `METHOD URI HTTP/x.y` (or `METHOD URI` for HTTP/0.9).
    mutating func readRequestLine(_ p: UnsafeRawBufferPointer, _ s: Int, _ e: Int, base: Int) {
        var i = s
        while i < e, (p[i] >= UInt8(ascii: "A") && p[i] <= UInt8(ascii: "Z")) || p[i] == UInt8(ascii: "-")
            || p[i] == UInt8(ascii: "_")
        {
            i += 1
        }
        guard i > s, i < e, p[i] == UInt8(ascii: " ") else { return }
        let methodEnd = i
        let uriStart = i + 1
        guard uriStart < e, p[uriStart] != UInt8(ascii: " ") else { return }
        // The version is after the last space, when it reads HTTP/…
        var lastSpace = e - 1
        while lastSpace > uriStart, p[lastSpace] != UInt8(ascii: " ") { lastSpace -= 1 }
        var uriEnd = e
        if lastSpace > uriStart, e - lastSpace > 6,
            p[lastSpace + 1] == UInt8(ascii: "H"), p[lastSpace + 2] == UInt8(ascii: "T"),
            p[lastSpace + 3] == UInt8(ascii: "T"), p[lastSpace + 4] == UInt8(ascii: "P"),
            p[lastSpace + 5] == UInt8(ascii: "/")
        {
            uriEnd = lastSpace
            httpVersion = ArenaSlice(start: base + lastSpace + 6, count: e - lastSpace - 6)
        } else {
            // No version: only a single-token URI makes a request line.
            var j = uriStart
            while j < e, p[j] != UInt8(ascii: " ") { j += 1 }
            guard j == e else { return }
        }
        method = ArenaSlice(start: base + s, count: methodEnd - s)
        url = ArenaSlice(start: base + uriStart, count: uriEnd - uriStart)
    }

    /// `host[:port]`, `[v6]:port`.
    mutating func readHost(_ p: UnsafeRawBufferPointer, _ s: Int, _ e: Int, base: Int) {
        var colon = -1
        var j = e - 1
        while j >= s {
            let b = p[j]
            if b == UInt8(ascii: ":") {
                colon = j
                break
            }
            guard NginxErrorLine.isDigit(b) else { break }
            j -= 1
        }
        if colon > s, e - colon >= 2, e - colon <= 6 {
            // A bare IPv6 address (several colons, no brackets) has no port.
            let hostPart = UnsafeRawBufferPointer(rebasing: p[s..<colon])
            let bracketed = p[s] == UInt8(ascii: "[") && p[colon - 1] == UInt8(ascii: "]")
            if bracketed || !hostPart.contains(UInt8(ascii: ":")) {
                var port: Int64 = 0
                for k in (colon + 1)..<e { port = port * 10 + Int64(p[k] &- 48) }
                if port <= 65535 {
                    hostDomain = ArenaSlice(start: base + s, count: colon - s)
                    hostPort = port
                    return
                }
            }
        }
        hostDomain = ArenaSlice(start: base + s, count: e - s)
    }

    /// A dotted-quad IPv4 address or an IPv6 address (hex digits, colons, optional dotted tail).
    static func isIP(_ p: UnsafeRawBufferPointer, _ s: Int, _ e: Int) -> Bool {
        guard e > s, e - s <= 45 else { return false }
        var colons = 0
        var dots = 0
        var hex = true
        var decimal = true
        for k in s..<e {
            let b = p[k]
            if b == UInt8(ascii: ":") {
                colons += 1
                decimal = false
            } else if b == UInt8(ascii: ".") {
                dots += 1
            } else if NginxErrorLine.isDigit(b) {
                continue
            } else if (b | 0x20) >= UInt8(ascii: "a") && (b | 0x20) <= UInt8(ascii: "f") {
                decimal = false
            } else {
                hex = false
                decimal = false
            }
        }
        if decimal && colons == 0 && dots == 3 {
            // Four parts of 1–3 digits, each at most 255.
            var part = 0
            var digitsInPart = 0
            for k in s...e {
                if k == e || p[k] == UInt8(ascii: ".") {
                    guard digitsInPart >= 1, digitsInPart <= 3, part <= 255 else { return false }
                    part = 0
                    digitsInPart = 0
                } else {
                    // More than 3 digits is no address part (and must not overflow `part`).
                    guard digitsInPart < 3 else { return false }
                    part = part * 10 + Int(p[k] &- 48)
                    digitsInPart += 1
                }
            }
            return true
        }
        return hex && colons >= 2 && colons <= 7
    }
}
