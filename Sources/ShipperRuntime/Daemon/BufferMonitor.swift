import BufferDisk
import Metrics
import ShipperCore
import ShipperTelemetry

/// Publishes the disk buffer's state: the `shipper_buffer_bytes` and `shipper_buffer_events`
/// gauges, `shipper_output_lag_events` per output (records it has not acknowledged yet), and the
/// buffer's fill (bytes / `max_size`) for `/health`.
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
    }

    /// Reads the buffer's stats and publishes them.
    func publish() {
        let stats = buffer.stats()
        gauges.record(bytes: Int(stats.bytes), events: Int(stats.records))
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
