import Foundation

/// What a campaign found: the common numbers of every campaign, its own extra lines, and the
/// checks of its criterion.
struct CampaignResult {
    var name: String
    var written = 0
    var writtenBytes = 0
    var indexed = 0
    /// Lines that had to arrive and did not (some block missing).
    var lost = 0
    var lostExamples: [String] = []
    /// Lines allowed to be missing for a documented reason, by reason: (missing, of how many).
    var documentedLoss: [String: (missing: Int, of: Int)] = [:]
    /// Lines with some block in two documents.
    var duplicated = 0
    var duplicatedExamples: [String] = []
    /// Dead-letter entries, and how many were expected (the injected mapping errors).
    var deadLettered = 0
    var expectedDeadLetters = 0
    /// Dead-letter entries for lines that were not poisoned, or poisoned lines dead-lettered twice.
    var wrongDeadLetters = 0
    /// Poisoned lines found in the index.
    var poisonIndexed = 0
    var corruptBlocks = 0
    var unknownBlocks = 0
    var unkeyedDocuments = 0
    var worstLatency: Double?
    var p99Latency: Double?
    var pollInterval = 0.2
    var seconds = 0.0
    var extra: [(String, String)] = []
    var duplicateOrigins: [String] = []
    var lostRanges: [String] = []
    var duplicatedRanges: [String] = []
    var checks: [(String, Bool)] = []

    var passed: Bool { checks.allSatisfy(\.1) }

    mutating func check(_ what: String, _ ok: Bool) { checks.append((what, ok)) }

    /// Fills the common numbers from the line book and the tracker.
    mutating func collect(book: LineBook, tracker: Tracker) {
        let c = tracker.counters
        indexed = c.documents
        deadLettered = c.deadLetterEntries
        corruptBlocks = c.corruptBlocks
        unknownBlocks = c.unknownBlocks
        unkeyedDocuments = c.unkeyedDocuments
        duplicateOrigins = c.duplicateOrigins
        pollInterval = tracker.pollInterval
        var latencies: [Double] = []
        var lostExamples: [String] = []
        var dupExamples: [String] = []
        book.withState { s in
            written = s.written
            writtenBytes = s.writtenBytes
            for l in s.lines {
                let name = "container \(Block.container(ofKey: l.key)) line \(Block.seq(ofKey: l.key))"
                if l.duplicated {
                    duplicated += 1
                    if dupExamples.count < 5 { dupExamples.append(name) }
                }
                switch l.expectation {
                case .once:
                    if l.complete {
                        if let t = l.completedAt { latencies.append(max(0, t - l.writtenAt)) }
                    } else {
                        lost += 1
                        if lostExamples.count < 5 {
                            lostExamples.append(name + (l.covered > 0 ? " (\(l.covered) of \(l.blocks) blocks)" : ""))
                        }
                    }
                    if l.deadLetters > 0 { wrongDeadLetters += l.deadLetters }
                case .deadLetter:
                    expectedDeadLetters += 1
                    if l.covered > 0 { poisonIndexed += 1 }
                    if l.deadLetters == 0 {
                        lost += 1
                        if lostExamples.count < 5 { lostExamples.append(name + " (poisoned: not in the dead-letter file)") }
                    }
                    if l.deadLetters > 1 { wrongDeadLetters += l.deadLetters - 1 }
                case .mayBeLost(let reason):
                    var entry = documentedLoss[reason] ?? (0, 0)
                    entry.of += 1
                    if !l.complete { entry.missing += 1 }
                    documentedLoss[reason] = entry
                }
            }
        }
        wrongDeadLetters += c.deadLetterUnkeyed
        // Lost and duplicated lines as ranges per container (where to look in events.log).
        func ranges(_ keys: [Int]) -> [String] {
            var out: [String] = []
            var start: Int?
            var last = -2
            for k in keys.sorted() + [Int.max] {
                if let s = start, k != last + 1 || Block.container(ofKey: k) != Block.container(ofKey: last) {
                    out.append("container \(Block.container(ofKey: s)) lines \(Block.seq(ofKey: s))...\(Block.seq(ofKey: last))")
                    start = nil
                }
                if start == nil { start = k }
                last = k
            }
            return out
        }
        book.withState { s in
            let lostKeys = s.lines.filter { l in
                switch l.expectation {
                case .once: return !l.complete
                case .deadLetter: return l.deadLetters == 0
                case .mayBeLost: return false
                }
            }.map(\.key)
            lostRanges = ranges(lostKeys)
            duplicatedRanges = ranges(s.lines.filter(\.duplicated).map(\.key))
        }
        self.lostExamples = lostExamples
        duplicatedExamples = dupExamples
        latencies.sort()
        worstLatency = latencies.last
        if !latencies.isEmpty { p99Latency = latencies[min(latencies.count - 1, Int(Double(latencies.count) * 0.99))] }
    }

    /// The checks every campaign makes on delivery.
    mutating func checkDelivery() {
        check("0 lost", lost == 0)
        check("0 duplicated", duplicated == 0)
        check("dead letters = injected mapping errors (\(expectedDeadLetters)), each once", deadLettered == expectedDeadLetters && wrongDeadLetters == 0)
        check("no poisoned line indexed", poisonIndexed == 0)
        check("no altered content", corruptBlocks == 0 && unknownBlocks == 0)
    }

    func print(short: Bool) {
        var out = "\n== campaign \(name)\(short ? " (short)" : ""): \(passed ? "PASS" : "FAIL") in \(String(format: "%.0f", seconds)) s\n"
        func row(_ k: String, _ v: String) { out += "  " + k.padding(toLength: 44, withPad: " ", startingAt: 0) + v + "\n" }
        row("lines written", "\(written) (\(writtenBytes / 1_048_576) MiB)")
        row("documents indexed", "\(indexed)")
        row("lost (expected line absent)", "\(lost)" + (lostExamples.isEmpty ? "" : "  e.g. " + lostExamples.joined(separator: "; ")))
        for (reason, n) in documentedLoss.sorted(by: { $0.key < $1.key }) {
            row("  allowed (documented), not lost", "\(n.missing) of \(n.of) missing: \(reason)")
        }
        row("duplicated (content under 2 ids)", "\(duplicated)" + (duplicatedExamples.isEmpty ? "" : "  e.g. " + duplicatedExamples.joined(separator: "; ")))
        row("dead-lettered", "\(deadLettered) (injected mapping errors: \(expectedDeadLetters), wrong entries: \(wrongDeadLetters))")
        row("worst delivery latency", "\(seconds(worstLatency)) (p99 \(seconds(p99Latency)), polled every ~\(String(format: "%.1f", pollInterval)) s)")
        if corruptBlocks + unknownBlocks > 0 { row("altered content", "\(corruptBlocks) damaged blocks, \(unknownBlocks) unknown") }
        if unkeyedDocuments > 0 { row("documents without a key", "\(unkeyedDocuments) (binary noise lines)") }
        for (k, v) in extra { row(k, v) }
        if !lostRanges.isEmpty { row("  lost lines", lostRanges.prefix(10).joined(separator: ", ")) }
        if !duplicatedRanges.isEmpty { row("  duplicated lines", duplicatedRanges.prefix(10).joined(separator: ", ")) }
        for d in duplicateOrigins.prefix(4) { row("  duplicate", d) }
        for (what, ok) in checks { out += "  [\(ok ? "ok" : "FAILED")] \(what)\n" }
        Swift.print(out, terminator: "")
        fflush(nil)
    }

    private func seconds(_ s: Double?) -> String { campaignSeconds(s) }
}

func campaignSeconds(_ s: Double?) -> String { seconds(s) }
