import InputFormats
import ShipperCore
import Testing

/// Inputs found by fuzzing (`Fuzz/`, README "Fuzzing"): each trapped, broke a promise or was
/// pathologically slow once.
@Suite struct InputFormatsFuzzRegressionTests {
    /// A docker line whose `attrs` has 30,000 keys (one repeated at the end): each key was looked
    /// up by scanning the keys before it, so a 1 MiB line cost seconds. Linear now; still the
    /// last value of a repeated key wins.
    @Test func manyAttrsDecodeInLinearTime() {
        let attrs = (0..<30_000).map { #""k\#($0)":"v\#($0)""# }.joined(separator: ",") + #","k7":"last""#
        let line = #"{"log":"hi\n","stream":"stdout","time":"2026-11-25T08:15:01Z","attrs":{"# + attrs + "}}"
        let clock = ContinuousClock()
        var events: [LogEvent] = []
        let elapsed = clock.measure { events = decodeAll(.docker, [Array(line.utf8)]) }
        #expect(events.count == 1)
        #expect(events.first?.string(FieldPath.intern("docker.attrs.k7")) == "last")
        #expect(events.first?.string(FieldPath.intern("docker.attrs.k29999")) == "v29999")
        #expect(events.first?.fields.filter { $0.path.dotted.hasPrefix("docker.attrs.") }.count == 30_000)
        #expect(elapsed < .seconds(10))  // debug build: 1 s linear, 29 s with the old scan
    }
}
