import Metrics

/// Every metric shipper exports, in one place. Names follow Vector's component specification
/// (`docs/specs/component.md`) with the `shipper_` prefix.
///
/// Create the metrics through ``ComponentMetrics`` and ``BufferMetrics`` rather
/// than with these names directly: the Prometheus registry crashes on a name registered once with
/// labels and once without, or with different label orders, and the helpers keep both fixed.
public enum MetricNames {
    /// The prefix of every shipper metric.
    public static let prefix = "shipper_"

    /// Counter, component labels: events a component took in (a source: events made from lines;
    /// a transform: events handed to it; a sink: events read from the buffer).
    public static let receivedEvents = "shipper_component_received_events_total"
    /// Counter, component labels: events a component passed on (a sink: events the destination accepted).
    public static let sentEvents = "shipper_component_sent_events_total"
    /// Counter, component labels: events a component dropped on purpose (a `filter` stage).
    public static let discardedEvents = "shipper_component_discarded_events_total"
    /// Counter, component labels + `error_type`: errors, e.g. `parse_failed`, `request_failed`, `rejected`.
    public static let errors = "shipper_component_errors_total"
    /// Counter, component labels: bytes a component read (a source: bytes of lines; a sink: bytes of
    /// documents read from the buffer).
    public static let receivedBytes = "shipper_component_received_bytes_total"
    /// Counter, component labels: bytes a component wrote (a sink: request bytes sent, after compression).
    public static let sentBytes = "shipper_component_sent_bytes_total"
    /// Gauge, no labels: bytes held in the disk buffer (not yet acknowledged by every output).
    public static let bufferBytes = "shipper_buffer_bytes"
    /// Gauge, no labels: records held in the disk buffer.
    public static let bufferEvents = "shipper_buffer_events"
    /// Counter, no labels: buffer records that could not be read (damaged on disk: found when the
    /// buffer was opened and moved to `quarantine/`, or failing their checksum when read) and so
    /// are not delivered.
    public static let bufferDamagedRecords = "shipper_buffer_damaged_records_total"
    /// Gauge, sink labels: records in the buffer this output has not acknowledged yet.
    public static let outputLagEvents = "shipper_output_lag_events"
    /// Counter, sink labels: requests (or items) sent again after a retryable failure.
    public static let outputRetries = "shipper_output_retries_total"
    /// Counter, sink labels: events written to the dead-letter file instead of the destination.
    public static let deadLetters = "shipper_dead_letters_total"
    /// Gauge, source labels: files the source is tailing now.
    public static let filesTailed = "shipper_files_tailed"
    /// Gauge, source labels + `path`: bytes of a file not read yet (its size minus the read offset).
    public static let fileReadLagBytes = "shipper_file_read_lag_bytes"

    /// Every name above, for documentation and tests.
    public static let all: [String] = [
        receivedEvents, sentEvents, discardedEvents, errors, receivedBytes, sentBytes,
        bufferBytes, bufferEvents, bufferDamagedRecords, outputLagEvents, outputRetries, deadLetters, filesTailed, fileReadLagBytes,
    ]
}

/// Label names used by shipper's metrics.
public enum MetricLabels {
    /// The component's name in the config (`containers`, `static_access`, `es`).
    public static let componentID = "component_id"
    /// ``ComponentKind``: `source`, `transform` or `sink`.
    public static let componentKind = "component_kind"
    /// The component's `type:` (`docker`, `parse`, `elasticsearch`).
    public static let componentType = "component_type"
    /// What kind of error (on ``MetricNames/errors``).
    public static let errorType = "error_type"
    /// A tailed file's path (on ``MetricNames/fileReadLagBytes``).
    public static let path = "path"
}

/// The role of a component, as Vector names them.
public enum ComponentKind: String, Sendable, CaseIterable {
    /// Reads logs: `docker`, `cri`, `file`.
    case source
    /// A pipeline or stage: `parse`, `multiline`, `modify`, `filter`, `timestamp`.
    case transform
    /// An output: `elasticsearch`, `file`, `stdout`.
    case sink
}

/// The metrics of one component, labelled `component_id`, `component_kind`, `component_type` (in
/// that order).
///
/// Make one per component when it is built and keep it: creating a metric takes a lock in the
/// registry, incrementing one is an atomic add.
///
/// ```swift
/// let metrics = ComponentMetrics(id: "es", kind: .sink, type: "elasticsearch")
/// metrics.sentEvents.increment(by: accepted)
/// let rejected = metrics.errors(type: "rejected")   // keep it, too
/// ```
public struct ComponentMetrics: Sendable {
    /// The component's name in the config.
    public let id: String
    /// The component's role.
    public let kind: ComponentKind
    /// The component's `type:`.
    public let type: String
    /// The factory the metrics come from (the bootstrapped one unless given).
    public let factory: any MetricsFactory

