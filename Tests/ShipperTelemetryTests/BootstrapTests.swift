import Foundation
import Metrics
import Prometheus
import Testing

@testable import ShipperTelemetry

/// The one test of the process-wide bootstrap: swift-metrics allows one per process, and
/// `Telemetry.bootstrap()` is the only place in shipper that does it.
struct BootstrapTests {
    @Test func bootstrapIsIdempotentAndBacksTheDefaultFactory() async throws {
        let registry = Telemetry.bootstrap()
        #expect(Telemetry.bootstrap() === registry)
        #expect((MetricsSystem.factory as? PrometheusMetricsFactory)?.registry === registry)

        // Made through the global factory, as components do by default; unique names, since
        // every test of the process shares this registry.
        let id = "bootstrap-\(UUID().uuidString.prefix(8))"
        let source = ComponentMetrics(id: id, kind: .source, type: "docker")
        source.receivedEvents.increment(by: 4)
        source.receivedBytes.increment(by: 1000)
        source.errors(type: "decode_failed").increment()

        let concurrent = await withTaskGroup(of: ObjectIdentifier.self) { group in
            for _ in 0..<8 { group.addTask { ObjectIdentifier(Telemetry.bootstrap()) } }
            return await Set(group.reduce(into: []) { $0.append($1) })
        }
        #expect(concurrent == [ObjectIdentifier(registry)])

        try await withTelemetryServer(registry: registry) { port in
            let body = try await fetch(port, "/metrics").body
            let labels = #"component_id="\#(id)",component_kind="source",component_type="docker""#
            #expect(body.contains("shipper_component_received_events_total{\(labels)} 4\n"))
            #expect(body.contains("shipper_component_received_bytes_total{\(labels)} 1000\n"))
            #expect(body.contains(#"shipper_component_errors_total{\#(labels),error_type="decode_failed"} 1"#))
        }
    }
}
