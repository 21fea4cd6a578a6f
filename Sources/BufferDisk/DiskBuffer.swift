//! The durable disk buffer between the stages and the outputs.
//!
//! # On-disk format (version 1; frames salted since segment files are reused)
//!
//! The buffer directory (`path`) holds:
//!
//! ```text
//! segment-00000000000000000007.seg   records, appended; ids increase, never reused
//! segment-00000000000000000008.seg
//! segment-00000000000000000006.dat   a segment of an older shipper (salt 0): read, never written
//! reader-elasticsearch.ledger        one per reader (output): its acknowledged position
//! reader-elasticsearch.ledger.tmp    transient while a ledger is rewritten (removed on start)
//! lock                               flock(2)ed while a buffer has the directory open
//! quarantine/segment-00000000000000000007.dat.at-4096   corrupt bytes moved aside
//! ```
//!
//! **Segment files** have no file header: they are frames back to back. A writer appends to the
//! newest segment only and starts a new one (id + 1) when the next frame would take the file past
//! the segment size (a single larger frame gets a segment of its own). Every open starts a new
//! segment: older ones are never written again.
//!
//! **Frame** (all integers little endian):
//!
//! ```text
//! offset  size  field
//! 0       4     payload length N (26 ... 512 MiB)
//! 4       4     CRC-32C of the payload
//! 8       4     CRC-32C of bytes 0..<8, XOR the segment's salt (so a corrupt length is
//!               recognised as such, and so is a frame of another segment)
//! 12      N     payload
//! ```
//!
//! The salt of segment `id` is `UInt32(truncatingIfNeeded: id) &* 0x9E3779B1 ^ 0x5EED5A17`
//! (different for any two ids less than 2^32 apart), 0 in `.dat` segments. Frames are encoded
//! with salt 0 and salted for the segment they are written to.
//!
//! **Reusing segment files.** The files of segments every reader has acknowledged are kept
//! (*spares*) instead of deleted while they fit in `max_size` with the segments, and become the
//! next segments: renamed to the new id and written over from offset 0. An append that needs
//! their room deletes them first, the oldest, as many as it needs (deleting all of them made
//! the next segments new files again). The kernel already has a spare's pages and the file
//! system its blocks, so writing it costs less than filling a new file (and deleting the old
//! one): on a VM that hands freed memory back to its host, a page the guest has not used lately
//! costs about 1.5 CPU-seconds per GB to fault in again. Up to 16 spares are kept: while the
//! readers lag, the lag rises and falls with each batch acknowledged, and the files freed when
//! it falls are needed when it rises again (with at most four, 7 of the 15 files a 1 GB catch-up
//! made were made after such a fall; with 16, 2 of 10). Once the readers have acknowledged
//! everything and no segment was started for 30 seconds, the spares past four go, at the next
//! acknowledgement or the next tick (the periodic fsync with `fsync: <interval>`, every 10 s
//! with `always` or `never`).
//!
//! A segment is cut to its size when sealed (rotation, `close()`); a crash
//! before that leaves frames of the file's earlier life after the new ones. Those have another
//! salt, so they fail the new segment's checks, and recovery cuts them like a torn tail: a bad
//! tail that holds a whole frame salted for an earlier segment is what a reused file leaves, not
//! damage.
//! `close()` deletes the spares; so does a full volume.
//!
//! **Payload** (a ``BufferRecord``):
//!
//! ```text
//! 1   version = 1
//! 8   source (u64): fingerprint of the source file, 0 for none
//! 8   offset (i64): byte offset of the event's first line in it, -1 for none
//! 8   timestamp (i64): @timestamp, ns since the epoch
//! v   attribute count (unsigned LEB128, at most 5 bytes)
//!     per attribute: v name length, name (UTF-8), v value length, value
//! *   document: the rest of the payload (the event as compact JSON)
//! ```
//!
//! **Positions**: a ``BufferPosition`` is (segment id, byte offset just after a record).
//!
//! **Ledger** `reader-<name>.ledger` (`<name>` with bytes other than `[A-Za-z0-9_.-]` written
//! `%XX`), rewritten atomically (temporary file, fsync, rename, fsync of the directory): with
//! `fsync: <interval>`, by the periodic fsync when the reader acknowledged something since the last
//! one, and by `close()`; with `always` or `never`, and after `close()`, on every acknowledgement.
//! A ledger behind the acknowledged position (a crash between two ticks) only makes records be
//! sent again; their document ids are deterministic. (Written on every acknowledgement, its fsync
//! and rename took ~3 % of shipper's CPU on the end-to-end benchmark.)
//!
//! ```text
//! 0   4   magic "SBLG"
//! 4   1   version = 1, then 3 zero bytes
//! 8   8   segment id of the acknowledged position (u64)
//! 16  8   offset of the acknowledged position (i64)
//! 24  2   reader name length L (u16)
//! 26  L   reader name (UTF-8)
//! 26+L 4  CRC-32C of bytes 0..<26+L
//! ```
//!
//! A segment file is deleted (or kept as a spare) once every configured reader has
//! acknowledged all its records.
//!
//! # Opening (recovery)
//!
//! Every segment is read and every frame checked. At the first bad frame of a segment:
//! - **Torn tail of the last segment** (a short header, an intact header with a short payload,
//!   a checksum mismatch in the very last frame, or only zero bytes): cut off with ftruncate. The
//!   append that wrote it never returned, so its input lines were never checkpointed and are read
//!   again. Counted in ``BufferRecoveryReport/tornTails``.
//! - **Frames left from a reused file's earlier life** (a bad tail holding a whole frame salted
//!   for an earlier segment), in any `.seg` segment: cut the same way and counted as a torn tail.
//! - **Damaged records followed by valid ones** (see `Salvage.swift`): the next valid frame is
//!   found again (where the bad frame's intact header says it ends, else at the first offset where
//!   a header, its length and its payload all check out). Each damaged region is copied to
//!   `quarantine/segment-<id>.dat.at-<offset>`, the segment is rewritten without them (a temporary
//!   file renamed over it) and ledgers pointing into it move to the same records. Only the damaged
//!   records are lost: counted in ``BufferRecoveryReport/damagedRecords`` and logged. When the
//!   rewrite is not possible (no room on the volume), the damaged regions stay in place as
//!   unreadable records that readers skip and count.
//! - **A bad tail with nothing valid after it** in an older segment (or not looking torn): the
//!   rest of that segment is copied to quarantine and cut (one damaged record counted), an error
//!   is logged. If the copy fails, the segment is left as it is (only its valid part is used) and
//!   the repair is tried again on the next start.
//! - Segments without a valid record are deleted.
//!
//! Ledgers: a configured reader whose ledger is missing (while the buffer holds records) or
//! unreadable starts at the oldest retained record: a replay, never a loss (warning logged). A
//! ledger position that is not a record boundary (after a cut or quarantine) is rounded down to
//! the previous boundary. Ledgers of readers that are no longer configured are removed, so they no
//! longer hold segments back. Opening never fails because of the bytes in the directory; it fails
//! only when the file system refuses (permissions, a full disk during repairs, another process
//! holding the lock).

import Logging
import ShipperCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The durable FIFO between the pipeline worker and the outputs: append-only segment files,
/// one acknowledged position (ledger) per reader, fsync policy, size limit with backpressure.
///
/// One appender and any number of readers use it from their own tasks. Each reader (output) has
/// a read cursor and an acknowledged position; a new reader starts at the oldest retained record.
///
/// ```swift
/// let buffer = try DiskBuffer(config: config, readers: ["es"], logger: logger)
/// try await buffer.append(records)              // durable per `fsync` when it returns
/// while let batch = try await buffer.read(reader: "es", maxRecords: 1000, maxBytes: 5 << 20) {
///     try await send(batch.records)
///     try await buffer.acknowledge(reader: "es", through: batch.end)
/// }
/// ```
public final class DiskBuffer: Sendable {
    /// The configuration the buffer was opened with.
    public let config: DiskBufferConfig
    /// The reader names, as passed to `init` (duplicates removed).
    public let readers: [String]
    /// What opening the buffer found and repaired.
    public let recovery: BufferRecoveryReport
    /// The most acknowledged segment files kept to be reused (see "Reusing segment files").
    static let maxSpares = 16
    /// The spares kept once the readers have caught up and no segment was started for a while.
    static let quietSpares = 4

