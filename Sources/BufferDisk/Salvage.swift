import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Recovery of the records that follow a damaged one in a segment.
///
/// A frame carries its own checksums (header and payload), so after a bad frame the next good
/// one can be found again: at the end of the bad frame when its header is intact, else by trying
/// every byte offset (a position is taken only when its header checksum, its length and its
/// payload checksum all hold). The damaged bytes are moved to `quarantine/`, the segment is
/// rewritten without them (a temporary file renamed over it), and ledgers pointing into it are
/// moved to the same records' new offsets (written before the rename: a crash in between leaves
/// a ledger that points a little earlier, which only replays). Only the damaged records are lost.
struct SegmentSalvage {
    /// Consecutive valid frames: their absolute end offsets (a run starts at `start`).
    struct Run {
        var start: Int64
        var ends: [Int64]
        var end: Int64 { ends.last ?? start }
    }

    /// Bytes that are not valid frames, and what was wrong at their start.
    struct Bad {
        var start: Int64
        var end: Int64
        var problem: SegmentScan.Problem
    }

    var fileSize: Int64
    var runs: [Run]
    var bad: [Bad]
    var firstTimestamp: Int64?
    /// The last bad region runs to the end of the file and looks like an interrupted append
    /// (the rules of ``SegmentScan/looksTorn``), or is all zero bytes.
    var tailLooksTorn = false
    var tailIsZero = false
    /// The last bad region runs to the end of the file and holds a whole frame of another salt:
    /// bytes left from the file's earlier use as another segment (see "Reusing segment files" in
    /// `DiskBuffer.swift`), not damage.
    var tailIsLeftover = false

    /// Looks for valid frames after the first bad one of `scan`; nil when there is none (the
    /// damage runs to the end of the file: the plain repair applies). Reads the whole segment.
    static func plan(_ file: FileHandle, _ scan: SegmentScan, id: UInt64, legacy: Bool) throws -> SegmentSalvage? {
        guard scan.problem != nil else { return nil }
        let bytes = try file.read(count: Int(scan.fileSize), at: 0)
        guard bytes.count == Int(scan.fileSize) else {
            throw BufferError.io(operation: "read (file shorter than expected)", path: file.path, errno: EIO)
        }
        return bytes.withUnsafeBytes { plan($0, scan, id: id, legacy: legacy) }
    }

    static func plan(_ b: UnsafeRawBufferPointer, _ scan: SegmentScan, id: UInt64, legacy: Bool) -> SegmentSalvage? {
        guard let first = scan.problem else { return nil }
        let salt = SegmentName.salt(id, legacy: legacy)
        let size = b.count
        var plan = SegmentSalvage(
            fileSize: Int64(size), runs: [Run(start: 0, ends: scan.ends.map { Int64($0) })], bad: [], firstTimestamp: scan.firstTimestamp)
        var off = Int(scan.validEnd)
        var problem = first
        var found = false
        while off < size {
            guard let next = nextFrame(b, after: off, problem: problem, salt: salt) else {
                plan.bad.append(Bad(start: Int64(off), end: Int64(size), problem: problem))
                break
            }
            found = true
            plan.bad.append(Bad(start: Int64(off), end: Int64(next), problem: problem))
            var run = Run(start: Int64(next), ends: [])
            var p = next
            while p < size, let length = frameLength(b, at: p, salt: salt) {
                if plan.firstTimestamp == nil {
                    plan.firstTimestamp = RecordCodec.timestamp(ofPayload: b.baseAddress! + p + RecordCodec.headerSize)
                }
                p += RecordCodec.headerSize + length
                run.ends.append(Int64(p))
            }
            plan.runs.append(run)
            if p >= size { break }
            problem = Self.problem(b, at: p, salt: salt)
            off = p
        }
        guard found else { return nil }
        if let last = plan.bad.last, last.end == Int64(size) {
            let start = Int(last.start)
            plan.tailIsZero = b[start...].allSatisfy { $0 == 0 }
            let rest = size - start
            switch last.problem {
            case .shortHeader, .shortPayload: plan.tailLooksTorn = true
            case .corruptHeader, .impossibleLength: plan.tailLooksTorn = rest <= RecordCodec.headerSize
            case let .payloadCRC(length): plan.tailLooksTorn = rest == RecordCodec.headerSize + length
            }
            plan.tailLooksTorn = plan.tailLooksTorn || plan.tailIsZero
            plan.tailIsLeftover = hasLeftoverFrame(UnsafeRawBufferPointer(rebasing: b[start...]), id: id, legacy: legacy)
        }
        return plan
    }

