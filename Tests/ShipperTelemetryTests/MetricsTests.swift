import Foundation
import Metrics
import Prometheus
import Testing

@testable import ShipperTelemetry

/// Metric helpers, each test on its own registry (swift-metrics allows one global bootstrap per
/// process; see `BootstrapTests` for that path).
struct MetricsTests {
    private func isolated() -> (PrometheusCollectorRegistry, PrometheusMetricsFactory) {
        let registry = PrometheusCollectorRegistry()
        return (registry, PrometheusMetricsFactory(registry: registry))
    }

    /// README.md's "Metrics and health" table lists every metric (the Elasticsearch output's own
    /// are in `OutputMetrics`' documentation, and in the table too).
    @Test func theReadmeListsEveryMetric() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let section = try #require(readme.range(of: "### Metrics and health").map { readme[$0.upperBound...] })
        let table = String(section).components(separatedBy: "\n## ").first ?? ""
        for name in MetricNames.all + ["shipper_elasticsearch_requests_total", "shipper_elasticsearch_in_flight_requests"] {
            #expect(table.contains("`\(name)`"), "README.md, Metrics and health: \(name) is missing")
        }
    }

    @Test func namesFollowTheComponentSpecWithThePrefix() {
        #expect(MetricNames.all.count == 14)
        #expect(Set(MetricNames.all).count == MetricNames.all.count)
        for name in MetricNames.all {
            #expect(name.hasPrefix(MetricNames.prefix))
            #expect(name.allSatisfy { $0.isLowercase || $0 == "_" }, "\(name)")
        }
        for name in [MetricNames.receivedEvents, MetricNames.sentEvents, MetricNames.discardedEvents, MetricNames.errors,
                     MetricNames.receivedBytes, MetricNames.sentBytes, MetricNames.outputRetries, MetricNames.deadLetters] {
            #expect(name.hasSuffix("_total"), "counters end in _total: \(name)")
        }
        #expect(MetricNames.receivedEvents == "shipper_component_received_events_total")
        #expect(MetricNames.errors == "shipper_component_errors_total")
        #expect(MetricNames.fileReadLagBytes == "shipper_file_read_lag_bytes")
        #expect(MetricNames.bufferDamagedRecords == "shipper_buffer_damaged_records_total")
    }

    @Test func componentCountersCarryTheComponentLabels() {
        let (registry, factory) = isolated()
        let es = ComponentMetrics(id: "es", kind: .sink, type: "elasticsearch", factory: factory)
        es.receivedEvents.increment(by: 5)
        es.sentEvents.increment(by: 3)
        es.sentBytes.increment(by: 1200)
        es.errors(type: "rejected").increment()
        es.errors(type: "rejected").increment()   // the same series
        es.errors(type: "request_failed").increment()
        es.outputRetries().increment()
        es.deadLetters().increment(by: 2)
        es.outputLagEvents().record(42)

        let text = registry.emitToString()
        let labels = #"component_id="es",component_kind="sink",component_type="elasticsearch""#
        #expect(text.contains("# TYPE shipper_component_sent_events_total counter"))
        #expect(text.contains("shipper_component_received_events_total{\(labels)} 5\n"))
        #expect(text.contains("shipper_component_sent_events_total{\(labels)} 3\n"))
        #expect(text.contains("shipper_component_sent_bytes_total{\(labels)} 1200\n"))
        #expect(text.contains("shipper_component_discarded_events_total{\(labels)} 0\n"))
        #expect(text.contains(#"shipper_component_errors_total{\#(labels),error_type="rejected"} 2"# + "\n"))
        #expect(text.contains(#"shipper_component_errors_total{\#(labels),error_type="request_failed"} 1"# + "\n"))
        #expect(text.contains("shipper_output_retries_total{\(labels)} 1\n"))
        #expect(text.contains("shipper_dead_letters_total{\(labels)} 2\n"))
        #expect(text.contains("# TYPE shipper_output_lag_events gauge"))
        #expect(text.contains("shipper_output_lag_events{\(labels)} 42"))
    }

    @Test(arguments: ComponentKind.allCases)
    func kindsAreVectorsWords(kind: ComponentKind) {
        let (registry, factory) = isolated()
        ComponentMetrics(id: "c", kind: kind, type: "t", factory: factory).receivedEvents.increment()
        #expect(registry.emitToString().contains(#"component_kind="\#(kind.rawValue)""#))
        #expect(["source", "transform", "sink"].contains(kind.rawValue))
    }

    @Test func makingTheSameComponentTwiceSharesTheSeries() {
        let (registry, factory) = isolated()
        ComponentMetrics(id: "containers", kind: .source, type: "docker", factory: factory).receivedEvents.increment(by: 2)
        ComponentMetrics(id: "containers", kind: .source, type: "docker", factory: factory).receivedEvents.increment(by: 3)
        let lines = registry.emitToString().split(separator: "\n").filter { $0.hasPrefix(MetricNames.receivedEvents + "{") }
        #expect(lines == [#"shipper_component_received_events_total{component_id="containers",component_kind="source",component_type="docker"} 5"#])
    }

    @Test func sourceGaugesAndFileLag() {
        let (registry, factory) = isolated()
        let source = ComponentMetrics(id: "containers", kind: .source, type: "docker", factory: factory)
        source.filesTailed().record(2)
        let lag = source.fileReadLagBytes(path: #"/var/lib/docker/containers/a"b/a-json.log"#)
        lag.record(4096)
        source.fileReadLagBytes(path: "/var/lib/docker/containers/c/c-json.log").record(0)
        var text = registry.emitToString()
        let labels = #"component_id="containers",component_kind="source",component_type="docker""#
        #expect(text.contains("shipper_files_tailed{\(labels)} 2"))
        // Label values are escaped in the text format.
        #expect(text.contains(#"shipper_file_read_lag_bytes{\#(labels),path="/var/lib/docker/containers/a\"b/a-json.log"} 4096"#))
        lag.destroy()
        text = registry.emitToString()
        #expect(!text.contains(#"a\"b"#))
        #expect(text.contains(#"path="/var/lib/docker/containers/c/c-json.log"} 0"#))
    }

    @Test func bufferGaugesHaveNoLabels() {
        let (registry, factory) = isolated()
        let buffer = BufferMetrics(factory: factory)
        buffer.record(bytes: 1_048_576, events: 1000)
        buffer.record(bytes: 2048, events: 2)
        let text = registry.emitToString()
        #expect(text.contains("# TYPE shipper_buffer_bytes gauge\nshipper_buffer_bytes 2048"))
        #expect(text.contains("# TYPE shipper_buffer_events gauge\nshipper_buffer_events 2"))
    }

    @Test func aTaskLocalFactoryIsPickedUpByDefault() {
        let (registry, factory) = isolated()
        withMetricsFactory(factory) {
            ComponentMetrics(id: "static_access", kind: .transform, type: "parse").discardedEvents.increment(by: 7)
            BufferMetrics().record(bytes: 1, events: 1)
        }
        let text = registry.emitToString()
        #expect(text.contains(#"shipper_component_discarded_events_total{component_id="static_access",component_kind="transform",component_type="parse"} 7"#))
        #expect(text.contains("shipper_buffer_events 1"))
    }
}