    let directory: String
    let segmentLimit: Int64
    let logger: Logger
    private let state: Mutex<State>
    /// Serialises ledger file writes (acknowledgements, the periodic fsync, `close()`) and holds
    /// the position each reader's ledger file has, so an older position never replaces a newer one.
    private let ledgerFiles = Mutex<[String: BufferPosition]>([:])
    /// Arrays that reads fill again (see ``PieceRing``).
    private let readPieces = Mutex(PieceRing())

    // MARK: State

    struct Segment {
        let id: UInt64
        let file: FileHandle
        /// A segment written before frames carried a salt (`.dat`): its frames have salt 0.
        var legacy = false
        /// Size of the file when it was taken over from an acknowledged segment (0 for a new
        /// file): the bytes past `size` are left from that use, cut off when the segment is sealed.
        var reusedSize: Int64 = 0
        /// Bytes of published (whole, written) records.
        var size: Int64
        /// End offset of every published record.
        var ends: [UInt32]
        /// Global index of the first record (indices count from the oldest retained record at open).
        var firstIndex: Int64
        /// No more writes: every segment but the newest one written in this run.
        var sealed: Bool
        var firstTimestamp: Int64?
        var endIndex: Int64 { firstIndex + Int64(ends.count) }
        var salt: UInt32 { SegmentName.salt(id, legacy: legacy) }
    }

    struct Waiter {
        let id: UInt64
        /// Resumed with `false` on a wake-up (`true` only for an immediate `.ready(true)`).
        let continuation: CheckedContinuation<Bool, any Error>

        func wake() { continuation.resume(returning: false) }
        func fail(_ error: any Error) { continuation.resume(throwing: error) }
    }

    struct Reader {
        /// Index of the next record `read` hands out.
        var readIndex: Int64
        /// Index of the first record not acknowledged.
        var ackIndex: Int64
        var dataWaiters: [Waiter] = []
        var ackBusy = false
        var ackQueue: [Waiter] = []
    }

    struct State {
        var segments: [Segment] = []
        /// Acknowledged segments' files (and sizes), kept to be the next segments (renamed and
        /// written over) instead of deleted: see "Reusing segment files" above.
        var spares: [(file: FileHandle, size: Int64)] = []
        /// When the last segment was started (``rotate()``).
        var lastRotation: ContinuousClock.Instant?
        /// How long no segment must have been started before spares past ``quietSpares`` go.
        var spareQuietPeriod: Duration = .seconds(30)
        /// The sizes of `spares`, added up: they count in `max_size` with ``bytesOnDisk``.
        var spareBytes: Int64 = 0
        /// `max_size` in bytes.
        var maxSize: Int64 = .max
        var nextSegmentID: UInt64 = 1
        /// Index just after the last published record.
        var totalRecords: Int64 = 0
        var bytesOnDisk: Int64 = 0
        var readers: [String: Reader] = [:]
        /// Bytes written in this run (a log sequence number for durability).
        var writtenLSN: Int64 = 0
        var durableLSN: Int64 = 0
        var syncs = 0
        var closed = false
        var finalSyncDone = false
        var appendBusy = false
        var appendQueue: [Waiter] = []
        /// The append waiting for space, and how many bytes it needs.
        var spaceWaiter: (need: Int64, waiter: Waiter)?
        var syncWaiters: [(lsn: Int64, waiter: Waiter)] = []
        var nextWaiterID: UInt64 = 0
        var ticker: Task<Void, Never>?
        var corruptSkipped = 0
        var lockFile: FileHandle?
        /// An append is waiting for space on the buffer's volume (a write failed with ENOSPC).
        var waitingForVolume = false
        /// ``DiskBuffer/stopWaitingForRoom()`` was called: appends that would wait throw instead.
        var noWaiting = false
        /// Since when appends keep finding the volume full (until one goes through at once), how
        /// often they paused, and when that was last logged.
        var volumeFullSince: ContinuousClock.Instant?
        var volumeFullPauses = 0
        var volumeFullLogged: ContinuousClock.Instant?
        /// When an append last logged that it waits at `max_size` (at most once a minute).
        var maxSizeLogged: ContinuousClock.Instant?

        /// Whether a message last logged at `last` may be logged again at `now` (at most once a
        /// minute); if so, `last` becomes `now`.
        static func dueOncePerMinute(_ last: inout ContinuousClock.Instant?, now: ContinuousClock.Instant) -> Bool {
            if let logged = last, now - logged < .seconds(60) { return false }
            last = now
            return true
        }
        /// A ledger write that failed for lack of space was logged (once per episode).
        var ledgerNoSpaceLogged = false
        /// Acknowledged positions whose ledger the periodic fsync writes next (`fsync: <interval>`
        /// until `close()`), by reader.
        var pendingLedgers: [String: BufferPosition] = [:]
        /// Ledgers are written by the periodic fsync (an interval policy, the buffer open).
        var ledgersOnTick = false

        var minAckIndex: Int64 {
            readers.values.lazy.map(\.ackIndex).min() ?? totalRecords
        }

        var activeSegment: Segment? {
            guard let last = segments.last, !last.sealed else { return nil }
            return last
        }

        /// The position of `segment` whose index is `index`.
        func segmentIndex(containing index: Int64) -> Int? {
            var lo = 0
            var hi = segments.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if segments[mid].endIndex <= index { lo = mid + 1 } else { hi = mid }
            }
            return lo < segments.count && segments[lo].firstIndex <= index ? lo : nil
        }

        /// Global index of the record boundary `p`, nil when `p` is not a boundary of a retained
        /// segment.
        func index(of p: BufferPosition) -> Int64? {
            guard let si = segments.firstIndex(where: { $0.id == p.segment }) else { return nil }
            let seg = segments[si]
            if p.offset == 0 { return seg.firstIndex }
            guard p.offset > 0, p.offset <= seg.size, let i = binarySearch(seg.ends, UInt32(p.offset)) else { return nil }
            return seg.firstIndex + Int64(i) + 1
        }

        mutating func removeWaiter(_ id: UInt64) -> Waiter? {
            if let i = appendQueue.firstIndex(where: { $0.id == id }) { return appendQueue.remove(at: i) }
            if let w = spaceWaiter, w.waiter.id == id {
                spaceWaiter = nil
                return w.waiter
            }
            if let i = syncWaiters.firstIndex(where: { $0.waiter.id == id }) { return syncWaiters.remove(at: i).waiter }
            for (name, var r) in readers {
                if let i = r.dataWaiters.firstIndex(where: { $0.id == id }) {
                    let w = r.dataWaiters.remove(at: i)
                    readers[name] = r
                    return w
                }
                if let i = r.ackQueue.firstIndex(where: { $0.id == id }) {
                    let w = r.ackQueue.remove(at: i)
                    readers[name] = r
                    return w
                }
            }
            return nil
        }

        /// Removes and returns every reader's data waiters (in place: no dictionary copy).
        mutating func takeDataWaiters() -> [Waiter] {
            var all: [Waiter] = []
            var i = readers.values.startIndex
            while i != readers.values.endIndex {
                if !readers.values[i].dataWaiters.isEmpty {
                    all += readers.values[i].dataWaiters
                    readers.values[i].dataWaiters.removeAll()
                }
                readers.values.formIndex(after: &i)
            }
            return all
        }

        /// Whether an append of `need` bytes may go ahead (possibly after dropping segments every
        /// reader acknowledged).
        func hasSpace(for need: Int64, maxSize: Int) -> Bool {
            bytesOnDisk + need <= Int64(maxSize) || segments.isEmpty || minAckIndex >= totalRecords
        }

        /// Removes the oldest sealed segments every reader acknowledged completely; returns the
        /// files to delete. With `keepSpare`, up to ``maxSpares`` of them become ``spares`` while
        /// the segments and the spares stay within `max_size`. Once the readers have acknowledged
        /// everything and no segment was started for ``spareQuietPeriod``, spares past
        /// ``quietSpares`` go (see "Reusing segment files").
        mutating func removeAcknowledgedSegments(keepSpare: Bool = true, now: ContinuousClock.Instant = .now) -> [FileHandle] {
            let minAck = minAckIndex
            var removed: [FileHandle] = []
            while let first = segments.first, first.sealed, first.endIndex <= minAck {
                bytesOnDisk -= first.size
                segments.removeFirst()
                if keepSpare && !closed && spares.count < DiskBuffer.maxSpares
                    && bytesOnDisk + spareBytes + first.size <= maxSize
                {
                    spares.append((first.file, first.size))
                    spareBytes += first.size
                } else {
                    removed.append(first.file)
                }
            }
            removed += trimQuietSpares(now: now)
            return removed
        }

