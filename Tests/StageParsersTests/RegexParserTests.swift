import Foundation
import ShipperCore
import StageParsers
import Testing

private func decodeRegexConfig(_ json: String) throws -> RegexConfig {
    try JSONDecoder().decode(RegexConfig.self, from: Data(json.utf8))
}

/// Parses `line` as `message` (behind unrelated arena bytes) and applies what the parse stage does:
/// drop `message` when the parser consumed it.
private func runRegex(_ parser: RegexParser, _ line: [UInt8]) -> (ParseResult, LogEvent) {
    var event = LogEvent()
    event.append(bytes: Array("unrelated".utf8))
    event.set(FieldPaths.message, string: line)
    guard case .string(let text)? = event[FieldPaths.message] else { return (.noMatch, event) }
    let result = parser.parse(text, into: &event)
    if result == .consumed { event.remove(FieldPaths.message) }
    return (result, event)
}

private let commonLog =
    #"^(?<source.address>\S+) \S+ (?<user.name>\S+) \[(?<@timestamp>[^\]]+)\] "(?<http.request.method>\S+) (?<url.original>\S+) HTTP/(?<http.version>[^"]+)" (?<http.response.status_code>\d+) (?<http.response.body.bytes>\d+|-)$"#
private let commonTypes: [String: RegexConfig.FieldType] = ["http.response.status_code": .int, "http.response.body.bytes": .int]

