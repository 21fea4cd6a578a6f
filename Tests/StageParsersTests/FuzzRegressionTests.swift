import ShipperCore
import StageParsers
import Testing

/// Inputs found by the libFuzzer targets (`Fuzz/`, README "Fuzzing"): each trapped or broke a
/// promise once.
@Suite struct StageParsersFuzzRegressionTests {
    /// Parses `line` as `message`, after other arena bytes, as a decoder leaves it.
    func parse(_ parser: any LogParser, _ line: String) -> (ParseResult, LogEvent, LogEvent) {
        var event = LogEvent()
        event.set(FieldPaths.timestamp, .timestamp(Timestamp(nanoseconds: 0)))
        event.set(FieldPaths.message, string: Array(line.utf8))
        let before = event
        guard case .string(let text)? = event[FieldPaths.message] else { return (.noMatch, event, before) }
        let result = parser.parse(text, into: &event)
        return (result, event, before)
    }

    /// `regex` target: a `timestamp` group holding epoch seconds with more digits than an Int
    /// holds trapped (arithmetic overflow); it is a value that does not convert: no match.
    @Test func regexTimestampGroupWithTooManyDigitsDoesNotMatch() throws {
        let parser = try RegexParser(config: RegexConfig(pattern: #"t=(?<app.t>\S+)"#, types: ["app.t": .timestamp]))
        let (result, event, before) = parse(parser, "t=" + String(repeating: "6", count: 35))
        #expect(result == .noMatch)
        #expect(event.fields == before.fields && event.arena == before.arena)
        let (ok, parsed, _) = parse(parser, "t=1764054901.5")
        #expect(ok == .consumed)
        #expect(parsed[FieldPath.intern("app.t")] == .timestamp(Timestamp(nanoseconds: 1_764_054_901_500_000_000)))
    }
}