        /// Once the readers have acknowledged everything and no segment was started for
        /// ``spareQuietPeriod``, removes the spares past ``quietSpares``, keeping the most
        /// recently acknowledged (their pages are likelier cached); returns their files, to delete.
        mutating func trimQuietSpares(now: ContinuousClock.Instant = .now) -> [FileHandle] {
            let quiet = lastRotation.map { now - $0 >= spareQuietPeriod } ?? true
            guard minAckIndex >= totalRecords && spares.count > DiskBuffer.quietSpares && quiet else { return [] }
            let extra = spares.count - DiskBuffer.quietSpares
            let removed = spares[..<extra].map(\.file)
            for spare in spares[..<extra] { spareBytes -= spare.size }
            spares.removeFirst(extra)
            return removed
        }

        /// Removes the oldest ``spares`` until `need` more bytes fit in `max_size` with the
        /// segments and the spares left (or none is left); returns their files, to delete.
        mutating func takeSpares(makingRoomFor need: Int64) -> [FileHandle] {
            var taken: [FileHandle] = []
            var k = 0
            while k < spares.count && bytesOnDisk + spareBytes + need > maxSize {
                taken.append(spares[k].file)
                spareBytes -= spares[k].size
                k += 1
            }
            spares.removeFirst(k)
            return taken
        }

