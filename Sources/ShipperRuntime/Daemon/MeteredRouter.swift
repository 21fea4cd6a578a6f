import Metrics
import ShipperCore
import ShipperTelemetry
import StageTransforms

/// The router of `shipper run`: routes exactly like ``Router`` (each event to the first pipeline
/// whose `match` it satisfies; events no pipeline takes pass on unchanged) and counts, per
/// pipeline (`component_kind="transform"`, `component_type="pipeline"`):
///
/// - `shipper_component_received_events_total`: events routed to the pipeline;
/// - `shipper_component_sent_events_total`: events it passed on (flushed ones included);
/// - `shipper_component_discarded_events_total`: events its `filter` stages dropped;
/// - `shipper_component_errors_total{error_type}`: events it passed on tagged `_parse_failure`
///   (`parse_failed`), `_decode_failure` (`decode_failed`) or `_timestamp_failure`
///   (`timestamp_failed`).
///
/// Counters are incremented once per batch; the per-event cost is one field lookup (`tags`).
struct MeteredRouter {
    /// One pipeline's counters, and where its filter stages are.
    struct Meter {
        let received: Counter
        let sent: Counter
        let discarded: Counter
        let parseFailed: Counter
        let decodeFailed: Counter
        let timestampFailed: Counter
        /// Indices of the pipeline's `filter` stages.
        let filters: [Int]
        /// Their `discarded` total at the last count.
        var lastDiscarded = 0

        init(pipeline: Pipeline, factory: any MetricsFactory) {
            let m = ComponentMetrics(id: pipeline.name, kind: .transform, type: "pipeline", factory: factory)
            received = m.receivedEvents
            sent = m.sentEvents
            discarded = m.discardedEvents
            parseFailed = m.errors(type: "parse_failed")
            decodeFailed = m.errors(type: "decode_failed")
            timestampFailed = m.errors(type: "timestamp_failed")
            filters = pipeline.stages.indices.filter { pipeline.stages[$0] is FilterStage }
        }
    }

    private(set) var pipelines: [Pipeline]
    private var meters: [Meter]

    init(_ router: Router, factory: any MetricsFactory = MetricsSystem.factory) {
        pipelines = router.pipelines
        for i in pipelines.indices { pipelines[i].keepsSpent = true }
        meters = pipelines.map { Meter(pipeline: $0, factory: factory) }
    }

    /// Routes and processes a batch (see ``Router/process(_:)``).
    mutating func process(_ batch: consuming [LogEvent]) -> [LogEvent] {
        if pipelines.isEmpty { return batch }
        if pipelines.count == 1 && pipelines[0].match == nil { return run(0, batch) }
        var groups = [[LogEvent]](repeating: [], count: pipelines.count + 1)
        var events = batch
        events.drainEvents { event in
            var target = pipelines.count
            for (i, p) in pipelines.enumerated() where p.match?.matches(event) ?? true {
                target = i
                break
            }
            groups[target].append(event)
        }
        var out = groups[pipelines.count]
        for i in pipelines.indices where !groups[i].isEmpty {
            var group: [LogEvent] = []
            swap(&group, &groups[i])
            out.append(contentsOf: run(i, group))
        }
        return out
    }

    /// Gives the events the stages are done with (lines joined into held events, events filters
    /// dropped) to `pool`, for the decoders to fill again: a Jetty log with stack traces spent
    /// 4 in 10 of its events in the multiline stage, and freeing and allocating their storage
    /// again was 5.5 % of shipper's CPU.
    mutating func recycleSpent(into pool: EventPool) {
        for i in pipelines.indices where !pipelines[i].spent.isEmpty { pool.recycle(&pipelines[i].spent) }
    }

    /// Releases what stages hold (multiline timeouts; everything when `now` is nil).
    mutating func flush(now: Timestamp?) -> [LogEvent] {
        var out: [LogEvent] = []
        for i in pipelines.indices {
            var flushed = pipelines[i].flush(now: now)
            count(i, &flushed)  // also when empty: a filter after the held stage may have dropped them
            out.append(contentsOf: flushed)
        }
        return out
    }

    /// Calls `body` with the origin of every event some stage holds back.
    func forEachHeldOrigin(_ body: (EventOrigin) -> Void) {
        for p in pipelines { p.forEachHeldOrigin(body) }
    }

    private mutating func run(_ i: Int, _ batch: consuming [LogEvent]) -> [LogEvent] {
        meters[i].received.increment(by: batch.count)
        var out = pipelines[i].process(batch)
        count(i, &out)
        return out
    }

    /// Counts what pipeline `i` passed on, its failure tags, and what its filters dropped.
    private mutating func count(_ i: Int, _ out: inout [LogEvent]) {
        let meter = meters[i]
        if !out.isEmpty { meter.sent.increment(by: out.count) }
        var parse = 0
        var decode = 0
        var timestamp = 0
        out.withEachEvent { event in
            guard case .array(let tags)? = event[FieldPaths.tags] else { return }
            for tag in event.elements(tags) {
                guard case .string(let s) = tag else { continue }
                let bytes = event.arena[s.range]
                if bytes.elementsEqual(EventTags.parseFailure.utf8) {
                    parse += 1
                } else if bytes.elementsEqual(EventTags.decodeFailure.utf8) {
                    decode += 1
                } else if bytes.elementsEqual(EventTags.timestampFailure.utf8) {
                    timestamp += 1
                }
            }
        }
        if parse > 0 { meter.parseFailed.increment(by: parse) }
        if decode > 0 { meter.decodeFailed.increment(by: decode) }
        if timestamp > 0 { meter.timestampFailed.increment(by: timestamp) }
        guard !meter.filters.isEmpty else { return }
        var discarded = 0
        for f in meter.filters {
            if let filter = pipelines[i].stages[f] as? FilterStage { discarded += filter.discarded }
        }
        if discarded > meter.lastDiscarded {
            meter.discarded.increment(by: discarded - meter.lastDiscarded)
            meters[i].lastDiscarded = discarded
        }
    }
}
