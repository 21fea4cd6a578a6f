import BufferDisk
import Dispatch
import Foundation
import Logging
import ShipperCore
import Synchronization

/// The disk buffer's recovery. The input is a small program that writes a buffer directory:
/// valid records, frames with a valid checksum around a malformed payload, raw bytes, zeros, bit
/// flips, cuts, new segment files (ids may skip), ledgers (valid, garbage, of a reader no longer
/// configured); an input whose first byte is a multiple of 8 is written as one segment file as it
/// is. Bit 4 of that byte writes `.seg` segments, whose frames carry their segment's salt, instead
/// of legacy `.dat` ones (salt 0); a record op with bit 6 set writes a frame of another segment's
/// salt, mostly an earlier one, as a reused file holds after a crash. Then the buffer is opened
/// (readers `r` and `fresh`), closed, and read to the end by both.
///
/// Checks, against a frame scan written here from the format and recovery rules in
/// `DiskBuffer.swift` and `Salvage.swift`: opening never throws; every valid frame (before and
/// after damage) is kept; each damaged region is reported exactly once (a torn tail cut or a
/// quarantined file); `fresh` reads exactly the decodable records, in order, and
/// each record that does not decode is counted as skipped; `r` reads a suffix of them; a bad tail
/// of a `.seg` segment that holds a whole frame of an earlier segment is never quarantined (it is
/// what a reused file leaves); after repairs, opening again finds nothing to repair and the same
/// records.
enum BufferTarget {
    static let root: String = {
        let base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : NSTemporaryDirectory()
        return base + "/shipper-fuzz-buffer-\(getpid())"
    }()
    static let logger = Logger(label: "fuzz") { _ in SwiftLogNoOpLogHandler() }

    struct Input {
        let data: UnsafeRawBufferPointer
        var i = 0
        var atEnd: Bool { i >= data.count }
        mutating func byte() -> UInt8 {
            guard i < data.count else { return 0 }
            defer { i += 1 }
            return data[i]
        }
        mutating func bytes(_ n: Int) -> [UInt8] {
            let end = min(data.count, i + n)
            defer { i = end }
            return Array(data[i..<end])
        }
        mutating func u16() -> Int { Int(byte()) | Int(byte()) << 8 }
        mutating func u64() -> UInt64 { (0..<8).reduce(0) { v, k in v | UInt64(byte()) << (8 * UInt64(k)) } }
    }

    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

    /// A frame around any payload, with correct checksums.
    static func frame(_ payload: [UInt8], salt: UInt32) -> [UInt8] {
        var header = le(UInt32(truncatingIfNeeded: payload.count)) + le(CRC32C.checksum(payload))
        header += le(CRC32C.checksum(header) ^ salt)
        return header + payload
    }