        /// Empties ``spares``; returns their files, to delete.
        mutating func takeSpares() -> [FileHandle] {
            defer {
                spares = []
                spareBytes = 0
            }
            return spares.map(\.file)
        }
    }

    // MARK: Opening

    /// Opens (creating when missing) the buffer directory and recovers it: checks every record,
    /// cuts torn tails, quarantines corrupt regions, loads the readers' ledgers.
    ///
    /// - Parameters:
    ///   - config: The buffer options.
    ///   - readers: The names of the outputs reading from the buffer. A name without a ledger
    ///     starts at the oldest retained record; ledgers of names not listed are removed. With no
    ///     readers at all, records are not retained once written.
    ///   - logger: Repairs are logged here (errors for quarantined data, warnings for reset readers).
    /// - Throws: ``BufferError/io(operation:path:errno:)`` when the directory cannot be created
    ///   or read, or another buffer holds its lock. Damaged contents never make it throw: they
    ///   are repaired (or left for the next start when a repair fails) and logged.
    public init(config: DiskBufferConfig, readers: [String], logger: Logger) throws {
        var dir = config.path
        while dir.count > 1 && dir.hasSuffix("/") { dir.removeLast() }
        self.config = config
        self.directory = dir
        self.segmentLimit = Int64(config.effectiveSegmentSize)
        self.logger = logger
        var unique: [String] = []
        for r in readers where !unique.contains(r) {
            guard !r.isEmpty, Ledger.fileName(for: r).utf8.count <= 250 else {
                throw BufferError.io(operation: "use reader name (empty or too long)", path: r, errno: ENAMETOOLONG)
            }
            unique.append(r)
        }
        self.readers = unique

        try FS.makeDirectories(dir)
        guard let lockFile = try FS.lock(dir + "/lock") else {
            throw BufferError.io(operation: "lock (another shipper, or another buffer in this process, uses it)", path: dir, errno: EWOULDBLOCK)
        }
        var report = BufferRecoveryReport()
        var s = State()
        s.maxSize = Int64(config.maxSize.bytes)
        s.lockFile = lockFile
        let names = try FS.list(dir)

        for name in names where name.hasSuffix(".tmp") { try FS.remove(dir + "/" + name) }

        // Ledgers.
        var ledgers: [String: BufferPosition] = [:]
        var unreadable: Set<String> = []
        var ledgerFiles: [String: String] = [:]
        for name in names {
            guard let reader = Ledger.readerName(fromFileName: name) else { continue }
            ledgerFiles[reader] = name
            if let bytes = FS.readFile(dir + "/" + name), let ledger = Ledger.decode(bytes), ledger.reader == reader {
                ledgers[reader] = ledger.position
            } else {
                unreadable.insert(reader)
            }
        }

        // Segments.
        // Each segment's path is built once (opening a buffer of many small segments, as the
        // fuzz target does, spent a tenth of its time building the same strings again).
        var found = names.compactMap { name in SegmentName.parse(name).map { (id: $0.id, legacy: $0.legacy, path: dir + "/" + name) } }
            .sorted { ($0.id, $0.legacy ? 0 : 1) < ($1.id, $1.legacy ? 0 : 1) }
            .filter { segment in
                guard FS.isRegularFile(segment.path) else {
                    logger.warning("buffer: \(SegmentName.fileName(segment.id, legacy: segment.legacy)) is not a regular file: ignored", metadata: ["path": "\(dir)"])
                    return false
                }
                return true
            }
        // Two files of one id (`.dat` and `.seg`, which shipper never writes): positions name
        // segments by id, so only the first is used; the other is left alone.
        found = found.enumerated().filter { k, segment in
            guard k > 0, found[k - 1].id == segment.id else { return true }
            logger.warning(
                "buffer: \(SegmentName.fileName(segment.id, legacy: segment.legacy)) has the id of \(SegmentName.fileName(segment.id, legacy: found[k - 1].legacy)): ignored",
                metadata: ["path": "\(dir)"])
            return false
        }.map(\.element)
        let ids = found.map(\.id)
        report.segments = ids.count
        // The segment written last: empty files created just before a crash do not count.
        let lastWritten = found.lastIndex { (FS.fileSize($0.path) ?? 0) > 0 }
        var index: Int64 = 0
        for (k, (id, legacy, path)) in found.enumerated() {
            let salt = SegmentName.salt(id, legacy: legacy)
            let name = SegmentName.fileName(id, legacy: legacy)
            var file = try FileHandle.openFile(path, O_RDWR)
            var scan = try SegmentScanner.scan(file, salt: salt)
            var size = scan.validEnd
            if scan.problem != nil {
                // Valid records after the damage are kept when they can be found again.
                if let plan = try SegmentSalvage.plan(file, scan, id: id, legacy: legacy) {
                    if let saved = Self.salvage(
                        plan, file: file, id: id, name: name, isLast: k == lastWritten, directory: dir, ledgers: &ledgers, logger: logger,
                        report: &report)
                    {
                        file = saved.file
                        size = saved.size
                        scan.ends = saved.ends
                    } else {
                        // No rewrite (e.g. no room on the volume): each damaged region stays in
                        // place as one unreadable record, skipped (and counted) when read.
                        (scan.ends, size) = plan.endsWithHoles()
                    }
                    scan.firstTimestamp = plan.firstTimestamp
                } else {
                    let leftover = try SegmentSalvage.hasLeftoverFrame(file, from: scan.validEnd, size: scan.fileSize, id: id, legacy: legacy)
                    size = Self.repair(
                        scan, file: file, name: name, isLast: k == lastWritten, leftover: leftover, directory: dir, logger: logger, report: &report)
                }
            }
            guard !scan.ends.isEmpty else {
                try FS.remove(path)
                report.segmentsDeleted += 1
                continue
            }
            s.segments.append(
                Segment(id: id, file: file, legacy: legacy, size: size, ends: scan.ends, firstIndex: index, sealed: true, firstTimestamp: scan.firstTimestamp))
            s.bytesOnDisk += size
            report.records += Int64(scan.ends.count)
            report.bytes += size
            index += Int64(scan.ends.count)
        }
        s.totalRecords = index
        s.nextSegmentID = max(ids.last ?? 0, ledgers.values.map(\.segment).max() ?? 0) &+ 1

        // Readers.
        for name in unique {
            var ack: Int64 = 0
            if let p = ledgers[name] {
                ack = Self.resolve(p, in: s.segments, total: s.totalRecords)
            } else if unreadable.contains(name) {
                logger.warning("buffer ledger of reader '\(name)' is unreadable: it starts again at the oldest retained record (records may be sent twice)", metadata: ["path": "\(dir)"])
                report.readersReset.append(name)
            } else if s.totalRecords > 0 {
                logger.warning("buffer reader '\(name)' has no ledger: it starts at the oldest retained record (a new output, or a lost ledger)", metadata: ["path": "\(dir)"])
                report.readersReset.append(name)
            }
            s.readers[name] = Reader(readIndex: ack, ackIndex: ack)
        }
        for (name, file) in ledgerFiles.sorted(by: { $0.key < $1.key }) where !unique.contains(name) {
            try FS.remove(dir + "/" + file)
            report.readersDropped.append(name)
            logger.notice("buffer reader '\(name)' is no longer configured: its ledger is removed", metadata: ["path": "\(dir)"])
        }
        let removed = s.removeAcknowledgedSegments(keepSpare: false)
        for f in removed { try FS.remove(f.path) }
        report.segmentsDeleted += removed.count

        self.recovery = report
        self.state = Mutex(s)
        switch config.fsync {
        case .interval(let d): startTicker(d.duration, syncs: true)
        case .always, .never: startTicker(config.spareTrimInterval, syncs: false)
        }
    }

    /// Cuts or quarantines what follows the valid part of a segment; returns the size to use.
    /// `leftover`: the rest holds frames of another salt (left from the file's earlier use).
    private static func repair(
        _ scan: SegmentScan, file: FileHandle, name: String, isLast: Bool, leftover: Bool, directory: String, logger: Logger,
        report: inout BufferRecoveryReport
    ) -> Int64 {
        let bad = scan.fileSize - scan.validEnd
        if scan.looksTorn && (isLast || scan.restIsZero) || leftover {
            do {
                try file.truncate(to: scan.validEnd)
                try file.syncData()
            } catch {
                logger.error("buffer: cannot cut the torn tail of \(name): \(error); only its valid part is used")
                return scan.validEnd
            }
            report.tornTails += 1
            report.tornBytes += bad
            let cause = leftover ? "left from the file's earlier use as another segment" : "left by an interrupted write"
            logger.notice(
                "buffer: cut a torn tail of \(bad) bytes (\(scan.problemDescription)) at offset \(scan.validEnd) of \(name), \(cause)",
                metadata: ["path": "\(directory)"])
            return scan.validEnd
        }
        let quarantineDir = directory + "/quarantine"
        do {
            try FS.makeDirectories(quarantineDir)
            var target = "\(name).at-\(scan.validEnd)"
            var n = 1
            while FS.exists(quarantineDir + "/" + target) {
                target = "\(name).at-\(scan.validEnd).\(n)"
                n += 1
            }
            let out = try FileHandle.openFile(quarantineDir + "/" + target, O_WRONLY | O_CREAT | O_EXCL)
            var off = scan.validEnd
            while off < scan.fileSize {
                let chunk = try file.read(count: Int(min(Int64(SegmentScanner.window), scan.fileSize - off)), at: off)
                if chunk.isEmpty { break }
                try out.write(chunk, at: off - scan.validEnd)
                off += Int64(chunk.count)
            }
            try out.sync()
            try FS.syncDirectory(quarantineDir)
            try file.truncate(to: scan.validEnd)
            try file.syncData()
            report.quarantined.append("quarantine/" + target)
            report.quarantinedBytes += bad
            report.damagedRecords += 1
            logger.error(
                "buffer: corrupt data in \(name) at offset \(scan.validEnd) (\(scan.problemDescription)): moved the rest of the segment (\(bad) bytes) to quarantine/\(target); records in it are not delivered",
                metadata: ["path": "\(directory)"])
        } catch {
            logger.error(
                "buffer: corrupt data in \(name) at offset \(scan.validEnd) (\(scan.problemDescription)), and it cannot be quarantined: \(error). Only the part before it is used; the repair is tried again on the next start",
                metadata: ["path": "\(directory)"])
        }
        return scan.validEnd
    }

    /// The index of the first record after ledger position `p` (rounded down to a boundary).
    static func resolve(_ p: BufferPosition, in segments: [Segment], total: Int64) -> Int64 {
        var index: Int64 = 0
        for seg in segments {
            if seg.id < p.segment {
                index = seg.endIndex
            } else if seg.id == p.segment {
                return seg.firstIndex + Int64(upperBound(seg.ends, p.offset))
            } else {
                break
            }
        }
        return index
    }

    // MARK: Appending

    /// Appends records; returns once they are durable per the `fsync` policy, so input
    /// checkpoints may move past them.
    ///
    /// Suspends first while the buffer is at `max_size` (until acknowledgements let segments be
    /// deleted). A batch larger than `max_size` waits until every reader acknowledged everything
    /// and is then written on its own. A write that finds the volume full (ENOSPC, EDQUOT) waits
    /// the same way, and goes on where it stopped. Appends are written in call order.
    ///
    /// - Throws: ``BufferError/closed`` after `close()`; ``BufferError/full`` when it would wait
    ///   for room after ``stopWaitingForRoom()``; `CancellationError` when cancelled while
    ///   waiting (for space: nothing was written; for the fsync: the records are written but may
    ///   not be durable); ``BufferError/io(operation:path:errno:)`` when a write or fsync fails
    ///   (some records may be written: appending them again only duplicates them).
    public func append(_ records: [BufferRecord]) async throws {
        let lsn = try await appendWithoutWaitingForSync(records)
        try await waitUntilDurable(lsn)
    }

    /// Like ``append(_:)`` but returns once the records are written, before the fsync that makes
    /// them durable; check ``isDurable(_:)`` or await ``waitUntilDurable(_:)`` before committing
    /// the checkpoints of these records.
    ///
    /// With the interval policy, `append` waits up to one interval per call, so a caller that
    /// appends one batch at a time is limited to one batch per interval; with this method it can
    /// keep appending (backpressure still applies) while earlier appends become durable.
    public func appendWithoutWaitingForSync(_ records: [BufferRecord]) async throws -> BufferAppendTicket {
        guard !records.isEmpty else { return BufferAppendTicket(lsn: 0) }
        var batch = try RecordCodec.encodeFrames(records)
        return try await append(&batch)
    }

    /// Like ``appendWithoutWaitingForSync(_:)-([BufferRecord])`` for the frames of `writer` (see
    /// ``RecordCodec/BatchWriter``), which it leaves as they were. The buffer keeps no reference
    /// to them.
    public func appendWithoutWaitingForSync(_ writer: inout RecordCodec.BatchWriter) async throws -> BufferAppendTicket {
        try await append(&writer.batch)
    }

    /// Writes `batch` (its frames are salted for their segment while written, and given back as
    /// they were).
    private func append(_ batch: inout RecordCodec.EncodedBatch) async throws -> BufferAppendTicket {
        guard !batch.frameEnds.isEmpty else { return BufferAppendTicket(lsn: 0) }
        try await acquireAppendTurn(closing: false)
        defer { releaseAppendTurn() }
        try await waitForSpace(Int64(batch.bytes.count))
        var next = 0
        var fullSince: ContinuousClock.Instant?
        while true {
            do {
                let lsn = try write(&batch, from: &next)
                volumeWritten(afterPausing: fullSince != nil)
                return BufferAppendTicket(lsn: lsn)
            } catch let error as BufferError where error.isNoSpace {
                try await waitForVolumeSpace(error, since: &fullSince)
            }
        }
    }

    /// From now on, appends do not wait for room: one waiting for it (the buffer at `max_size`,
    /// or its volume full) and every later one that would wait throws ``BufferError/full``
    /// (nothing of it is written). For shutdown: an input blocked by a full buffer while the
    /// outputs cannot deliver must still stop. Appends that fit go on as before.
    public func stopWaitingForRoom() {
        let waiter = state.withLock { s -> Waiter? in
            s.noWaiting = true
            defer { s.spaceWaiter = nil }
            return s.spaceWaiter?.waiter
        }
        waiter?.fail(BufferError.full)
    }

    /// Whether the records of an append are durable per the `fsync` policy (without waiting):
    /// a pipeline that keeps appending can commit the checkpoints of the appends that are.
    public func isDurable(_ ticket: BufferAppendTicket) -> Bool {
        config.fsync == .never || state.withLock { $0.durableLSN >= ticket.lsn }
    }

    /// Waits until the records of an append are durable per the `fsync` policy: for `always`,
    /// fdatasyncs now (unless another sync already covered them); for an interval, waits for
    /// the periodic fsync.
    public func waitUntilDurable(_ ticket: BufferAppendTicket) async throws {
        switch config.fsync {
        case .never:
            return
        case .always:
            if state.withLock({ $0.durableLSN >= ticket.lsn }) { return }
            try syncNow()
        case .interval:
            while true {
                let syncHere = try await suspend { s, w in
                    if s.durableLSN >= ticket.lsn { return .ready(false) }
                    if s.finalSyncDone { return .ready(true) }
                    s.syncWaiters.append((ticket.lsn, w))
                    return .wait
                }
                if syncHere { try syncNow() }
                if state.withLock({ $0.durableLSN >= ticket.lsn }) { return }
            }
        }
    }

    private func acquireAppendTurn(closing: Bool) async throws {
        _ = try await suspend { s, w in
            if s.closed && !closing { return .fail(BufferError.closed) }
            if !s.appendBusy {
                s.appendBusy = true
                return .ready(false)
            }
            s.appendQueue.append(w)
            return .wait
        }
    }

    private func releaseAppendTurn() {
        let next = state.withLock { s -> Waiter? in
            if s.appendQueue.isEmpty {
                s.appendBusy = false
                return nil
            }
            return s.appendQueue.removeFirst()  // the turn passes to it: appendBusy stays true
        }
        next?.wake()
    }

    private func waitForSpace(_ need: Int64) async throws {
        while true {
            let (ready, deleted) = try state.withLock { s throws -> (Bool, [FileHandle]) in
                if s.closed { throw BufferError.closed }
                // Spare files make room first (the oldest, as many as needed): they count in max_size.
                if s.bytesOnDisk + s.spareBytes + need > s.maxSize && !s.spares.isEmpty {
                    return (false, s.takeSpares(makingRoomFor: need))
                }
                if s.bytesOnDisk + need <= s.maxSize || s.segments.isEmpty { return (true, []) }
                guard s.minAckIndex >= s.totalRecords else {
                    if s.noWaiting { throw BufferError.full }
                    return (false, [])
                }
                // Every reader acknowledged everything: drop all segments, the active one included.
                let files = s.segments.map(\.file)
                s.segments.removeAll()
                s.bytesOnDisk = 0
                return (true, files)
            }
            for f in deleted {
                do { try FS.remove(f.path) } catch { logger.error("buffer: \(error)") }
            }
            if ready { return }
            if !deleted.isEmpty { continue }  // spares deleted: check again
            // Said at the first wait, then at most once a minute while appends keep waiting (the
            // gauges and /health show it all along): an outage fills the buffer by design.
            let bytes = state.withLock { s -> Int64? in
                State.dueOncePerMinute(&s.maxSizeLogged, now: .now) ? s.bytesOnDisk : nil
            }
            if let bytes {
                logger.warning(
                    "buffer: at max_size (\(bytes) of \(config.maxSize.bytes) bytes): reading pauses until the outputs deliver and their segments are deleted; nothing is dropped",
                    metadata: ["path": "\(directory)"])
            }
            _ = try await suspend { s, w in
                if s.closed { return .fail(BufferError.closed) }
                if s.hasSpace(for: need, maxSize: self.config.maxSize.bytes) { return .ready(false) }
                if s.noWaiting { return .fail(BufferError.full) }
                s.spaceWaiter = (need, w)
                return .wait
            }
        }
    }

    /// After a write failed for lack of space on the buffer's volume: drops the segments every
    /// reader has acknowledged (the active one too when everything is), else waits a moment;
    /// the append then tries again. Logs once per episode; throws ``BufferError/closed`` when
    /// the buffer is closed meanwhile, `CancellationError` when the task is cancelled.
    private func waitForVolumeSpace(_ error: BufferError, since: inout ContinuousClock.Instant?) async throws {
        if since == nil {
            let now = ContinuousClock.now
            since = now
            // Logged at the first pause, then at most once a minute while the volume stays full.
            let pauses = state.withLock { s -> Int? in
                s.waitingForVolume = true
                s.volumeFullPauses += 1
                if s.volumeFullSince == nil { s.volumeFullSince = now }
                return State.dueOncePerMinute(&s.volumeFullLogged, now: now) ? s.volumeFullPauses : nil
            }
            if let pauses {
                logger.error(
                    "buffer: the buffer's volume is full (\(error)); reading pauses until there is room again: segments are deleted as the outputs deliver them, or free space on the volume",
                    metadata: ["path": "\(directory)", "pauses": "\(pauses)"])
            }
        }
        let deleted = try state.withLock { s throws -> [FileHandle] in
            if s.closed || s.noWaiting {
                s.waitingForVolume = false
                throw s.closed ? BufferError.closed : BufferError.full
            }
            var files = s.removeAcknowledgedSegments(keepSpare: false)
            files += s.takeSpares()
            if !s.segments.isEmpty && s.minAckIndex >= s.totalRecords {
                files += s.segments.map(\.file)
                s.segments.removeAll()
                s.bytesOnDisk = 0
            }
            return files
        }
        for f in deleted {
            do { try FS.remove(f.path) } catch { logger.error("buffer: \(error)") }
        }
        if deleted.isEmpty {
            do {
                try await Task.sleep(for: .milliseconds(200))
            } catch {
                state.withLock { $0.waitingForVolume = false }
                throw error
            }
        }
    }

    /// After an append was written: the end of a full-volume episode is logged once an append
    /// goes through without pausing.
    private func volumeWritten(afterPausing paused: Bool) {
        let ended = state.withLock { s -> (ContinuousClock.Instant, Int)? in
            if paused {
                s.waitingForVolume = false
                return nil
            }
            guard let since = s.volumeFullSince else { return nil }
            defer {
                s.volumeFullSince = nil
                s.volumeFullPauses = 0
                s.volumeFullLogged = nil
            }
            return (since, s.volumeFullPauses)
        }
        guard let (since, pauses) = ended else { return }
        let d = ContinuousClock.now - since
        logger.notice(
            "buffer: room on the buffer's volume again; appending goes on (it paused \(pauses) times over \(d.components.seconds) s)",
            metadata: ["path": "\(directory)"])
    }

    /// Writes the frames from frame `next` on (holding the append turn); returns the LSN after
    /// the last one. `next` advances past every frame written: after a write that failed for lack
    /// of space (``BufferError/isNoSpace``; nothing of the failed chunk is kept and the segment
    /// stays open) the append goes on where it stopped.
    private func write(_ batch: inout RecordCodec.EncodedBatch, from next: inout Int) throws -> Int64 {
        let ends = batch.frameEnds
        var lsn: Int64 = 0
        while next < ends.count {
            let chunkStart = next == 0 ? 0 : ends[next - 1]
            let active = state.withLock { $0.activeSegment.map { ($0.file, $0.size, $0.id, $0.salt) } }
            guard let (file, size, id, salt) = active, size == 0 || size + Int64(ends[next] - chunkStart) <= segmentLimit else {
                try rotate()
                continue
            }
            var last = next
            while last + 1 < ends.count && size + Int64(ends[last + 1] - chunkStart) <= segmentLimit { last += 1 }
            let chunkEnd = ends[last]
            do {
                try batch.bytes.withUnsafeMutableBytes { (b) in
                    RecordCodec.xorSalt(salt, b, start: chunkStart, ends: ends[next...last])
                    defer { RecordCodec.xorSalt(salt, b, start: chunkStart, ends: ends[next...last]) }
                    try file.write(UnsafeRawBufferPointer(rebasing: b[chunkStart..<chunkEnd]), at: size)
                }
            } catch {
                // Drop what may have been written after the published size. Out of space: the
                // same segment is written again once there is room; anything else: start a new
                // segment next time.
                try? file.truncate(to: size)
                if (error as? BufferError)?.isNoSpace != true {
                    state.withLock { s in
                        if let i = s.segments.lastIndex(where: { $0.id == id }) { s.segments[i].sealed = true }
                    }
                }
                throw error
            }
            var segmentEnds: [UInt32] = []
            segmentEnds.reserveCapacity(last - next + 1)
            for i in next...last { segmentEnds.append(UInt32(size + Int64(ends[i] - chunkStart))) }
            let timestamp: Int64? = size == 0 ? batch.bytes.withUnsafeBytes { RecordCodec.timestamp(ofPayload: $0.baseAddress! + chunkStart + RecordCodec.headerSize) } : nil
            let count = Int64(chunkEnd - chunkStart)
            let neverSync = config.fsync == .never
            let waiters = state.withLock { s -> [Waiter] in
                guard let i = s.segments.lastIndex(where: { $0.id == id }) else { return [] }
                s.segments[i].size += count
                s.segments[i].ends += segmentEnds
                if s.segments[i].firstTimestamp == nil { s.segments[i].firstTimestamp = timestamp }
                s.totalRecords += Int64(segmentEnds.count)
                s.bytesOnDisk += count
                s.writtenLSN += count
                if neverSync { s.durableLSN = s.writtenLSN }
                lsn = s.writtenLSN
                return s.takeDataWaiters()
            }
            for w in waiters { w.wake() }
            next = last + 1
        }
        return lsn
    }

    /// Seals the active segment (cut to its size when its file was reused, fsynced unless
    /// `fsync: never`) and starts the next one, in a spare file when there is one.
    private func rotate() throws {
        let (old, id) = state.withLock { s -> ((file: FileHandle, size: Int64, reusedSize: Int64)?, UInt64) in
            let id = s.nextSegmentID
            s.nextSegmentID &+= 1
            s.lastRotation = .now
            return (s.activeSegment.map { ($0.file, $0.size, $0.reusedSize) }, id)
        }
        let sync = config.fsync != .never
        if let old {
            if old.reusedSize > old.size { try old.file.truncate(to: old.size) }
            if sync {
                try old.file.syncData()
                state.withLock { $0.syncs += 1 }
            }
        }
        let path = directory + "/" + SegmentName.fileName(id)
        // The most recently acknowledged: its pages are likelier to be in the page cache.
        let spare = state.withLock { s -> FileHandle? in
            guard let last = s.spares.popLast() else { return nil }
            s.spareBytes -= last.size
            return last.file
        }
        let file: FileHandle
        var reusedSize: Int64 = 0
        if let spare, let reused = reuse(spare, as: path) {
            (file, reusedSize) = reused
        } else {
            file = try FileHandle.openFile(path, O_RDWR | O_CREAT | O_TRUNC)
        }
        if sync { try FS.syncDirectory(directory) }
        state.withLock { s in
            if let i = s.segments.indices.last, !s.segments[i].sealed { s.segments[i].sealed = true }
            s.segments.append(
                Segment(id: id, file: file, reusedSize: reusedSize, size: 0, ends: [], firstIndex: s.totalRecords, sealed: false, firstTimestamp: nil))
        }
    }

    /// Renames a spare file to `path` and opens it to be written over; nil (the spare deleted)
    /// when that fails.
    private func reuse(_ spare: FileHandle, as path: String) -> (FileHandle, Int64)? {
        do {
            try FS.move(spare.path, path)
        } catch {
            try? FS.remove(spare.path)
            return nil
        }
        do {
            let file = try FileHandle.openFile(path, O_RDWR)
            return (file, try file.size())
        } catch {
            try? FS.remove(path)
            return nil
        }
    }

    // MARK: Durability

    /// fdatasyncs the active segment now, making everything written so far durable, and writes
    /// the ledgers waiting for the periodic fsync.
    ///
    /// The `fsync` interval policy does this from its own task; `close()` does it last.
    public func sync() async throws {
        try syncNow()
        writePendingLedgers()
    }

    private func syncNow() throws {
        let job = state.withLock { s -> (Int64, FileHandle?)? in
            // Sealed segments were synced when they were sealed; the newest one holds the rest.
            s.durableLSN >= s.writtenLSN ? nil : (s.writtenLSN, s.segments.last?.file)
        }
        guard let (target, file) = job else { return }
        do {
            try file?.syncData()
        } catch {
            let failed = state.withLock { s -> [Waiter] in
                let (done, rest) = s.syncWaiters.partitioned { $0.lsn <= target }
                s.syncWaiters = rest
                return done.map(\.waiter)
            }
            for w in failed { w.fail(error) }
            throw error
        }
        let done = state.withLock { s -> [Waiter] in
            s.durableLSN = max(s.durableLSN, target)
            if file != nil { s.syncs += 1 }
            let durable = s.durableLSN
            let (done, rest) = s.syncWaiters.partitioned { $0.lsn <= durable }
            s.syncWaiters = rest
            return done.map(\.waiter)
        }
        for w in done { w.wake() }
    }

    /// Starts the periodic task: with `syncs` (`fsync: <interval>`) the periodic fsync and ledger
    /// writes; in every mode the trim of the spares past four, so that they also go on a node
    /// that fell silent after a catch-up (no more acknowledgements to trim them).
    private func startTicker(_ interval: Duration, syncs: Bool) {
        let task = Task { [weak self] in
            while !Task.isCancelled {
                do { try await Task.sleep(for: interval) } catch { return }
                guard let self else { return }
                if syncs {
                    do { try self.syncNow() } catch { self.logger.error("buffer: periodic fsync failed: \(error)") }
                    self.writePendingLedgers()
                }
                for f in self.state.withLock({ $0.trimQuietSpares() }) {
                    do { try FS.remove(f.path) } catch { self.logger.error("buffer: \(error)") }
                }
            }
        }
        state.withLock {
            $0.ticker = task
            $0.ledgersOnTick = syncs
        }
    }

    // MARK: Reading

    /// The next records for `reader` after its read cursor, at most `maxRecords` records and
    /// `maxBytes` bytes of frames (always at least one record), from one segment.
    ///
    /// Suspends while there is nothing to read. Returns nil once `close()` was called and the
    /// reader has read everything. A record that fails its checksum (disk corruption after the
    /// buffer was opened) is logged and skipped; `end` still covers it. The batch is empty only
    /// when every record in it was skipped and nothing follows yet: acknowledge `end` as usual.
    ///
    /// - Throws: ``BufferError/unknownReader(_:)``, `CancellationError`, or an I/O error (the read
    ///   cursor is then left where it was).
    public func read(reader: String, maxRecords: Int, maxBytes: Int) async throws -> BufferBatch? {
        let maxRecords = max(1, maxRecords)
        while true {
            try Task.checkCancellation()
            let step = try state.withLock { s throws -> ReadStep in
                guard var r = s.readers[reader] else { throw BufferError.unknownReader(reader) }
                if r.readIndex >= s.totalRecords { return s.closed ? .finished : .wait }
                guard let si = s.segmentIndex(containing: r.readIndex) else {
                    r.readIndex = s.totalRecords  // unreachable: every index below the total is in a segment
                    s.readers[reader] = r
                    return .wait
                }
                let seg = s.segments[si]
                let local = Int(r.readIndex - seg.firstIndex)
                let start = local == 0 ? 0 : Int64(seg.ends[local - 1])
                var k = local + 1
                while k < seg.ends.count && k - local < maxRecords && Int64(seg.ends[k]) - start <= Int64(maxBytes) { k += 1 }
                let plan = ReadPlan(
                    file: seg.file, segment: seg.id, legacy: seg.legacy, start: start, ends: Array(seg.ends[local..<k]),
                    firstIndex: r.readIndex, more: Int64(k - local) + r.readIndex < s.totalRecords)
                r.readIndex += Int64(k - local)
                s.readers[reader] = r
                return .read(plan)
            }
            switch step {
            case .finished:
                return nil
            case .wait:
                _ = try await suspend { s, w in
                    guard let r = s.readers[reader] else { return .fail(BufferError.unknownReader(reader)) }
                    if r.readIndex < s.totalRecords || s.closed { return .ready(false) }
                    s.readers[reader]!.dataWaiters.append(w)
                    return .wait
                }
            case let .read(plan):
                let batch: BufferBatch
                do {
                    batch = try decode(plan)
                } catch {
                    state.withLock { s in
                        let reserved = plan.firstIndex + Int64(plan.ends.count)
                        if s.readers[reader]?.readIndex == reserved { s.readers[reader]!.readIndex = plan.firstIndex }
                    }
                    throw error
                }
                if batch.records.isEmpty && plan.more { continue }
                return batch
            }
        }
    }

    private enum ReadStep {
        case read(ReadPlan)
        case wait
        case finished
    }

    private struct ReadPlan {
        let file: FileHandle
        let segment: UInt64
        let legacy: Bool
        let start: Int64
        let ends: [UInt32]
        let firstIndex: Int64
        let more: Bool
    }

    /// The arrays reads are done into, used again in turn. Records' documents are slices of
    /// them and outputs hold batches until delivered, so a piece lives on after its read; freed
    /// and allocated again for every read, pieces left holes that other allocations of other
    /// lifetimes split (the heap grew with the input: 13 to 23 MiB over 2.5 million lines). A
    /// ring slot is filled again `slots` reads later; a piece still referenced by then is left to
    /// its slices (copy on write: the slot gets a new array), never overwritten.
    ///
    /// The ring starts with `slots` slots and grows (up to `maxSlots`) when a read finds its
    /// slot's piece still held: outputs with more batches in flight get a larger ring. The
    /// default Elasticsearch output settles at 49 (two 2 MiB batches delivering, one being read);
    /// past `maxSlots` (7 MiB) reads allocate, and the periodic trim bounds what that leaves (a
    /// limit of 128 let sporadic holds grow the ring for good: 1 MiB more heap over 6 million
    /// lines).
    struct PieceRing {
        static let slots = 32
        static let maxSlots = 56
        var pieces: [[UInt8]] = Array(repeating: [], count: slots)
        var next = 0

        /// The next slot's array (the slot left empty until ``put(_:reused:)``).
        mutating func take() -> [UInt8] {
            var piece: [UInt8] = []
            swap(&piece, &pieces[next])
            return piece
        }

        /// Back into the slot ``take()`` emptied; a piece grown for a large record is not kept.
        /// `reused`: the read went into the slot's storage (false: it was still held).
        mutating func put(_ piece: [UInt8], reused: Bool, pieceBytes: Int) {
            pieces[next] = piece.capacity <= 2 * pieceBytes ? piece : []
            next += 1
            if !reused && pieces.count < Self.maxSlots {
                // One more slot right after this one: the held piece's slot comes round later.
                pieces.insert([], at: next)
            }
            if next == pieces.count { next = 0 }
        }
    }

    private func decode(_ plan: ReadPlan) throws -> BufferBatch {
        let end = Int64(plan.ends.last!)
        var records: [BufferRecord] = []
        var positions: [BufferPosition] = []
        records.reserveCapacity(plan.ends.count)
        positions.reserveCapacity(plan.ends.count)
        var skipped = 0
        var first = 0  // index in plan.ends of the first frame of the next piece
        var pieceStart = plan.start
        while first < plan.ends.count {
            var last = first
            while last + 1 < plan.ends.count && Int64(plan.ends[last + 1]) - pieceStart <= Int64(config.readPieceBytes) { last += 1 }
            let pieceEnd = Int64(plan.ends[last])
            let count = Int(pieceEnd - pieceStart)
            var bytes = readPieces.withLock { $0.take() }
            // Storage that is large enough is used again unless something still holds it (then
            // copy on write gives a new array: the ring grows). New storage is piece-sized, so
            // that any piece fits in it later.
            let previous = bytes.capacity >= count ? bytes.withUnsafeBytes { $0.baseAddress } : nil
            if bytes.capacity < count { bytes = []; bytes.reserveCapacity(max(count, config.readPieceBytes)) }
            try plan.file.read(into: &bytes, count: count, at: pieceStart)
            let reused = previous == nil || bytes.withUnsafeBytes { $0.baseAddress } == previous
            defer { readPieces.withLock { $0.put(bytes, reused: reused, pieceBytes: config.readPieceBytes) } }
            guard bytes.count == count else {
                throw BufferError.io(operation: "read (file shorter than expected)", path: plan.file.path, errno: EIO)
            }
            // The records' documents are slices of `bytes`: one allocation per piece, none per record.
            var from = 0
            for e in plan.ends[first...last] {
                let to = Int(Int64(e) - pieceStart)
                defer { from = to }
                if let record = Self.decodeFrame(bytes, from..<to, salt: SegmentName.salt(plan.segment, legacy: plan.legacy)) {
                    records.append(record)
                    positions.append(BufferPosition(segment: plan.segment, offset: Int64(e)))
                } else {
                    skipped += 1
                    logger.error(
                        "buffer: record at offset \(Int64(from) + pieceStart) of \(SegmentName.fileName(plan.segment, legacy: plan.legacy)) fails its checksum: skipped",
                        metadata: ["path": "\(directory)"])
                }
            }
            first = last + 1
            pieceStart = pieceEnd
        }
        if skipped > 0 { state.withLock { $0.corruptSkipped += skipped } }
        return BufferBatch(records: records, positions: positions, end: BufferPosition(segment: plan.segment, offset: end))
    }

    /// The record in a whole frame, nil when its header, checksum or payload is bad.
    static func decodeFrame(_ storage: [UInt8], _ frame: Range<Int>, salt: UInt32) -> BufferRecord? {
        let valid = storage.withUnsafeBytes { b -> Bool in
            let f = UnsafeRawBufferPointer(rebasing: b[frame])
            guard f.count >= RecordCodec.headerSize,
                case let .valid(length, crc) = RecordCodec.header(at: f.baseAddress!, salt: salt),
                length == f.count - RecordCodec.headerSize
            else { return false }
            return CRC32C.update(0, UnsafeRawBufferPointer(rebasing: f[RecordCodec.headerSize...])) == crc
        }
        guard valid else { return nil }
        return try? RecordCodec.decode(storage, payload: (frame.lowerBound + RecordCodec.headerSize)..<frame.upperBound)
    }

    // MARK: Acknowledging

    /// Records that `reader` has delivered every record up to `position` (a ``BufferBatch/end`` or
    /// one of its ``BufferBatch/positions``): writes the reader's ledger atomically (with
    /// `fsync: <interval>`, the next periodic fsync does, see the format above), then deletes the
    /// segments every reader has acknowledged and wakes a waiting append. (A segment deleted
    /// before the ledger is written is harmless: a ledger pointing into a deleted segment starts
    /// the reader at the oldest retained record, which it had not acknowledged.)
    ///
    /// Acknowledging a position at or before the current one does nothing.
    ///
    /// - Throws: ``BufferError/unknownReader(_:)``, ``BufferError/invalidPosition(_:)`` for a
    ///   position that is not a record boundary, or an I/O error writing the ledger (the
    ///   acknowledgement then did not happen).
    public func acknowledge(reader: String, through position: BufferPosition) async throws {
        _ = try await suspend { s, w in
            guard var r = s.readers[reader] else { return .fail(BufferError.unknownReader(reader)) }
            if !r.ackBusy {
                r.ackBusy = true
                s.readers[reader] = r
                return .ready(false)
            }
            r.ackQueue.append(w)
            s.readers[reader] = r
            return .wait
        }
        defer {
            let next = state.withLock { s -> Waiter? in
                guard s.readers[reader] != nil else { return nil }
                if s.readers[reader]!.ackQueue.isEmpty {
                    s.readers[reader]!.ackBusy = false
                    return nil
                }
                return s.readers[reader]!.ackQueue.removeFirst()
            }
            next?.wake()
        }
        let target = try state.withLock { s throws -> Int64? in
            guard let r = s.readers[reader] else { throw BufferError.unknownReader(reader) }
            guard let index = s.index(of: position) else {
                // A segment already deleted: acknowledged by every reader before.
                if position.segment < (s.segments.first?.id ?? s.nextSegmentID) { return nil }
                throw BufferError.invalidPosition(position)
            }
            return index > r.ackIndex ? index : nil
        }
        guard let target else { return }
        let onTick = state.withLock { s -> Bool in
            guard s.ledgersOnTick else { return false }
            s.pendingLedgers[reader] = position
            return true
        }
        var ledgerWritten = true
        if !onTick {
            do {
                try writeLedger(reader: reader, position: position)
            } catch let error as BufferError where error.isNoSpace {
                // The volume is full (the appender filled it): acknowledge in memory and delete
                // what that frees, then write the ledger again. A ledger left behind only replays
                // records.
                ledgerWritten = false
            }
        }
        let (deleted, space) = state.withLock { s -> ([FileHandle], Waiter?) in
            s.readers[reader]!.ackIndex = max(s.readers[reader]!.ackIndex, target)
            s.readers[reader]!.readIndex = max(s.readers[reader]!.readIndex, s.readers[reader]!.ackIndex)
            let deleted = s.removeAcknowledgedSegments()
            guard let space = s.spaceWaiter, s.hasSpace(for: space.need, maxSize: self.config.maxSize.bytes) else { return (deleted, nil) }
            s.spaceWaiter = nil
            return (deleted, space.waiter)
        }
        space?.wake()
        for f in deleted {
            do { try FS.remove(f.path) } catch { logger.error("buffer: \(error)") }
        }
        if ledgerWritten {
            if !onTick { state.withLock { $0.ledgerNoSpaceLogged = false } }
            return
        }
        do {
            try writeLedger(reader: reader, position: position)
        } catch let error as BufferError where error.isNoSpace {
            logLedgerNoSpace(reader: reader, error: error, retried: "with a later acknowledgement")
        }
    }

    /// Writes `reader`'s ledger at `position` (atomically, fsynced) unless its file already has
    /// that position or a later one.
    private func writeLedger(reader: String, position: BufferPosition) throws {
        let path = directory + "/" + Ledger.fileName(for: reader)
        try ledgerFiles.withLock { (written: inout [String: BufferPosition]) throws in
            if let w = written[reader], w >= position { return }
            do {
                try FS.writeAtomically(Ledger(reader: reader, position: position).encode(), to: path, directory: directory)
            } catch {
                try? FS.remove(path + ".tmp")
                throw error
            }
            written[reader] = position
        }
    }

    /// Writes the ledgers of the readers that acknowledged something since the last call (the
    /// periodic fsync, `close()`). A ledger that cannot be written is tried again next time.
    private func writePendingLedgers() {
        let pending = state.withLock { s -> [String: BufferPosition] in
            defer { s.pendingLedgers = [:] }
            return s.pendingLedgers
        }
        var noSpace = false
        for (reader, position) in pending.sorted(by: { $0.key < $1.key }) {
            do {
                try writeLedger(reader: reader, position: position)
            } catch {
                state.withLock { s in
                    if s.pendingLedgers[reader] == nil { s.pendingLedgers[reader] = position }
                }
                if let e = error as? BufferError, e.isNoSpace {
                    noSpace = true
                    logLedgerNoSpace(reader: reader, error: e, retried: "with the next fsync")
                } else {
                    logger.error("buffer: cannot write the ledger of reader '\(reader)': \(error); tried again with the next fsync (a restart before that sends some records again)", metadata: ["path": "\(directory)"])
                }
            }
        }
        if !noSpace && !pending.isEmpty { state.withLock { $0.ledgerNoSpaceLogged = false } }
    }

    /// Logs, once per episode of a full volume, that a ledger could not be written.
    private func logLedgerNoSpace(reader: String, error: BufferError, retried: String) {
        let first = state.withLock { s -> Bool in
            defer { s.ledgerNoSpaceLogged = true }
            return !s.ledgerNoSpaceLogged
        }
        if first {
            logger.warning(
                "buffer: cannot write the ledger of reader '\(reader)' (\(error)); acknowledged in memory and written \(retried) (a restart before that sends some records again)",
                metadata: ["path": "\(directory)"])
        }
    }

    /// Moves `reader`'s read cursor back to its acknowledged position: the next `read` returns
    /// the unacknowledged records again (an output restarting after an error).
    public func rewind(reader: String) async {
        state.withLock { s in
            guard let r = s.readers[reader] else { return }
            s.readers[reader]!.readIndex = r.ackIndex
        }
    }

    // MARK: Stats and closing

    /// For tests: how long no segment must have been started before spares past four go.
    func setSpareQuietPeriod(_ period: Duration) {
        state.withLock { $0.spareQuietPeriod = period }
    }

    /// Sizes, record counts and per-reader lag right now.
    public func stats() -> BufferStats {
        state.withLock { s in
            var lags: [BufferReaderLag] = []
            for name in readers {
                guard let r = s.readers[name] else { continue }
                var bytes: Int64 = 0
                if let si = s.segmentIndex(containing: r.ackIndex) {
                    let seg = s.segments[si]
                    let local = Int(r.ackIndex - seg.firstIndex)
                    bytes = seg.size - (local == 0 ? 0 : Int64(seg.ends[local - 1]))
                    for later in s.segments[(si + 1)...] { bytes += later.size }
                }
                lags.append(
                    BufferReaderLag(
                        name: name, records: s.totalRecords - r.ackIndex, bytes: bytes, inFlight: r.readIndex - r.ackIndex))
            }
            return BufferStats(
                bytes: s.bytesOnDisk,
                spareBytes: s.spareBytes,
                records: s.totalRecords - (s.segments.first?.firstIndex ?? s.totalRecords),
                segments: s.segments.count,
                oldestTimestamp: s.segments.first?.firstTimestamp,
                readers: lags,
                unsyncedBytes: s.writtenLSN - s.durableLSN,
                syncs: s.syncs,
                appendsWaitingForSpace: (s.spaceWaiter == nil ? 0 : 1),
                appendsWaitingForSync: s.syncWaiters.count,
                readersWaiting: s.readers.values.reduce(0) { $0 + $1.dataWaiters.count },
                corruptRecordsSkipped: s.corruptSkipped,
                waitingForVolumeSpace: s.waitingForVolume)
        }
    }

    /// Stops appends and the fsync task, makes everything written durable, and lets readers
    /// drain: `read` returns the remaining records, then nil. Appends waiting for space or for
    /// their turn throw ``BufferError/closed``. Acknowledgements keep working (outputs drain
    /// after the buffer is closed). Releases the directory lock.
    public func close() async throws {
        let woken = state.withLock { s -> (failed: [Waiter], data: [Waiter])? in
            if s.closed { return nil }
            s.closed = true
            var failed = s.appendQueue
            s.appendQueue = []
            if let w = s.spaceWaiter { failed.append(w.waiter) }
            s.spaceWaiter = nil
            return (failed, s.takeDataWaiters())
        }
        guard let woken else { return }
        for w in woken.failed { w.fail(BufferError.closed) }
        for w in woken.data { w.wake() }
        // Wait for an append that is writing right now.
        try await acquireAppendTurn(closing: true)
        defer { releaseAppendTurn() }
        let ticker = state.withLock { s in
            // From now on acknowledgements write their ledgers themselves.
            s.ledgersOnTick = false
            defer { s.ticker = nil }
            return s.ticker
        }
        ticker?.cancel()
        await ticker?.value
        writePendingLedgers()
        // The spares go; a reused active segment is cut to its size (else the next start cuts
        // what is left from the file's earlier use).
        let (active, spares) = state.withLock { s in
            (s.activeSegment.map { ($0.file, $0.size, $0.reusedSize) }, s.takeSpares())
        }
        for spare in spares { try? FS.remove(spare.path) }
        if let (file, size, reusedSize) = active, reusedSize > size {
            do { try file.truncate(to: size) } catch { logger.warning("buffer: \(error); the next start cuts the rest of \(file.path)") }
        }
        defer {
            let (waiters, lockFile) = state.withLock { s -> ([Waiter], FileHandle?) in
                s.finalSyncDone = true
                let lock = s.lockFile
                s.lockFile = nil
                defer { s.syncWaiters = [] }
                return (s.syncWaiters.map(\.waiter), lock)
            }
            // Release the directory lock now, not when the last reference to the handle goes:
            // a buffer opened on the same directory right after close() must get it.
            if let lockFile { _ = flock(lockFile.fd, LOCK_UN) }
            for w in waiters { w.wake() }  // they sync themselves now (finalSyncDone)
        }
        if config.fsync != .never { try syncNow() }
    }

    // MARK: Waiting

    enum Registration {
        /// Registered: suspend until resumed.
        case wait
        /// Go on without waiting, with this value.
        case ready(Bool)
        /// Do not wait: throw.
        case fail(any Error)
    }

    /// Suspends until the registered waiter is resumed. `register` runs under the lock: it
    /// checks the condition and either stores the waiter (`.wait`) or answers at once, so no
    /// wake-up is lost. Cancellation removes the waiter and throws `CancellationError`.
    private func suspend(_ register: (inout State, Waiter) -> Registration) async throws -> Bool {
        let id = state.withLock { s in
            s.nextWaiterID &+= 1
            return s.nextWaiterID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Bool, any Error>) in
                let r = state.withLock { s -> Registration in
                    if Task.isCancelled { return .fail(CancellationError()) }
                    return register(&s, Waiter(id: id, continuation: c))
                }
                switch r {
                case .wait: break
                case let .ready(v): c.resume(returning: v)
                case let .fail(e): c.resume(throwing: e)
                }
            }
        } onCancel: {
            if let w = state.withLock({ $0.removeWaiter(id) }) { w.fail(CancellationError()) }
        }
    }
}

/// Identifies an append for ``DiskBuffer/waitUntilDurable(_:)``.
public struct BufferAppendTicket: Sendable, Hashable {
    let lsn: Int64
}

func binarySearch(_ a: [UInt32], _ v: UInt32) -> Int? {
    var lo = 0
    var hi = a.count
    while lo < hi {
        let mid = (lo + hi) / 2
        if a[mid] < v { lo = mid + 1 } else { hi = mid }
    }
    return lo < a.count && a[lo] == v ? lo : nil
}

/// The number of elements of the sorted `a` that are `<= v`.
func upperBound(_ a: [UInt32], _ v: Int64) -> Int {
    var lo = 0
    var hi = a.count
    while lo < hi {
        let mid = (lo + hi) / 2
        if Int64(a[mid]) <= v { lo = mid + 1 } else { hi = mid }
    }
    return lo
}

extension Array {
    func partitioned(by belongs: (Element) -> Bool) -> ([Element], [Element]) {
        var yes: [Element] = []
        var no: [Element] = []
        for e in self { if belongs(e) { yes.append(e) } else { no.append(e) } }
        return (yes, no)
    }
}
