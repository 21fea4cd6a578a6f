import ElasticsearchTestServer
import Foundation

/// What the input side meets on a real host, one scenario after the other, shipper running
/// throughout (one restart, for inode reuse across a stop). Every line must arrive once, except:
/// - lines a `copytruncate` took away before shipper read them, which shipper reads from the
///   copy (`-json.log.1`) unless a second copytruncate overwrote it before shipper noticed the
///   first; in every truncated generation the missing lines must be a suffix (everything read
///   before the truncation arrived);
/// - lines of a container removed before shipper opened its log (it never saw the file);
/// - lines of a file renamed away (rotated) before shipper first saw it: only `-json.log` is
///   under the paths, and a rotated file is followed only once shipper has it open (or has a
///   checkpoint for it). The campaign makes both happen within a millisecond of the container's
///   start; with Docker's `max-size` that means writing a whole log file before discovery
///   (inotify, then `discovery_interval`).
final class InputCampaign {
    let options: CampaignOptions

    init(options: CampaignOptions) { self.options = options }

    static let truncatedAway = "copytruncate took them before they were read, and overwrote the .1 copy"
    static let removedUnseen = "container removed before shipper opened its log"
    static let rotatedUnseen = "file rotated away before shipper first saw it"

    func run() async throws -> CampaignResult {
        let h = try await Harness(name: "input", options: options)
        h.settings.kubelet = true
        h.settings.rotateWait = "1s"
        h.settings.batchEvents = 2000
        h.settings.batchBytes = "5MiB"
        var result = CampaignResult(name: "input")
        try h.writeConfig()
        h.tracker.start()
        try h.shipper.start()
        let short = options.short
        var rng = SeededRandom(seed: options.seed)
        func container(_ n: Int, _ service: String) throws -> ContainerLog {
            try ContainerLog(root: h.workspace.containers, number: n, service: service, book: h.book)
        }
        func settle(_ what: String) async -> Double? {
            let t = await h.tracker.catchUp(writtenBefore: monotonicSeconds(), timeout: 120, shipper: h.shipper)
            note("input: \(what): caught up \(campaignSeconds(t))")
            return t
        }

        // 1 and 2. Rotation by rename and by copytruncate at a high write rate, side by side.
        let rate = short ? 8000.0 : 15000.0
        let renamed = try container(20, "fast-rename")
        let truncated = try container(21, "fast-copytruncate")
        let truncatedRanges = Locked<[Range<Int>]>([])
        do {
            let writer = Pacer()
            let perTick = rate * 0.01
            writer.start(tick: 0.01) { n in
                let want = Int(Double(n + 1) * perTick) - Int(Double(n) * perTick)
                renamed.writeBurst(want)
                truncated.writeBurst(want)
                if renamed.size >= 1 << 20 { renamed.rotateByRename() }
                if truncated.size >= 1 << 20 {
                    let r = truncated.copyTruncate()
                    truncatedRanges.withLock { $0.append(r) }
                }
            }
            await pause(short ? 6 : 20)
            writer.stop()
            // Every line of a truncated generation may be missing for now; sorted out below.
            let keys = truncatedRanges.current.flatMap { $0 }.map { Block.key(container: 21, seq: $0) }
            h.book.expect(keys, .mayBeLost(Self.truncatedAway))
            let t = await settle("fast rotation")
            result.extra.append(("rotation at \(Int(rate)) lines/s per container", "rename: \(renamed.rotations) rotations, copytruncate: \(truncated.rotations); caught up \(campaignSeconds(t))"))
        }

        // 3. A container removed while shipper reads its log (a backlog of several MiB).
        do {
            let c = try container(22, "removed-while-read")
            for _ in 0..<(short ? 100 : 300) { c.writeBurst(100) }
            let first = Block.key(container: 22, seq: 0)
            let opened = await waitUntil(timeout: 30, every: 0.01) {
                h.tracker.poll()
                return h.book.withState { s in s.index[first].map { s.lines[$0].complete } ?? false }
            }
            let outstanding = h.book.withState { s in s.lines.filter { Block.container(ofKey: $0.key) == 22 && !$0.complete }.count }
            c.remove()
            // And one removed before shipper could have opened it, and one whose first files were
            // rotated away (rename) within a millisecond of its start, before shipper saw them.
            let gone = try container(23, "removed-unseen")
            for _ in 0..<50 { gone.writeLine() }
            gone.remove()
            h.book.expect((0..<50).map { Block.key(container: 23, seq: $0) }, .mayBeLost(Self.removedUnseen))
            let early = try container(29, "rotated-unseen")
            for _ in 0..<3 {
                early.writeBurst(50)
                early.rotateByRename()
            }
            h.book.expect((0..<150).map { Block.key(container: 29, seq: $0) }, .mayBeLost(Self.rotatedUnseen))
            early.writeBurst(50)
            let t = await settle("container removed")
            result.extra.append(("container removed while read", "\(c.seq) lines, \(opened ? outstanding : -1) not yet indexed at the removal; caught up \(campaignSeconds(t))"))
        }

        // 4. Inode reuse: the log deleted and a new one made with the same inode, while shipper
        //    runs (after it let go of the old file) and while it is stopped.
        do {
            let c = try container(24, "inode-reuse")
            var reuses: [String] = []
            for round in 0..<(short ? 2 : 4) {
                for _ in 0..<5 { c.writeBurst(100) }
                _ = await settle("inode reuse round \(round)")
                let stopped = round % 2 == 1
                if stopped { _ = await h.shipper.stop() }
                let inode = c.unlinkLog()
                if !stopped {
                    // shipper closes a removed file after rotate_wait (1 s) once read to its end;
                    // the inode is free only then.
                    let fdDir = "/proc/\(h.shipper.pid)/fd"
                    _ = await waitUntil(timeout: 15, every: 0.1) {
                        !FS.list(fdDir).contains { fd in
                            (try? FileManager.default.destinationOfSymbolicLink(atPath: fdDir + "/" + fd))?.hasPrefix(c.logPath) ?? false
                        }
                    }
                }
                let reused = c.recreate(reusing: inode)
                reuses.append("\(stopped ? "stopped" : "running"): \(reused ? "same inode" : "other inode")")
                for _ in 0..<5 { c.writeBurst(100) }
                if stopped { try h.shipper.start() }
            }
            let t = await settle("inode reuse")
            result.extra.append(("inode reuse", reuses.joined(separator: ", ") + "; caught up \(campaignSeconds(t))"))
        }

        // 5. Lines of 1 MiB (Docker chunks of 16 KiB, joined), and just over 1 MiB (shipped in pieces).
        do {
            let c = try container(25, "long-lines")
            let n = short ? 4 : 16
            for k in 0..<n {
                c.writeBurst(50)
                c.writeLong(blocks: k % 4 == 3 ? 16384 + 16 : 16384)
            }
            c.writeBurst(50)
            let t = await settle("long lines")
            result.extra.append(("lines of 1 MiB", "\(n) (\(n / 4) of them 1 MiB + 1 KiB); caught up \(campaignSeconds(t))"))
        }

        // 6. A long line's partial chunks split across a rotation (rename), in a file shipper
        //    is reading (its last line has arrived before the long line starts).
        do {
            let c = try container(26, "split-across-rotation")
            let n = short ? 3 : 10
            for _ in 0..<n {
                c.writeBurst(20)
                let last = Block.key(container: 26, seq: c.seq - 1)
                _ = await waitUntil(timeout: 30, every: 0.02) {
                    h.tracker.poll()
                    return h.book.withState { s in s.index[last].map { s.lines[$0].complete } ?? false }
                }
                let at = Int(rng.next() % 14)
                c.writeLong(blocks: 4096) { k in if k == at { c.rotateByRename() } }
                c.writeBurst(20)
            }
            let t = await settle("chunks across rotation")
            result.extra.append(("partial chunks split across rotation", "\(n) lines of 256 KiB; caught up \(campaignSeconds(t))"))
        }

        // 7 and 8. Invalid UTF-8 and binary noise between ordinary lines.
        do {
            let utf = try container(27, "invalid-utf8")
            let noise = try container(28, "binary-noise")
            let n = short ? 100 : 500
            for k in 0..<n {
                utf.writeLine()
                utf.writeOddText(valid: k % 2 == 0)
                noise.writeLine()
                noise.writeNoise(keyed: k % 3 != 0, rng: &rng)
            }
            let t = await settle("odd bytes")
            result.extra.append(("invalid UTF-8 and binary noise", "\(n) lines each (half valid multi-byte UTF-8; a third of the noise without a key); caught up \(campaignSeconds(t))"))
        }

        // 9. Rotations while shipper is stopped, the rotated files compressed before it is back:
        //    Docker with `compress: true` (`-json.log.1.gz`), and kubelet rotating twice (the
        //    first generation compressed at the second, the second never seen by shipper).
        do {
            let docker = try container(30, "compressed-rotation")
            let kube = try ContainerLog(
                kubeletPods: h.workspace.pods, links: h.workspace.kubeContainers, number: 31, service: "kubelet-compressed", book: h.book)
            let rounds = short ? 2 : 4
            for round in 0..<rounds {
                for c in [docker, kube] { c.writeBurst(300) }
                _ = await settle("compressed while stopped, round \(round)")
                for c in [docker, kube] { c.writeBurst(200) }  // while running: read or not at the stop
                _ = await h.shipper.stop()
                for c in [docker, kube] { c.writeBurst(200) }
                docker.rotateByRename()
                docker.compressRotated()
                kube.rotateByRename()
                kube.writeBurst(200)
                kube.compressRotated()  // what kubelet does first at its next rotation
                kube.rotateByRename()
                for c in [docker, kube] { c.writeBurst(100) }
                try h.shipper.start()
            }
            let t = await settle("compressed while stopped")
            result.extra.append((
                "rotated and compressed while stopped", "\(rounds) stops: Docker compress, kubelet two rotations; caught up \(campaignSeconds(t))"
            ))
        }

        let delivered = await h.tracker.waitForDelivery(timeout: 120, idle: 30, shipper: h.shipper)
        // copytruncate: in each truncated generation only a suffix may be missing.
        var inner: [Int] = []
        h.book.withState { s in
            for r in truncatedRanges.current {
                let states = r.map { q -> Bool in
                    guard let i = s.index[Block.key(container: 21, seq: q)] else { return true }
                    return s.lines[i].complete
                }
                guard let lastDelivered = states.lastIndex(of: true) else { continue }
                for (k, ok) in states.enumerated() where !ok && k < lastDelivered { inner.append(Block.key(container: 21, seq: r.lowerBound + k)) }
            }
        }
        h.book.expect(inner, .once)
        await h.finish(&result)
        result.checkDelivery()
        result.check("everything else arrived", delivered)
        result.check("no crash (\(h.shipper.unexpectedExits))", h.shipper.unexpectedExits.isEmpty)
        h.workspace.finish(failed: !result.passed)
        return result
    }
}