@Suite struct RegexParserTests {
    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var pattern: String
        var types: [String: RegexConfig.FieldType] = [:]
        var timezone = "UTC"
        var line: String
        var result: ParseResult
        var expected: String
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "common log with dotted names, int types and a timestamp",
            pattern: commonLog, types: commonTypes,
            line: #"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#,
            result: .consumed,
            expected: #"{"source":{"address":"127.0.0.1"},"user":{"name":"frank"},"@timestamp":"2000-10-10T20:55:36.000Z","http":{"request":{"method":"GET"},"version":"1.0","response":{"status_code":200,"body":{"bytes":2326}}},"url":{"original":"/apache_pb.gif"}}"#
        ),
        Case(
            name: "dash values set no field",
            pattern: commonLog, types: commonTypes,
            line: #"::1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 304 -"#,
            result: .consumed,
            expected: #"{"source":{"address":"::1"},"@timestamp":"2000-10-10T13:55:36.000Z","http":{"request":{"method":"GET"},"version":"1.1","response":{"status_code":304}},"url":{"original":"/"}}"#
        ),
        Case(
            name: "a message group keeps the message",
            pattern: #"^(?<log.level>[A-Z]+) +(?<message>.*)$"#,
            line: "WARN  disk almost full", result: .keptMessage,
            expected: #"{"message":"disk almost full","log":{"level":"WARN"}}"#
        ),
        Case(
            name: "a group that did not take part sets nothing",
            pattern: #"^(?<a>\d+)(?: (?<b>\w+))?$"#, line: "12", result: .consumed, expected: #"{"a":"12"}"#
        ),
        Case(
            name: "non-ASCII text maps back to the right bytes",
            pattern: #"^(?<user>\S+) (?<rest>.*)$"#, line: "jürgen 日本😀 ok", result: .consumed,
            expected: #"{"user":"jürgen","rest":"日本😀 ok"}"#
        ),
        Case(
            name: "double and bool types",
            pattern: #"took (?<took>[\d.]+)s ok=(?<ok>\w+)"#, types: ["took": .double, "ok": .bool],
            line: "request took 1.25s ok=TRUE", result: .consumed, expected: #"{"took":1.25,"ok":true}"#
        ),
        Case(
            name: "Python-style names",
            pattern: #"id=(?P<event.id>\d+)"#, types: ["event.id": .int], line: "x id=-0042", result: .noMatch,
            expected: #"{"message":"x id=-0042"}"#
        ),
        Case(
            name: "Python-style names that match",
            pattern: #"id=(?P<event.id>-?\d+)"#, types: ["event.id": .int], line: "x id=-0042", result: .consumed,
            expected: #"{"event":{"id":-42}}"#
        ),
        Case(
            name: "a back-reference by field name",
            pattern: #"^(?<word.a>\w+) \k<word.a>$"#, line: "hey hey", result: .consumed, expected: #"{"word":{"a":"hey"}}"#
        ),
        Case(
            name: "group syntax inside a character class is literal",
            pattern: #"^[(?<\]]+(?<n>\d)$"#, line: "(?<]7", result: .consumed, expected: #"{"n":"7"}"#
        ),
        Case(
            name: "lookbehind is not a named group",
            pattern: #"(?<=id:)(?<id>\d+)"#, line: "id:77", result: .consumed, expected: #"{"id":"77"}"#
        ),
        Case(
            name: "a time without zone is read in the timezone",
            pattern: #"^(?<@timestamp>\S+ \S+) (?<message>.*)$"#, timezone: "Europe/Berlin",
            line: "2024-07-01 12:00:00,123 hi", result: .keptMessage,
            expected: #"{"message":"hi","@timestamp":"2024-07-01T10:00:00.123Z"}"#
        ),
        Case(
            name: "timestamp layouts: ISO with offset, slashes, epoch",
            pattern: #"^(?<a>\S+) (?<b>\S+ \S+) (?<c>\S+)$"#, types: ["a": .timestamp, "b": .timestamp, "c": .timestamp],
            line: "2024-07-01T12:00:00.123456+02:00 2024/07/01 12:00:00 1719835200.5", result: .consumed,
            expected: #"{"a":"2024-07-01T10:00:00.123456Z","b":"2024-07-01T12:00:00.000Z","c":"2024-07-01T12:00:00.500Z"}"#
        ),
        Case(
            name: "no match leaves the event",
            pattern: #"^(?<a>\d+)$"#, line: "abc", result: .noMatch, expected: #"{"message":"abc"}"#
        ),
        Case(
            name: "an int that overflows does not match",
            pattern: #"^(?<a>\d+)$"#, types: ["a": .int], line: "99999999999999999999", result: .noMatch,
            expected: #"{"message":"99999999999999999999"}"#
        ),
        Case(
            name: "a bad bool does not match",
            pattern: #"^(?<a>\w+)$"#, types: ["a": .bool], line: "maybe", result: .noMatch, expected: #"{"message":"maybe"}"#
        ),
        Case(
            name: "a bad timestamp does not match",
            pattern: #"^(?<@timestamp>.+)$"#, line: "2024-13-01 00:00:00", result: .noMatch,
            expected: #"{"message":"2024-13-01 00:00:00"}"#
        ),
    ]

    @Test(arguments: cases)
    func parses(_ c: Case) throws {
        let parser = try RegexParser(config: RegexConfig(pattern: c.pattern, types: c.types, timezone: c.timezone))
        let (result, event) = runRegex(parser, Array(c.line.utf8))
        #expect(result == c.result)
        #expect(JSONWriter.string(event) == c.expected)
    }

    @Test func noMatchLeavesTheEventExactlyAsItWas() throws {
        let parser = try RegexParser(config: RegexConfig(pattern: #"^(?<a>\d+) (?<b>\w+)$"#, types: ["b": .int]))
        var event = LogEvent(message: Array("12 abc".utf8), timestamp: Timestamp(seconds: 5))
        let before = (event.fields, event.arena)
        guard case .string(let text)? = event[FieldPaths.message] else { return }
        #expect(parser.parse(text, into: &event) == .noMatch)
        #expect(event.fields == before.0 && event.arena == before.1)
    }

    @Test func invalidUTF8IsMatchedAsReplacementCharacters() throws {
        let parser = try RegexParser(config: RegexConfig(pattern: #"^(?<a>\S+) (?<b>.*)$"#))
        let (result, event) = runRegex(parser, [0x61, 0xFF, 0x20, 0x62, 0x00, 0x63])
        #expect(result == .consumed)
        #expect(event.string(FieldPath.intern("a")) == "a\u{FFFD}")
        #expect(event.bytes(FieldPath.intern("b")).map(Array.init) == [0x62, 0x00, 0x63])
    }

    @Test func stringGroupsPointIntoTheLine() throws {
        let parser = try RegexParser(config: RegexConfig(pattern: #"(?<w>\w+)$"#))
        var event = LogEvent(message: Array("hello world".utf8))
        let arenaSize = event.arena.count
        guard case .string(let text)? = event[FieldPaths.message] else { return }
        #expect(parser.parse(text, into: &event) == .consumed)
        #expect(event.arena.count == arenaSize)
        #expect(event[FieldPath.intern("w")] == .string(ArenaSlice(start: text.lowerBound + 6, count: 5)))
    }

    @Test func decodesConfig() throws {
        let config = try decodeRegexConfig(#"{"pattern":"(?<a>\\d+)","types":{"a":"int"},"timezone":"+02:00"}"#)
        #expect(config.pattern == #"(?<a>\d+)"#)
        #expect(config.types == ["a": .int])
        #expect(config.timezone == "+02:00")
        let defaults = try decodeRegexConfig(#"{"pattern":"(?<a>x)"}"#)
        #expect(defaults.types.isEmpty && defaults.timezone == "UTC")
    }

    static let badConfigs: [(String, String, String)] = [
        ("unbalanced", #"{"pattern":"(?<a>x"}"#, "invalid pattern: expected ')'"),
        ("bad quantifier", #"{"pattern":"(?<a>x{2,1})"}"#, "invalid pattern: range lower bound"),
        ("no named group", #"{"pattern":"(x)"}"#, "pattern has no named group"),
        ("bad name", #"{"pattern":"(?<a..b>x)"}"#, "group name 'a..b' is not a field path"),
        ("bad name char", #"{"pattern":"(?<a b>x)"}"#, "group name 'a b' is not a field path"),
        ("unclosed name", #"{"pattern":"(?<abc"}"#, "has no closing '>'"),
        ("duplicate name", #"{"pattern":"(?<a>x)(?<a>y)"}"#, "group name 'a' is used twice"),
        ("unknown back-reference", #"{"pattern":"(?<a>x)\\k<b>"}"#, "\\k<b> refers to no earlier named group"),
        ("unknown type", #"{"pattern":"(?<a>x)","types":{"a":"float"}}"#, "type 'float' of 'a' is not one of"),
        ("type of no group", #"{"pattern":"(?<a>x)","types":{"b":"int"}}"#, "types: 'b' is not a named group"),
        ("bad timezone", #"{"pattern":"(?<a>x)","timezone":"Mars/Olympus"}"#, "timezone 'Mars/Olympus'"),
    ]

    @Test(arguments: badConfigs)
    func rejectsBadConfig(name: String, json: String, message: String) {
        do {
            _ = try RegexParser(config: try decodeRegexConfig(json))
            Issue.record("\(name): accepted")
        } catch let error as ConfigValueError {
            #expect(error.message.contains(message), "\(name): \(error.message)")
        } catch {
            Issue.record("\(name): \(error)")
        }
    }

    @Test func hostileTextNeverCrashes() throws {
        let parser = try RegexParser(config: RegexConfig(pattern: commonLog, types: commonTypes))
        var seed: UInt64 = 0x1234
        for _ in 0..<300 {
            var bytes: [UInt8] = []
            for _ in 0..<Int(seed % 80) {
                seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                bytes.append(UInt8(truncatingIfNeeded: seed >> 33))
            }
            let (result, _) = runRegex(parser, bytes)
            #expect(result == .noMatch)
        }
    }
}
