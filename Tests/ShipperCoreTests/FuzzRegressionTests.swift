import ShipperCore
import Testing

/// Inputs found by the libFuzzer targets (`Fuzz/`, README "Fuzzing"): each trapped or broke a
/// promise once.
@Suite struct FuzzRegressionTests {
    /// `timestamp` target: `unix_ns` with `-9223372036854775808` trapped (negating Int64.min);
    /// 19-digit values above Int64.max and a fraction pushing past it wrapped to wrong times.
    @Test func unixTimesBeyondInt64AreRejectedNotWrappedOrTrapped() throws {
        let ns = try TimeFormat("unix_ns")
        #expect(ns.parse("-9223372036854775808") == nil)
        #expect(ns.parse("9999999999999999999") == nil)
        #expect(ns.parse("9223372036854775807")?.nanoseconds == Int64.max)
        #expect(ns.parse("-9223372036854775807")?.nanoseconds == -Int64.max)
        let seconds = try TimeFormat("unix")
        #expect(seconds.parse("9223372036.9") == nil)
        #expect(seconds.parse("9223372036.5")?.nanoseconds == 9_223_372_036_500_000_000)
        #expect(seconds.parse("1764054901.5")?.nanoseconds == 1_764_054_901_500_000_000)
    }
}
