import ArgumentParser
import ShipperRuntime
import ShipperTelemetry

extension ShipperCommand {
    struct Health: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ask a running shipper whether it is healthy (for HEALTHCHECK and probes).",
            discussion: "Prints the /health report and exits 0 when healthy, 1 when not or when no shipper answers."
        )

        @Option(help: "The telemetry address of the running shipper.")
        var address = "127.0.0.1:2020"

        func run() async throws {
            do {
                let result = try await HealthProbe.check(address: address)
                StandardStreams.write(result.body + "\n", to: .standardOutput)
                if !result.isHealthy { throw ExitCode.failure }
            } catch let e as ExitCode {
                throw e
            } catch {
                StandardStreams.write("no answer from \(address): \(error)\n", to: .standardError)
                throw ExitCode.failure
            }
        }
    }
}
