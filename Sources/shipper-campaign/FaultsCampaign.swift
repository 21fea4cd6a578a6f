import ElasticsearchTestServer
import Foundation

/// Elasticsearch misbehaves in turn while two containers write; 1% of the lines carry a field the
/// server refuses with a mapping error. Every other line must be indexed exactly once, every
/// poisoned line must be in the dead-letter file exactly once, and after each fault shipping must
/// catch up by itself (no restart, no operator).
final class FaultsCampaign {
    let options: CampaignOptions

    init(options: CampaignOptions) { self.options = options }

    static let poisonRule = MappingErrorRule.fieldPresent("docker.attrs.poison")

    /// Whether line `seq` of a container is poisoned (about 1 in 100, fixed by the numbers).
    static func poisoned(container: Int, seq: Int) -> Bool {
        (UInt64(seq) &* 2_654_435_761 &+ UInt64(container) &* 97) % 100 == 42
    }

    struct Phase {
        var name: String
        var seconds: Double
        /// Starts the fault; the campaign clears it after `seconds`.
        var begin: (ElasticsearchTestServer, inout SeededRandom) async throws -> Void
        /// Changes the fault during the phase, every second (5xx bursts come and go).
        var everySecond: ((ElasticsearchTestServer, Int) -> Void)? = nil
    }

    static func plan(_ p: FaultPlan = FaultPlan()) -> FaultPlan {
        var p = p
        p.mappingErrorRules = [poisonRule]
        return p
    }

    func phases() -> [Phase] {
        let s = options.short
        return [
            Phase(name: "ES down \(s ? 10 : 60) s (connections refused)", seconds: s ? 10 : 60) { server, _ in
                try await server.goDown(.refuseConnections)
            },
            Phase(name: "ES down \(s ? 5 : 20) s (503 to everything)", seconds: s ? 5 : 20) { server, _ in
                try await server.goDown(.serviceUnavailable)
            },
            Phase(name: "429 storm (items and requests)", seconds: s ? 8 : 30) { server, rng in
                server.setFaultPlan(Self.plan(FaultPlan(seed: rng.next(), itemRejectionShare: 0.5, requestFailureShare: 0.3, requestFailureStatus: 429)))
            },
            Phase(
                name: "5xx bursts (500, 502, 503, 504)", seconds: s ? 8 : 30,
                begin: { _, _ in },
                everySecond: { server, n in
                    let statuses = [500, 502, 503, 504]
                    if n % 3 == 2 {
                        server.setFaultPlan(Self.plan())
                    } else {
                        server.setFaultPlan(
                            Self.plan(FaultPlan(seed: UInt64(n), itemUnavailableShare: 0.1, requestFailureShare: 0.9, requestFailureStatus: statuses[(n / 3) % 4])))
                    }
                }),
            Phase(name: "slow answers 2-8 s (timeout 5 s)", seconds: s ? 10 : 30) { server, rng in
                server.setFaultPlan(Self.plan(FaultPlan(seed: rng.next(), latency: .seconds(2), latencyJitter: .seconds(6))))
            },
            Phase(
                name: "connection resets (before/after applying)", seconds: s ? 8 : 30,
                begin: { _, _ in },
                everySecond: { server, n in
                    server.setFaultPlan(Self.plan(FaultPlan(seed: UInt64(n), connectionDropShare: 0.4, dropAfterApplying: n % 2 == 1)))
                }),
            Phase(name: "413 for batches over 64 KiB", seconds: s ? 8 : 30) { server, _ in
                server.setFaultPlan(Self.plan(FaultPlan(maxContentLength: 64 * 1024)))
            },
        ]
    }

