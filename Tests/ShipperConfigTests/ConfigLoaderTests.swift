import ShipperConfig
import ShipperCore
import Testing

@Suite struct ConfigLoaderTests {
    static let valid = """
        sources:
          containers:
            type: docker
        pipelines:
          web:
            match: {service.name: nginx}
            stages:
              - type: parse
                parsers: [nginx_access]
          rest:
            stages: []
        outputs:
          local: {type: file, path: out/x.ndjson}
        tests:
          - name: one
            input: |
              a
              b
            expect:
              - {message: a, http.version: "1.1", n: 1}
        """

    @Test func readsTheStructureInOrder() throws {
        let c = try ConfigLoader.parse(yaml: Self.valid, file: "t.yaml")
        #expect(c.sources.items.map(\.name) == ["containers"])
        #expect(c.sources.items[0].value.type == "docker")
        #expect(c.pipelines.items.map(\.name) == ["web", "rest"])
        #expect(c.pipelines.items[0].value.stages.map(\.type) == ["parse"])
        #expect(c.outputs.items[0].value.location == "t.yaml:13:10")
        #expect(c.tests[0].input == ["a", "b"])
        // Quoted scalars stay strings; plain ones become numbers.
        #expect(c.tests[0].expect[0]["http.version"] == .string("1.1"))
        #expect(c.tests[0].expect[0]["n"] == .int(1))
    }

    @Test(arguments: [
        // (yaml, expected "line:column: message" prefix)
        ("pipelines:\n  a:\n    stagez: []\n", "t.yaml:3:5: unknown key 'stagez' for 'pipelines.a'; did you mean 'stages'?"),
        ("pipelinez: {}\n", "t.yaml:1:1: unknown key 'pipelinez'; did you mean 'pipelines'?"),
        ("pipelines:\n  a:\n    stages: {}\n", "t.yaml:3:13: expected a list for 'pipelines.a.stages', found a mapping"),
        ("pipelines:\n  a:\n    stages:\n      - parsers: []\n", "t.yaml:4:9: missing required key 'type' for 'pipelines.a.stages[0]'"),
        ("tests:\n  - name: x\n", "t.yaml:2:5: missing required key 'input' for 'tests[0]'"),
        ("pipelines: [1, 2\n", "t.yaml:2:1: invalid YAML"),
        ("a: 1\na: 2\n", "t.yaml:"),
        ("pipelines:\n  a:\n    match: {}\n", "t.yaml:3:12: a condition needs at least one field to test"),
        ("pipelines:\n  a:\n    match: {f: {matches: '('}}\n", "t.yaml:3:16: invalid regular expression '('"),
        ("pipelines:\n  a:\n    match: {f: {bogus: 1}}\n", "t.yaml:3:17: unknown key 'bogus' for 'pipelines.a.match.f'"),
    ])
    func refusesBadConfigsWithPositions(yaml: String, expected: String) {
        do {
            _ = try ConfigLoader.parse(yaml: yaml, file: "t.yaml")
            Issue.record("accepted: \(yaml)")
        } catch {
            #expect("\(error)".hasPrefix(expected), "got: \(error)")
        }
    }

    @Test func emptyFileIsRefused() {
        #expect(throws: ConfigError.self) { try ConfigLoader.parse(yaml: "", file: "t.yaml") }
    }

    /// A file that cannot be read says why, without a line and column (it is about the whole file).
    @Test(arguments: [
        ("/nonexistent/x.yaml", "/nonexistent/x.yaml: cannot read the config file: No such file or directory"),
        ("/tmp", "/tmp: cannot read the config file: Is a directory"),
    ])
    func anUnreadableFileSaysWhy(path: String, message: String) {
        #expect(throws: ConfigError(file: path, line: 0, column: 0, message: String(message.dropFirst(path.count + 2)))) {
            try ConfigLoader.load(path: path)
        }
        #expect(ConfigError(file: path, line: 0, column: 0, message: "m").description == path + ": m")
        #expect(ConfigError(file: path, line: 3, column: 5, message: "m").description == path + ":3:5: m")
    }

    struct Sample: Decodable {
        var size: ByteSize
        var wait: ConfigDuration
        var count: Int
        var flag: Bool
        enum CodingKeys: String, CodingKey, CaseIterable { case size, wait, count, flag }
    }

    @Test func componentOptionsDecodeWithUnitsAndLocatedErrors() throws {
        let yaml = "outputs:\n  o:\n    type: x\n    size: 5MiB\n    wait: 500ms\n    count: 1_000\n    flag: yes\n"
        let c = try ConfigLoader.parse(yaml: yaml, file: "t.yaml")
        let s = try c.outputs.items[0].value.decode(Sample.self)
        #expect(s.size.bytes == 5 * 1_048_576)
        #expect(s.wait.nanoseconds == 500_000_000)
        #expect(s.count == 1000)
        #expect(s.flag)

        let bad = "outputs:\n  o:\n    type: x\n    size: lots\n    wait: 1s\n    count: \"3\"\n    flag: true\n"
        let c2 = try ConfigLoader.parse(yaml: bad, file: "t.yaml")
        #expect(throws: ConfigError.self) { try c2.outputs.items[0].value.decode(Sample.self) }
        do {
            _ = try c2.outputs.items[0].value.decode(Sample.self)
        } catch {
            #expect("\(error)" == "t.yaml:4:11: 'lots' is not a size; write e.g. 1048576, 512KiB, 5MiB, 1GiB for 'outputs.o.size'")
        }
    }

    @Test func quotedNumbersAreNotIntegers() throws {
        let c = try ConfigLoader.parse(yaml: "outputs:\n  o:\n    type: x\n    size: 1\n    wait: 1\n    count: \"3\"\n    flag: true\n", file: "t.yaml")
        do {
            _ = try c.outputs.items[0].value.decode(Sample.self)
            Issue.record("a quoted number was read as an integer")
        } catch {
            #expect("\(error)" == "t.yaml:6:12: expected a whole number for 'outputs.o.count', found '3'")
        }
    }
}

