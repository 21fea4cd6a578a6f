import ElasticsearchTestServer
import Foundation

/// SIGKILL at seeded moments while four containers write and rotate; every line must be
/// indexed exactly once.
///
/// Containers: 0 rotates by rename every 256 KiB, 1 by copytruncate every 256 KiB (whether
/// shipper runs or not, with lines still unread: shipper must read them from the copy,
/// `-json.log.1`; it waits only while the copy from its previous truncation still holds lines
/// not indexed, since logrotate's next copy overwrites that one, which no shipper can survive),
/// 2 by rename every 512 KiB, 3 is
/// laid out as on a Kubernetes node (CRI lines, a `cri` source) and rotated as kubelet does
/// (`0.log.<date>-<time>`) every 256 KiB. Kill
/// moments, each kind in turn with seeded timing:
/// - `reading`: 20–400 ms after a start, while shipper catches up on what was written while it
///   was down (reads, decoding, buffer appends);
/// - `steady`: after 0.3–2.5 s of normal running (reads, appends, fsyncs, bulk requests);
/// - `bulk`: while a bulk request is in flight: the server answers 300 ms late and the kill
///   comes after it applied the request, before shipper has the answer (a replay follows);
/// - `rotation`: right after a container's file was renamed away;
/// - `burst`: 5–100 ms after 3,000 lines were written at once (reads, appends and group fsyncs
///   in full swing);
/// - `shutdown`: 10–300 ms into a SIGTERM drain.
final class CrashCampaign {
    let options: CampaignOptions

    init(options: CampaignOptions) { self.options = options }

    enum Moment: String, CaseIterable {
        case reading, steady, bulk, rotation, burst, shutdown
    }

    func run() async throws -> CampaignResult {
        let h = try await Harness(name: "crash", options: options)
        var result = CampaignResult(name: "crash")
        let kills = options.short ? 24 : 100
        let perContainerRate = options.short ? 300.0 : 500.0
        let containers = try (0..<3).map { try ContainerLog(root: h.workspace.containers, number: $0, service: ["renamed", "copytruncated", "renamed-big"][$0], book: h.book) }
            + [ContainerLog(kubeletPods: h.workspace.pods, links: h.workspace.kubeContainers, number: 3, service: "kubelet-rotated", book: h.book)]
        h.settings.kubelet = true
        try h.writeConfig()
        h.tracker.start()
        try h.shipper.start()

        // Writers: 10 ms ticks.
        let tick = 0.01
        let perTick = perContainerRate * tick
        let copyTruncates = Locked((count: 0, withUnread: 0, unreadLines: 0))
        let lastCopy = Locked(0..<0)
        let writer = Pacer()
        writer.start(tick: tick) { n in
            // Container 1 pauses once its file is due for rotation, until the copy of the one
            // before is indexed (the next copy overwrites it).
            let due = containers[1].size >= 256 << 10
            for c in containers where !(due && c.number == 1) {
                let want = Int(Double(n + 1) * perTick) - Int(Double(n) * perTick)
                for _ in 0..<want { c.writeLine() }
            }
            if containers[0].size >= 256 << 10 { containers[0].rotateByRename() }
            if containers[2].size >= 512 << 10 { containers[2].rotateByRename() }
            if containers[3].size >= 256 << 10 { containers[3].rotateByRename() }
            if due, n % 10 == 0, h.book.delivered(container: 1, lastCopy.current) {
                let copied = containers[1].copyTruncate()
                lastCopy.withLock { $0 = copied }
                let unread = h.book.undelivered(container: 1, copied)
                copyTruncates.withLock { $0.count += 1; if unread > 0 { $0.withUnread += 1; $0.unreadLines += unread } }
            }
        }

        var rng = SeededRandom(seed: options.seed)
        var byMoment: [Moment: Int] = [:]
        var gracefulBeforeKill = 0
        var inFlightKills = 0
        for k in 0..<kills {
            let moment = Moment.allCases[k % Moment.allCases.count]
            EventLog.add("kill \(k + 1): \(moment.rawValue)")
            let uptime = rng.uniform(0.3...2.5)
            switch moment {
            case .reading:
                await pause(rng.uniform(0.02...0.4))
            case .steady:
                await pause(uptime)
            case .bulk:
                await pause(uptime * 0.5)
                h.server.setFaultPlan(FaultPlan(latency: .milliseconds(300)))
                let before = h.server.bulkTotals.requests
                if await waitUntil(timeout: 10, every: 0.005, { h.server.bulkTotals.requests > before }) { inFlightKills += 1 }
                await pause(rng.uniform(0...0.2))
            case .rotation:
                await pause(uptime)
                containers[[0, 2, 3][Int(rng.next() % 3)]].rotateByRename()
                await pause(rng.uniform(0...0.02))
            case .burst:
                await pause(uptime)
                containers[Int(rng.next() % 4)].writeBurst(3000)
                await pause(rng.uniform(0.005...0.1))
            case .shutdown:
                await pause(uptime)
                if h.shipper.isRunning {
                    kill(h.shipper.pid, SIGTERM)
                    await pause(rng.uniform(0.01...0.3))
                }
            }
            // The process must still be running at the kill (unless a SIGTERM let it finish).
            if moment == .shutdown {
                if !h.shipper.isRunning { gracefulBeforeKill += 1 }
            } else {
                h.shipper.checkAlive(restart: false)
            }
            h.shipper.kill9()
            if moment == .bulk { h.server.setFaultPlan(.none) }
            byMoment[moment, default: 0] += 1
            if (k + 1) % 10 == 0 { note("crash: \(k + 1) kills, \(h.book.written) lines written, \(h.tracker.counters.documents) indexed") }
            await pause(rng.uniform(0...0.5))
            try h.shipper.start()
        }
        writer.stop()
        note("crash: writers stopped; waiting for delivery")
        let delivered = await h.tracker.waitForDelivery(timeout: options.short ? 180 : 600, shipper: h.shipper)
        await h.finish(&result)
        result.extra.append(("kills", "\(kills): " + Moment.allCases.map { "\($0.rawValue) \(byMoment[$0] ?? 0)" }.joined(separator: ", ")))
        result.extra.append(("  bulk kills with a request in flight", "\(inFlightKills)"))
        result.extra.append(("  shutdown kills after a clean exit", "\(gracefulBeforeKill)"))
        result.extra.append((
            "rotations",
            "rename \(containers[0].rotations + containers[2].rotations), copytruncate \(copyTruncates.current.count), kubelet \(containers[3].rotations)"
        ))
        let truncated = copyTruncates.current
        result.extra.append(("  copytruncates with lines not yet indexed", "\(truncated.withUnread) (\(truncated.unreadLines) lines)"))
        result.extra.append(("shipper starts", "\(h.shipper.starts)"))
        result.extra.append(("replays answered 409", "\(h.server.faultCounters.conflictItems)"))
        result.check("\(kills) kills", byMoment.values.reduce(0, +) == kills)
        result.checkDelivery()
        result.check("everything arrived before the deadline", delivered)
        result.check("no crash (exits not caused by the campaign: \(h.shipper.unexpectedExits))", h.shipper.unexpectedExits.isEmpty)
        h.workspace.finish(failed: !result.passed)
        return result
    }
}
