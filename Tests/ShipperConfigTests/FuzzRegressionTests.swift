import ShipperConfig
import ShipperCore
import Testing

/// Found fuzzing the config loader (`Fuzz/`, README "Fuzzing").
@Suite struct ShipperConfigFuzzRegressionTests {
    /// Fuzzing at scale: each key of a mapping was found by scanning the mapping, so 10,000
    /// pipelines took minutes to decode under the sanitizers. Linear now, same result.
    @Test func largeMappingsDecodeInLinearTime() throws {
        let yaml = "pipelines:\n" + (0..<10_000).map { "  p\($0):\n    stages: []\n" }.joined()
        let clock = ContinuousClock()
        var config: ShipperConfiguration?
        let elapsed = try clock.measure { config = try ConfigLoader.parse(yaml: yaml, file: "many.yaml") }
        #expect(config?.pipelines.items.count == 10_000)
        #expect(config?.pipelines.items.last?.name == "p9999")
        #expect(elapsed < .seconds(20))
    }

    /// `config` target: `flush_timeout: 1777…7ms` (a number past Int64 nanoseconds) trapped
    /// converting to an integer. Durations are now refused from about 31 years on, with the
    /// position and a message, as numbers and with units.
    @Test(arguments: [
        ("177777777777777777777777777777777777777777ms", "is not a duration"),
        ("1e300s", "is not a duration"),
        ("1000000000s", "is not a duration"),
        ("16666667m", "is not a duration"),
        ("1e300", "less than 1000000000 seconds"),
        ("1000000000", "less than 1000000000 seconds"),
    ])
    func durationsTooLongAreRefusedNotTrapped(value: String, message: String) throws {
        let yaml = "data_dir: /tmp/x\ndrain_timeout: \(value)\n"
        let error = try #require(throws: ConfigError.self) { try ConfigLoader.parse(yaml: yaml, file: "t.yaml") }
        #expect("\(error)".contains("t.yaml:2:"), "\(error)")
        #expect("\(error)".contains(message), "\(error)")
    }

    @Test func durationsJustBelowTheLimitAreKept() throws {
        for (value, nanoseconds) in [("999999999s", Int64(999_999_999) * 1_000_000_000), ("999999999", Int64(999_999_999) * 1_000_000_000), ("16666666m", Int64(16_666_666) * 60_000_000_000)] {
            let c = try ConfigLoader.parse(yaml: "data_dir: /tmp/x\ndrain_timeout: \(value)\n", file: "t.yaml")
            #expect(c.drainTimeout.nanoseconds == nanoseconds, "\(value)")
        }
    }
}
