import ShipperCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `shipper buffer inspect PATH`: a read-only report on a buffer directory.
///
/// Changes nothing (no repairs, no lock), so it works on a stopped shipper's buffer; on a running
/// one it shows a snapshot that may be a little inconsistent.
public enum BufferInspector {
    /// The report: segments with bytes and record counts (and what recovery would do with bad
    /// bytes), total events, the oldest event's age, per-reader lag, quarantined files.
    ///
    /// - Throws: ``BufferError/io(operation:path:errno:)`` when `path` is not a readable directory.
    public static func inspect(path: String) throws -> String {
        try inspect(path: path, now: FS.now())
    }

    static func inspect(path: String, now: Int64) throws -> String {
        var st = stat()
        guard path.withCString({ stat($0, &st) }) == 0 else { throw BufferError.io(operation: "inspect", path: path, errno: errno) }
        guard st.st_mode & S_IFMT == S_IFDIR else { throw BufferError.io(operation: "inspect", path: path, errno: ENOTDIR) }
        let names = try FS.list(path)
        var out = "buffer \(path)\n"

        struct Scanned {
            var id: UInt64
            var legacy: Bool
            var scan: SegmentScan?
            var error: String?
            /// Valid records found again after the first damaged one.
            var salvage: SegmentSalvage?
            /// Bytes after the valid ones hold frames left from the file's earlier use.
            var leftover = false
        }
        var segments: [Scanned] = []
        for name in names {
            guard let (id, legacy) = SegmentName.parse(name), FS.isRegularFile(path + "/" + name) else { continue }
            do {
                let f = try FileHandle.openFile(path + "/" + name, O_RDONLY)
                let salt = SegmentName.salt(id, legacy: legacy)
                let scan = try SegmentScanner.scan(f, salt: salt)
                let salvage = scan.problem == nil ? nil : try SegmentSalvage.plan(f, scan, id: id, legacy: legacy)
                let leftover = try scan.problem != nil && salvage == nil
                    && SegmentSalvage.hasLeftoverFrame(f, from: scan.validEnd, size: scan.fileSize, id: id, legacy: legacy)
                segments.append(Scanned(id: id, legacy: legacy, scan: scan, salvage: salvage, leftover: leftover))
            } catch {
                segments.append(Scanned(id: id, legacy: legacy, error: "\(error)"))
            }
        }
        segments.sort { $0.id < $1.id }

        let totalBytes = segments.reduce(Int64(0)) { $0 + ($1.scan?.fileSize ?? 0) }
        let totalRecords = segments.reduce(0) { $0 + ($1.scan?.ends.count ?? 0) }
        out += "segments: \(segments.count), \(formatBytes(totalBytes)) on disk, \(totalRecords) events\n"
        for (k, s) in segments.enumerated() {
            let name = SegmentName.fileName(s.id, legacy: s.legacy)
            guard let scan = s.scan else {
                out += "  \(name)  unreadable: \(s.error ?? "?")\n"
                continue
            }
            out += "  \(name)  \(scan.fileSize) bytes  \(scan.ends.count) events"
            if let salvage = s.salvage {
                let damaged = salvage.bad.reduce(Int64(0)) { $0 + $1.end - $1.start }
                let kept = salvage.runs.dropFirst().reduce(0) { $0 + $1.ends.count }
                out += "  (\(scan.problemDescription) at offset \(scan.validEnd): \(salvage.bad.count) damaged (\(damaged) bytes) quarantined on next start, \(kept) valid events after it kept)"
            } else if scan.problem != nil {
                let bad = scan.fileSize - scan.validEnd
                let lastWritten = segments.lastIndex { ($0.scan?.fileSize ?? 0) > 0 }
                let action =
                    s.leftover
                    ? "left from the file's earlier use, cut on next start"
                    : scan.looksTorn && (k == lastWritten || scan.restIsZero) ? "torn tail, cut on next start" : "corrupt, quarantined on next start"
                out += "  (\(scan.problemDescription) at offset \(scan.validEnd): \(bad) bytes, \(action))"
            }
            out += "\n"
        }
        let oldest = segments.lazy.compactMap { $0.scan?.firstTimestamp }.first
        if let oldest {
            out += "oldest event: \(formatTimestamp(oldest)) (\(formatAge(now - oldest)) ago)\n"
        } else {
            out += "oldest event: none\n"
        }

        // Readers.
        var readerLines: [String] = []
        for name in names {
            guard let reader = Ledger.readerName(fromFileName: name) else { continue }
            guard let bytes = FS.readFile(path + "/" + name), let ledger = Ledger.decode(bytes), ledger.reader == reader else {
                readerLines.append("  \(reader): ledger unreadable (starts at the oldest event on next start)")
                continue
            }
            var records = 0
            var bytesBehind: Int64 = 0
            // The timestamp of the first event the reader has not acknowledged.
            var oldestWaiting: Int64?
            for s in segments {
                guard let scan = s.scan else { continue }
                if s.id > ledger.position.segment {
                    records += scan.ends.count
                    bytesBehind += scan.validEnd
                    if oldestWaiting == nil { oldestWaiting = scan.firstTimestamp }
                } else if s.id == ledger.position.segment {
                    let acked = upperBound(scan.ends, ledger.position.offset)
                    let start = acked == 0 ? 0 : Int64(scan.ends[acked - 1])
                    records += scan.ends.count - acked
                    bytesBehind += scan.validEnd - start
                    if acked < scan.ends.count {
                        oldestWaiting = timestamp(ofFrameAt: start, in: path + "/" + SegmentName.fileName(s.id, legacy: s.legacy))
                    }
                }
            }
            var line = "  \(reader): acknowledged through \(ledger.position); lag \(records) events, \(formatBytes(bytesBehind))"
            if let oldestWaiting { line += ", the oldest from \(formatTimestamp(oldestWaiting)) (\(formatAge(now - oldestWaiting)) ago)" }
            readerLines.append(line)
        }
        out += "readers:" + (readerLines.isEmpty ? " none\n" : "\n" + readerLines.joined(separator: "\n") + "\n")

        // Quarantine.
        let qdir = path + "/quarantine"
        let quarantined = FS.isDirectory(qdir) ? ((try? FS.list(qdir)) ?? []) : []
        if quarantined.isEmpty {
            out += "quarantined: none\n"
        } else {
            out += "quarantined: \(quarantined.count) files\n"
            for q in quarantined { out += "  quarantine/\(q)  \(FS.fileSize(qdir + "/" + q) ?? 0) bytes\n" }
        }
        return out
    }

