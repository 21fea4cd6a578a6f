import ShipperCore
import Synchronization

/// What `/health` reports, kept up to date by the runtime. Thread-safe; cheap to update from any task.
///
/// - The pipeline worker calls ``pipelineRunning(_:)`` with `true` once it reads, and `false` when
///   it stops (shutdown): until then `/health` answers 503.
/// - An output calls ``outputFailing(name:since:)`` when a send fails and ``outputRecovered(name:)``
///   on the next success; it is unhealthy only once it has failed for longer than
///   ``HealthConfig/outputFailingAfter`` without a success.
/// - The buffer (or whoever polls its stats) calls ``bufferFill(ratio:)`` with bytes / max_size.
public final class HealthState: Sendable {
    struct State {
        var running = false
        var failingOutputs: [String: ContinuousClock.Instant] = [:]
        var bufferFill = 0.0
    }

    private let state = Mutex(State())

    /// A state with the pipeline not running yet, no failing output and an empty buffer.
    public init() {}

    /// The pipeline worker is reading (`true`) or stopped (`false`).
    public func pipelineRunning(_ running: Bool) {
        state.withLock { $0.running = running }
    }

    /// The output `name` failed to deliver. Calling it again while the output is still failing
    /// keeps the first time, so the outage is measured from its start.
    public func outputFailing(name: String, since: ContinuousClock.Instant = .now) {
        state.withLock { s in
            if let first = s.failingOutputs[name], first <= since { return }
            s.failingOutputs[name] = since
        }
    }

    /// The output `name` delivered again.
    public func outputRecovered(name: String) {
        _ = state.withLock { $0.failingOutputs.removeValue(forKey: name) }
    }

    /// How full the buffer is: its bytes divided by its `max_size` (0 empty, 1 full).
    public func bufferFill(ratio: Double) {
        state.withLock { $0.bufferFill = ratio.isFinite ? ratio : 1 }
    }

    /// The verdict at `now` under `config`.
    public func report(config: HealthConfig, now: ContinuousClock.Instant = .now) -> HealthReport {
        let s = state.withLock { $0 }
        var reasons: [String] = []
        if !s.running {
            reasons.append("the pipeline is not running")
        }
        for (name, since) in s.failingOutputs.sorted(by: { $0.key < $1.key }) {
            let failing = since.duration(to: now)
            if failing > config.outputFailingAfter.duration {
                reasons.append(
                    "output '\(name)' has been failing for \(Self.seconds(failing))s (limit \(config.outputFailingAfter))"
                )
            }
        }
        if s.bufferFill >= config.bufferHighWater {
            let percent = Int((s.bufferFill * 100).rounded(.down))
            reasons.append(
                "the buffer is \(percent)% full (high water \(Int((config.bufferHighWater * 100).rounded()))%)"
            )
        }
        return HealthReport(reasons: reasons)
    }

    private static func seconds(_ d: Duration) -> Int64 { d.components.seconds }
}

/// The result of a health check.
public struct HealthReport: Sendable, Equatable {
    /// Why the shipper is unhealthy; empty when it is healthy.
    public var reasons: [String]

    /// Whether `/health` answers 200.
    public var isHealthy: Bool { reasons.isEmpty }

    /// The `/health` body: `{"status":"ok"}`, or `{"status":"unhealthy","reasons":[…]}`.
    public var json: String {
        guard !isHealthy else { return #"{"status":"ok"}"# }
        var out = #"{"status":"unhealthy","reasons":["#
        for (i, r) in reasons.enumerated() {
            if i > 0 { out += "," }
            out += Self.quoted(r)
        }
        return out + "]}"
    }

    static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