    /// Whether `b` (bad bytes up to the end of segment `id`) holds a whole valid frame of an
    /// earlier segment (its salt names a lower id): what is left of the file's life as that
    /// segment after a crash (a file is reused in place and cut to its new size only when
    /// sealed). Never for legacy segments, whose files are never reused. The header is checked
    /// first: only a frame whose header names an earlier segment has its payload checksummed.
    static func hasLeftoverFrame(_ b: UnsafeRawBufferPointer, id: UInt64, legacy: Bool) -> Bool {
        guard !legacy, let base = b.baseAddress else { return false }
        let current = UInt32(truncatingIfNeeded: id)
        let h = RecordCodec.headerSize
        var p = 0
        while p + h + RecordCodec.minPayload <= b.count {
            let length = Int(UInt32(littleEndian: b.loadUnaligned(fromByteOffset: p, as: UInt32.self)))
            if length >= RecordCodec.minPayload, length <= b.count - p - h {
                let earlier = SegmentName.id(ofSalt: RecordCodec.salt(ofHeaderAt: base + p))
                if earlier != 0, earlier < current,
                    CRC32C.update(0, UnsafeRawBufferPointer(start: base + p + h, count: length))
                        == UInt32(littleEndian: b.loadUnaligned(fromByteOffset: p + 4, as: UInt32.self))
                {
                    return true
                }
            }
            p += 1
        }
        return false
    }

    /// ``hasLeftoverFrame(_:id:legacy:)`` for the bytes of `file` from `offset` to `size`.
    static func hasLeftoverFrame(_ file: FileHandle, from offset: Int64, size: Int64, id: UInt64, legacy: Bool) throws -> Bool {
        guard !legacy, size > offset else { return false }
        let bytes = try file.read(count: Int(size - offset), at: offset)
        return bytes.withUnsafeBytes { hasLeftoverFrame($0, id: id, legacy: legacy) }
    }

    /// The payload length of a whole, valid frame at `p`, nil when there is none. The length
    /// field is checked first: most offsets fail there, before any checksum.
    static func frameLength(_ b: UnsafeRawBufferPointer, at p: Int, salt: UInt32) -> Int? {
        let h = RecordCodec.headerSize
        guard p >= 0, p + h <= b.count else { return nil }
        let n = Int(UInt32(littleEndian: b.loadUnaligned(fromByteOffset: p, as: UInt32.self)))
        guard n >= RecordCodec.minPayload, n <= b.count - p - h,
            case let .valid(length, crc) = RecordCodec.header(at: b.baseAddress! + p, salt: salt), length == n,
            CRC32C.update(0, UnsafeRawBufferPointer(rebasing: b[(p + h)..<(p + h + n)])) == crc
        else { return nil }
        return n
    }

    /// The first valid frame after the bad one at `offset`: where its header says it ends, if
    /// its header is intact, else at the first byte offset where a valid frame starts.
    static func nextFrame(_ b: UnsafeRawBufferPointer, after offset: Int, problem: SegmentScan.Problem, salt: UInt32) -> Int? {
        if case let .payloadCRC(length) = problem {
            let end = offset + RecordCodec.headerSize + length
            if frameLength(b, at: end, salt: salt) != nil { return end }
        }
        var p = offset + 1
        let last = b.count - RecordCodec.headerSize - RecordCodec.minPayload
        while p <= last {
            if frameLength(b, at: p, salt: salt) != nil { return p }
            p += 1
        }
        return nil
    }

    /// What is wrong with the frame at `p` (which is not valid).
    static func problem(_ b: UnsafeRawBufferPointer, at p: Int, salt: UInt32) -> SegmentScan.Problem {
        let h = RecordCodec.headerSize
        guard b.count - p >= h else { return .shortHeader }
        switch RecordCodec.header(at: b.baseAddress! + p, salt: salt) {
        case let .valid(length, _):
            return p + h + length > b.count ? .shortPayload(length: length) : .payloadCRC(length: length)
        case let .impossibleLength(n): return .impossibleLength(n)
        case .corrupt: return .corruptHeader
        }
    }

    /// The record ends of the segment left as it is, each damaged region between valid runs
    /// counted as one record (which fails its checksum when read, so it is skipped and counted
    /// then), and the size up to the last valid record.
    func endsWithHoles() -> (ends: [UInt32], size: Int64) {
        var ends: [UInt32] = []
        for (i, run) in runs.enumerated() {
            if i > 0, run.start > runs[i - 1].end { ends.append(UInt32(run.start)) }
            ends += run.ends.map { UInt32($0) }
        }
        return (ends, runs.last(where: { !$0.ends.isEmpty })?.end ?? 0)
    }

    /// `offset` in the rewritten file: the same record boundary, or the end of the last kept
    /// record before it when it fell in removed bytes.
    func newOffset(_ offset: Int64) -> Int64 {
        var kept: Int64 = 0
        for run in runs {
            if offset < run.start { return kept }
            if offset <= run.end {
                // Round down to a record boundary of the run.
                let boundary = run.ends.last(where: { $0 <= offset }) ?? run.start
                return kept + (boundary - run.start)
            }
            kept += run.end - run.start
        }
        return kept
    }

    static func describe(_ p: SegmentScan.Problem) -> String {
        var s = SegmentScan(fileSize: 0, validEnd: 0, ends: [])
        s.problem = p
        return s.problemDescription
    }
}

