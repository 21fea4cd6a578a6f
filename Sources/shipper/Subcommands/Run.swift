import ArgumentParser
import Logging
import ShipperConfig
import ShipperRuntime

extension ShipperCommand {
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the sources, pipelines, buffer and outputs of a config.",
            discussion: """
                Tails the sources' files, runs each event through its pipeline, keeps it in the disk \
                buffer and ships it to the outputs, until SIGTERM (stop reading, flush held events, \
                let the outputs drain for drain_timeout, write checkpoints, exit 0) or SIGINT (stop \
                now; nothing acknowledged is lost, the rest is sent at the next start). SIGHUP reloads \
                the pipelines; a config that does not load is refused and the running one stays.
                """
        )

        @Option(name: .shortAndLong, help: "The config file (YAML).")
        var config: String

        @Flag(help: "Read every source to its current end, deliver everything, and exit.")
        var once = false

        func run() async throws {
            let configuration = try loadOrExit(config)
            ShipperLogHandler.bootstrap(configuration.log)
            let logger = Logger(label: "shipper")
            do {
                try await Daemon.run(configPath: config, once: once, logger: logger)
            } catch let error as ConfigError {
                StandardStreams.write("\(error)\n", to: .standardError)
                throw ExitCode(2)
            } catch let error as ConfigErrors {
                StandardStreams.write("\(error)\n", to: .standardError)
                throw ExitCode(2)
            } catch {
                logger.critical("shipper stopped on an error", metadata: ["error": "\(error)"])
                throw ExitCode.failure
            }
        }
    }
}
