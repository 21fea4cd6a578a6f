import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import ShipperRuntime

extension ShipperCommand {
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure the per-core speed of decode + parse + encode on generated nginx lines.",
            discussion: """
                Generates Docker json-file nginx access lines (deterministic), then on one thread \
                decodes, parses (nginx_access) and encodes them back to JSON, and prints lines/s \
                next to the physical limit measured on the same bytes in the same run. Use a release \
                build: swift build -c release && .build/release/shipper bench
                """
        )

        @Option(help: "Number of lines.")
        var lines = 1_000_000

        @Option(help: "Rounds; the fastest is reported.")
        var rounds = 3

        @Flag(help: "Add a Swarm container's metadata and host.name to each event, as `shipper run` does for a Docker source.")
        var metadata = false

        @Option(help: "Write the generated Docker json-file lines to this file instead of measuring.")
        var writeSample: String?

        /// What `--write-sample` generates.
        enum Kind: String, ExpressibleByArgument, CaseIterable {
            /// nginx access lines, one event per line (the default, and what `bench` measures).
            case nginx
            /// A Jetty container: request log lines mixed with server log lines and Java stack traces.
            case jetty
        }

        @Option(help: ArgumentHelp(
            "With --write-sample: nginx (access lines, one event each) or jetty (request log mixed with server log lines and Java stack traces, one Docker line per physical line; prints the number of events after multi-line grouping).",
            valueName: "nginx|jetty"))
        var kind: Kind = .nginx

        func validate() throws {
            guard lines >= 0 else { throw ValidationError("--lines must not be negative, got \(lines)") }
            if kind != .nginx && writeSample == nil {
                throw ValidationError("--kind \(kind.rawValue) only applies with --write-sample FILE (the measurement uses nginx lines)")
            }
        }

        func run() throws {
            if let path = writeSample {
                let bytes: [UInt8]
                switch kind {
                case .nginx:
                    bytes = SampleLogs.nginxDockerLines(count: lines)
                case .jetty:
                    let sample = SampleLogs.jettyDockerLines(count: lines)
                    bytes = sample.bytes
                    StandardStreams.write(
                        "lines: \(sample.lines), events: \(sample.events) (request log: \(sample.requestLines), server log: \(sample.serverEvents), with a stack trace: \(sample.stackTraces))\n",
                        to: .standardOutput)
                }
                guard let f = fopen(path, "wb") else { throw ValidationError("cannot write \(path): \(String(cString: strerror(errno)))") }
                defer { fclose(f) }
                guard fwrite(bytes, 1, bytes.count, f) == bytes.count else { throw ValidationError("cannot write \(path): \(String(cString: strerror(errno)))") }
                return
            }
            let r = try ThroughputBenchmark.run(lines: lines, rounds: rounds, metadata: metadata)
            StandardStreams.write(r.report + "\n", to: .standardOutput)
        }
    }
}
