import struct Logging.Logger
import ShipperConfig
import ShipperCore
import ShipperRuntime
import Testing

@Suite struct RouterTests {
    static let yaml = """
        pipelines:
          errors:
            match: {stream: stderr}
            stages:
              - {type: modify, set: {routed: errors}}
          web:
            match: {service.name: web}
            stages:
              - {type: modify, set: {routed: web}}
              - {type: filter, drop: {message: noise}}
          java:
            match: {service.name: java}
            stages:
              - {type: multiline, mode: java}
              - {type: modify, set: {routed: java}}
        """

    func event(_ message: String, service: String, stream: String = "stdout") -> LogEvent {
        var e = LogEvent(message: Array(message.utf8))
        e.set(FieldPath.intern("service.name"), string: service)
        e.set(FieldPaths.stream, string: stream)
        return e
    }

    @Test func firstMatchingPipelineWinsAndUnmatchedEventsPassUnchanged() throws {
        var router = try Router(config: ConfigLoader.parse(yaml: Self.yaml, file: "t.yaml"))
        let out = router.process([
            event("a", service: "web", stream: "stderr"), event("b", service: "web"), event("noise", service: "web"),
            event("c", service: "other"),
        ])
        let routed = out.map { "\($0.string(FieldPaths.message)!)=\($0.text(FieldPath.intern("routed")) ?? "-")" }
        #expect(routed.sorted() == ["a=errors", "b=web", "c=-"])
    }

    @Test func heldEventsFlowThroughTheRestOfThePipelineOnFlush() throws {
        var router = try Router(config: ConfigLoader.parse(yaml: Self.yaml, file: "t.yaml"))
        var out = router.process([event("Exception in thread main", service: "java"), event("\tat x.Y(Y.java:1)", service: "java")])
        #expect(out.isEmpty)
        out = router.flush(now: nil)
        #expect(out.count == 1)
        #expect(out.first?.string(FieldPaths.message) == "Exception in thread main\n\tat x.Y(Y.java:1)")
        #expect(out.first?.text(FieldPath.intern("routed")) == "java")
    }

    @Test func onlyOnePipelineTakesEveryEvent() throws {
        var router = try Router(config: ConfigLoader.parse(yaml: Self.yaml, file: "t.yaml"), only: "web")
        let out = router.process([event("x", service: "nobody", stream: "stderr")])
        #expect(out.first?.text(FieldPath.intern("routed")) == "web")
        #expect(throws: ConfigError.self) { try Router(config: ConfigLoader.parse(yaml: Self.yaml, file: "t.yaml"), only: "nope") }
    }

    @Test func stageErrorsAreReportedWithTheirPosition() throws {
        let yaml = "pipelines:\n  a:\n    stages:\n      - {type: parse, parsers: [nginx_acces]}\n      - {type: bogus}\n"
        do {
            _ = try Router(config: ConfigLoader.parse(yaml: yaml, file: "t.yaml"))
            Issue.record("built a broken pipeline")
        } catch {
            let text = "\(error)"
            #expect(text.contains("t.yaml:4:33: unknown parser type 'nginx_acces'"), "\(text)")
            #expect(text.contains("t.yaml:5:9: bogus: unknown stage type 'bogus'"), "\(text)")
        }
    }
}

