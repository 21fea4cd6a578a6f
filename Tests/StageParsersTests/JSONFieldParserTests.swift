import Foundation
import ShipperCore
import StageParsers
import Testing

/// Runs `parser` on `line` as `message` (behind unrelated arena bytes, so slices must be offset
/// right) and applies what the parse stage does: drop `message` when the parser consumed it.
private func runJSON(_ line: [UInt8], target: String = "") throws -> (ParseResult, LogEvent) {
    let parser = try JSONFieldParser(config: JSONFieldConfig(target: target))
    var event = LogEvent()
    event.append(bytes: Array("unrelated bytes".utf8))
    event.set(FieldPaths.message, string: line)
    guard case .string(let text)? = event[FieldPaths.message] else { return (.noMatch, event) }
    let result = parser.parse(text, into: &event)
    if result == .consumed { event.remove(FieldPaths.message) }
    return (result, event)
}

private func decodeJSONConfig(_ json: String) throws -> JSONFieldConfig {
    try JSONDecoder().decode(JSONFieldConfig.self, from: Data(json.utf8))
}

@Suite struct JSONFieldParserTests {
    /// (name, input, target, result, event after the parse stage as JSON).
    static let cases: [(String, String, String, ParseResult, String)] = [
        (
            "scalars keep their JSON types",
            #"{"level":"info","msg":"hi","n":42,"neg":-7,"d":1.5,"ok":true,"no":false,"nil":null}"#, "", .consumed,
            #"{"level":"info","msg":"hi","n":42,"neg":-7,"d":1.5,"ok":true,"no":false,"nil":null}"#
        ),
        (
            "objects are flattened, arrays kept, empty object kept",
            #"{"http":{"request":{"method":"GET"},"status":200},"list":[1,"a",{"b":{"c":2}},[]],"empty":{}}"#, "",
            .consumed,
            #"{"http":{"request":{"method":"GET"},"status":200},"list":[1,"a",{"b":{"c":2}},[]],"empty":{}}"#
        ),
        (
            "a message key becomes message",
            #"{"message":"hello","level":"warn"}"#, "", .keptMessage,
            #"{"message":"hello","level":"warn"}"#
        ),
        (
            "a message object still keeps the message",
            #"{"message":{"text":"hello"}}"#, "", .keptMessage,
            #"{"message":{"text":"hello"}}"#
        ),
        (
            "target puts keys below a path; message there is not the event's message",
            #"{"message":"x","a":{"b":1}}"#, "app", .consumed,
            #"{"app":{"message":"x","a":{"b":1}}}"#
        ),
        (
            "escapes are decoded",
            #"{"s":"a\"b\\c\/\u00e9\ud83d\ude00\n","plain":"xyz"}"#, "", .consumed,
            #"{"s":"a\"b\\c/é😀\n","plain":"xyz"}"#
        ),
        (
            "UTF-8 text is kept",
            #"{"name":"Jürgen 日本"}"#, "", .consumed,
            #"{"name":"Jürgen 日本"}"#
        ),
        ("the last duplicate key wins", #"{"a":1,"a":2}"#, "", .consumed, #"{"a":2}"#),
        ("a later scalar replaces an earlier object", #"{"a":{"b":1},"a":3}"#, "", .consumed, #"{"a":3}"#),
        ("dotted keys are paths", #"{"a.b":1,"a":{"c":2}}"#, "", .consumed, #"{"a":{"b":1,"c":2}}"#),
        ("whitespace around tokens", "  {\t\"a\" : [ 1 , 2 ] }\r\n ", "", .consumed, #"{"a":[1,2]}"#),
        ("an empty object", "{}", "", .consumed, "{}"),
        ("a dash is a value in JSON", #"{"user":"-"}"#, "", .consumed, #"{"user":"-"}"#),
    ]

    @Test(arguments: cases)
    func parses(name: String, input: String, target: String, result: ParseResult, expected: String) throws {
        let (r, event) = try runJSON(Array(input.utf8), target: target)
        #expect(r == result, "\(name)")
        #expect(JSONWriter.string(event) == expected, "\(name)")
    }

    @Test func numbersOutside64BitsAreDoubles() throws {
        let (r, event) = try runJSON(Array(#"{"big":12345678901234567890,"exp":1e3,"max":9223372036854775807}"#.utf8))
        #expect(r == .consumed)
        #expect(event[FieldPath.intern("big")] == .double(12_345_678_901_234_567_890))
        #expect(event[FieldPath.intern("exp")] == .double(1000))
        #expect(event[FieldPath.intern("max")] == .int(.max))
    }

    @Test func mergesIntoExistingFields() throws {
        let parser = try JSONFieldParser(config: JSONFieldConfig())
        var event = LogEvent(message: Array(#"{"@timestamp":"2024-05-01T12:00:00Z","level":"x","stream":"app"}"#.utf8), timestamp: Timestamp(seconds: 0))
        event.set(FieldPaths.stream, string: Array("stdout".utf8))
        guard case .string(let text)? = event[FieldPaths.message] else { Issue.record("no message"); return }
        #expect(parser.parse(text, into: &event) == .consumed)
        #expect(event.string(FieldPaths.timestamp) == "2024-05-01T12:00:00Z")
        #expect(event.string(FieldPaths.stream) == "app")
        #expect(event.string(FieldPath.intern("level")) == "x")
    }

    static let noMatch: [(String, [UInt8])] = [
        ("a string", Array(#""abc""#.utf8)),
        ("a number", Array("12".utf8)),
        ("an array", Array("[1,2]".utf8)),
        ("null", Array("null".utf8)),
        ("empty", []),
        ("text", Array("plain text".utf8)),
        ("unterminated", Array(#"{"a":1"#.utf8)),
        ("unterminated string", Array(#"{"a":"b"#.utf8)),
        ("trailing text", Array(#"{"a":1} x"#.utf8)),
        ("two objects", Array(#"{"a":1}{"b":2}"#.utf8)),
        ("bad literal", Array(#"{"a":tru}"#.utf8)),
        ("leading zero", Array(#"{"a":01}"#.utf8)),
        ("single quotes", Array("{'a':1}".utf8)),
        ("lone surrogate", Array(#"{"a":"\ud800"}"#.utf8)),
        ("invalid UTF-8 in a string", Array(#"{"a":""#.utf8) + [0xFF] + Array(#""}"#.utf8)),
        ("control character", Array(#"{"a":""#.utf8) + [0x01] + Array(#""}"#.utf8)),
        ("NUL", [0]),
        ("too deep", Array((String(repeating: #"{"a":"#, count: 100) + "1" + String(repeating: "}", count: 100)).utf8)),
        ("deep arrays", Array((#"{"a":"# + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}").utf8)),
        ("unclosed nested", Array(#"{"a":{"b":[1,{"c":"#.utf8)),
    ]

    @Test(arguments: noMatch)
    func leavesTheEventAsItWasWhenItDoesNotMatch(name: String, input: [UInt8]) throws {
        let parser = try JSONFieldParser(config: JSONFieldConfig())
        var event = LogEvent(message: input, timestamp: Timestamp(seconds: 1))
        let before = (event.fields, event.arena)
        guard case .string(let text)? = event[FieldPaths.message] else { Issue.record("no message"); return }
        #expect(parser.parse(text, into: &event) == .noMatch, "\(name)")
        #expect(event.fields == before.0, "\(name)")
        #expect(event.arena == before.1, "\(name)")
    }

    @Test func everyPrefixOfAValidObjectIsHandled() throws {
        let parser = try JSONFieldParser(config: JSONFieldConfig())
        let valid = Array(#"{"a":{"b":[1,2.5,"x\u00e9",{"c":null}]},"d":"\ud83d\ude00","e":true}"#.utf8)
        for n in 0..<valid.count {
            var event = LogEvent(message: Array(valid.prefix(n)))
            guard case .string(let text)? = event[FieldPaths.message] else { continue }
            #expect(parser.parse(text, into: &event) == .noMatch, "prefix \(n)")
        }
        var event = LogEvent(message: valid)
        guard case .string(let text)? = event[FieldPaths.message] else { return }
        #expect(parser.parse(text, into: &event) == .consumed)
    }

    @Test func config() throws {
        #expect(try decodeJSONConfig("{}").target == "")
        #expect(try decodeJSONConfig(#"{"target":"app.payload"}"#).target == "app.payload")
        for bad in ["a..b", ".a", "a."] {
            #expect(throws: ConfigValueError.self) { try decodeJSONConfig(#"{"target":"\#(bad)"}"#) }
        }
    }
}
