import InputFormats
import ShipperConfig
import ShipperCore
import ShipperRuntime
import Testing

/// `SampleLogs.jettyDockerLines`: the Jetty input of Benchmarks/e2e.sh.
@Suite struct JettySampleTests {
    static let repo: String = {
        var path = "\(#filePath)"
        for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
        return path
    }()

    @Test func sameSeedGivesTheSameLinesAndAShorterRunIsAPrefix() {
        let a = SampleLogs.jettyDockerLines(count: 3000)
        let b = SampleLogs.jettyDockerLines(count: 3000)
        let other = SampleLogs.jettyDockerLines(count: 3000, seed: 2)
        let short = SampleLogs.jettyDockerLines(count: 1234)
        #expect(a.bytes == b.bytes)
        #expect(a.events == b.events && a.stackTraces == b.stackTraces)
        #expect(a.bytes != other.bytes)
        #expect(a.lines == 3000 && short.lines == 1234)
        #expect(a.bytes.count { $0 == 0x0A } == 3000)
        #expect(Array(a.bytes.prefix(short.bytes.count)) == short.bytes)
        #expect(a.events == a.requestLines + a.serverEvents)
        #expect(SampleLogs.jettyDockerLines(count: 0).bytes.isEmpty)
    }

    @Test func linesDecodeAsDockerAndTheJettyPipelineGroupsStackTracesIntoTheCountedEvents() throws {
        let sample = SampleLogs.jettyDockerLines(count: 20_000)
        // A mix: mostly request lines, stack traces making up a good part of the lines.
        #expect(sample.requestLines > sample.events / 2)
        #expect(sample.stackTraces > 30)
        #expect(sample.lines - sample.events > sample.lines / 5)

        // Every line is a Docker json-file line (the exact layout Docker writes).
        var decoder = DockerJSONDecoder()
        var decoded: [LogEvent] = []
        sample.bytes.withUnsafeBytes { buf in
            var start = 0
            for i in 0..<buf.count where buf[i] == 0x0A {
                decoder.decode(
                    UnsafeRawBufferPointer(rebasing: buf[start..<i]),
                    origin: LineOrigin(source: 1, offset: Int64(start), endOffset: Int64(i + 1)), now: Timestamp(nanoseconds: 0),
                    into: &decoded)
                start = i + 1
            }
            decoder.flush(now: Timestamp(nanoseconds: 0), into: &decoded)
        }
        #expect(decoded.count == sample.lines)
        #expect(decoded.allSatisfy { $0[FieldPaths.tags] == nil })
        #expect(decoded.count { $0.text(FieldPaths.stream) == "stdout" } == sample.requestLines)
        #expect(decoded.contains { $0.string(FieldPaths.message)?.hasPrefix("\tat org.eclipse.jetty.") == true })

        // The jetty pipeline (multiline java, jetty_request + jetty_server) makes the counted events.
        var router = try Router(config: ConfigLoader.load(path: Self.repo + "/pipelines/jetty.yaml"))
        var events: [LogEvent] = []
        var i = 0
        while i < decoded.count {
            events += router.process(Array(decoded[i..<min(i + 1024, decoded.count)]))
            i += 1024
        }
        events += router.flush(now: nil)
        #expect(events.count == sample.events)
        let failed = events.filter { $0[FieldPaths.tags] != nil }
        #expect(failed.isEmpty, "\(failed.prefix(3).map { $0.string(FieldPaths.message) ?? "?" })")
        #expect(events.count { $0[FieldPath.intern("http.response.status_code")] != nil } == sample.requestLines)
        // Every trace is one event with the exception parsed (the last may be cut before it).
        let traces = events.compactMap { $0.string(FieldPaths.errorStackTrace) }
        #expect(traces.count <= sample.stackTraces && traces.count >= sample.stackTraces - 1)
        #expect(traces.contains { $0.contains("\nCaused by: java.sql.SQLTransientConnectionException") && $0.hasSuffix(" more") })
        #expect(traces.contains { $0.contains("\n at [Source: REDACTED") })
        #expect(events.count { $0.string(FieldPaths.errorType) == "org.eclipse.jetty.io.EofException" } > 0)
        #expect(events.contains { $0.text(FieldPaths.logLevel) == "DBUG" } && events.contains { $0.text(FieldPaths.logLevel) == "DEBUG" })
    }
}
