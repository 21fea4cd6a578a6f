import ArgumentParser
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

        func run() throws {
            let r = try ThroughputBenchmark.run(lines: lines, rounds: rounds)
            StandardStreams.write(r.report + "\n", to: .standardOutput)
        }
    }
}
