import CoreMetrics
import Metrics
import Synchronization

/// The output's metrics (names after Vector's component specification), labelled
/// `component_id=<output name>`, `component_kind=sink`, `component_type=elasticsearch`.
///
/// Names shared with every output are the ones of `ShipperTelemetry.MetricNames` (this module
/// does not depend on ShipperTelemetry, so they are spelled out here; keep them equal).
///
/// | metric | kind | meaning |
/// |---|---|---|
/// | `shipper_component_sent_events_total` | counter | documents Elasticsearch has (2xx, or 409: already there) |
/// | `shipper_component_sent_event_bytes_total` | counter | their JSON size |
/// | `shipper_component_sent_bytes_total{compression}` | counter | request body bytes on the wire, every attempt |
/// | `shipper_elasticsearch_uncompressed_request_bytes_total` | counter | the same bodies before compression |
/// | `shipper_component_errors_total{error_type}` | counter | `connection_failed`, `timed_out`, `request_failed` (429/5xx), `unauthorized` (config: 401/403/404…), `malformed_response`, `item_rejected` (dead-lettered), `dead_letter_write_failed` |
/// | `shipper_output_retries_total` | counter | items sent again after 429/5xx |
/// | `shipper_elasticsearch_duplicate_events_total` | counter | items answered 409 (a replay) |
/// | `shipper_dead_letters_total` | counter | documents written to the dead-letter file |
/// | `shipper_elasticsearch_requests_total{status}` | counter | bulk responses by HTTP status |
/// | `shipper_elasticsearch_in_flight_requests` | gauge | bulk requests waiting for an answer |
/// | `shipper_elasticsearch_request_duration_seconds` | timer | time to an answer |
///
/// Deprecated aliases, counted too until dashboards and tests have moved:
/// `shipper_elasticsearch_retried_events_total` (= `shipper_output_retries_total`) and
/// `shipper_elasticsearch_dead_letter_events_total` (= `shipper_dead_letters_total`).
public final class OutputMetrics: Sendable {
    public let dimensions: [(String, String)]
    let factory: any MetricsFactory
    let sentEvents: Counter
    let sentEventBytes: Counter
    let sentBytes: Counter
    let uncompressedBytes: Counter
    /// Counts under `shipper_output_retries_total` and its deprecated alias.
    let retried: Counter
    let duplicates: Counter
    /// Counts under `shipper_dead_letters_total` and its deprecated alias.
    let deadLettered: Counter
    let inFlight: Gauge
    let duration: Timer
    private let inFlightCount = Atomic<Int>(0)
    private let errorCounters = Mutex<[String: Counter]>([:])
    private let statusCounters = Mutex<[Int: Counter]>([:])

    public init(component: String, compression: String, factory: (any MetricsFactory)? = nil) {
        let factory = factory ?? MetricsSystem.factory
        self.factory = factory
        let dims = [("component_id", component), ("component_kind", "sink"), ("component_type", "elasticsearch")]
        dimensions = dims
        sentEvents = Counter(label: "shipper_component_sent_events_total", dimensions: dims, factory: factory)
        sentEventBytes = Counter(label: "shipper_component_sent_event_bytes_total", dimensions: dims, factory: factory)
        sentBytes = Counter(label: "shipper_component_sent_bytes_total", dimensions: dims + [("compression", compression)], factory: factory)
        uncompressedBytes = Counter(label: "shipper_elasticsearch_uncompressed_request_bytes_total", dimensions: dims, factory: factory)
        retried = Self.counter(
            "shipper_output_retries_total", alias: "shipper_elasticsearch_retried_events_total", dimensions: dims, factory: factory)
        duplicates = Counter(label: "shipper_elasticsearch_duplicate_events_total", dimensions: dims, factory: factory)
        deadLettered = Self.counter(
            "shipper_dead_letters_total", alias: "shipper_elasticsearch_dead_letter_events_total", dimensions: dims, factory: factory)
        inFlight = Gauge(label: "shipper_elasticsearch_in_flight_requests", dimensions: dims, factory: factory)
        duration = Timer(label: "shipper_elasticsearch_request_duration_seconds", dimensions: dims, factory: factory)
    }

    /// A counter that counts under `label` and under the deprecated name `alias` too.
    static func counter(_ label: String, alias: String, dimensions: [(String, String)], factory: any MetricsFactory) -> Counter {
        let handler = FanOutCounterHandler([
            factory.makeCounter(label: label, dimensions: dimensions), factory.makeCounter(label: alias, dimensions: dimensions),
        ])
        return Counter(label: label, dimensions: dimensions, handler: handler, factory: factory)
    }

    func error(_ type: String, count: Int = 1) {
        let counter = errorCounters.withLock { counters -> Counter in
            if let c = counters[type] { return c }
            let c = Counter(label: "shipper_component_errors_total", dimensions: dimensions + [("error_type", type)], factory: factory)
            counters[type] = c
            return c
        }
        counter.increment(by: count)
    }

    func response(status: Int) {
        let counter = statusCounters.withLock { counters -> Counter in
            if let c = counters[status] { return c }
            let c = Counter(label: "shipper_elasticsearch_requests_total", dimensions: dimensions + [("status", String(status))], factory: factory)
            counters[status] = c
            return c
        }
        counter.increment()
    }

    func requestStarted() {
        let n = inFlightCount.add(1, ordering: .relaxed).newValue
        inFlight.record(n)
    }

    func requestEnded() {
        let n = inFlightCount.subtract(1, ordering: .relaxed).newValue
        inFlight.record(n)
    }
}

/// Increments several counters at once (a metric and its deprecated alias).
final class FanOutCounterHandler: CounterHandler, Sendable {
    let handlers: [any CounterHandler]

    init(_ handlers: [any CounterHandler]) { self.handlers = handlers }

    func increment(by amount: Int64) {
        for h in handlers { h.increment(by: amount) }
    }

    func reset() {
        for h in handlers { h.reset() }
    }
}