    func run() async throws -> CampaignResult {
        var configuration = ElasticsearchTestServerConfiguration()
        configuration.faultPlan = Self.plan()
        let h = try await Harness(name: "faults", options: options, server: configuration)
        h.settings.requestTimeout = "5s"
        h.settings.batchEvents = 500
        h.settings.batchBytes = "1MiB"
        var result = CampaignResult(name: "faults")
        let rate = options.short ? 250.0 : 400.0
        let containers = try (0..<2).map { try ContainerLog(root: h.workspace.containers, number: $0, service: "app\($0)", book: h.book) }
        try h.writeConfig()
        h.tracker.start()
        try h.shipper.start()

        let tick = 0.01
        let perTick = rate * tick
        let bigLines = Locked(false)
        let writer = Pacer()
        writer.start(tick: tick) { n in
            for c in containers {
                let want = Int(Double(n + 1) * perTick) - Int(Double(n) * perTick)
                for _ in 0..<want { c.writeLine(poison: Self.poisoned(container: c.number, seq: c.seq)) }
                if c.size >= 4 << 20 { c.rotateByRename() }
                // Lines of 20 KiB (two Docker chunks) during the 413 phase, one per container per second.
                if n % 100 == 50, bigLines.current { c.writeLong(blocks: 320) }
            }
        }

        var rng = SeededRandom(seed: options.seed)
        await pause(options.short ? 3 : 5)
        var allResumed = true
        for phase in phases() {
            note("faults: \(phase.name) for \(Int(phase.seconds)) s")
            if phase.name.hasPrefix("413") { bigLines.withLock { $0 = true } }
            let before = h.server.faultCounters
            try await phase.begin(h.server, &rng)
            let start = monotonicSeconds()
            var second = 0
            while monotonicSeconds() - start < phase.seconds {
                phase.everySecond?(h.server, second)
                second += 1
                await pause(min(1, phase.seconds - (monotonicSeconds() - start)))
                h.shipper.checkAlive()
            }
            if h.server.isDown { try await h.server.comeUp() }
            h.server.setFaultPlan(Self.plan())
            bigLines.withLock { $0 = false }
            let end = monotonicSeconds()
            let caughtUp = await h.tracker.catchUp(writtenBefore: end, timeout: options.short ? 60 : 120, shipper: h.shipper)
            allResumed = allResumed && caughtUp != nil
            let after = h.server.faultCounters
            result.extra.append((phase.name, "caught up \(caughtUp.map { String(format: "%.1f s", $0) } ?? "NOT within the deadline") after the fault; " + Self.describe(before, after)))
        }
        writer.stop()
        note("faults: writers stopped; waiting for delivery")
        let delivered = await h.tracker.waitForDelivery(timeout: 180, shipper: h.shipper)
        let deadLetterMetric = h.metric("shipper_dead_letters_total")
        await h.finish(&result)
        result.extra.append(("mapping errors answered by the server", "\(h.server.faultCounters.mappingErrorItems) (a poisoned document sent again after a lost answer is refused again)"))
        result.extra.append(("shipper_dead_letters_total", deadLetterMetric.map { "\(Int($0))" } ?? "-"))
        result.checkDelivery()
        result.check("shipping resumed by itself after every fault", allResumed)
        result.check("everything arrived before the deadline", delivered)
        result.check("no crash (\(h.shipper.unexpectedExits))", h.shipper.unexpectedExits.isEmpty)
        h.workspace.finish(failed: !result.passed)
        return result
    }

    static func describe(_ a: FaultCounters, _ b: FaultCounters) -> String {
        var parts: [String] = []
        func add(_ name: String, _ v: Int) { if v > 0 { parts.append("\(v) \(name)") } }
        add("items 429", b.rejectedItems - a.rejectedItems)
        add("items 503", b.unavailableItems - a.unavailableItems)
        add("requests failed", b.failedRequests - a.failedRequests)
        add("of them 413", b.tooLargeRequests - a.tooLargeRequests)
        add("connections dropped", b.droppedConnections - a.droppedConnections)
        add("requests delayed", b.delayedRequests - a.delayedRequests)
        add("answered 503 while down", b.unavailableWhileDown - a.unavailableWhileDown)
        add("replays (409)", b.conflictItems - a.conflictItems)
        return parts.isEmpty ? "no request reached the server" : parts.joined(separator: ", ")
    }
}