@Suite struct PipelineTestsTests {
    @Test func comparesByDottedPathAndReportsDifferences() throws {
        let actual = [try JSONScanner.parseDocument(#"{"http":{"response":{"status_code":200}},"message":"x"}"#)]
        #expect(PipelineTests.compare(actual: actual, expected: [try JSONScanner.parseDocument(#"{"http.response.status_code":200}"#)], absent: []).isEmpty)
        let problems = PipelineTests.compare(
            actual: actual,
            expected: [try JSONScanner.parseDocument(#"{"http.response.status_code":404,"url.path":"/"}"#), .object([])],
            absent: ["message"])
        #expect(problems == [
            "expected 2 events, got 1",
            "event 1: http.response.status_code: expected 404, got 200",
            "event 1: url.path: expected \"/\", but the field is missing",
            "event 1: message: expected no such field, got \"x\"",
        ])
    }

    @Test func runsTheTestsOfAConfig() throws {
        let yaml = """
            pipelines:
              p:
                stages: [{type: modify, set: {x: 1}}]
            tests:
              - name: passes
                input: [a]
                expect: [{message: a, x: 1}]
              - name: fails
                input: [a, b]
                expect: [{message: a}]
            """
        let report = PipelineTests.run(config: try ConfigLoader.parse(yaml: yaml, file: "t.yaml"))
        #expect(report.passed == ["passes"])
        #expect(report.failed.map(\.name) == ["fails"])
        #expect(report.text.hasSuffix("1 passed, 1 failed\n"))
        #expect(report.text.contains("FAIL fails (t.yaml:8:5)"))
    }
}

/// `shipper validate`: an option a component refuses is reported at its key when the message
/// starts with it (the `ConfigValueError` convention), else at the component.
@Suite struct ValidationPositionTests {
    @Test func refusedOptionsPointAtTheirKey() throws {
        let yaml = """
            sources:
              docker:
                type: docker
                discovery_interval: 1ms
            outputs:
              es:
                type: elasticsearch
                hosts: [http://127.0.0.1:9200]
                max_in_flight: 0
              both:
                type: elasticsearch
                hosts: [http://127.0.0.1:9200]
                index: logs
                data_stream: {dataset: app}
              ingest:
                type: elasticsearch
                hosts: [http://127.0.0.1:9200]
                retry: {initial_backoff: 2s, max_backoff: 1s}
                pipeline: "geo ip"
            """
        do {
            try RuntimeBuilder.validate(ConfigLoader.parse(yaml: yaml, file: "v.yaml"))
            Issue.record("validated a broken config")
        } catch {
            let text = "\(error)"
            #expect(text.contains("v.yaml:4:5: docker: 'discovery_interval' must be at least 10ms"), "\(text)")
            #expect(text.contains("v.yaml:9:5: max_in_flight must be 1 to 64, got 0"), "\(text)")
            // Not about one key: at the output.
            #expect(text.contains("v.yaml:11:5: set either index or data_stream"), "\(text)")
            // A nested option, at its key inside `retry` (the message names it after its parent).
            #expect(text.contains("v.yaml:18:34: retry.max_backoff (1s) must not be less"), "\(text)")
        }
    }
}

/// `shipper dead-letter replay` chooses the Elasticsearch output to replay into, or says why not.
@Suite struct DeadLetterReplayChoiceTests {
    static func refusal(_ outputs: String, output: String?) async -> String {
        let yaml = "pipelines:\n  a: {stages: []}\noutputs:\n" + outputs
        do {
            let config = try ConfigLoader.parse(yaml: yaml, file: "d.yaml")
            _ = try await DeadLetterReplay.run(config: config, output: output, file: "/nonexistent/dl.ndjson", logger: Logger(label: "test"))
            return "replayed"
        } catch {
            return "\(error)"
        }
    }

    @Test func theOutputIsChosenOrTheRefusalSaysWhy() async {
        let two = "  es1: {type: elasticsearch, hosts: http://127.0.0.1:1}\n  es2: {type: elasticsearch, hosts: http://127.0.0.1:1}\n"
        #expect(await Self.refusal("  f: {type: file, path: out.ndjson}\n", output: nil)
            == "d.yaml:1:1: the config has no elasticsearch output to replay into; give the config of the shipper that wrote the dead letters")
        #expect(await Self.refusal(two, output: nil) == "d.yaml:1:1: the config has 2 elasticsearch outputs (es1, es2); choose one with --output")
        #expect(await Self.refusal(two, output: "es3") == "d.yaml:1:1: no elasticsearch output named 'es3'; the file has: es1, es2")
        // Chosen: the missing file is what fails then.
        #expect(await Self.refusal(two, output: "es2").contains("/nonexistent/dl.ndjson"))
    }
}