@Suite struct EnvironmentSubstitutionTests {
    @Test(arguments: [
        ("host: ${HOST}", "host: node-7"),
        ("host: ${MISSING:-fallback}", "host: fallback"),
        ("host: ${EMPTY:-fallback}", "host: fallback"),
        ("format: '${remote_addr} $status'", "format: '${remote_addr} $status'"),
        ("text: $${HOST}", "text: ${HOST}"),
        ("a: ${HOST}-${HOST}", "a: node-7-node-7"),
        ("a: ${MISSING:-b:-c}", "a: b:-c"),
        ("a: ${MISSING:-}", "a: "),
        ("a: ${HOST-} ${ HOST} ${} ${HOST", "a: ${HOST-} ${ HOST} ${} ${HOST"),
        ("a: ${MISSING:-x ${HOST}}", "a: x ${HOST}"),
        ("a: ${MISSING:-no close", "a: ${MISSING:-no close"),
    ])
    func substitutes(input: String, expected: String) throws {
        let env = ["HOST": "node-7", "EMPTY": ""]
        #expect(try ConfigLoader.substituteEnvironment(input, file: "t.yaml", environment: env) == expected)
    }

    /// Each `${` looked for its `}` to the end of the text: 100,000 of them that close nowhere
    /// (200 KB) took minutes. Linear now, the text unchanged.
    @Test(arguments: ["${", "${A:-", "${A ", "$${"])
    func runsOfOpeningsThatNeverCloseAreLinear(opening: String) throws {
        let text = "a: " + String(repeating: opening, count: 100_000) + (opening == "${A " ? "}" : "")
        let clock = ContinuousClock()
        let start = clock.now
        let out = try ConfigLoader.substituteEnvironment(text, file: "t.yaml", environment: ["A": "x"])
        #expect(clock.now - start < .seconds(20))
        #expect(out == (opening == "$${" ? "a: " + String(repeating: "${", count: 100_000) : text))
    }

    @Test func aMissingVariableIsAnErrorWithItsPosition() {
        do {
            _ = try ConfigLoader.substituteEnvironment("a: 1\nb: x ${NOPE}\n", file: "t.yaml", environment: [:])
            Issue.record("accepted a missing variable")
        } catch {
            #expect("\(error)" == "t.yaml:2:6: environment variable NOPE is not set; set it, or give a default: ${NOPE:-value}")
        }
    }
}

@Suite struct YAMLMergeKeyTests {
    struct Options: Decodable, Equatable {
        var hosts: [String]?
        var index: String?
        var path: String?
    }

    func options(_ c: ShipperConfiguration) throws -> [String: Options] {
        var out: [String: Options] = [:]
        for o in c.outputs.items { out[o.name] = try o.value.decode(Options.self) }
        return out
    }

    @Test func aMergedMappingIsSharedAndItsKeysOverridden() throws {
        let c = try ConfigLoader.parse(yaml: """
            outputs:
              es_web: &es {type: elasticsearch, hosts: ["https://es:9200"], index: web}
              es_api:
                index: api
                <<: *es
              es_ops: {<<: *es}
            """, file: "m.yaml")
        let o = try options(c)
        #expect(c.outputs.items.map(\.value.type) == ["elasticsearch", "elasticsearch", "elasticsearch"])
        #expect(o["es_web"] == Options(hosts: ["https://es:9200"], index: "web"))
        // An explicit key wins wherever it stands, before or after `<<`.
        #expect(o["es_api"] == Options(hosts: ["https://es:9200"], index: "api"))
        #expect(o["es_ops"] == Options(hosts: ["https://es:9200"], index: "web"))
    }

