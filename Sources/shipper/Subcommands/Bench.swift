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

        @Option(help: "Write the generated Docker json-file lines to this file instead of measuring.")
        var writeSample: String?

        func run() throws {
            if let path = writeSample {
                let bytes = SampleLogs.nginxDockerLines(count: lines)
                guard let f = fopen(path, "wb") else { throw ValidationError("cannot write \(path)") }
                defer { fclose(f) }
                guard fwrite(bytes, 1, bytes.count, f) == bytes.count else { throw ValidationError("cannot write \(path)") }
                return
            }
            let r = try ThroughputBenchmark.run(lines: lines, rounds: rounds)
            StandardStreams.write(r.report + "\n", to: .standardOutput)
        }
    }
}
