import Foundation
import ShipperCore
import Testing

/// `shipper test-pipeline` and `shipper validate` run as a user runs them, on the shipped
/// pipelines and the shared sample logs.
@Suite struct TestPipelineCommandTests {
    static let pipelines = ["companynews.yaml", "demo.yaml", "jetty.yaml", "nginx.yaml"]

    @Test(arguments: pipelines)
    func everyShippedPipelinePassesItsTests(file: String) throws {
        let r = try shipper(["test-pipeline", "pipelines/" + file])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains(" passed, 0 failed"), "\(r.stdout)")
        #expect(!r.stdout.contains("FAIL"))
    }

    @Test func everyShippedPipelineValidates() throws {
        let r = try shipper(["validate"] + Self.pipelines.map { "pipelines/" + $0 })
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.lines.count == Self.pipelines.count)
    }

    /// Filebeat's golden file for its nginx access fileset: every line, the values of the fields
    /// the parser sets. Deliberate difference (README): `-` values are omitted, not kept as "-".
    @Test func nginxAccessMatchesFilebeatsExpectedValues() throws {
        let r = try shipper(["test-pipeline", "pipelines/nginx.yaml", Repo.sample("nginx-access/beats-access.log")])
        #expect(r.status == 0, "\(r.stderr)")
        let expected = try json(String(contentsOfFile: Repo.sample("nginx-access/beats-access.log-expected.json"), encoding: .utf8)) as! [[String: Any]]
        let actual = try r.lines.map { try json($0) }
        #expect(actual.count == expected.count)
        #expect(r.stderr.contains("lines in: 12, events out: 12, failures: none"), "\(r.stderr)")
        let fields = [
            "@timestamp", "source.address", "source.ip", "nginx.access.remote_ip_list", "user.name", "http.request.method",
            "url.original", "http.version", "http.response.status_code", "http.response.body.bytes", "http.request.referrer",
            "user_agent.original", "log.offset",
        ]
        for (i, (a, e)) in zip(actual, expected).enumerated() {
            for f in fields {
                let want = e[f]
                if let s = want as? String, s == "-" {
                    #expect(value(a, f) == nil, "line \(i + 1): \(f) should be omitted for '-'")
                } else {
                    #expect(same(value(a, f), want), "line \(i + 1): \(f): got \(String(describing: value(a, f))), Filebeat has \(String(describing: want))")
                }
            }
        }
    }

    /// Filebeat's nginx error golden file: 4 events (one of them three physical lines). Filebeat
    /// produced it with the time zone -02:00; shipper's default is UTC, so times differ by 2 h.
    @Test func nginxErrorGroupsLinesAsFilebeatDoes() throws {
        let r = try shipper(["test-pipeline", "pipelines/nginx.yaml", Repo.sample("nginx-error/beats-error.log")])
        #expect(r.status == 0, "\(r.stderr)")
        let expected = try json(String(contentsOfFile: Repo.sample("nginx-error/beats-error.log-expected.json"), encoding: .utf8)) as! [[String: Any]]
        let actual = try r.lines.map { try json($0) }
        #expect(actual.count == 4)
        #expect(r.stderr.contains("lines in: 6, events out: 4, failures: none"), "\(r.stderr)")
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for (i, (a, e)) in zip(actual, expected).enumerated() {
            for f in ["log.level", "process.pid", "process.thread.id", "nginx.error.connection_id", "log.offset"] {
                #expect(same(value(a, f), e[f]), "event \(i + 1): \(f): got \(String(describing: value(a, f))), Filebeat has \(String(describing: e[f]))")
            }
            let ours = iso.date(from: value(a, "@timestamp") as! String)!
            let theirs = iso.date(from: e["@timestamp"] as! String)!
            #expect(theirs.timeIntervalSince(ours) == 7200, "event \(i + 1)")
            let message = value(a, "message") as? String ?? ""
            #expect((e["message"] as! String).hasPrefix(message), "event \(i + 1): \(message)")
        }
        #expect((value(actual[2], "message") as? String)?.split(separator: "\n").count == 3)
    }

    /// Fluent Bit's docker-mode golden pairs: chunks without a trailing newline are joined.
    @Test(arguments: ["fluent-bit-dockermode", "fluent-bit-dockermode_splitted_line"])
    func dockerPartialChunksAreJoined(name: String) throws {
        let dir = try TempDir()
        let config = try dir.write("p.yaml", "pipelines:\n  all:\n    stages: []\n")
        let r = try shipper(["test-pipeline", config, "--format", "docker", Repo.sample("docker-json/\(name).log")])
        #expect(r.status == 0, "\(r.stderr)")
        let expected = try String(contentsOfFile: Repo.sample("docker-json/\(name).out"), encoding: .utf8)
            .split(separator: "\n").map { try json(String($0)) as! [String: Any] }
        let actual = try r.lines.map { try json($0) }
        #expect(actual.count == expected.count)
        for (a, e) in zip(actual, expected) {
            let want = (e["log"] as! String).trimmingCharacters(in: CharacterSet(charactersIn: "\n"))
            #expect(value(a, "message") as? String == want)
        }
    }

    @Test func jettySamplesParseWithoutFailures() throws {
        for sample in ["jetty-server/jetty94-docs-stderrlog.log", "jetty-request/ops-agent-jetty-access.input.log",
                       "jetty-request/jetty12-docs-operations-guide-requestlog-example.log"] {
            let r = try shipper(["test-pipeline", "pipelines/jetty.yaml", Repo.sample(sample)])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stderr.contains("failures: none"), "\(sample): \(r.stderr)")
            #expect(!r.stdout.contains("_parse_failure"))
        }
    }

    @Test func aJavaStackTraceIsOneEvent() throws {
        let r = try shipper(["test-pipeline", "pipelines/jetty.yaml", Repo.sample("jetty-server/logstash-java_spec-tomcat-multiline-stacktrace.log")])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.lines.count == 1)
        #expect(r.stderr.contains("lines in: 30, events out: 1"), "\(r.stderr)")
    }

    @Test func failingTestsExitNonZeroWithADiff() throws {
        let dir = try TempDir()
        let config = try dir.write("p.yaml", """
            pipelines:
              p:
                stages: [{type: parse, parsers: [nginx_access]}]
            tests:
              - name: wrong status
                input: ['1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "-"']
                expect: [{http.response.status_code: 404}]
            """)
        let r = try shipper(["test-pipeline", config])
        #expect(r.status == 1)
        #expect(r.stdout.contains("FAIL wrong status"))
        #expect(r.stdout.contains("http.response.status_code: expected 404, got 200"))
        #expect(r.stdout.contains("0 passed, 1 failed"))
    }

    @Test func aBadConfigIsRefusedWithItsPosition() throws {
        let dir = try TempDir()
        let config = try dir.write("bad.yaml", "pipelines:\n  p:\n    stages:\n      - type: parse\n        parser: [nginx_access]\n")
        for command in [["validate", config], ["test-pipeline", config, config]] {
            let r = try shipper(command)
            #expect(r.status == 2)
            #expect(r.stderr.contains("bad.yaml:5:9: unknown key 'parser'"), "\(r.stderr)")
        }
    }

    /// Any bytes in, no crash, and every line accounted for.
    @Test(arguments: ["auto", "docker", "cri", "raw"])
    func garbageInputNeverStopsThePipeline(format: String) throws {
        let dir = try TempDir()
        var rng = SplitMix64(seed: 42)
        var bytes: [UInt8] = []
        var lines = 0
        for i in 0..<300 {
            let n = Int(rng.next() % 200)
            for _ in 0..<n {
                var b = UInt8(truncatingIfNeeded: rng.next())
                if b == 0x0A { b = 0x20 }
                bytes.append(b)
            }
            if i % 50 == 0 { bytes += Array(#"{"log":"partial","stream":"stdout","time":"2020-01-01T00:00:00Z"}"#.utf8) }
            bytes.append(0x0A)
            lines += 1
        }
        bytes += [UInt8](repeating: 0x41, count: 1 << 20) + [0x0A]
        lines += 1
        let input = try dir.write("noise.log", bytes: bytes)
        let r = try shipper(["test-pipeline", "pipelines/nginx.yaml", "--format", format, input])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("lines in: \(lines),"), "\(r.stderr)")
        for line in r.lines { #expect((try? json(line)) != nil) }
    }
}