    /// The `@timestamp` of the record whose (valid) frame starts at `offset` of the file.
    static func timestamp(ofFrameAt offset: Int64, in file: String) -> Int64? {
        // The header and the payload through its timestamp (payload bytes 17..<25).
        let count = RecordCodec.headerSize + 25
        guard let f = try? FileHandle.openFile(file, O_RDONLY), let bytes = try? f.read(count: count, at: offset), bytes.count == count
        else { return nil }
        return bytes.withUnsafeBytes { RecordCodec.timestamp(ofPayload: $0.baseAddress! + RecordCodec.headerSize) }
    }

    static func formatBytes(_ n: Int64) -> String {
        if n < 1024 { return "\(n) bytes" }
        let units = ["KiB", "MiB", "GiB", "TiB"]
        var v = Double(n) / 1024
        var u = 0
        while v >= 1024 && u < units.count - 1 {
            v /= 1024
            u += 1
        }
        let tenths = Int((v * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[u])"
    }

    static func formatAge(_ ns: Int64) -> String {
        let s = max(0, ns / 1_000_000_000)
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m \(s % 60)s" }
        if s < 86400 { return "\(s / 3600)h \(s % 3600 / 60)m" }
        return "\(s / 86400)d \(s % 86400 / 3600)h"
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` (UTC).
    static func formatTimestamp(_ ns: Int64) -> String {
        let secs = ns >= 0 ? ns / 1_000_000_000 : (ns - 999_999_999) / 1_000_000_000
        let days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400
        let rem = Int(secs - days * 86400)
        let (y, m, d) = Civil.civil(fromDays: days)
        func two(_ v: Int) -> String { String(v).leftPadded(to: 2) }
        return "\(y)-\(two(m))-\(two(d))T\(two(rem / 3600)):\(two(rem % 3600 / 60)):\(two(rem % 60))Z"
    }
}
