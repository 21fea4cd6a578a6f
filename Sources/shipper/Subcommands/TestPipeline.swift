import ArgumentParser
import InputFormats
import ShipperConfig
import ShipperCore
import ShipperRuntime

extension LogFormat: ExpressibleByArgument {}

extension ShipperCommand {
    struct TestPipeline: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "test-pipeline",
            abstract: "Run a config's pipelines on sample logs and print every resulting event.",
            discussion: """
                With INPUT files: decodes each file (format chosen per file by --format; auto looks \
                at the first line), routes every event through the pipelines as `shipper run` would, \
                and prints one compact JSON object per event on stdout. A summary (lines in, events \
                out, failures by reason) goes to stderr.

                Without INPUT: runs the `tests:` cases of FILE and exits non-zero, with the \
                differences, when one fails.
                """
        )

        @Argument(help: "The config file (YAML).")
        var file: String

        @Argument(help: "Log files to run through the pipelines.")
        var inputs: [String] = []

        @Option(help: "Run only this pipeline, whatever its match.")
        var pipeline: String?

        @Option(help: "How input lines are decoded: auto, docker, cri or raw.")
        var format: LogFormat = .auto

        func run() throws {
            let config = try loadOrExit(file)
            if inputs.isEmpty {
                if config.tests.isEmpty {
                    StandardStreams.write("\(file): no tests: cases to run, and no INPUT files given\n", to: .standardError)
                    throw ExitCode(2)
                }
                let report = PipelineTests.run(config: config)
                StandardStreams.write(report.text, to: .standardOutput)
                if !report.failed.isEmpty { throw ExitCode.failure }
                return
            }
            var runner: PipelineFileRunner
            do {
                runner = try PipelineFileRunner(config: config, pipeline: pipeline, format: format)
            } catch {
                StandardStreams.write("\(error)\n", to: .standardError)
                throw ExitCode(2)
            }
            let sink = StdoutSink()
            for input in inputs {
                do {
                    try runner.run(path: input) { try sink.write($0) }
                } catch {
                    StandardStreams.write("\(error)\n", to: .standardError)
                    throw ExitCode(2)
                }
            }
            try runner.finish { try sink.write($0) }
            StandardStreams.write(runner.summary.description + "\n", to: .standardError)
        }
    }
}

/// Loads a config, printing its errors (file:line:column) and exiting 2 when it is refused.
func loadOrExit(_ path: String) throws -> ShipperConfiguration {
    do {
        return try ConfigLoader.load(path: path)
    } catch {
        StandardStreams.write("\(error)\n", to: .standardError)
        throw ExitCode(2)
    }
}
