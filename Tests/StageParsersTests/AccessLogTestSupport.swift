import Foundation
import ShipperCore
import StageParsers
import Testing

/// Helpers shared by the nginx_access and jetty_request tests.
enum AccessLogTestSupport {
    static let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("../shared/samples")

    static func sample(_ relative: String) throws -> Data {
        try Data(contentsOf: samples.appendingPathComponent(relative))
    }

    static func sampleLines(_ relative: String) throws -> [String] {
        let text = String(decoding: try sample(relative), as: UTF8.self)
        return text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    }

    /// An event whose `message` is `bytes`, preceded in the arena by other bytes (so slices must
    /// be offset correctly), and with an `@timestamp` already set (as a decoder would).
    static func event(_ bytes: [UInt8]) -> (LogEvent, ArenaSlice) {
        var event = LogEvent()
        event.set(FieldPath.intern("log.file.path"), string: Array("/var/lib/docker/x-json.log".utf8))
        event.set(FieldPaths.timestamp, .timestamp(Timestamp(seconds: 1)))
        event.set(FieldPaths.message, string: bytes)
        guard case .string(let slice)? = event[FieldPaths.message] else { fatalError("message not set") }
        return (event, slice)
    }

    /// Parses `line`, checking that `.noMatch` leaves the event exactly as it was.
    static func parse(_ parser: some LogParser, _ bytes: [UInt8]) -> (ParseResult, LogEvent) {
        var (event, slice) = event(bytes)
        let before = event
        let result = parser.parse(slice, into: &event)
        if result == .noMatch {
            #expect(event.fields == before.fields, "fields changed on noMatch")
            #expect(event.arena == before.arena, "arena changed on noMatch")
        } else {
            #expect(event.arena == before.arena, "the parser should point into the line, not copy")
        }
        return (result, event)
    }

    static func parse(_ parser: some LogParser, _ line: String) -> (ParseResult, LogEvent) {
        parse(parser, Array(line.utf8))
    }

    /// The fields a parser added (everything but the three set by ``event(_:)``).
    static func addedPaths(_ event: LogEvent) -> [String] {
        event.fields.map(\.path.dotted).filter { !["log.file.path", "message"].contains($0) }
    }

    /// A field's value as JSON (strings decoded, timestamps as RFC 3339 text).
    static func json(_ event: LogEvent, _ path: String) -> JSONValue? {
        guard let value = event[FieldPath.intern(path)] else { return nil }
        return json(event, value)
    }

    static func json(_ event: LogEvent, _ value: FieldValue) -> JSONValue {
        switch value {
        case .string(let s): return .string(event.string(s))
        case .int(let i): return .int(i)
        case .double(let d): return .double(d)
        case .bool(let b): return .bool(b)
        case .null: return .null
        case .timestamp(let t): return .string(t.rfc3339)
        case .array(let list): return .array(event.elements(list).map { json(event, $0) })
        case .object: return .null
        }
    }

    /// Malformed inputs every access log parser must survive: no crash, `.noMatch`, event unchanged.
    static let malformedInputs: [(String, [UInt8])] = {
        // A deterministic pseudo-random byte soup (xorshift), so failures are reproducible.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var soup: [UInt8] = []
        for _ in 0..<4096 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            soup.append(UInt8(truncatingIfNeeded: state))
        }
        let combined = Array(
            #"77.179.66.156 - - [25/Oct/2016:14:49:33 +0200] "GET / HTTP/1.1" 200 612 "-" "Mozilla/5.0""#.utf8)
        var huge = Array(repeating: UInt8(ascii: "a"), count: 1 << 20)
        huge[0] = UInt8(ascii: "[")
        return [
            ("empty", []),
            ("spaces", Array("     ".utf8)),
            ("newline", [10]),
            ("truncated after time", Array(combined[0..<48])),
            ("truncated inside request", Array(combined[0..<60])),
            ("truncated inside user agent", Array(combined[0..<(combined.count - 4)])),
            ("random bytes", soup),
            ("invalid UTF-8", [0xFF, 0xFE, 0xC0, 0x80, 0x20, 0x2D, 0x20, 0xED, 0xA0, 0x80]),
            ("1 MiB line", huge),
            ("NUL bytes", [UInt8](repeating: 0, count: 300)),
            ("only quotes", Array(#""""""""""#.utf8)),
            ("only brackets", Array("[[[]]] [] [".utf8)),
            ("error log line", Array(
                #"2025/01/03 16:41:26 [error] 31#31: *3 open() "/usr/share/nginx/html/favicon.ico" failed (2: No such file or directory), client: 172.24.0.2, server: localhost, request: "GET /favicon.ico HTTP/1.1""#.utf8)),
            ("status not a number", Array(
                #"1.2.3.4 - - [25/Oct/2016:14:49:33 +0200] "GET / HTTP/1.1" abc 612 "-" "ua""#.utf8)),
            ("bad month", Array(#"1.2.3.4 - - [25/Foo/2016:14:49:33 +0200] "GET / HTTP/1.1" 200 612 "-" "ua""#.utf8)),
            ("day 32", Array(#"1.2.3.4 - - [32/Oct/2016:14:49:33 +0200] "GET / HTTP/1.1" 200 612 "-" "ua""#.utf8)),
            ("huge number", Array(
                #"1.2.3.4 - - [25/Oct/2016:14:49:33 +0200] "GET / HTTP/1.1" 200 99999999999999999999999 "-" "ua""#.utf8)),
        ]
    }()
}
