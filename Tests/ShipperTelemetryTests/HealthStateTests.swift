import ShipperCore
import Testing

@testable import ShipperTelemetry

/// A health scenario: what the runtime reported, and the verdict expected.
struct HealthScenario: Sendable, CustomTestStringConvertible {
    var name: String
    var apply: @Sendable (HealthState, ContinuousClock.Instant) -> Void
    var healthy: Bool
    var reason: String?

    var testDescription: String { name }
}

struct HealthStateTests {
    static let config = HealthConfig()   // 60 s, 0.9

    static let scenarios: [HealthScenario] = [
        HealthScenario(name: "not started", apply: { _, _ in }, healthy: false, reason: "the pipeline is not running"),
        HealthScenario(name: "running", apply: { h, _ in h.pipelineRunning(true) }, healthy: true),
        HealthScenario(name: "stopped again", apply: { h, _ in h.pipelineRunning(true); h.pipelineRunning(false) },
                       healthy: false, reason: "the pipeline is not running"),
        HealthScenario(name: "output failing for 30 s: still within the limit", apply: { h, now in
            h.pipelineRunning(true)
            h.outputFailing(name: "es", since: now - .seconds(30))
        }, healthy: true),
        HealthScenario(name: "output failing for exactly 60 s", apply: { h, now in
            h.pipelineRunning(true)
            h.outputFailing(name: "es", since: now - .seconds(60))
        }, healthy: true),
        HealthScenario(name: "output failing for 61 s", apply: { h, now in
            h.pipelineRunning(true)
            h.outputFailing(name: "es", since: now - .seconds(61))
        }, healthy: false, reason: "output 'es' has been failing for 61s (limit 60s)"),
        HealthScenario(name: "output recovered", apply: { h, now in
            h.pipelineRunning(true)
            h.outputFailing(name: "es", since: now - .seconds(600))
            h.outputRecovered(name: "es")
        }, healthy: true),
        HealthScenario(name: "a repeated failure keeps the start of the outage", apply: { h, now in
            h.pipelineRunning(true)
            h.outputFailing(name: "es", since: now - .seconds(120))
            h.outputFailing(name: "es", since: now)
        }, healthy: false, reason: "output 'es' has been failing for 120s"),
        HealthScenario(name: "an earlier failure report moves the start back", apply: { h, now in
            h.pipelineRunning(true)
            h.outputFailing(name: "es", since: now - .seconds(10))
            h.outputFailing(name: "es", since: now - .seconds(90))
        }, healthy: false, reason: "failing for 90s"),
        HealthScenario(name: "recovering another output does not help", apply: { h, now in
            h.pipelineRunning(true)
            h.outputFailing(name: "es", since: now - .seconds(90))
            h.outputRecovered(name: "archive")
        }, healthy: false, reason: "output 'es'"),
        HealthScenario(name: "buffer below high water", apply: { h, _ in
            h.pipelineRunning(true)
            h.bufferFill(ratio: 0.89)
        }, healthy: true),
        HealthScenario(name: "buffer at high water", apply: { h, _ in
            h.pipelineRunning(true)
            h.bufferFill(ratio: 0.9)
        }, healthy: false, reason: "the buffer is 90% full (high water 90%)"),
        HealthScenario(name: "buffer full", apply: { h, _ in
            h.pipelineRunning(true)
            h.bufferFill(ratio: 1)
        }, healthy: false, reason: "the buffer is 100% full"),
        HealthScenario(name: "buffer drained again", apply: { h, _ in
            h.pipelineRunning(true)
            h.bufferFill(ratio: 0.95)
            h.bufferFill(ratio: 0.1)
        }, healthy: true),
        HealthScenario(name: "a NaN fill counts as full", apply: { h, _ in
            h.pipelineRunning(true)
            h.bufferFill(ratio: .nan)
        }, healthy: false, reason: "the buffer is 100% full"),
    ]

    @Test(arguments: scenarios)
    func verdict(_ scenario: HealthScenario) {
        let health = HealthState()
        let now = ContinuousClock.now
        scenario.apply(health, now)
        let report = health.report(config: Self.config, now: now)
        #expect(report.isHealthy == scenario.healthy, "\(report.reasons)")
        if let reason = scenario.reason {
            #expect(report.reasons.contains { $0.contains(reason) }, "\(report.reasons)")
        } else {
            #expect(report.reasons.isEmpty)
        }
        #expect(report.json.hasPrefix(scenario.healthy ? #"{"status":"ok"}"# : #"{"status":"unhealthy","reasons":["#))
    }

    @Test func everyReasonIsListedInOrder() {
        let health = HealthState()
        let now = ContinuousClock.now
        health.outputFailing(name: "zeta", since: now - .seconds(100))
        health.outputFailing(name: "alpha", since: now - .seconds(100))
        health.bufferFill(ratio: 0.99)
        let report = health.report(config: Self.config, now: now)
        #expect(report.reasons.count == 4)
        #expect(report.reasons[0] == "the pipeline is not running")
        #expect(report.reasons[1].contains("'alpha'"))
        #expect(report.reasons[2].contains("'zeta'"))
        #expect(report.reasons[3].contains("99% full"))
    }

    @Test func thresholdsComeFromTheConfig() throws {
        let health = HealthState()
        let now = ContinuousClock.now
        health.pipelineRunning(true)
        health.outputFailing(name: "es", since: now - .seconds(5))
        health.bufferFill(ratio: 0.5)
        #expect(health.report(config: HealthConfig(), now: now).isHealthy)
        let strict = try HealthConfig(outputFailingAfter: .seconds(2), bufferHighWater: 0.5)
        let report = health.report(config: strict, now: now)
        #expect(report.reasons.count == 2)
        #expect(report.reasons[0] == "output 'es' has been failing for 5s (limit 2s)")
        #expect(report.reasons[1] == "the buffer is 50% full (high water 50%)")
    }

    @Test func reasonsAreValidJSONWhateverTheOutputName() throws {
        let health = HealthState()
        let now = ContinuousClock.now
        health.pipelineRunning(true)
        health.outputFailing(name: "we\"ird\\name\n\u{1}é", since: now - .seconds(100))
        let json = health.report(config: Self.config, now: now).json
        #expect(json.contains(#"'we\"ird\\name\n\u0001é'"#))
        let object = try JSONSerializationCheck.parse(json)
        #expect(object["status"] as? String == "unhealthy")
        let reasons = try #require(object["reasons"] as? [String])
        #expect(reasons.first?.contains("we\"ird\\name\n\u{1}é") == true)
    }
}
