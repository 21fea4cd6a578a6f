import ArgumentParser
import Logging
import ShipperConfig
import ShipperRuntime

extension ShipperCommand {
    struct DeadLetter: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dead-letter", abstract: "Work with dead-letter files.", subcommands: [Replay.self])

        struct Replay: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Send the documents of a dead-letter file again (after you fixed the mapping).",
                discussion: """
                    Sends each document with its original _id through the named elasticsearch output \
                    of the config. Documents Elasticsearch refuses again go to a new dead-letter file.
                    """)

            @Option(name: .shortAndLong, help: "The config file with the output.")
            var config: String

            @Option(help: "The elasticsearch output to send through (default: the only one).")
            var output: String?

            @Argument(help: "The dead-letter file (NDJSON).")
            var file: String

            func run() async throws {
                let configuration = try loadOrExit(config)
                ShipperLogHandler.bootstrap(configuration.log)
                do {
                    let report = try await DeadLetterReplay.run(config: configuration, output: output, file: file, logger: Logger(label: "shipper"))
                    StandardStreams.write(report + "\n", to: .standardOutput)
                } catch {
                    StandardStreams.write("\(error)\n", to: .standardError)
                    throw ExitCode(2)
                }
            }
        }
    }
}
