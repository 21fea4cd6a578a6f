import ArgumentParser
import ShipperCore
import ShipperRuntime
import ShipperTelemetry

extension ShipperCommand {
    struct Health: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ask a running shipper whether it is healthy (for HEALTHCHECK and probes).",
            discussion: """
                Prints the /health report and exits 0 when healthy, 1 when not or when no shipper answers.
                With --live, exits 0 whenever shipper answers, healthy or not: for a check that restarts \
                the container (Docker's HEALTHCHECK under Swarm, a liveness probe), as a restart does not \
                help an Elasticsearch outage or a full buffer.
                """
        )

        @Option(help: "The telemetry address of the running shipper.")
        var address = "127.0.0.1:2020"

        @Flag(help: "Succeed whenever shipper answers, even unhealthy (liveness).")
        var live = false

        func run() async throws {
            do {
                let result = try await HealthProbe.check(address: address)
                StandardStreams.write(result.body + "\n", to: .standardOutput)
                if !(result.isHealthy || (live && result.status == 503)) { throw ExitCode.failure }
            } catch let e as ExitCode {
                throw e
            } catch let e as ConfigValueError {
                StandardStreams.write("--address: \(e)\n", to: .standardError)
                throw ExitCode.failure
            } catch {
                StandardStreams.write(
                    "no answer from \(address): \(HealthProbe.reason(error)); is shipper running, with telemetry.address \(address)?\n",
                    to: .standardError)
                throw ExitCode.failure
            }
        }
    }
}
