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
}