    /// ``MetricNames/receivedEvents``.
    public let receivedEvents: Counter
    /// ``MetricNames/sentEvents``.
    public let sentEvents: Counter
    /// ``MetricNames/discardedEvents``.
    public let discardedEvents: Counter
    /// ``MetricNames/receivedBytes``.
    public let receivedBytes: Counter
    /// ``MetricNames/sentBytes``.
    public let sentBytes: Counter

    /// Creates (or finds) the counters every component has.
    /// - Parameter factory: defaults to `MetricsSystem.factory` (what ``Telemetry/bootstrap()`` set,
    ///   or a task-local factory bound with `withMetricsFactory`).
    public init(id: String, kind: ComponentKind, type: String, factory: any MetricsFactory = MetricsSystem.factory) {
        self.id = id
        self.kind = kind
        self.type = type
        self.factory = factory
        let labels = [(MetricLabels.componentID, id), (MetricLabels.componentKind, kind.rawValue), (MetricLabels.componentType, type)]
        receivedEvents = Counter(label: MetricNames.receivedEvents, dimensions: labels, factory: factory)
        sentEvents = Counter(label: MetricNames.sentEvents, dimensions: labels, factory: factory)
        discardedEvents = Counter(label: MetricNames.discardedEvents, dimensions: labels, factory: factory)
        receivedBytes = Counter(label: MetricNames.receivedBytes, dimensions: labels, factory: factory)
        sentBytes = Counter(label: MetricNames.sentBytes, dimensions: labels, factory: factory)
    }

    /// The component labels, in the order every shipper metric uses.
    public var labels: [(String, String)] {
        [(MetricLabels.componentID, id), (MetricLabels.componentKind, kind.rawValue), (MetricLabels.componentType, type)]
    }

    /// ``MetricNames/errors`` for one `error_type` (e.g. `parse_failed`, `request_failed`). Keep the
    /// result for errors that happen often.
    public func errors(type errorType: String) -> Counter {
        Counter(label: MetricNames.errors, dimensions: labels + [(MetricLabels.errorType, errorType)], factory: factory)
    }

    /// A counter with this component's labels (plus `extraLabels` after them). Use a name from
    /// ``MetricNames`` whose documentation says it has component labels.
    public func counter(_ name: String, extraLabels: [(String, String)] = []) -> Counter {
        Counter(label: name, dimensions: labels + extraLabels, factory: factory)
    }

    /// A gauge with this component's labels (plus `extraLabels` after them).
    public func gauge(_ name: String, extraLabels: [(String, String)] = []) -> Gauge {
        Gauge(label: name, dimensions: labels + extraLabels, factory: factory)
    }

    /// ``MetricNames/outputLagEvents`` (sinks).
    public func outputLagEvents() -> Gauge { gauge(MetricNames.outputLagEvents) }
    /// ``MetricNames/outputRetries`` (sinks).
    public func outputRetries() -> Counter { counter(MetricNames.outputRetries) }
    /// ``MetricNames/deadLetters`` (sinks).
    public func deadLetters() -> Counter { counter(MetricNames.deadLetters) }
    /// ``MetricNames/filesTailed`` (sources).
    public func filesTailed() -> Gauge { gauge(MetricNames.filesTailed) }
    /// ``MetricNames/fileReadLagBytes`` for one file (sources). Call `destroy()` on it when the
    /// file is no longer tailed, so the series disappears.
    public func fileReadLagBytes(path: String) -> Gauge {
        gauge(MetricNames.fileReadLagBytes, extraLabels: [(MetricLabels.path, path)])
    }
}

/// The disk buffer's gauges (no labels: one buffer per process).
public struct BufferMetrics: Sendable {
    /// ``MetricNames/bufferBytes``.
    public let bytes: Gauge
    /// ``MetricNames/bufferEvents``.
    public let events: Gauge
    /// ``MetricNames/bufferDamagedRecords``.
    public let damagedRecords: Counter

    /// Creates (or finds) the buffer gauges.
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        bytes = Gauge(label: MetricNames.bufferBytes, factory: factory)
        events = Gauge(label: MetricNames.bufferEvents, factory: factory)
        damagedRecords = Counter(label: MetricNames.bufferDamagedRecords, factory: factory)
    }

    /// Sets both gauges.
    public func record(bytes: Int, events: Int) {
        self.bytes.record(bytes)
        self.events.record(events)
    }
}
