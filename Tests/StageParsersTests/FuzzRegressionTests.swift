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
    /// holds, or more seconds than fit in nanoseconds, trapped (arithmetic overflow); it is a
    /// value that does not convert: no match.
    @Test func regexTimestampGroupWithTooManyDigitsDoesNotMatch() throws {
        let parser = try RegexParser(config: RegexConfig(pattern: #"t=(?<app.t>\S+)"#, types: ["app.t": .timestamp]))
        let (result, event, before) = parse(parser, "t=" + String(repeating: "6", count: 35))
        #expect(result == .noMatch)
        #expect(event.fields == before.fields && event.arena == before.arena)
        // 11 digits passed the check for "too many" and overflowed in nanoseconds.
        for seconds in ["99999999999", "9223372037", "9223372036.9"] {
            let (r, e, b) = parse(parser, "t=" + seconds)
            #expect(r == .noMatch)
            #expect(e.fields == b.fields)
        }
        let (edge, atEdge, _) = parse(parser, "t=9223372036.5")
        #expect(edge == .consumed)
        #expect(atEdge[FieldPath.intern("app.t")] == .timestamp(Timestamp(nanoseconds: 9_223_372_036_500_000_000)))
        let (ok, parsed, _) = parse(parser, "t=1764054901.5")
        #expect(ok == .consumed)
        #expect(parsed[FieldPath.intern("app.t")] == .timestamp(Timestamp(nanoseconds: 1_764_054_901_500_000_000)))
    }

    /// `json_roundtrip` target: keys of an object inside an array were kept as written, so
    /// `[{"x":1,"x":2}]` and `[{"x":1,"x.y":2}]` were written with `x` twice in one object, a
    /// document Elasticsearch refuses. They follow the top-level rules now.
    @Test func objectsInArraysHaveEachKeyOnce() throws {
        let parser = try JSONFieldParser(config: JSONFieldConfig())
        for (input, expected) in [
            (#"{"a":[{"x":1,"x":2}]}"#, #"{"@timestamp":"1970-01-01T00:00:00.000Z","a":[{"x":2}]}"#),
            (#"{"a":[{"x":1,"x.y":2},{"x.y":1,"x":3}]}"#, #"{"@timestamp":"1970-01-01T00:00:00.000Z","a":[{"x":{"y":2}},{"x":3}]}"#),
        ] {
            var (result, event, _) = parse(parser, input)
            #expect(result == .consumed)
            event.remove(FieldPaths.message)
            #expect(JSONWriter.string(event) == expected)
        }
    }

    /// `json` target: a line with 60,000 keys (877 KB, under the default 1 MiB line limit) took
    /// 15 s in a release build: one `set` per key, each scanning every field. Linear now; a
    /// quadratic parse of these 30,000 keys takes 19 s in a debug build, the linear one 0.2 s.
    @Test func aWideObjectParsesInLinearTime() throws {
        let parser = try JSONFieldParser(config: JSONFieldConfig(target: "wide"))
        let input = "{" + (0..<30_000).map { #""k\#($0)":\#($0)"# }.joined(separator: ",") + #","k7":"last"}"#
        let clock = ContinuousClock()
        var result = ParseResult.noMatch
        var event = LogEvent()
        let elapsed = clock.measure { (result, event, _) = parse(parser, input) }
        #expect(result == .consumed)
        #expect(event.fields.count == 2 + 30_000)
        #expect(event.string(FieldPath.intern("wide.k7")) == "last")
        #expect(event[FieldPath.intern("wide.k29999")] == .int(29_999))
        #expect(elapsed < .seconds(5))  // linear: 0.2 s in a debug build; quadratic: 19 s
    }

    /// Fuzzing at scale: a key of 20,000 dotted segments (a 40 KB line) made 20,000 paths (430 MB,
    /// 2 s); a few hundred KB would have exhausted memory. Such a line does not parse now.
    @Test func aKeyTooDeepIsNoMatch() throws {
        let parser = try JSONFieldParser(config: JSONFieldConfig())
        let key = Array(repeating: "a", count: 20_000).joined(separator: ".")
        let clock = ContinuousClock()
        var result = ParseResult.consumed
        var event = LogEvent()
        var before = LogEvent()
        let elapsed = clock.measure { (result, event, before) = parse(parser, #"{""# + key + #"":1}"#) }
        #expect(result == .noMatch)
        #expect(event.fields == before.fields)
        #expect(elapsed < .seconds(2))
        let (ok, parsed, _) = parse(parser, #"{"a.b.c":1}"#)
        #expect(ok == .consumed)
        #expect(parsed[FieldPath.intern("a.b.c")] == .int(1))
    }

    /// `nginx_error` target: a `client:` value with a 20-digit "address part" trapped
    /// (arithmetic overflow) while checking whether it is an IP address; it is not one.
    @Test func nginxErrorClientWithLongDigitRunsIsNoAddress() throws {
        let parser = try NginxErrorParser(config: NginxErrorConfig())
        let (result, event, _) = parse(
            parser, "2019/10/30 23:26:34 [error] 1#1: *6 x, client: 99999999999999999999.1.1.1, server: s")
        #expect(result != .noMatch)
        #expect(event[FieldPath.intern("source.ip")] == nil)
        let (_, ok, _) = parse(parser, "2019/10/30 23:26:34 [error] 1#1: *6 x, client: 10.1.2.3, server: s")
        #expect(ok.string(FieldPath.intern("source.ip")) == "10.1.2.3")
    }
}
