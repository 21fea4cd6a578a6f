import ArgumentParser
import ShipperConfig
import ShipperRuntime

extension ShipperCommand {
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the sources, pipelines and outputs of a config.",
            discussion: "Reads every file the sources name to its end, ships the events to the outputs, and exits."
        )

        @Option(name: .shortAndLong, help: "The config file (YAML).")
        var config: String

        func run() throws {
            let configuration = try loadOrExit(config)
            do {
                let summary = try OneShotRun.run(configuration)
                StandardStreams.write(summary.description + "\n", to: .standardError)
            } catch {
                StandardStreams.write("\(error)\n", to: .standardError)
                throw ExitCode.failure
            }
        }
    }
}