    /// The salt of the frames of `.seg` segment `id` (the format in `DiskBuffer.swift`).
    static func salt(_ id: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: id) &* 0x9E37_79B1 ^ 0x5EED_5A17 }

    static func ledger(reader: String, segment: UInt64, offset: Int64) -> [UInt8] {
        let name = Array(reader.utf8)
        var b = Array("SBLG".utf8) + [1, 0, 0, 0] + le(segment) + le(UInt64(bitPattern: offset)) + le(UInt16(name.count)) + name
        b += le(CRC32C.checksum(b))
        return b
    }

    static func segmentName(_ id: UInt64, salted: Bool) -> String {
        let digits = String(id)
        return "segment-" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + (salted ? ".seg" : ".dat")
    }

    /// The directory the input describes: file name → bytes.
    static func files(for data: UnsafeRawBufferPointer) -> [String: [UInt8]] {
        var input = Input(data: data)
        var segments: [UInt64: [UInt8]] = [:]
        var current = UInt64(1 + input.byte() % 4)
        var files: [String: [UInt8]] = [:]
        let mode = input.byte()
        let salted = mode & 0x10 != 0
        if mode % 8 == 0 {
            segments[current] = input.bytes(data.count)
        } else {
            segments[current] = []
            while !input.atEnd {
                let op = input.byte()
                switch op % 10 {
                case 0, 1, 2, 3:
                    var attributes: [BufferAttribute] = []
                    for _ in 0..<((op >> 4) & 3) {
                        let name = String(decoding: input.bytes(Int(input.byte() % 8)), as: UTF8.self)
                        attributes.append(BufferAttribute(name: name, value: input.bytes(Int(input.byte() % 16))))
                    }
                    let record = BufferRecord(
                        source: input.u64(), offset: Int64(bitPattern: input.u64()), timestamp: Int64(bitPattern: input.u64()),
                        attributes: attributes, document: input.bytes(Int(input.byte())))
                    // Bit 6: a frame of another segment, mostly an earlier one (what a reused file
                    // holds), else a later one (damage to recovery).
                    var frameSalt: UInt32 = salted ? salt(current) : 0
                    if op & 0x40 != 0 {
                        let other = input.byte()
                        frameSalt = salt(current > 1 && other % 4 != 0 ? 1 + UInt64(other) % (current - 1) : current &+ 1 &+ UInt64(other))
                    }
                    segments[current]! += try! RecordCodec.salted(RecordCodec.encodeFrame(record), salt: frameSalt)
                case 4:
                    segments[current]! += frame(input.bytes(Int(input.byte())), salt: salted ? salt(current) : 0)
                case 5:
                    segments[current]! += input.bytes(1 + Int(input.byte() % 64))
                case 6:
                    segments[current]! += [UInt8](repeating: 0, count: Int(input.byte()))
                case 7:
                    let pos = input.u16()
                    let bit = input.byte() & 7
                    if !segments[current]!.isEmpty { segments[current]![pos % segments[current]!.count] ^= 1 << bit }
                case 8:
                    segments[current]!.removeLast(min(segments[current]!.count, Int(input.byte())))
                default:
                    let sub = input.byte()
                    switch sub % 4 {
                    case 0, 2:
                        let ids = segments.keys.sorted()
                        let id = ids[Int(input.byte()) % ids.count]
                        let offset = Int64(input.u16() % (segments[id]!.count + 1))
                        files["reader-\(sub % 4 == 0 ? "r" : "gone").ledger"] = ledger(reader: sub % 4 == 0 ? "r" : "gone", segment: id, offset: offset)
                    case 1:
                        files["reader-r.ledger"] = input.bytes(Int(input.byte() % 64))
                    default:
                        current += 1 + UInt64(sub >> 6)
                        segments[current] = []
                    }
                }
            }
        }
        for (id, bytes) in segments { files[segmentName(id, salted: salted)] = bytes }
        return files
    }

    struct Expected {
        var segments = 0
        var frames = 0
        /// Damaged regions: each must be reported as a torn tail or a quarantined file.
        var damagedRegions = 0
        /// Of them, bad tails left from a reused file: cut, never quarantined.
        var leftoverTails = 0
        var records: [BufferRecord] = []
        var undecodable = 0
    }

    /// What a correct recovery keeps, by the rules in `DiskBuffer.swift` and `Salvage.swift`,
    /// implemented again here from their description: the valid frames from the start; after a
    /// bad frame, the next valid frame is where the bad frame's intact header says it ends, else
    /// the first byte offset where a whole frame with valid checksums starts; each stretch of bad
    /// bytes is one damaged region. No valid frame after the first bad one: the rest is one region.
    static func expected(_ files: [String: [UInt8]]) -> Expected {
        var e = Expected()
        for name in files.keys.sorted() where name.hasPrefix("segment-") {
            let b = files[name]!
            let n = b.count
            e.segments += 1
            let id = UInt64(name.dropFirst(8).prefix(20))!
            let segmentSalt = name.hasSuffix(".seg") ? salt(id) : 0
            func u32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { v, k in v | UInt32(b[at + k]) << (8 * UInt32(k)) } }
            /// The header at `at`: nil when its checksum (with the segment's salt) fails, else the
            /// length it gives. Frames of other salts are damage to this scan: recovery reports them
            /// as one torn tail (left from a reused file) or quarantines them, once either way.
            func header(_ at: Int) -> Int? {
                guard n - at >= 12, CRC32C.checksum(b[at..<(at + 8)]) ^ segmentSalt == u32(at + 8) else { return nil }
                return Int(u32(at))
            }
            /// The payload length of a whole valid frame at `at`.
            func frame(_ at: Int) -> Int? {
                guard let length = header(at), length >= RecordCodec.minPayload, length <= RecordCodec.maxPayload,
                    length <= n - at - 12, CRC32C.checksum(b[(at + 12)..<(at + 12 + length)]) == u32(at + 4)
                else { return nil }
                return length
            }
            /// Whether the bytes from `start` to the end hold a whole frame whose header checksum names
            /// (by its salt) an earlier segment: a frame left from the file's life as that segment.
            func holdsEarlierFrame(from start: Int) -> Bool {
                var p = start
                while p + 12 + RecordCodec.minPayload <= n {
                    let length = Int(u32(p))
                    if length >= RecordCodec.minPayload, length <= n - p - 12 {
                        let earlier = (CRC32C.checksum(b[p..<(p + 8)]) ^ u32(p + 8) ^ 0x5EED_5A17) &* 0x0E8B_2F51
                        if earlier != 0, earlier < UInt32(truncatingIfNeeded: id),
                            CRC32C.checksum(b[(p + 12)..<(p + 12 + length)]) == u32(p + 4)
                        {
                            return true
                        }
                    }
                    p += 1
                }
                return false
            }
            var payloads: [Range<Int>] = []
            /// Valid frames from `at` on; returns where they stop.
            func run(from at: Int) -> Int {
                var off = at
                while off < n, let length = frame(off) {
                    payloads.append((off + 12)..<(off + 12 + length))
                    off += 12 + length
                }
                return off
            }
            var off = run(from: 0)
            if off < n {
                var regions = 0
                while true {
                    // The bad frame at `off`: where the next valid one starts.
                    var next: Int?
                    if let length = header(off), length >= RecordCodec.minPayload, length <= RecordCodec.maxPayload,
                        length <= n - off - 12, frame(off + 12 + length) != nil
                    {
                        next = off + 12 + length
                    } else {
                        var p = off + 1
                        while p <= n - 12 - RecordCodec.minPayload {
                            if frame(p) != nil {
                                next = p
                                break
                            }
                            p += 1
                        }
                    }
                    regions += 1
                    guard let next else {
                        if name.hasSuffix(".seg") && holdsEarlierFrame(from: off) { e.leftoverTails += 1 }
                        break
                    }
                    off = run(from: next)
                    if off >= n { break }
                }
                e.damagedRegions += regions
            }
            e.frames += payloads.count
            for r in payloads {
                if let record = try? RecordCodec.decode(Array(b[r])) {
                    e.records.append(record)
                } else {
                    e.undecodable += 1
                }
            }
        }
        return e
    }

    struct Outcome: Sendable {
        var recovery: BufferRecoveryReport
        var fresh: [BufferRecord] = []
        var skippedByFresh = 0
        var r: [BufferRecord] = []
    }

    static func openAndRead(_ config: DiskBufferConfig) throws -> Outcome {
        try blocking {
            let buffer = try DiskBuffer(config: config, readers: ["r", "fresh"], logger: logger)
            var outcome = Outcome(recovery: buffer.recovery)
            try await buffer.close()
            while let batch = try await buffer.read(reader: "fresh", maxRecords: 5, maxBytes: 2048) {
                outcome.fresh += batch.records
            }
            outcome.skippedByFresh = buffer.stats().corruptRecordsSkipped
            while let batch = try await buffer.read(reader: "r", maxRecords: 64, maxBytes: 1 << 20) {
                outcome.r += batch.records
            }
            return outcome
        }
    }

    static func run(_ data: UnsafeRawBufferPointer) {
        let files = files(for: data)
        let dir = root + "/buf"
        removeTree(root)
        guard root.withCString({ mkdir($0, 0o755) }) == 0, dir.withCString({ mkdir($0, 0o755) }) == 0 else { failCheck("cannot create \(dir): \(errno)") }
        defer { removeTree(root) }
        for (name, bytes) in files {
            let fd = (dir + "/" + name).withCString { open($0, O_WRONLY | O_CREAT | O_TRUNC, 0o644) }
            guard fd >= 0 else { failCheck("cannot write \(name)") }
            _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
        }
        let want = expected(files)
        var config = DiskBufferConfig(path: dir, maxSize: ByteSize(bytes: 1 << 30), fsync: .never, segmentSize: ByteSize(bytes: 4096))
        // Reads in pieces of a few frames (the default, 128 KiB, would hold every segment whole;
        // allocating it under ASan took a fifth of the target's time).
        config.readPieceBytes = 300
        let first: Outcome
        do {
            first = try openAndRead(config)
        } catch {
            failCheck("opening or reading a damaged buffer threw: \(error)")
        }
        let rec = first.recovery
        check(rec.segments == want.segments, "recovery found \(rec.segments) segments, \(want.segments) written")
        check(rec.records == Int64(want.frames), "recovery found \(rec.records) records, the frames scan \(want.frames)")
        check(rec.tornTails + rec.quarantined.count == want.damagedRegions,
              "\(want.damagedRegions) damaged regions, reported \(rec.tornTails) torn tails and \(rec.quarantined.count) quarantined: \(rec)")
        check(rec.quarantined.count <= want.damagedRegions - want.leftoverTails,
              "\(want.leftoverTails) bad tails left from a reused file, yet \(rec.quarantined.count) of \(want.damagedRegions) regions quarantined: \(rec)")
        check(rec.readersDropped == (files["reader-gone.ledger"] != nil ? ["gone"] : []), "readers dropped: \(rec.readersDropped)")
        check(first.fresh == want.records, "reader fresh got \(first.fresh.count) records, \(want.records.count) decodable were written")
        check(first.skippedByFresh == want.undecodable, "skipped \(first.skippedByFresh) records, \(want.undecodable) do not decode")
        check(first.r.count <= want.records.count && Array(want.records.suffix(first.r.count)) == first.r,
              "reader r did not get a suffix of the records (\(first.r.count) of \(want.records.count))")

        // Opening again after repairs: nothing left to repair, the same records.
        guard want.damagedRegions > 0 else { return }
        let second: Outcome
        do {
            second = try openAndRead(config)
        } catch {
            failCheck("opening the repaired buffer threw: \(error)")
        }
        check(second.recovery.tornTails == 0 && second.recovery.quarantined.isEmpty,
              "the repaired buffer needs repairs again: \(second.recovery)")
        check(second.recovery.records == rec.records, "reopened: \(second.recovery.records) records, first open \(rec.records)")
        check(second.fresh == first.fresh, "reopened: reader fresh reads other records")
    }

    /// Runs async code from the synchronous fuzz entry point.
    static func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Result<T, any Error>?>(nil)
        Task {
            let r: Result<T, any Error>
            do { r = .success(try await body()) } catch { r = .failure(error) }
            result.withLock { $0 = r }
            done.signal()
        }
        done.wait()
        return try result.withLock { $0! }.get()
    }

    /// (Names are read in place, up to their NUL: copying the whole `d_name` field reads past
    /// the directory buffer, as `FS.list` did. Paths go to the system with `withCString`: passing
    /// a `String` made a C copy per call.)
    static func removeTree(_ path: String) {
        guard let d = path.withCString({ opendir($0) }) else {
            _ = path.withCString { unlink($0) }
            return
        }
        let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        while let entry = readdir(d) {
            let name = String(cString: (UnsafeRawPointer(entry) + nameOffset).assumingMemoryBound(to: CChar.self))
            if name == "." || name == ".." { continue }
            let child = path + "/" + name
            if child.withCString({ unlink($0) }) != 0 { removeTree(child) }
        }
        closedir(d)
        _ = path.withCString { rmdir($0) }
    }
}
