import ElasticsearchTestServer
import Foundation

/// Options every campaign takes.
struct CampaignOptions: Sendable {
    var short: Bool
    var shipper: String
    var seed: UInt64
    var workDir: String?
    var keep: Bool
}

/// What a campaign runs against: the in-process test server, a workspace with the Docker-like
/// log directory, the line book and tracker, and the shipper process.
final class Harness: @unchecked Sendable {
    let options: CampaignOptions
    let server: ElasticsearchTestServer
    let workspace: Workspace
    let book = LineBook()
    let tracker: Tracker
    let shipper: ShipperRun
    var settings: ShipperSettings
    let started = monotonicSeconds()

    init(name: String, options: CampaignOptions, server configuration: ElasticsearchTestServerConfiguration = .init()) async throws {
        self.options = options
        guard FileManager.default.isExecutableFile(atPath: options.shipper) else {
            throw CampaignError(
                "no shipper binary at \(options.shipper): build it with `swift build -c release --product shipper` or pass --shipper PATH")
        }
        server = try await Self.startServer(configuration)
        workspace = try Workspace(base: options.workDir, name: name, keep: options.keep)
        tracker = Tracker(server: server, book: book, deadLetters: workspace.deadLetters)
        shipper = ShipperRun(binary: options.shipper, workspace: workspace)
        EventLog.open(workspace.root + "/events.log")
        settings = ShipperSettings(esPort: server.port)
    }

    /// Starts the test server on a port below the ephemeral range (32768–60999 on Linux): while
    /// the server is down, a client connecting again and again to a port in that range can be
    /// given that very port as its own and connect to itself (TCP simultaneous open), which then
    /// holds the port and keeps the server from coming back.
    static func startServer(_ configuration: ElasticsearchTestServerConfiguration) async throws -> ElasticsearchTestServer {
        var rng = SeededRandom(seed: UInt64(getpid()) &* 1_000_003 &+ UInt64(monotonicSeconds() * 1e6))
        var lastError: (any Error)?
        for _ in 0..<50 {
            let port = 20_000 + Int(rng.next() % 12_000)
            do {
                return try await ElasticsearchTestServer.start(port: port, configuration: configuration)
            } catch {
                lastError = error
            }
        }
        throw lastError ?? CampaignError("no free port for the test server")
    }

    func writeConfig() throws { try settings.write(workspace) }

    /// Stops shipper (SIGTERM: it must exit 0), the tracker and the server; fills the common numbers.
    func finish(_ result: inout CampaignResult) async {
        let exit = await shipper.stop()
        await tracker.stop()
        try? await server.shutdown()
        result.collect(book: book, tracker: tracker)
        result.check("shipper stopped cleanly on SIGTERM at the end (\(exit))", exit == "exit 0" || exit == "not running")
        result.seconds = monotonicSeconds() - started
    }

    /// A metric from shipper's /metrics (summed over the matching series).
    func metric(_ name: String, labels: [String] = []) -> Double? {
        guard let text = httpGet(port: workspace.telemetryPort, path: "/metrics") else { return nil }
        return metricValue(text, name, labels: labels)
    }
}

/// Runs `body` on its own thread every `tick` seconds (with the tick number) until stopped: the
/// container writers, so writing goes on while the campaign awaits.
final class Pacer: @unchecked Sendable {
    private let stopped = Locked(false)
    private let done = DispatchSemaphore(value: 0)
    private var running = false

    func start(tick: Double, _ body: @escaping @Sendable (Int) -> Void) {
        running = true
        let thread = Thread { [stopped, done] in
            var n = 0
            var next = monotonicSeconds()
            while !stopped.current {
                body(n)
                n += 1
                next += tick
                let wait = next - monotonicSeconds()
                if wait > 0 { usleep(UInt32(wait * 1e6)) } else { next = monotonicSeconds() }
            }
            done.signal()
        }
        thread.start()
    }

    func stop() {
        guard running else { return }
        running = false
        stopped.withLock { $0 = true }
        done.wait()
    }
}
