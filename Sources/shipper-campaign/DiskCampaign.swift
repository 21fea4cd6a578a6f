import ElasticsearchTestServer
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The buffer's volume fills up, buffer files are truncated or bit-flipped between runs, the
/// checkpoint file is deleted or corrupted, a ledger is lost. shipper must never crash or loop,
/// must lose nothing but the records that were damaged, and must report those (log and metric).
///
/// The buffer directory is a small tmpfs (when `mount -t tmpfs` is allowed, else only `max_size`
/// is tested). Each scenario writes its own container; lines in records the campaign damaged are
/// allowed to be missing ("damaged buffer record"), every other line must arrive once.
final class DiskCampaign {
    let options: CampaignOptions

    init(options: CampaignOptions) { self.options = options }

    static let damaged = "in a damaged buffer record"
    /// The buffer volume: room for a scenario's records (a rewrite of a damaged segment needs
    /// one segment more) until the volume-full scenario fills it on purpose.
    var tmpfsBytes: Int { options.short ? 12 << 20 : 32 << 20 }

    func run() async throws -> CampaignResult {
        let h = try await Harness(name: "disk", options: options)
        var result = CampaignResult(name: "disk")
        h.settings.segmentSize = "1MiB"
        h.settings.maxSize = "64MiB"
        h.settings.drainTimeout = "3s"
        try FS.mkdirs(h.workspace.buffer)
        let tmpfs = FS.mountTmpfs(h.workspace.buffer, bytes: tmpfsBytes)
        defer { if tmpfs { FS.unmount(h.workspace.buffer) } }
        try h.writeConfig()
        h.tracker.start()
        try h.shipper.start()
        var rng = SeededRandom(seed: options.seed)
        var next = 10
        func container(_ service: String) throws -> ContainerLog {
            next += 1
            return try ContainerLog(root: h.workspace.containers, number: next, service: service, book: h.book)
        }
        let lines = options.short ? 3000 : 12000

        // 1. max_size reached: the input pauses, nothing is dropped.
        do {
            _ = await h.shipper.stop()
            h.settings.maxSize = "3MiB"
            try h.writeConfig()
            try h.shipper.start()
            try await h.server.goDown(.refuseConnections)
            let c = try container("max-size")
            for _ in 0..<(lines * 3 / 100) { c.writeBurst(100) }
            // An append waits for room as a whole, so the buffer stops within one worker step's
            // records of max_size (224 KiB of these lines are ~1.2 MB of documents): at 2 MiB of
            // the 3, with 10 MB of documents written, the input has paused.
            let full = await waitUntil(timeout: 30, every: 0.2) { h.metric("shipper_buffer_bytes").map { $0 >= 2.0 * 1_048_576 } ?? false }
            await pause(options.short ? 3 : 10)
            let alive = h.shipper.checkAlive()
            try await h.server.comeUp()
            let caught = await h.tracker.catchUp(writtenBefore: monotonicSeconds(), timeout: 120, shipper: h.shipper)
            result.extra.append(("buffer at max_size (3 MiB), ES down", "reached: \(full), shipper alive: \(alive), caught up \(campaignSeconds(caught)) after ES came back"))
            result.check("max_size: paused, then delivered by itself", full && alive && caught != nil)
            _ = await h.shipper.stop()
            h.settings.maxSize = "64MiB"
            try h.writeConfig()
            try h.shipper.start()
        }

        // 2. The buffer's volume is full (ENOSPC before max_size).
        if tmpfs {
            try await h.server.goDown(.refuseConnections)
            let c = try container("volume-full")
            let exitsBefore = h.shipper.unexpectedExits.count
            let deadline = monotonicSeconds() + 60
            var full = false
            let logStart = h.shipper.log.utf8.count
            while monotonicSeconds() < deadline {
                c.writeBurst(500)
                await pause(0.05)
                // A failed write is cut back, so the volume may show some room: the log tells.
                if Self.freeBytes(h.workspace.buffer) < 2 << 20, h.shipper.log.utf8.dropFirst(logStart).count > 0,
                    String(decoding: h.shipper.log.utf8.dropFirst(logStart), as: UTF8.self).contains("volume is full")
                {
                    full = true
                    break
                }
                h.shipper.checkAlive()
            }
            // Stay full for a while: shipper must wait, not exit (or exit and loop).
            let stay = monotonicSeconds() + (options.short ? 5 : 20)
            while monotonicSeconds() < stay {
                c.writeBurst(100)
                h.shipper.checkAlive()
                await pause(0.25)
            }
            try await h.server.comeUp()
            let caught = await h.tracker.catchUp(writtenBefore: monotonicSeconds(), timeout: 180, shipper: h.shipper)
            let exits = h.shipper.unexpectedExits.count - exitsBefore
            result.extra.append(("buffer volume full (tmpfs \(tmpfsBytes >> 20) MiB), ES down", "full: \(full), exits: \(exits), caught up \(campaignSeconds(caught)) after ES came back"))
            result.check("volume full: no exit, delivered by itself", full && exits == 0 && caught != nil)
        } else {
            result.extra.append(("buffer volume full", "not run: mount -t tmpfs is not allowed here (only max_size was tested)"))
        }

        // 3. Checkpoint file deleted, then corrupted, between runs: every file is read again, the
        //    replays are answered 409, nothing is lost or doubled.
        for damage in ["deleted", "corrupted"] {
            let c = try container("checkpoint-\(damage)")
            for _ in 0..<(lines / 100) { c.writeBurst(100) }
            _ = await h.tracker.catchUp(writtenBefore: monotonicSeconds(), timeout: 120, shipper: h.shipper)
            _ = await h.shipper.stop()
            if damage == "deleted" {
                FS.remove(h.workspace.checkpoints)
            } else {
                var bytes = FS.read(h.workspace.checkpoints) ?? []
                if bytes.count > 10 { bytes = Array(bytes[0..<(bytes.count / 2)]) + [0xFF, 0x00, 0x7B] }
                try FS.write(h.workspace.checkpoints, bytes)
            }
            let conflicts = h.server.faultCounters.conflictItems
            try h.shipper.start()
            for _ in 0..<(lines / 100) { c.writeBurst(100) }
            let caught = await h.tracker.catchUp(writtenBefore: monotonicSeconds(), timeout: 120, shipper: h.shipper)
            let replays = h.server.faultCounters.conflictItems - conflicts
            result.extra.append(("checkpoint file \(damage)", "caught up \(campaignSeconds(caught)); \(replays) lines read again, answered 409"))
            result.check("checkpoint \(damage): read again, delivered", caught != nil)
        }

        // 4. Ledger deleted between runs (Elasticsearch down, records waiting): replayed from the
        //    oldest record.
        do {
            try await h.server.goDown(.refuseConnections)
            let c = try container("ledger-deleted")
            for _ in 0..<(lines / 200) { c.writeBurst(100) }
            _ = await waitForBuffered(h, c)
            _ = await h.shipper.stop()
            for f in FS.list(h.workspace.buffer) where f.hasSuffix(".ledger") { FS.remove(h.workspace.buffer + "/" + f) }
            try await h.server.comeUp()
            try h.shipper.start()
            let caught = await h.tracker.catchUp(writtenBefore: monotonicSeconds(), timeout: 120, shipper: h.shipper)
            result.extra.append(("ledger deleted", "caught up \(campaignSeconds(caught))"))
            result.check("ledger deleted: replayed, delivered", caught != nil)
        }

        // 5. Buffer segments truncated, then bit-flipped, between runs (records not yet delivered).
        var reported: [String] = []
        for damage in ["truncated", "bit-flipped"] {
            try await h.server.goDown(.refuseConnections)
            let c = try container("buffer-\(damage)")
            for _ in 0..<(lines / 100) { c.writeBurst(100) }
            let buffered = await waitForBuffered(h, c)
            _ = await h.shipper.stop()
            let mine = BufferFiles.records(h.workspace.buffer).filter { r in r.keys.contains { Block.container(ofKey: $0) == c.number } }
            var hit: [BufferFiles.Record] = []
            let segments = Array(Set(mine.map(\.segment))).sorted()
            if damage == "truncated", segments.count >= 2 {
                // Cut an older segment in the middle of one of its records.
                let seg = segments[Int(rng.next() % UInt64(segments.count - 1))]
                let inSeg = mine.filter { $0.segment == seg }
                let victim = inSeg[inSeg.count / 3 + Int(rng.next() % UInt64(max(1, inSeg.count / 3)))]
                let cut = victim.start + 1 + Int(rng.next() % UInt64(victim.end - victim.start - 1))
                BufferFiles.truncate(seg, at: cut)
                hit = inSeg.filter { $0.end > cut }
            } else if damage == "bit-flipped", !mine.isEmpty {
                // One bit in each of 4 records: payloads and a header.
                var chosen: Set<Int> = []
                while chosen.count < min(4, mine.count) { chosen.insert(Int(rng.next() % UInt64(mine.count))) }
                for (k, i) in chosen.sorted().enumerated() {
                    let r = mine[i]
                    let at = k == 0 ? r.start + Int(rng.next() % 12) : r.start + 12 + Int(rng.next() % UInt64(r.end - r.start - 12))
                    BufferFiles.flipBit(r.segment, at: at, bit: Int(rng.next() % 8))
                    hit.append(r)
                }
            }
            let damagedKeys = hit.flatMap(\.keys)
            h.book.expect(damagedKeys, .mayBeLost(Self.damaged + " (\(damage))"))
            try await h.server.comeUp()
            let logBefore = h.shipper.log.count
            try h.shipper.start()
            let caught = await h.tracker.catchUp(writtenBefore: monotonicSeconds(), timeout: 120, shipper: h.shipper)
            let missing = h.book.withState { s in damagedKeys.filter { k in s.index[k].map { !s.lines[$0].complete } ?? false }.count }
            let log = String(h.shipper.log.dropFirst(logBefore))
            let logged = log.split(separator: "\n").filter { $0.contains("buffer") && ($0.contains("corrupt") || $0.contains("damaged") || $0.contains("torn") || $0.contains("quarantin")) }
            let metric = h.metric("shipper_buffer_damaged_records_total")
            reported.append(contentsOf: logged.map { String($0.prefix(400)) })
            result.extra.append((
                "buffer \(damage) (\(buffered ? "" : "NOT ")all in the buffer)",
                "damaged records \(hit.count) (lines \(damagedKeys.count)), missing \(missing); caught up \(campaignSeconds(caught)); "
                    + "shipper_buffer_damaged_records_total \(metric.map { "\(Int($0))" } ?? "absent")"))
            result.check("buffer \(damage): the rest delivered", caught != nil)
            result.check("buffer \(damage): loss reported in the log", missing == 0 || !logged.isEmpty)
            // A bit flip costs the record it hit (adjacent hits make one damaged region); a cut
            // segment lost what followed the cut, which left no trace to count: at least 1.
            let counted = Int(metric ?? 0)
            let countOK = damage == "truncated" ? (missing == 0 || counted >= 1) : (counted >= 1 && counted <= hit.count && missing <= hit.count)
            result.check("buffer \(damage): loss counted in shipper_buffer_damaged_records_total (\(counted); \(missing) lines missing)", countOK)
        }
        for line in reported { result.extra.append(("  shipper logged", line)) }

        let delivered = await h.tracker.waitForDelivery(timeout: 120, shipper: h.shipper)
        await h.finish(&result)
        result.checkDelivery()
        result.check("everything else arrived", delivered)
        result.check("no crash or crash loop (\(h.shipper.unexpectedExits))", h.shipper.unexpectedExits.isEmpty)
        h.workspace.finish(failed: !result.passed)
        return result
    }

    /// Waits until every line written to `c` is a record in the buffer (read, encoded, appended).
    func waitForBuffered(_ h: Harness, _ c: ContainerLog) async -> Bool {
        let want = c.seq
        return await waitUntil(timeout: 60, every: 0.3) {
            let found = Set(BufferFiles.records(h.workspace.buffer).flatMap { $0.keys.filter { Block.container(ofKey: $0) == c.number } })
            return found.count >= want
        }
    }

    static func freeBytes(_ path: String) -> Int {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return .max }
        return Int(s.f_bavail) * Int(s.f_frsize)
    }
}
