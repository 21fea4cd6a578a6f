import MetricsTestKit
import ShipperConfig
import ShipperCore
import Testing

@testable import ShipperRuntime

/// The pipeline counters of `shipper run`: events in, out, dropped by filters, and failure tags,
/// per pipeline; events no pipeline takes are not counted.
@Suite struct MeteredRouterTests {
    static let yaml = """
        pipelines:
          errors:
            match: {stream: stderr}
            stages:
              - {type: modify, add_tags: [_parse_failure]}
          web:
            match: {service.name: web}
            stages:
              - {type: filter, drop: {message: noise}}
          java:
            match: {service.name: java}
            stages:
              - {type: multiline, mode: java}
              - {type: modify, add_tags: [_timestamp_failure]}
        """

    func event(_ message: String, service: String, stream: String = "stdout", tags: [String] = []) -> LogEvent {
        var e = LogEvent(message: Array(message.utf8))
        e.set(FieldPath.intern("service.name"), string: service)
        e.set(FieldPaths.stream, string: stream)
        for t in tags { e.addTag(t) }
        return e
    }

    func value(_ metrics: TestMetrics, _ label: String, _ pipeline: String, _ errorType: String? = nil) -> Int64 {
        metrics.counters.filter { c in
            c.label == label && c.dimensions.contains { $0 == ("component_id", pipeline) }
                && (errorType == nil || c.dimensions.contains { $0 == ("error_type", errorType!) })
        }.reduce(0) { $0 + $1.totalValue }
    }

    @Test func countsArePerPipeline() throws {
        let metrics = TestMetrics()
        var router = MeteredRouter(try Router(config: ConfigLoader.parse(yaml: Self.yaml, file: "t.yaml")), factory: metrics)
        var out = router.process([
            event("a", service: "web", stream: "stderr"),
            event("b", service: "web", tags: [EventTags.decodeFailure]),
            event("noise", service: "web"),
            event("c", service: "other", tags: [EventTags.parseFailure]),  // no pipeline: not counted
            event("d", service: "other", stream: "stderr", tags: [EventTags.decodeFailure]),
            event("Exception in thread main", service: "java"),
        ])
        out += router.flush(now: nil)
        #expect(out.count == 5)
        #expect(value(metrics, "shipper_component_errors_total", "errors", "parse_failed") == 2)
        #expect(value(metrics, "shipper_component_errors_total", "errors", "decode_failed") == 1)
        #expect(value(metrics, "shipper_component_errors_total", "web", "decode_failed") == 1)
        #expect(value(metrics, "shipper_component_errors_total", "web", "parse_failed") == 0)
        #expect(value(metrics, "shipper_component_errors_total", "java", "timestamp_failed") == 1)
        #expect(value(metrics, "shipper_component_sent_events_total", "web") == 1)
        #expect(value(metrics, "shipper_component_discarded_events_total", "web") == 1)
        #expect(value(metrics, "shipper_component_received_events_total", "errors") == 2)
        #expect(value(metrics, "shipper_component_received_events_total", "java") == 1)
    }

    /// What the stages are done with (a line joined into a multiline event, an event a filter
    /// dropped) goes to the worker's event pool, emptied; a plain `Router` keeps none of it.
    @Test func spentEventsGoToThePool() throws {
        var router = MeteredRouter(try Router(config: ConfigLoader.parse(yaml: Self.yaml, file: "t.yaml")), factory: TestMetrics())
        let batch = [
            event("Exception in thread main", service: "java"), event("\tat x.Y(Y.java:1)", service: "java"),
            event("\tat x.Z(Z.java:2)", service: "java"), event("noise", service: "web"), event("kept", service: "web"),
        ]
        var out = router.process(batch)
        out += router.flush(now: nil)
        #expect(out.map { $0.string(FieldPaths.message) ?? "" } == ["kept", "Exception in thread main\n\tat x.Y(Y.java:1)\n\tat x.Z(Z.java:2)"])
        let pool = EventPool()
        router.recycleSpent(into: pool)
        #expect(pool.count == 3)
        let reused = pool.take()
        #expect(reused.fields.isEmpty && reused.arena.isEmpty && reused.arena.capacity > 0)
        router.recycleSpent(into: pool)
        #expect(pool.count == 2)  // handed over once

        var plain = try Router(config: ConfigLoader.parse(yaml: Self.yaml, file: "t.yaml"))
        _ = plain.process(batch)
        #expect(plain.pipelines.allSatisfy { $0.spent.isEmpty })
    }
}
