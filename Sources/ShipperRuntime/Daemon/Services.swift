import CMalloc
import BufferDisk
import Logging
import ServiceLifecycle
import ShipperConfig
import ShipperCore
import ShipperTelemetry
import Synchronization
import UnixSignals

/// Reads, processes and buffers until asked to stop; then flushes what stages hold and writes
/// checkpoints. SIGHUP reloads the pipelines from the config file (and names the other keys that
/// changed, which wait for a restart).
final class PipelineService: Service, @unchecked Sendable {
    let worker: PipelineWorker
    let configPath: String
    let logger: Logger
    let health: HealthState
    /// Stop once every source is read to its end (`shipper run --once`).
    let once: Bool
    /// The config shipper started with: what a reload compares the file with, for the parts it
    /// does not apply.
    let started: ShipperConfiguration
    private let reloadRequested = Atomic<Bool>(false)

    init(worker: PipelineWorker, configPath: String, started: ShipperConfiguration, logger: Logger, health: HealthState, once: Bool = false) {
        self.worker = worker
        self.once = once
        self.configPath = configPath
        self.started = started
        self.logger = logger
        self.health = health
    }

    func run() async throws {
        health.pipelineRunning(true)
        defer { health.pipelineRunning(false) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [self] in
                for await _ in await UnixSignalsSequence(trapping: .sighup) {
                    self.reloadRequested.store(true, ordering: .relaxed)
                }
            }
            // At shutdown an append waiting for room (buffer full, outputs not delivering) gives
            // up: what it held was never buffered nor checkpointed, and is read again next start.
            let buffer = worker.buffer
            try await withGracefulShutdownHandler {
                while !Task.isShuttingDownGracefully && !Task.isCancelled {
                    if reloadRequested.exchange(false, ordering: .relaxed) { await reload() }
                    let busy: Bool
                    do {
                        busy = try await worker.step()
                    } catch BufferError.full {
                        logger.warning("stopping with the buffer full: lines read but not buffered are read again at the next start")
                        break
                    }
                    if !busy {
                        if once { break }
                        await worker.waitForData(timeout: worker.idleWait)
                    }
                }
            } onGracefulShutdown: {
                buffer.stopWaitingForRoom()
            }
            group.cancelAll()
        }
        try await worker.drain()
        logger.info("input stopped; held events flushed and checkpoints written", metadata: ["lines": "\(worker.linesRead)", "events": "\(worker.eventsOut)"])
    }

    /// Builds the pipelines of the config file again; a config that does not load or build is
    /// refused and the running one stays.
    func reload() async {
        do {
            let config = try ConfigLoader.load(path: configPath)
            let router = try Router(config: config)
            try await worker.replaceRouter(router)
            logger.notice("configuration reloaded", metadata: ["file": "\(configPath)", "pipelines": "\(router.pipelines.map(\.name))"])
            let waiting = config.changesNeedingRestart(comparedTo: started)
            if !waiting.isEmpty {
                logger.warning(
                    "a reload applies the pipelines only: what changed in these keys applies at the next restart",
                    metadata: ["file": "\(configPath)", "changed": "\(waiting.joined(separator: ", "))"])
            }
        } catch {
            logger.error("configuration reload refused; the running configuration stays", metadata: ["error": "\(error)"])
        }
    }
}

/// Owns the buffer's lifetime: publishes its gauges every `interval` while running; when the input
/// has stopped, it closes the buffer for appends, so outputs deliver what is left and stop.
final class BufferService: Service, @unchecked Sendable {
    let buffer: DiskBuffer
    let monitor: BufferMonitor
    let interval: Duration
    let logger: Logger

    init(buffer: DiskBuffer, monitor: BufferMonitor, interval: Duration = .milliseconds(500), logger: Logger) {
        self.buffer = buffer
        self.monitor = monitor
        self.interval = interval
        self.logger = logger
    }

    func run() async throws {
        let monitor = self.monitor
        let interval = self.interval
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    monitor.publish()
                    // Blocks of batches (buffer reads, bulk items, compressed bodies) live as long
                    // as a delivery and are freed in another order than allocated: the free space
                    // between live blocks grew with the input (the heap 13 -> 23 MiB over 2.5
                    // million nginx lines). Giving the free pages back twice a second keeps peak
                    // RSS to what is live, for about 0.1 % CPU (pages used again fault back in).
                    shipper_release_free_memory()
                    try? await Task.sleep(for: interval)
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        try await buffer.close()
        monitor.publish()
    }
}

/// Runs one output until the buffer is closed and drained, or the drain time has passed after
/// shutdown began (what is not acknowledged then is sent again at the next start).
final class OutputService: Service, @unchecked Sendable {
    let runner: any OutputRunner
    let buffer: DiskBuffer
    let drainTimeout: Duration
    let logger: Logger

    init(runner: any OutputRunner, buffer: DiskBuffer, drainTimeout: Duration, logger: Logger) {
        self.runner = runner
        self.buffer = buffer
        self.drainTimeout = drainTimeout
        self.logger = logger
    }

    struct DrainTimedOut: Error {}

    func run() async throws {
        let runner = self.runner
        let buffer = self.buffer
        let drainTimeout = self.drainTimeout
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await runner.run(buffer: buffer) }
                group.addTask {
                    try await gracefulShutdown()
                    try await Task.sleep(for: drainTimeout)
                    throw DrainTimedOut()
                }
                try await group.next()
                group.cancelAll()
            }
        } catch is DrainTimedOut {
            logger.warning(
                "drain time over; undelivered events stay in the buffer for the next start",
                metadata: ["output": "\(runner.name)", "drain_timeout": "\(drainTimeout)"])
        } catch is CancellationError {
            return
        }
        // The output has delivered everything and the buffer is closed: that happens only during
        // shutdown, before the group has reached this service (it stops services one by one, in
        // reverse order, and takes a service that returns early for a failure). Wait for our turn.
        try? await gracefulShutdown()
    }
}
