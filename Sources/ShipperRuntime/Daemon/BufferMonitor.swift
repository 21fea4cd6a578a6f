import BufferDisk
import Metrics
import ShipperCore
import ShipperTelemetry
import Synchronization

/// Publishes the disk buffer's state: the `shipper_buffer_bytes` and `shipper_buffer_events`
/// gauges, `shipper_output_lag_events` per output (records it has not acknowledged yet),
/// `shipper_buffer_damaged_records_total` (damaged records found when the buffer was opened, then
/// records skipped by readers for a bad checksum), and the buffer's fill (bytes / `max_size`) for
/// `/health`.
///
/// Polled on a timer by ``BufferService`` (a stats snapshot takes the buffer's lock once), so the
/// gauges move even while the pipeline worker waits for space.
struct BufferMonitor: Sendable {
    let buffer: DiskBuffer
    let health: HealthState
    let gauges: BufferMetrics
    /// Output name → its lag gauge.
    let lag: [String: Gauge]
    let maxSize: Int
    /// Checksum failures of reads already counted.
    private let skippedCounted = SkippedCount()

    final class SkippedCount: Sendable {
        let value = Mutex(0)
    }

    /// - Parameter outputs: each output's name and `type:` (its metric labels).
    init(buffer: DiskBuffer, outputs: [(name: String, type: String)], health: HealthState, factory: any MetricsFactory = MetricsSystem.factory) {
        self.buffer = buffer
        self.health = health
        gauges = BufferMetrics(factory: factory)
        var lag: [String: Gauge] = [:]
        for o in outputs {
            lag[o.name] = Gauge(label: MetricNames.outputLagEvents, dimensions: sinkLabels(name: o.name, type: o.type), factory: factory)
        }
        self.lag = lag
        maxSize = buffer.config.maxSize.bytes
        gauges.damagedRecords.increment(by: buffer.recovery.damagedRecords)
    }

    /// Reads the buffer's stats and publishes them.
    func publish() {
        let stats = buffer.stats()
        gauges.record(bytes: Int(stats.bytes), events: Int(stats.records))
        let newlySkipped = skippedCounted.value.withLock { counted in
            defer { counted = stats.corruptRecordsSkipped }
            return stats.corruptRecordsSkipped - counted
        }
        if newlySkipped > 0 { gauges.damagedRecords.increment(by: newlySkipped) }
        for reader in stats.readers {
            lag[reader.name]?.record(reader.records)
        }
        health.bufferFill(ratio: maxSize > 0 ? Double(stats.bytes) / Double(maxSize) : 0)
    }
}

/// The labels of an output's metrics: `component_id`, `component_kind="sink"`, `component_type`,
/// in the order ``ComponentMetrics`` uses.
func sinkLabels(name: String, type: String) -> [(String, String)] {
    [
        (MetricLabels.componentID, name), (MetricLabels.componentKind, ComponentKind.sink.rawValue),
        (MetricLabels.componentType, type),
    ]
}