extension DiskBuffer {
    /// Rewrites segment `id` without its damaged bytes (see ``SegmentSalvage``); returns the new
    /// file, its size, record ends and first timestamp, or nil when it could not be done (then
    /// the plain repair applies, keeping only what precedes the first bad frame).
    static func salvage(
        _ plan: SegmentSalvage, file: FileHandle, id: UInt64, name: String, isLast: Bool, directory: String,
        ledgers: inout [String: BufferPosition], logger: Logger, report: inout BufferRecoveryReport
    ) -> (file: FileHandle, size: Int64, ends: [UInt32], firstTimestamp: Int64?)? {
        let path = directory + "/" + name
        var plan = plan
        do {
            var tornTail: SegmentSalvage.Bad?
            if plan.tailLooksTorn && (isLast || plan.tailIsZero) || plan.tailIsLeftover { tornTail = plan.bad.removeLast() }
            // 1. The damaged bytes to quarantine/ (for inspection).
            let quarantineDir = directory + "/quarantine"
            try FS.makeDirectories(quarantineDir)
            var targets: [String] = []
            for b in plan.bad {
                var target = "\(name).at-\(b.start)"
                var n = 1
                while FS.exists(quarantineDir + "/" + target) {
                    target = "\(name).at-\(b.start).\(n)"
                    n += 1
                }
                let out = try FileHandle.openFile(quarantineDir + "/" + target, O_WRONLY | O_CREAT | O_EXCL)
                try copy(file, from: b.start, to: b.end, into: out, at: 0)
                targets.append(target)
            }
            // Not synced: the copies are for inspection; the records are lost either way.
            // 2. The valid frames, back to back, in a temporary file.
            let temp = path + ".tmp"
            let out = try FileHandle.openFile(temp, O_WRONLY | O_CREAT | O_TRUNC)
            var size: Int64 = 0
            var ends: [UInt32] = []
            for run in plan.runs where run.end > run.start {
                try copy(file, from: run.start, to: run.end, into: out, at: size)
                for e in run.ends { ends.append(UInt32(size + (e - run.start))) }
                size += run.end - run.start
            }
            try out.sync()
            // 3. Ledgers into this segment, moved to the new offsets (before the rename).
            for (reader, p) in ledgers.sorted(by: { $0.key < $1.key }) where p.segment == id {
                let moved = BufferPosition(segment: id, offset: plan.newOffset(p.offset))
                guard moved != p else { continue }
                try FS.writeAtomically(Ledger(reader: reader, position: moved).encode(), to: directory + "/" + Ledger.fileName(for: reader), directory: directory)
                ledgers[reader] = moved
            }
            // 4. The rewritten segment replaces the damaged one.
            try FS.move(temp, path)
            try FS.syncDirectory(directory)
            let reopened = try FileHandle.openFile(path, O_RDWR)
            let damagedBytes = plan.bad.reduce(Int64(0)) { $0 + $1.end - $1.start }
            report.damagedRecords += plan.bad.count
            report.quarantined += targets.map { "quarantine/" + $0 }
            report.quarantinedBytes += damagedBytes
            if let t = tornTail {
                report.tornTails += 1
                report.tornBytes += t.end - t.start
            }
            let places = plan.bad.map { "offset \($0.start) (\(SegmentSalvage.describe($0.problem)), \($0.end - $0.start) bytes)" }
            let kept = plan.runs.dropFirst().reduce(0) { $0 + $1.ends.count }
            let torn = tornTail.map { "; a torn tail of \($0.end - $0.start) bytes was cut" } ?? ""
            logger.error(
                "buffer: \(plan.bad.count) damaged record\(plan.bad.count == 1 ? "" : "s") in \(name) at \(places.joined(separator: ", ")): moved to quarantine/\(targets.joined(separator: ", quarantine/")) and not delivered; the \(kept) valid records after them are kept\(torn)",
                metadata: ["path": "\(directory)"])
            return (reopened, size, ends, plan.firstTimestamp)
        } catch {
            try? FS.remove(path + ".tmp")
            logger.error(
                "buffer: \(plan.bad.count) damaged record\(plan.bad.count == 1 ? "" : "s") in \(name), which cannot be rewritten without them (\(error)): they stay in place and are skipped (and counted) when read; the valid records around them are kept",
                metadata: ["path": "\(directory)"])
            return nil
        }
    }

    private static func copy(_ file: FileHandle, from start: Int64, to end: Int64, into out: FileHandle, at target: Int64) throws {
        var off = start
        while off < end {
            let chunk = try file.read(count: Int(min(Int64(SegmentScanner.window), end - off)), at: off)
            if chunk.isEmpty { throw BufferError.io(operation: "read (file shorter than expected)", path: file.path, errno: EIO) }
            try out.write(chunk, at: target + (off - start))
            off += Int64(chunk.count)
        }
    }
}
