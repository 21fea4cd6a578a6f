import Foundation
import Logging
import ShipperCore
import Testing

@testable import BufferDisk

/// Random damage to the buffer directory: opening must always succeed and yield only intact
/// records, in order.
@Suite struct FuzzTests {
    let log = LogCapture()

    /// True when `sub` is a subsequence of `all` (every element of `sub` appears in `all`, in order).
    func isSubsequence(_ sub: [BufferRecord], of all: [BufferRecord]) -> Bool {
        var i = all.startIndex
        for r in sub {
            guard let j = all[i...].firstIndex(of: r) else { return false }
            i = j + 1
        }
        return true
    }

    @Test func reopenAlwaysSucceedsAndYieldsOnlyValidRecordsInOrder() async throws {
        var rng = SplitMix64(seed: 0x5EED)
        // The original buffer: records of random sizes over several segments, one reader half
        // way through (ledger), one that never acknowledged.
        let original: [BufferRecord] = (0..<80).map { i in
            let n = Int(rng.next() % 200)
            return BufferRecord(source: UInt64(i), offset: Int64(i) * 100, timestamp: Int64(i),
                                attributes: i % 3 == 0 ? [BufferAttribute(name: "k", value: [UInt8(i)])] : [],
                                document: (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        }
        let base = try TempDir()
        do {
            let b = try DiskBuffer(config: config(base, segmentSize: 1024), readers: ["r", "s"], logger: log.logger)
            try await b.append(Array(original[..<50]))
            try await b.append(Array(original[50...]))
            let (_, end) = try await readRecords(b, "r", count: 30, maxRecords: 30)
            try await b.acknowledge(reader: "r", through: try #require(end))
            try await b.close()
        }
        let snapshot = Dictionary(uniqueKeysWithValues: base.files().filter { $0 != "lock" }.map { ($0, base.read($0)) })
        #expect(snapshot.keys.filter { $0.hasPrefix("segment-") }.count >= 6)
        #expect(snapshot["reader-r.ledger"] != nil)

        var repaired = 0
        for iteration in 0..<300 {
            let dir = try TempDir()
            var files = snapshot
            for _ in 0..<(1 + Int(rng.next() % 3)) {
                let names = files.keys.sorted()
                guard !names.isEmpty else { break }
                let name = names[Int(rng.next() % UInt64(names.count))]
                var bytes = files[name]!
                switch rng.next() % 8 {
                case 0, 1:  // truncate
                    bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count + 1))))
                case 2, 3, 4:  // flip bits
                    for _ in 0..<(1 + Int(rng.next() % 3)) where !bytes.isEmpty {
                        bytes[Int(rng.next() % UInt64(bytes.count))] ^= UInt8(1 << (rng.next() % 8))
                    }
                case 5:  // overwrite a range with random bytes
                    if !bytes.isEmpty {
                        let start = Int(rng.next() % UInt64(bytes.count))
                        let end = min(bytes.count, start + 1 + Int(rng.next() % 40))
                        for i in start..<end { bytes[i] = UInt8(truncatingIfNeeded: rng.next()) }
                    }
                case 6:  // append garbage (or zeros)
                    let zero = rng.next() % 2 == 0
                    bytes += (0..<Int(rng.next() % 300)).map { _ in zero ? 0 : UInt8(truncatingIfNeeded: rng.next()) }
                default:  // remove the file, or add a stray segment
                    if rng.next() % 2 == 0 {
                        files[name] = nil
                        continue
                    }
                    files[SegmentName.fileName(rng.next() % 12)] = (0..<Int(rng.next() % 500)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                }
                files[name] = bytes
            }
            for (name, bytes) in files { try dir.write(name, bytes) }

            // The inspector reads anything without throwing or changing anything.
            let before = dir.files().map { ($0, dir.size($0)) }
            _ = try BufferInspector.inspect(path: dir.path)
            #expect(dir.files().map { ($0, dir.size($0)) }.elementsEqual(before, by: { $0 == $1 }))

            let b = try DiskBuffer(config: config(dir, segmentSize: 1024), readers: ["r", "s"], logger: log.logger)
            if b.recovery.tornTails > 0 || !b.recovery.quarantined.isEmpty { repaired += 1 }
            try await b.close()
            let r = try await drain(b, "r")
            let s = try await drain(b, "s")
            #expect(isSubsequence(r, of: original), "iteration \(iteration)")
            #expect(isSubsequence(s, of: original), "iteration \(iteration)")

            // Repairs are done once: a second open finds a clean buffer with the same records.
            let again = try DiskBuffer(config: config(dir, segmentSize: 1024), readers: ["r", "s"], logger: log.logger)
            #expect(again.recovery.tornTails == 0 && again.recovery.quarantined.isEmpty, "iteration \(iteration)")
            try await again.close()
            #expect(try await drain(again, "s") == s, "iteration \(iteration)")
        }
        #expect(repaired > 100)  // the damage did reach the records
    }
}

/// Inputs found by the `buffer` fuzz target (`Fuzz/`, README "Fuzzing"). The input itself is kept
/// in `Fuzz/corpus/buffer/`, so every fuzz run replays it under AddressSanitizer.
@Suite struct BufferFuzzRegressionTests {
    /// `FS.list` copied each entry's whole `d_name` field (256 bytes) out of the directory
    /// buffer, which reads past the buffer's end when the last entry is short: a heap overflow
    /// under ASan (plain builds read a few bytes of other memory and cut them at the NUL). Names
    /// are now read where they lie, up to their NUL. Every name length, in full directories.
    @Test func directoryNamesAreReadExactlyAtEveryLength() throws {
        let dir = try TempDir()
        var expected: [String] = []
        for length in 1...255 {
            let name = String(repeating: "n", count: length - 1) + String(length % 10)
            try dir.write(name, [])
            expected.append(name)
        }
        // Non-ASCII names, as bytes on disk: one two-byte character is two bytes of the 255.
        let accented = String(repeating: "é", count: 127)
        try dir.write(accented, [])
        expected.append(accented)
        #expect(try FS.list(dir.path) == expected.sorted())
    }
}