    /// A list of mappings: the first that gives a key wins. Merged pairs stand where `<<` stands
    /// (pipelines keep that order), and merges inside merged mappings are resolved too.
    @Test func aListOfMappingsMergesInOrderAndInPlace() throws {
        let c = try ConfigLoader.parse(yaml: """
            tests:
              - name: t
                input: x
                fields: &base {a: 1, b: 1}
              - name: u
                input: y
                fields: &more {<<: *base, b: 2, c: 2}
              - name: v
                input: z
                fields:
                  first: 0
                  <<: [*more, {a: 9, d: 3}]
                  last: 4
            """, file: "m.yaml")
        #expect(c.tests[1].fields == .object([JSONMember("a", .int(1)), JSONMember("b", .int(2)), JSONMember("c", .int(2))]))
        #expect(c.tests[2].fields == .object([
            JSONMember("first", .int(0)), JSONMember("a", .int(1)), JSONMember("b", .int(2)), JSONMember("c", .int(2)),
            JSONMember("d", .int(3)), JSONMember("last", .int(4)),
        ]))
    }

    @Test func pipelinesMergedKeepTheirPlaceInTheOrder() throws {
        let c = try ConfigLoader.parse(yaml: """
            pipelines:
              web: &p {stages: []}
              <<: {api: *p, jobs: *p}
              rest: *p
            """, file: "m.yaml")
        #expect(c.pipelines.items.map(\.name) == ["web", "api", "jobs", "rest"])
    }

    @Test(arguments: [
        ("outputs:\n  o: {<<: 5}\n", "m.yaml:2:11: a merge key `<<` takes a mapping or a list of mappings (`<<: *defaults`), not '5'"),
        ("outputs:\n  o: {<<: [{a: 1}, x]}\n", "m.yaml:2:11: a merge key `<<` takes a mapping or a list of mappings"),
        // Quoted, `<<` is an ordinary key.
        ("pipelines:\n  a: {stages: [], \"<<\": {match: {}}}\n", "m.yaml:2:19: unknown key '<<' for 'pipelines.a'. Accepted keys: match, stages."),
    ])
    func badMergesAreRefusedWithTheirPosition(yaml: String, expected: String) throws {
        let error = try #require(throws: ConfigError.self) { try ConfigLoader.parse(yaml: yaml, file: "m.yaml") }
        #expect(error.description.hasPrefix(expected), "\(error)")
    }
}

@Suite struct ChangesNeedingRestartTests {
    static let base = """
        data_dir: /tmp/s
        sources:
          c: {type: docker, read_from: end}
        pipelines:
          web: {stages: []}
        buffer: {max_size: 1GiB}
        outputs:
          o: {type: file, path: out/x.ndjson}
        """

    @Test(arguments: [
        // Pipelines, tests and layout are not restart changes.
        ("pipelines:\n  web: {stages: []}\n  api: {stages: []}\n", [String]()),
        ("tests:\n  - {name: t, input: x}\n", []),
        ("sources:\n  c:\n    read_from: end\n    type: docker\n", []),
        ("sources:\n  c: {type: docker, read_from: beginning}\n", ["sources"]),
        ("sources:\n  c: {type: docker, read_from: end, exclude: []}\n", ["sources"]),
        ("sources:\n  d: {type: docker, read_from: end}\n", ["sources"]),
        ("outputs:\n  o: {type: file, path: out/y.ndjson}\n", ["outputs"]),
        ("buffer: {max_size: 2GiB}\n", ["buffer"]),
        ("telemetry: {address: \"127.0.0.1:0\"}\n", ["telemetry"]),
        ("data_dir: /tmp/t\n", ["data_dir"]),
        ("drain_timeout: 5s\n", ["drain_timeout"]),
        ("log: {level: debug}\n", ["log"]),
    ])
    func namesTheKeysThatWaitForARestart(change: String, expected: [String]) throws {
        let running = try ConfigLoader.parse(yaml: Self.base, file: "a.yaml")
        // The change replaces the key it names (a later duplicate would be refused as YAML).
        let key = String(change.prefix { $0 != ":" })
        var kept: [Substring] = []
        var skipping = false
        for line in Self.base.split(separator: "\n") {
            if !line.hasPrefix(" ") { skipping = line.hasPrefix(key + ":") }
            if !skipping { kept.append(line) }
        }
        let changed = try ConfigLoader.parse(yaml: kept.joined(separator: "\n") + "\n" + change, file: "b.yaml")
        #expect(changed.changesNeedingRestart(comparedTo: running) == expected)
        #expect(running.changesNeedingRestart(comparedTo: running) == [])
    }
}
