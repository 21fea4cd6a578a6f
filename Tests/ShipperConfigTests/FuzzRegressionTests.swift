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

    /// `config` target, session 9: 2 KB of nested `?` keys ran for minutes. Yams sorts duplicate
    /// keys with a comparison that calls itself twice per level, so equal keys nested n deep cost
    /// 2ⁿ. Keys that are mappings or lists are now refused before Yams builds nodes.
    @Test func nestedDuplicateCollectionKeysAreRefusedQuickly() throws {
        let key = String(repeating: "[", count: 40) + "a" + String(repeating: "]", count: 40)
        let yaml = "{\(key): 1, \(key): 2}\n"
        let clock = ContinuousClock()
        let start = clock.now
        let error = try #require(throws: ConfigError.self) { try ConfigLoader.parse(yaml: yaml, file: "k.yaml") }
        let elapsed = clock.now - start
        #expect(error.description.hasPrefix("k.yaml:1:2: this key is a list"), "\(error)")
        #expect(elapsed < .seconds(10))
    }

    @Test(arguments: [
        ("? [a]\n: b\n", "t.yaml:1:3: this key is a list"),
        ("? {a: b}\n: c\n", "t.yaml:1:3: this key is a mapping"),
        ("{a: b}: c\n", "t.yaml:1:1: this key is a mapping"),
        ("pipelines:\n  [p]: {}\n", "t.yaml:2:3: this key is a list"),
        ("x: &m {a: b}\n*m : c\n", "t.yaml:2:1: this key is an alias of a mapping or a list (*m)"),
        ("? - a\n  - b\n: c\n", "t.yaml:1:3: this key is a list"),
    ])
    func keysThatAreCollectionsAreRefusedWithTheirPosition(yaml: String, expected: String) throws {
        let error = try #require(throws: ConfigError.self) { try ConfigLoader.parse(yaml: yaml, file: "t.yaml") }
        #expect(error.description.hasPrefix(expected), "\(error)")
        #expect(error.description.contains("keys in a config are names"), "\(error)")
    }

    /// An alias of a scalar is a fine key, and aliases of values keep working.
    @Test func aliasesOfScalarsAsKeysAndOfValuesAreKept() throws {
        let yaml = """
            pipelines:
              &name web:
                stages: []
            tests:
              - name: t
                pipeline: *name
                input: x
                fields: &f {a: [1, 2]}
              - name: u
                pipeline: *name
                input: y
                fields: *f
            """
        let config = try ConfigLoader.parse(yaml: yaml, file: "a.yaml")
        #expect(config.pipelines.items.map(\.name) == ["web"])
        #expect(config.tests.count == 2)
        #expect(config.tests.map(\.pipeline) == ["web", "web"])
        #expect(config.tests[0].fields == config.tests[1].fields)
        #expect(config.tests[1].fields != nil)
    }

    /// Nesting is refused past 64 levels (a config needs about 8), with the position; a run of
    /// 100,000 `[` is refused too (libyaml stops at 1000 levels), never a crash.
    @Test func deepNestingIsRefusedNotACrash() throws {
        let deep = "data_dir: " + String(repeating: "[", count: 70) + String(repeating: "]", count: 70) + "\n"
        let error = try #require(throws: ConfigError.self) { try ConfigLoader.parse(yaml: deep, file: "d.yaml") }
        #expect(error.description.hasPrefix("d.yaml:1:74: the YAML nests more than 64 levels deep"), "\(error)")
        // 64 levels (the top mapping and 63 lists) pass the check, and then fail as a wrong type.
        let shallow = "data_dir: " + String(repeating: "[", count: 63) + String(repeating: "]", count: 63) + "\n"
        let other = try #require(throws: ConfigError.self) { try ConfigLoader.parse(yaml: shallow, file: "d.yaml") }
        #expect(!other.description.contains("levels deep"), "\(other)")
        let runaway = "data_dir: " + String(repeating: "[", count: 100_000) + "\n"
        let refused = try #require(throws: ConfigError.self) { try ConfigLoader.parse(yaml: runaway, file: "d.yaml") }
        #expect(refused.description.hasPrefix("d.yaml:1:"), "\(refused)")
    }

    /// "Billion laughs": nine levels of ten aliases each stand for 10⁹ values; a test case's
    /// `fields:` takes any value and would have been built out in full.
    @Test func aliasesThatExpandBeyondAMillionValuesAreRefused() throws {
        var yaml = "tests:\n  - name: t\n    input: x\n    fields:\n      x0: &a0 [v, v, v, v, v, v, v, v, v, v]\n"
        for level in 1...9 {
            yaml += "      x\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        let error = try #require(throws: ConfigError.self) { try ConfigLoader.parse(yaml: yaml, file: "b.yaml") }
        #expect(error.description.hasPrefix("b.yaml:10:"), "\(error)")
        #expect(error.description.contains("more than 1000000 values"), "\(error)")
    }
}
