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

    /// Looks for valid frames after the first bad one of `scan`; nil when there is none (the
    /// damage runs to the end of the file: the plain repair applies).
    static func plan(_ file: FileHandle, _ scan: SegmentScan) throws -> SegmentSalvage? {
        guard let first = scan.problem else { return nil }
        let size = scan.fileSize
        var reader = WindowReader(file: file, size: size)
        var plan = SegmentSalvage(
            fileSize: size, runs: [Run(start: 0, ends: scan.ends.map { Int64($0) })], bad: [], firstTimestamp: scan.firstTimestamp)
        var off = scan.validEnd
        var problem = first
        var found = false
        while off < size {
            guard let next = try nextFrame(&reader, after: off, problem: problem) else {
                plan.bad.append(Bad(start: off, end: size, problem: problem))
                break
            }
            found = true
            plan.bad.append(Bad(start: off, end: next, problem: problem))
            var run = Run(start: next, ends: [])
            var p = next
            while p < size, let length = try frameLength(&reader, at: p) {
                if plan.firstTimestamp == nil {
                    plan.firstTimestamp = try reader.withBytes(at: p + Int64(RecordCodec.headerSize), count: RecordCodec.minPayload) {
                        RecordCodec.timestamp(ofPayload: $0.baseAddress!)
                    }
                }
                p += Int64(RecordCodec.headerSize + length)
                run.ends.append(p)
            }
            plan.runs.append(run)
            if p >= size { break }
            problem = try Self.problem(&reader, at: p)
            off = p
        }
        return found ? plan : nil
    }

    /// The payload length of a whole, valid frame at `offset`, nil when there is none.
    static func frameLength(_ reader: inout WindowReader, at offset: Int64) throws -> Int? {
        let h = Int64(RecordCodec.headerSize)
        guard offset + h <= reader.size,
            case let .valid(length, crc)? = try reader.withBytes(at: offset, count: RecordCodec.headerSize, { RecordCodec.header(at: $0.baseAddress!) }),
            offset + h + Int64(length) <= reader.size
        else { return nil }
        let ok = try reader.withBytes(at: offset + h, count: length) { CRC32C.update(0, $0) == crc }
        return ok == true ? length : nil
    }

    /// The first valid frame after the bad one at `offset`: where its header says it ends, if
    /// its header is intact, else at the first byte offset where a valid frame starts.
    static func nextFrame(_ reader: inout WindowReader, after offset: Int64, problem: SegmentScan.Problem) throws -> Int64? {
        if case let .payloadCRC(length) = problem {
            let end = offset + Int64(RecordCodec.headerSize + length)
            if try frameLength(&reader, at: end) != nil { return end }
        }
        var p = offset + 1
        let last = reader.size - Int64(RecordCodec.headerSize + RecordCodec.minPayload)
        while p <= last {
            if try frameLength(&reader, at: p) != nil { return p }
            p += 1
        }
        return nil
    }

    /// What is wrong with the frame at `offset` (which is not valid).
    static func problem(_ reader: inout WindowReader, at offset: Int64) throws -> SegmentScan.Problem {
        let h = Int64(RecordCodec.headerSize)
        guard reader.size - offset >= h else { return .shortHeader }
        switch try reader.withBytes(at: offset, count: RecordCodec.headerSize, { RecordCodec.header(at: $0.baseAddress!) }) {
        case let .valid(length, _)?:
            return offset + h + Int64(length) > reader.size ? .shortPayload(length: length) : .payloadCRC(length: length)
        case let .impossibleLength(n)?: return .impossibleLength(n)
        default: return .corruptHeader
        }
    }

    /// Whether the bad bytes at the end of the file look like an interrupted append (the rules
    /// of ``SegmentScan/looksTorn``), so they may be cut rather than quarantined.
    func tailLooksTorn(_ reader: inout WindowReader) throws -> Bool {
        guard let last = bad.last, last.end == fileSize else { return false }
        if try reader.isZero(from: last.start) { return true }
        let rest = fileSize - last.start
        switch last.problem {
        case .shortHeader, .shortPayload: return true
        case .corruptHeader, .impossibleLength: return rest <= Int64(RecordCodec.headerSize)
        case let .payloadCRC(length): return rest == Int64(RecordCodec.headerSize + length)
        }
    }

    /// Whether the bad bytes at the end of the file are all zero.
    func tailIsZero(_ reader: inout WindowReader) throws -> Bool {
        guard let last = bad.last, last.end == fileSize else { return false }
        return try reader.isZero(from: last.start)
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
        _ plan: SegmentSalvage, file: FileHandle, id: UInt64, isLast: Bool, directory: String,
        ledgers: inout [String: BufferPosition], logger: Logger, report: inout BufferRecoveryReport
    ) -> (file: FileHandle, size: Int64, ends: [UInt32], firstTimestamp: Int64?)? {
        let name = SegmentName.fileName(id)
        let path = directory + "/" + name
        var plan = plan
        do {
            var reader = WindowReader(file: file, size: plan.fileSize)
            var tornTail: SegmentSalvage.Bad?
            if try plan.tailLooksTorn(&reader), try isLast || plan.tailIsZero(&reader) { tornTail = plan.bad.removeLast() }
            // 1. The damaged bytes to quarantine/.
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
                try out.sync()
                targets.append(target)
            }
            try FS.syncDirectory(quarantineDir)
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
            logger.error("buffer: cannot rewrite \(name) without its damaged records (\(error)); only the part before the first one is used", metadata: ["path": "\(directory)"])
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
