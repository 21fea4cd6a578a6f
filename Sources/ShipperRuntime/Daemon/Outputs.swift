import BufferDisk
import Logging
import Metrics
import OutputFile
import ShipperCore
import ShipperTelemetry

/// An output as `shipper run` drives it: reads batches from the buffer, delivers them, and
/// acknowledges what it delivered, in order.
protocol OutputRunner: Sendable {
    var name: String { get }
    /// The output's `type:` (`component_type` of its metrics).
    var type: String { get }
    /// Fields whose values the output needs from each event (index or path templates).
    var attributeFields: [FieldPath] { get }
    /// Reads, delivers and acknowledges until the buffer is closed and drained (or the task is cancelled).
    func run(buffer: DiskBuffer) async throws
}

/// The `file` output reading from the buffer: a batch is acknowledged once written (and fsynced
/// when configured).
///
/// Metrics (`component_kind="sink"`, `component_type="file"`): received events and bytes (read
/// from the buffer), sent events (written), sent bytes (written, without gzip only: with gzip the
/// compressed size is not known here), `errors_total{error_type="write_failed"}`.
final class FileOutputRunner: OutputRunner, @unchecked Sendable {
    let name: String
    let type = "file"
    let output: FileOutput
    let logger: Logger
    let health: HealthState
    let metrics: ComponentMetrics
    let writeFailed: Counter
    let gzip: Bool

    init(name: String, config: FileOutputConfig, logger: Logger, health: HealthState) throws {
        self.name = name
        self.output = try FileOutput(config: config)
        self.logger = logger
        self.health = health
        self.gzip = config.gzip
        self.metrics = ComponentMetrics(id: name, kind: .sink, type: "file")
        self.writeFailed = metrics.errors(type: "write_failed")
    }

    var attributeFields: [FieldPath] { output.pathTemplate.fieldReferences }

    func run(buffer: DiskBuffer) async throws {
        defer { try? output.close() }
        var failingSince: ContinuousClock.Instant?
        var backoff = Duration.milliseconds(100)
        while let batch = try await buffer.read(reader: name, maxRecords: 4096, maxBytes: 4 << 20) {
            let template = output.pathTemplate
            var bytes = 0
            let documents = batch.records.map { record in
                bytes &+= record.document.count
                return (path: template.render(timestamp: record.timestamp) { record.attribute($0.dotted) }, json: record.document)
            }
            metrics.receivedEvents.increment(by: batch.records.count)
            metrics.receivedBytes.increment(by: bytes)
            // Retry until written: the records stay in the buffer meanwhile (disk full, permissions).
            while true {
                do {
                    try output.write(documents: documents)
                    break
                } catch {
                    if failingSince == nil {
                        failingSince = .now
                        health.outputFailing(name: name)
                    }
                    writeFailed.increment()
                    logger.error("cannot write events; retrying", metadata: ["output": "\(name)", "error": "\(error)"])
                    try await Task.sleep(for: backoff)
                    backoff = min(backoff * 2, .seconds(30))
                }
            }
            if failingSince != nil {
                failingSince = nil
                backoff = .milliseconds(100)
                health.outputRecovered(name: name)
            }
            metrics.sentEvents.increment(by: batch.records.count)
            if !gzip { metrics.sentBytes.increment(by: bytes &+ batch.records.count) }
            try await buffer.acknowledge(reader: name, through: batch.end)
        }
    }
}

/// The `stdout` output reading from the buffer.
final class StdoutOutputRunner: OutputRunner, @unchecked Sendable {
    let name: String
    let type = "stdout"
    let metrics: ComponentMetrics

    init(name: String) {
        self.name = name
        self.metrics = ComponentMetrics(id: name, kind: .sink, type: "stdout")
    }

    var attributeFields: [FieldPath] { [] }

    func run(buffer: DiskBuffer) async throws {
        while let batch = try await buffer.read(reader: name, maxRecords: 4096, maxBytes: 4 << 20) {
            var out: [UInt8] = []
            for r in batch.records {
                out.append(contentsOf: r.document)
                out.append(0x0A)
            }
            StandardStreams.write(out, to: .standardOutput)
            metrics.receivedEvents.increment(by: batch.records.count)
            metrics.receivedBytes.increment(by: out.count &- batch.records.count)
            metrics.sentEvents.increment(by: batch.records.count)
            metrics.sentBytes.increment(by: out.count)
            try await buffer.acknowledge(reader: name, through: batch.end)
        }
    }
}
