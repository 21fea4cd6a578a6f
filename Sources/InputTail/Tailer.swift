import Dispatch
import InputFormats
import Logging
import ShipperCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The tailing engine of the `docker`, `cri` and `file` sources: finds files, reads their new
/// complete lines, follows rotation, and keeps checkpoints.
///
/// **Discovery.** The `paths` globs are expanded at the first ``poll(maxBytes:)`` and then every
/// `discovery_interval` (sooner when inotify reports a created, moved or removed file). Files are
/// known by device and inode. A file found under another name is the same file. A file that is no
/// longer found (renamed away, e.g. Docker's `<id>-json.log` → `<id>-json.log.1`, or removed) keeps
/// being read through its open descriptor; once it is read to its end and `rotate_wait` has passed
/// since that was noticed, its last unterminated line (if any) is passed on and it is closed, so a
/// removed file's space is freed. A removed file is noticed at once (its link count drops to 0).
///
/// **Identity.** A file's ``FileID`` is its device, inode and fingerprint. The fingerprint hashes the
/// file's head (its first line with the newline, or its first 1024 bytes when the first line is
/// longer) with its inode; it is known as soon as the first line is complete, before any line is
/// passed on. A reused inode with another head is another file. A file whose size drops below what
/// was read, or whose head or the bytes just before the read position change (checked at every
/// scan), was truncated (copytruncate) or replaced: its ``FileID`` ends (a chunk with
/// ``TailChunk/isLast``) and it is read again from offset 0 under a new fingerprint derived from the
/// old one (so events of the new content never reuse the old content's event ids).
///
/// **Lines.** Only complete lines (ending in `\n`) are passed on; a partial line at the end of a
/// file waits for its newline. Exceptions: a line longer than `max_line_bytes` is passed on in
/// pieces of that size, and the unterminated last line of a removed or rotated file is passed on
/// when the file is closed. At shutdown a partial line is not passed on: it is not checkpointed,
/// so it is read whole after the restart. ``TailLine/isTerminated`` tells the pieces apart.
///
/// **Checkpoints.** ``commit(file:offset:)`` records the offset up to which lines are durable
/// downstream, exactly as given; ``persistCheckpoints()`` writes the checkpoint file atomically. On
/// start, a file whose inode and head match a checkpoint resumes at its offset, if the 64 bytes
/// before the offset are unchanged too (else it is read from 0 under a new fingerprint). A
/// checkpointed file that is no longer under the globs is looked for at its old path and at the
/// rotated names `<path>.1` … `<path>.9`, then under names that extend its name, in its directory
/// or in that of the file it links to (kubelet's `0.log.20261127-101530` under /var/log/pods,
/// logrotate's `dateext` `app.log-20261127`); when found it is read from its offset to its end,
/// and after a `.k` the newer rotated files it skipped (`.k-1` … `.1`) are read whole. Where a
/// checkpointed file has moved away from its path, the files under names extending that path
/// that were written to since the checkpoint file was, that no checkpoint records and that are
/// not compressed, are read whole too: generations created and rotated between two checkpoint
/// writes. A checkpointed file compressed meanwhile (gzip, under such a name: kubelet, Docker's
/// `compress`) is known by its decompressed head and read on from its checkpoint out of a
/// decompressed copy beside the checkpoint file. Files moved to another directory while shipper
/// was stopped are not found, nor are generations no checkpoint recorded that were compressed:
/// lines written to them after the checkpoint are lost. An
/// unreadable checkpoint file is logged, renamed to `<path>.corrupt`, and
/// every file is read from the beginning (replay, never loss); `read_from: end` applies only when
/// no checkpoint file exists at all.
///
/// **Memory.** ``poll(maxBytes:)`` returns about `maxBytes` of lines at most (plus at most one line
/// per file), shared fairly between the files with new data.
///
/// Not thread-safe: one task owns a tailer.
public final class Tailer {
    /// The options the tailer was made with.
    public let config: TailConfig
    private var logger: Logger
    private let clock: TailClock
    private let checkpoints: CheckpointFile
    private let maxLineBytes: Int
    private let discoveryInterval: Int64
    private let rotateWait: Int64
    private let ignoreOlder: Int64?
    /// The largest chunk read from one file at once.
    public var maxChunkBytes = 1 << 20

    private var files: [OpenFile] = []
    private var byKey: [DevIno: OpenFile] = [:]
    private var byID: [FileID: OpenFile] = [:]
    private var dormant: [FileID: DormantEntry] = [:]
    private var ignoredByAge: [DevIno: Int64] = [:]
    private var filteredOut: Set<DevIno> = []
    private var openFailures: Set<String> = []
    private var pending: [TailChunk] = []
    private let firstStart: Bool
    /// When the checkpoint file read at start was written (its mtime, ns); nil when there was none.
    private let checkpointWrittenAt: Int64?
    /// Where decompressed copies of compressed rotated files are read from
    /// (``recoverCopy(_:_:now:)``): beside the checkpoint file.
    let recoveredDir: String
    private var scanned = false
    private var nextDiscovery: Int64 = .min
    /// Times ``waitForData(timeout:)`` went round its loop (each after a sleep or a wait on
    /// inotify): what an idle shipper costs, for tests.
    private(set) var waitRounds = 0
    /// Times ``waitForData(timeout:)`` looked at the open files with `fstat`, for tests.
    private(set) var waitStatChecks = 0
    /// Where ``waitForData(timeout:)`` blocks on inotify: a serial queue of this tailer's own,
    /// which targets Dispatch's overcommitting pool (it adds a thread rather than let a blocked
    /// one hold back work queued behind it), not a global concurrent queue.
    private let waitQueue = DispatchQueue(label: "shipper.tailer.wait")
    private var lastDiscovery: Int64 = .min
    private var discoveryRequested = false
    private var cursor = 0
    private var dirty = false
    private let metadataCache = ContainerMetadataCache()
    private var watcher: DirectoryWatcher?
    private var closed = false

    static let headBytes = 1024
    static let checkBytes = 64
    static let maxRotatedSuffix = 9
    /// The shortest time between two scans started by inotify events.
    static let minRescanNanos: Int64 = 50_000_000

    /// Makes a tailer and reads the checkpoint file (creating its directory when missing).
    ///
    /// - Parameters:
    ///   - config: the source's options (its ``TailConfig/kind`` sets where metadata comes from).
    ///   - checkpointPath: the checkpoint file of this source (one per source).
    ///   - logger: where discovery, rotation and checkpoint problems are reported.
    ///   - clock: the clocks to read (tests inject their own).
    public init(config: TailConfig, checkpointPath: String, logger: Logger, clock: TailClock = .system) throws {
        try config.validate()
        self.config = config
        self.logger = logger
        self.logger[metadataKey: "checkpoints"] = "\(checkpointPath)"
        self.clock = clock
        maxLineBytes = config.maxLineBytes.bytes
        discoveryInterval = config.discoveryInterval.nanoseconds
        rotateWait = config.rotateWait.nanoseconds
        ignoreOlder = config.ignoreOlder.flatMap { $0.nanoseconds > 0 ? $0.nanoseconds : nil }
        let dir = Posix.dirname(checkpointPath)
        let e = Posix.makeDirectories(dir)
        if e != 0 { throw TailError(path: dir, operation: "create the checkpoint directory", code: e) }
        checkpoints = CheckpointFile(path: checkpointPath)
        recoveredDir = checkpointPath + ".recovered"
        switch checkpoints.load() {
        case .missing:
            firstStart = true
            checkpointWrittenAt = nil
        case .entries(let list):
            firstStart = false
            checkpointWrittenAt = Posix.status(checkpointPath).map(Posix.mtime)
            for entry in list { dormant[entry.id] = DormantEntry(entry: entry) }
        case .corrupt(let reason):
            firstStart = false
            checkpointWrittenAt = nil
            let aside = checkpointPath + ".corrupt"
            _ = rename(checkpointPath, aside)
            logger.error(
                "checkpoint file is unreadable; every file is read again from the beginning (events may be sent twice)",
                metadata: ["path": "\(checkpointPath)", "reason": "\(reason)", "kept_as": "\(aside)"])
            dirty = true
        }
        if config.inotify {
            watcher = DirectoryWatcher()
            if watcher == nil {
                logger.warning("inotify is unavailable; polling files with stat only", metadata: ["errno": "\(errno)"])
            }
        }
    }

    /// The same, with the kind given apart (it replaces `config.kind`), as in docs/DESIGN.md.
    public convenience init(
        config: TailConfig, kind: SourceKind, checkpointPath: String, logger: Logger, clock: TailClock = .system
    ) throws {
        var c = config
        c.kind = kind
        try self.init(config: c, checkpointPath: checkpointPath, logger: logger, clock: clock)
    }

    deinit { close() }

    // MARK: Public state

    /// Files open right now (active ones and rotated or removed ones still being read).
    public var openFileCount: Int { files.count }

    /// The open files whose identity is known (their first line is complete).
    public var trackedFiles: [TailedFile] { files.compactMap { tailedFile($0) } }

    /// Per open file, its path and the bytes not passed on yet as lines: its size at the last
    /// stat minus the offset of its first line not read (a partial last line counts). Files open
    /// under one path (a rotated file not renamed, still draining, and the new one) are added up.
    /// For `shipper_file_read_lag_bytes`.
    public var readLag: [String: Int64] {
        var lag: [String: Int64] = [:]
        for f in files { lag[f.path, default: 0] += max(0, f.size - f.lineStart) }
        return lag
    }

    /// The offset last given to ``commit(file:offset:)`` (or where reading started), nil for an
    /// unknown file.
    public func committedOffset(of file: FileID) -> Int64? {
        byID[file]?.committed ?? dormant[file]?.entry.offset
    }

    /// Whether a checkpoint file existed when the tailer was made (if not, `read_from` applies).
    public var isFirstStart: Bool { firstStart }

    // MARK: Reading

    /// New complete lines of the tailed files, at most about `maxBytes` bytes of them in total
    /// (plus at most one line per file, so a line longer than the budget still comes through),
    /// shared fairly between the files: each file gets an equal share of what is left, and the
    /// next poll starts after the last file served. Scans for new, rotated and removed files first
    /// when a scan is due. Files that ended (removed or rotated and read to their end, truncated)
    /// come with a chunk marked ``TailChunk/isLast``.
    public func poll(maxBytes: Int) throws -> [TailChunk] {
        guard !closed else { return [] }
        let now = clock.monotonic()
        if let watcher, watcher.drain().structural { discoveryRequested = true }
        if now >= nextDiscovery || (discoveryRequested && now &- lastDiscovery >= Self.minRescanNanos) {
            discover(now: now)
        }
        var out = pending
        pending.removeAll()
        guard !files.isEmpty else { return out }

        // Look at every file (one fstat each): growth, truncation, removal.
        let n = files.count
        let start = cursor % n
        var ready: [OpenFile] = []
        for i in 0..<n {
            let f = files[(start + i) % n]
            refresh(f, now: now, into: &out)
            if f.size > f.scannedEnd { ready.append(f) }
        }

        // Read: each ready file gets an equal share of the remaining budget.
        var budget = max(1, maxBytes)
        var lastServed: OpenFile?
        for (i, f) in ready.enumerated() where budget > 0 {
            let quota = max(1, budget / (ready.count - i))
            budget -= read(f, quota: quota, into: &out)
            lastServed = f
        }
        if let lastServed, let i = files.firstIndex(where: { $0 === lastServed }) {
            cursor = i + 1
        } else {
            cursor = start + 1
        }

        // Close rotated and removed files that are read to their end.
        let done = files.filter { $0.draining && $0.size <= $0.scannedEnd && now &- $0.drainSince >= rotateWait }
        for f in done { finish(f, into: &out) }
        return out
    }

    /// Waits until a tailed file may have new data, a scan is due, or `timeout` has passed. With
    /// inotify, a change in a watched directory ends the wait at once (a thread outside Swift's
    /// cooperative pool blocks in poll(2) on the inotify descriptor); without it, the open files
    /// are checked with `fstat` every 100 ms. Either way it sleeps until the next of these is due
    /// instead of waking on a fixed step: an idle shipper woke 100 times a second to poll inotify,
    /// about 1.5 % of a core. Returns early when the task is cancelled (within the 500 ms between
    /// two `fstat` checks with inotify, else at once).
    public nonisolated(nonsending) func waitForData(timeout: Duration) async {
        await Self.waitForData([self], timeout: timeout)
    }

    /// ``waitForData(timeout:)`` for several tailers at once (one per source): returns as soon as
    /// one of them may have data. Waiting on each in turn for a share of the timeout left data in
    /// one source unnoticed while the wait was on another: up to 100 ms with two sources, long
    /// enough at 15,000 lines a second for a `copytruncate` to take lines that were never read.
    public static nonisolated(nonsending) func waitForData(_ tailers: [Tailer], timeout: Duration) async {
        guard !tailers.isEmpty else {
            try? await Task.sleep(for: timeout)
            return
        }
        let deadline = ContinuousClock.now.advanced(by: timeout)
        var lastCheck = ContinuousClock.now
        // inotify watches every directory of an open file (none failed: the watch limit).
        let watched = tailers.map { t in t.watcher.map { $0.failedDirs.isEmpty } ?? false }
        let checkEvery: Duration = watched.allSatisfy { $0 } ? .milliseconds(500) : .milliseconds(100)
        let fds = tailers.compactMap { $0.watcher?.fd }
        // Watched, no fstat here: the poll before this wait looked at every file after draining
        // the watcher, so whatever was written since has left an event.
        for (t, w) in zip(tailers, watched) where t.hasUnreadData(stat: !w) { return }
        while !Task.isCancelled && !tailers.allSatisfy(\.closed) {
            var discoveryIn = Int64.max
            for t in tailers {
                t.waitRounds &+= 1
                if !t.pending.isEmpty { return }
                if let watcher = t.watcher, watcher.isReadable(waitingMilliseconds: 0) { return }
                discoveryIn = min(discoveryIn, t.nextDiscovery &- t.clock.monotonic())
            }
            if discoveryIn <= 0 { return }
            let now = ContinuousClock.now
            if now >= deadline { return }
            if now - lastCheck >= checkEvery {
                lastCheck = now
                if tailers.contains(where: { $0.hasUnreadData() }) { return }
            }
            let wait = min(deadline - now, lastCheck + checkEvery - now, .nanoseconds(discoveryIn))
            if !fds.isEmpty {
                if await Self.readable(fds: fds, within: wait, on: tailers[0].waitQueue) { return }
            } else {
                try? await Task.sleep(for: wait)
            }
        }
    }

    /// Whether one of `fds` becomes readable within `wait`: poll(2) on a thread of `queue`, so
    /// that no thread of the cooperative pool blocks.
    private static func readable(fds: [Int32], within wait: Duration, on queue: DispatchQueue) async -> Bool {
        let (seconds, attoseconds) = wait.components
        let milliseconds = Int32(clamping: max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000))
        return await withCheckedContinuation { (done: CheckedContinuation<Bool, Never>) in
            queue.async { done.resume(returning: DirectoryWatcher.anyReadable(fds: fds, waitingMilliseconds: milliseconds)) }
        }
    }

    /// Records that the lines of `file` before `offset` are durable downstream. The offset is kept
    /// exactly as given; it is written by the next ``persistCheckpoints()``. Offsets of files that
    /// ended after a truncation, or that were removed and closed, are ignored.
    public func commit(file: FileID, offset: Int64) {
        if let f = byID[file] {
            if f.committed != offset {
                f.committed = offset
                dirty = true
            }
            return
        }
        if var d = dormant[file] {
            guard d.entry.offset != offset else { return }
            d.entry.check = offset == d.endOffset ? d.endCheck : nil
            d.entry.offset = offset
            dormant[file] = d
            dirty = true
        }
    }

    /// Writes the checkpoint file when something changed since the last write: atomically (temp
    /// file, fsync, rename, fsync of the directory). Checkpoints of closed files are kept while the
    /// file can still be found (its path or a rotated `<path>.N`), so a restart resumes them.
    public func persistCheckpoints() throws {
        guard dirty, !closed else { return }
        pruneDormant()
        var entries: [CheckpointEntry] = []
        for f in files {
            guard let id = f.id, let head = f.head else {
                if var p = f.predecessor {
                    p.path = f.path
                    entries.append(p)
                }
                continue
            }
            var check: UInt64?
            if f.committed > 0 {
                if let p = f.persistedCheck, p.offset == f.committed {
                    check = p.check
                } else {
                    check = checkHash(f, at: f.committed)
                    f.persistedCheck = (f.committed, check)
                }
            }
            entries.append(CheckpointEntry(
                path: f.path, device: id.device, inode: id.inode, head: head, fingerprint: id.fingerprint,
                offset: f.committed, check: check))
        }
        entries += dormant.values.map(\.entry).sorted { ($0.path, $0.inode) < ($1.path, $1.inode) }
        try checkpoints.write(entries)
        dirty = false
    }

    /// Closes every file (without passing on partial lines) and the inotify descriptor. Call
    /// ``persistCheckpoints()`` before.
    public func close() {
        guard !closed else { return }
        closed = true
        for f in files { Glibc.close(f.fd) }
        files.removeAll()
        byKey.removeAll()
        byID.removeAll()
        watcher = nil
    }

    // MARK: Per file

    private func tailedFile(_ f: OpenFile) -> TailedFile? {
        guard let id = f.id else { return nil }
        return TailedFile(id: id, path: f.path, metadata: f.metadata, format: config.format)
    }

    /// fstat: notices growth, truncation and removal.
    private func refresh(_ f: OpenFile, now: Int64, into out: inout [TailChunk]) {
        guard let st = Posix.status(fd: f.fd) else { return }
        let size = Posix.size(st)
        f.nlink = UInt64(truncatingIfNeeded: st.st_nlink)
        if size < f.scannedEnd {
            restart(f, reason: "truncated", into: &out)
        } else if size > f.scannedEnd, let c = f.lastCheck, c.offset == f.lineStart {
            // About to read on: the bytes just before the read position must be those read last
            // (else the file was truncated and written past the read position meanwhile).
            let b = Posix.read(f.fd, at: c.offset - Int64(c.length), count: c.length)
            if let b, b.count == c.length, FileHash.hash(b) != c.hash {
                restart(f, reason: "replaced (bytes before the read position changed)", into: &out)
            }
        }
        f.size = size
        if f.nlink == 0 && !f.draining {
            f.draining = true
            f.drainSince = now
            logger.info("file removed; reading it to its end", metadata: ["path": "\(f.path)"])
        }
    }

    /// The file's content was truncated or replaced: end its identity and read it again from 0.
    private func restart(_ f: OpenFile, reason: String, into out: inout [TailChunk]) {
        if let id = f.id, let file = tailedFile(f) {
            out.append(TailChunk(file: file, bytes: [], lines: [], isLast: true))
            followCopy(of: f, id)
            byID[id] = nil
            f.deriveFrom = id.fingerprint
            f.deriveHead = f.head
            // Until the new content has an identity (its first line), checkpoints keep the old
            // one, marked as gone (an offset past any end): a restart in between derives the new
            // identity from it exactly as now, instead of finding no entry and taking another.
            if let head = f.head {
                f.predecessor = CheckpointEntry(
                    path: f.path, device: id.device, inode: id.inode, head: head, fingerprint: id.fingerprint, offset: .max, check: nil)
            }
        }
        logger.info("file \(reason); reading it again from the start", metadata: ["path": "\(f.path)"])
        f.head = nil
        f.fingerprint = nil
        f.lineStart = 0
        f.scannedEnd = 0
        f.committed = 0
        f.lastCheck = nil
        f.persistedCheck = nil
        dirty = true
    }

    /// Before a truncated file is read again from 0: logrotate's `copytruncate` copied it
    /// (`app.log.1`) before truncating it, so the lines not read yet are in the copy. A file
    /// under a name that extends this one's, with another inode, the same head, more bytes than
    /// were read and the same bytes before the read position, is read on from there to its end
    /// under the file's identity (the same event ids), and closed. Its checkpoint starts at the
    /// last committed offset: lines passed on but not durable yet are read again after a crash.
    private func followCopy(of f: OpenFile, _ id: FileID) {
        guard let head = f.head else { return }
        for path in Self.extendedNames(f.path) {
            guard let st = Posix.status(path), Posix.isRegular(st), DevIno(st) != f.key, byKey[DevIno(st)] == nil,
                Posix.size(st) > f.lineStart, headHash(path: path) == head, let copy = openFile(path, key: DevIno(st))
            else { continue }
            // The same bytes just before where reading stopped.
            if let c = f.lastCheck, c.offset == f.lineStart,
                Posix.read(copy.fd, at: c.offset - Int64(c.length), count: c.length).map(FileHash.hash) != c.hash
            {
                Glibc.close(copy.fd)
                continue
            }
            copy.metadata = f.metadata
            copy.head = head
            copy.fingerprint = id.fingerprint
            copy.start(at: f.lineStart)
            copy.committed = f.committed
            copy.draining = true
            copy.drainSince = clock.monotonic()
            register(copy)
            logger.info(
                "file truncated; reading the lines not read yet from its copy",
                metadata: ["path": "\(f.path)", "copy": "\(path)", "offset": "\(f.lineStart)"])
            return
        }
    }

    /// Hash of the file's head (first line, or first 1024 bytes); nil while the first line is
    /// incomplete and shorter than 1024 bytes (unless `final`).
    private func headHash(_ f: OpenFile, size: Int64, final: Bool = false) -> UInt64? {
        let n = Int(min(size, Int64(Self.headBytes)))
        guard n > 0, let bytes = Posix.read(f.fd, at: 0, count: n) else { return nil }
        return Self.headHash(of: bytes, final: final)
    }

    /// The head hash of a file whose first bytes (up to 1024) are `bytes`.
    static func headHash(of bytes: [UInt8], final: Bool) -> UInt64? {
        guard !bytes.isEmpty else { return nil }
        return bytes.withUnsafeBytes { buf -> UInt64? in
            if let nl = Posix.newline(buf, from: 0, to: buf.count) {
                return FileHash.hash(UnsafeRawBufferPointer(rebasing: buf[0...nl]))
            }
            if buf.count >= Self.headBytes || final { return FileHash.hash(buf) }
            return nil
        }
    }

    /// Sets the fingerprint once the head is known; false while it is not.
    @discardableResult
    private func ensureFingerprint(_ f: OpenFile, final: Bool = false) -> Bool {
        if f.fingerprint != nil { return true }
        guard let head = headHash(f, size: f.size, final: final) else { return false }
        f.head = head
        // Derived only when the new content starts like the old one (else the plain identity,
        // head and inode, differs already). Chaining derivations for every rewrite would make
        // the identity depend on which of them a checkpoint happened to see: after a crash, lines
        // read before it would come again under another identity.
        if let from = f.deriveFrom, head == f.deriveHead {
            f.fingerprint = FileHash.mix(from, head)
        } else {
            f.fingerprint = FileHash.mix(head, f.key.ino)
        }
        f.predecessor = nil
        logger.debug(
            "file identity", metadata: ["path": "\(f.path)", "inode": "\(f.key.ino)", "fingerprint": "\(hex(f.fingerprint!))", "derived_from": "\(f.deriveFrom.map(hex) ?? "-")"])
        if let id = f.id { byID[id] = f }
        dirty = true
        return true
    }

    /// ``headHash(_:size:final:)`` of a file that is not open (nil when it cannot be read).
    private func headHash(path: String) -> UInt64? {
        Posix.read(path: path, count: Self.headBytes).flatMap { Self.headHash(of: $0, final: false) }
    }

    /// Hash of the up to 64 bytes before `offset`.
    private func checkHash(_ f: OpenFile, at offset: Int64) -> UInt64? {
        guard offset > 0 else { return nil }
        let len = Int(min(Int64(Self.checkBytes), offset))
        guard let b = Posix.read(f.fd, at: offset - Int64(len), count: len), b.count == len else { return nil }
        return FileHash.hash(b)
    }

    /// Reads complete lines of `f`, up to about `quota` bytes; the bytes of lines passed on.
    private func read(_ f: OpenFile, quota: Int, into out: inout [TailChunk]) -> Int {
        guard ensureFingerprint(f), let file = tailedFile(f) else {
            // No complete first line yet: nothing can be passed on.
            f.scannedEnd = max(f.scannedEnd, f.size)
            return 0
        }
        var used = 0
        while used < quota {
            guard let (bytes, lines) = readChunk(f, limit: quota - used) else { break }
            used += bytes.count
            out.append(TailChunk(file: file, bytes: bytes, lines: lines))
        }
        return used
    }

    /// One chunk of complete lines from `f.lineStart`: the lines start before `limit` bytes (the
    /// last one may end after it). nil when no complete line is there.
    private func readChunk(_ f: OpenFile, limit: Int) -> ([UInt8], [TailLine])? {
        let avail = f.size - f.lineStart
        guard avail > 0, f.size > f.scannedEnd else { return nil }
        let known = Int(f.scannedEnd - f.lineStart)  // bytes known to hold no newline
        var want = Int(min(avail, Int64(max(min(limit, maxChunkBytes), known + 1))))
        while true {
            var failure: Int32 = 0
            var bytes = [UInt8](unsafeUninitializedCapacity: want) { buf, count in
                let r = Posix.pread(f.fd, into: UnsafeMutableRawBufferPointer(buf), at: f.lineStart)
                if r < 0 { failure = Int32(-r) }
                count = max(0, r)
            }
            if failure != 0 {
                if f.lastError != failure {
                    f.lastError = failure
                    logger.error("cannot read file", metadata: ["path": "\(f.path)", "error": "\(String(cString: strerror(failure)))"])
                }
                return nil
            }
            f.lastError = 0
            let got = bytes.count
            let atEOF = got < want || Int64(got) >= avail
            var lines: [TailLine] = []
            lines.reserveCapacity(min(16384, got / 64 + 1))
            var consumed = 0
            var partialTail = false
            let base = f.lineStart
            let maxLine = maxLineBytes
            bytes.withUnsafeBytes { buf in
                var start = 0
                var searchFrom = min(known, got)
                while start < got && start < limit {
                    let searchEnd = min(got, start + maxLine + 1)
                    if let nl = Posix.newline(buf, from: max(start, searchFrom), to: searchEnd) {
                        lines.append(TailLine(range: start..<nl, offset: base + Int64(start), endOffset: base + Int64(nl + 1)))
                        start = nl + 1
                    } else if got - start > maxLine {
                        let end = start + maxLine
                        lines.append(TailLine(range: start..<end, offset: base + Int64(start), endOffset: base + Int64(end)))
                        start = end
                    } else {
                        partialTail = true
                        break
                    }
                    searchFrom = 0
                }
                consumed = start
            }
            if lines.isEmpty {
                if !atEOF && want <= maxLine {
                    // A line longer than what was read: read more (growing) to find its end or cut it.
                    want = Int(min(avail, Int64(min(maxLine + 1, max(want * 4, 16384)))))
                    continue
                }
                f.scannedEnd = f.lineStart + Int64(got)
                return nil
            }
            if consumed > 0 {
                let len = min(Self.checkBytes, consumed)
                let h = bytes.withUnsafeBytes { FileHash.hash(UnsafeRawBufferPointer(rebasing: $0[(consumed - len)..<consumed])) }
                f.lastCheck = (f.lineStart + Int64(consumed), len, h)
            }
            f.lineStart += Int64(consumed)
            f.scannedEnd = partialTail ? f.lineStart + Int64(got - consumed) : f.lineStart
            bytes.removeLast(got - consumed)
            return (bytes, lines)
        }
    }

    /// Passes on the unterminated last line, ends the file's identity and closes it. A file that
    /// still has a name keeps its checkpoint (dormant) so that a restart finds it.
    private func finish(_ f: OpenFile, into out: inout [TailChunk]) {
        var bytes: [UInt8] = []
        var lines: [TailLine] = []
        if f.lineStart < f.size, ensureFingerprint(f, final: true) {
            let n = Int(min(f.size - f.lineStart, Int64(maxLineBytes)))
            if let b = Posix.read(f.fd, at: f.lineStart, count: n), !b.isEmpty {
                bytes = b
                lines = [TailLine(range: 0..<b.count, offset: f.lineStart, endOffset: f.lineStart + Int64(b.count))]
                f.lineStart += Int64(b.count)
                f.scannedEnd = f.lineStart
            }
        }
        if let file = tailedFile(f) {
            out.append(TailChunk(file: file, bytes: bytes, lines: lines, isLast: true))
        }
        if f.nlink > 0, let id = f.id, let head = f.head {
            let entry = CheckpointEntry(
                path: f.path, device: id.device, inode: id.inode, head: head, fingerprint: id.fingerprint,
                offset: f.committed, check: checkHash(f, at: f.committed))
            dormant[id] = DormantEntry(entry: entry, endOffset: f.lineStart, endCheck: checkHash(f, at: f.lineStart))
        }
        unregister(f)
        logger.info("closed rotated or removed file", metadata: ["path": "\(f.path)", "read_to": "\(f.lineStart)"])
    }

    private func register(_ f: OpenFile) {
        files.append(f)
        byKey[f.key] = f
        if let id = f.id { byID[id] = f }
        dirty = true
    }

    private func unregister(_ f: OpenFile) {
        Glibc.close(f.fd)
        if let i = files.firstIndex(where: { $0 === f }) {
            files.remove(at: i)
            if cursor > i { cursor -= 1 }
        }
        byKey[f.key] = nil
        if let id = f.id { byID[id] = nil }
        dirty = true
    }

    /// Whether some open file has data not read yet (known from the last poll, or when `stat`,
    /// seen with `fstat` now), or a removed one is due to be closed.
    private func hasUnreadData(stat: Bool = true) -> Bool {
        let now = clock.monotonic()
        if stat { waitStatChecks &+= 1 }
        for f in files {
            if f.size > f.scannedEnd && f.lastError == 0 { return true }
            if f.draining && f.size <= f.scannedEnd && now &- f.drainSince >= rotateWait { return true }
            guard stat, let st = Posix.status(fd: f.fd) else { continue }
            let size = Posix.size(st)
            if size != f.size || (st.st_nlink == 0) != (f.nlink == 0) { return true }
        }
        return false
    }

    // MARK: Discovery

    /// The globs expanded, minus the excluded paths, in order, without duplicates.
    private func expandPaths() -> [String] {
        var out: [String] = []
        var seen = Set<String>()
        for pattern in config.paths {
            for path in Self.glob(pattern) where seen.insert(path).inserted {
                if config.exclude.contains(where: { fnmatch($0, path, 0) == 0 }) { continue }
                out.append(path)
            }
        }
        return out
    }

    static func glob(_ pattern: String) -> [String] {
        var g = glob_t()
        defer { globfree(&g) }
        guard Glibc.glob(pattern, 0, nil, &g) == 0 else { return [] }
        var out: [String] = []
        for i in 0..<Int(g.gl_pathc) {
            if let c = g.gl_pathv[i] { out.append(String(cString: c)) }
        }
        return out
    }

    private func discover(now: Int64) {
        lastDiscovery = now
        nextDiscovery = now &+ discoveryInterval
        discoveryRequested = false
        let wall = clock.wall()
        var found: [DevIno: String] = [:]
        var order: [(DevIno, String, stat)] = []
        for path in expandPaths() {
            guard let st = Posix.status(path), Posix.isRegular(st) else { continue }
            let key = DevIno(st)
            if found[key] == nil {
                found[key] = path
                order.append((key, path, st))
            }
        }
        for f in files {
            if let path = found[f.key] {
                if path != f.path {
                    logger.info("file renamed", metadata: ["from": "\(f.path)", "to": "\(path)"])
                    f.path = path
                }
                if f.draining && f.nlink > 0 {
                    f.draining = false
                }
                verify(f)
                if config.kind == .docker { f.metadata = metadataCache.metadata(forLogPath: f.path) }
            } else if !f.draining {
                f.draining = true
                f.drainSince = now
                logger.info("file rotated or removed; reading it to its end", metadata: ["path": "\(f.path)"])
            }
        }
        for (key, path, st) in order where byKey[key] == nil {
            admit(path: path, st: st, key: key, wall: wall)
        }
        if !scanned {
            scanned = true
            recoverRotated(now: now)
        }
        ignoredByAge = ignoredByAge.filter { found[$0.key] != nil }
        filteredOut = filteredOut.filter { found[$0] != nil }
        updateWatches()
    }

    /// Notices content that changed under an open file (copytruncate followed by enough writes to
    /// pass the read position, or a replaced file): the head, or the bytes before the read position.
    private func verify(_ f: OpenFile) {
        guard let head = f.head, let st = Posix.status(fd: f.fd) else { return }
        let size = Posix.size(st)
        if size < f.scannedEnd { return }  // the next refresh handles it
        if headHash(f, size: size) != head {
            restart(f, reason: "replaced (its first line changed)", into: &pending)
            return
        }
        if let c = f.lastCheck, c.offset <= size {
            let b = Posix.read(f.fd, at: c.offset - Int64(c.length), count: c.length)
            if let b, b.count == c.length, FileHash.hash(b) != c.hash {
                restart(f, reason: "replaced (bytes before the read position changed)", into: &pending)
            }
        }
    }

    private func metadata(forPath path: String) -> ContainerMetadata? {
        switch config.kind {
        case .docker: return metadataCache.metadata(forLogPath: path)
        case .cri: return ContainerMetadata(criLogPath: path)
        case .file: return nil
        }
    }

    /// Whether the container filters allow the file (logged once per file when not).
    private func allowed(_ meta: ContainerMetadata?, key: DevIno, path: String) -> Bool {
        if config.allows(meta) { return true }
        if filteredOut.insert(key).inserted {
            logger.debug("file skipped by the container filters", metadata: ["path": "\(path)", "container": "\(meta?.name ?? "?")"])
        }
        return false
    }

    private func openFile(_ path: String, key: DevIno) -> OpenFile? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if openFailures.insert(path).inserted {
                logger.warning("cannot open file", metadata: ["path": "\(path)", "error": "\(String(cString: strerror(code)))"])
            }
            return nil
        }
        openFailures.remove(path)
        guard let st = Posix.status(fd: fd), DevIno(st) == key else {
            Glibc.close(fd)
            return nil
        }
        let f = OpenFile(fd: fd, key: key, path: path)
        f.size = Posix.size(st)
        f.nlink = UInt64(truncatingIfNeeded: st.st_nlink)
        f.watchDir = Posix.dirname(Posix.realpath(path) ?? path)
        return f
    }

    /// Opens a newly found file and decides where reading starts.
    private func admit(path: String, st: stat, key: DevIno, wall: Int64) {
        let meta = metadata(forPath: path)
        guard allowed(meta, key: key, path: path) else { return }
        let hasEntry = dormant.values.contains { $0.entry.inode == key.ino }
        if !hasEntry, let limit = ignoreOlder, wall &- Posix.mtime(st) > limit {
            if ignoredByAge[key] == nil {
                ignoredByAge[key] = Posix.size(st)
                logger.debug("file not modified within ignore_older; not opened", metadata: ["path": "\(path)"])
            }
            return
        }
        guard let f = openFile(path, key: key) else { return }
        f.metadata = meta
        let head = headHash(f, size: f.size)
        f.head = head
        if let head, let (id, d) = dormant.first(where: { $0.value.entry.inode == key.ino && $0.value.entry.head == head }) {
            dormant[id] = nil
            let e = d.entry
            if e.offset <= f.size && checkMatches(f, e) {
                f.fingerprint = e.fingerprint
                f.start(at: e.offset)
                f.persistedCheck = (e.offset, e.check)
                logger.debug("resuming file at its checkpoint", metadata: ["path": "\(path)", "offset": "\(e.offset)", "fingerprint": "\(hex(e.fingerprint))"])
            } else {
                logger.info("file changed while shipper was stopped; reading it from the start", metadata: ["path": "\(path)"])
                f.head = nil
                f.deriveFrom = e.fingerprint
                f.deriveHead = e.head
                f.start(at: 0)
            }
        } else if let (id, d) = dormant.first(where: { $0.value.entry.inode == key.ino && $0.value.entry.device == key.dev }) {
            // Same inode, other head: the file was truncated and written again, or the
            // checkpointed file was deleted and its inode reused. Either way new content with
            // another head: its plain identity (head and inode) is new already, and the same
            // whatever entries a checkpoint still held. At the first scan the entry stays for
            // the recovery that follows: the checkpointed content may be in a compressed file
            // (kubelet deletes a rotated file when it compresses it, and the next log often
            // gets its inode), or followed by generations no checkpoint recorded.
            if scanned { dormant[id] = nil }
            f.head = nil
            logger.debug(
                "file on a checkpointed inode with another head; reading it from the start",
                metadata: ["path": "\(path)", "checkpointed_path": "\(d.entry.path)", "checkpointed_fingerprint": "\(hex(d.entry.fingerprint))"])
            f.start(at: 0)
        } else if let size = ignoredByAge.removeValue(forKey: key) {
            f.start(at: alignToLine(f, size <= f.size ? size : 0))
        } else if !scanned && firstStart && config.readFrom == .end {
            f.start(at: alignToLine(f, f.size))
        } else {
            f.start(at: 0)
        }
        register(f)
        ensureFingerprint(f)
    }

    private func checkMatches(_ f: OpenFile, _ e: CheckpointEntry) -> Bool {
        guard let check = e.check, e.offset > 0 else { return true }
        return checkHash(f, at: e.offset) == check
    }

    /// The start of the line that holds `offset` (offset itself when it starts a line).
    private func alignToLine(_ f: OpenFile, _ offset: Int64) -> Int64 {
        guard offset > 0 else { return 0 }
        let n = Int(min(offset, 65536))
        guard let b = Posix.read(f.fd, at: offset - Int64(n), count: n), b.count == n else { return offset }
        if let nl = b.withUnsafeBytes({ Posix.lastNewline($0) }) { return offset - Int64(n) + Int64(nl) + 1 }
        return Int64(n) == offset ? 0 : offset
    }

    /// `path` and the rotated names `base.1` … `base.9` (`base`: `path` without a `.N` suffix).
    private static func rotatedCandidates(_ path: String) -> (base: String, list: [(Int, String)]) {
        var base = path
        // By bytes: a `.` followed by a combining mark is one `Character` with it.
        if let dot = path.utf8.lastIndex(of: UInt8(ascii: ".")), path.utf8.index(after: dot) < path.endIndex,
            path.utf8[path.utf8.index(after: dot)...].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        {
            base = String(path[..<dot])
        }
        var list: [(Int, String)] = [(0, path)]
        for k in 1...maxRotatedSuffix where base + ".\(k)" != path { list.append((k, base + ".\(k)")) }
        return (base, list)
    }

    /// Files whose name extends the name of `path` (`path` followed by at least one byte), in
    /// its directory and, when `path` is a symbolic link, in the directory of the file it links
    /// to: kubelet rotates `/var/log/pods/<pod>/<container>/0.log` (linked from
    /// `/var/log/containers/*.log`) to `0.log.20261127-101530`, logrotate's `dateext` `app.log` to
    /// `app.log-20261127`.
    static func extendedNames(_ path: String) -> [String] {
        var places = [path]
        if let target = Posix.realpath(path), target != path { places.append(target) }
        var out: [String] = []
        for place in places {
            for name in glob(globEscaped(place) + "?*") where !out.contains(name) { out.append(name) }
        }
        return out
    }

    /// `text` with the glob metacharacters `*`, `?`, `[` and `\` escaped by a backslash.
    static func globEscaped(_ text: String) -> String {
        var out = ""
        for c in text.unicodeScalars {
            if c == "*" || c == "?" || c == "[" || c == "\\" { out.unicodeScalars.append("\\") }
            out.unicodeScalars.append(c)
        }
        return out
    }

    /// Where the closed file of checkpoint `e` is now: the first regular file with its inode
    /// among `path` and its numbered rotations (`k`: 0 for the path, `N` for `<base>.N`), else
    /// among the ``extendedNames(_:)`` of its path (`k` 0). The caller checks the head.
    private static func locate(_ e: CheckpointEntry) -> (k: Int, path: String, base: String)? {
        func isIt(_ path: String) -> Bool {
            guard let st = Posix.status(path) else { return false }
            return Posix.isRegular(st) && UInt64(truncatingIfNeeded: st.st_ino) == e.inode
        }
        let (base, candidates) = rotatedCandidates(e.path)
        if let (k, path) = candidates.first(where: { isIt($0.1) }) { return (k, path, base) }
        if let path = extendedNames(e.path).first(where: isIt) { return (0, path, base) }
        return nil
    }

    /// At the first scan: checkpointed files no longer under the globs, found at their old path,
    /// a rotated name or a name that extends it (``locate(_:)``), are read from their checkpoint
    /// to their end (with the newer numbered rotations that were never read), and then the
    /// generations no checkpoint recorded (``readUnrecorded(_:now:)``).
    private func recoverRotated(now: Int64) {
        let entries = dormant.sorted { ($0.value.entry.path, $0.value.entry.inode) < ($1.value.entry.path, $1.value.entry.inode) }
        // Where a checkpointed file has left its path, the files whose names extend that path
        // may hold generations written after the checkpoint. Left: another inode is at the
        // path (rename rotation), or its inode with another head, reused (below) or with its
        // content found compressed (kubelet's next log on the inode of the rotated file it just
        // compressed). Its inode truncated in place (`copytruncate`): the files beside it are
        // copies, not generations.
        var siblings: [(path: String, namedAs: String)] = []
        func addSiblings(of e: CheckpointEntry) {
            for path in Self.extendedNames(e.path) where !siblings.contains(where: { $0.path == path }) { siblings.append((path, e.path)) }
        }
        var rewritten: [FileID: (entry: CheckpointEntry, truncatedInPlace: Bool?)] = [:]
        for (id, d) in entries {
            switch placeOfContent(d.entry) {
            case .atItsPath: break
            case .elsewhere: addSiblings(of: d.entry)
            case .inodeRewritten(let truncatedInPlace): rewritten[id] = (d.entry, truncatedInPlace)
            }
        }
        func recoverCopy(_ id: FileID, _ e: CheckpointEntry) {
            // Only a compressed copy tells a rotation: a plain one is what `copytruncate` leaves.
            if self.recoverCopy(id, e, now: now) == .compressed, rewritten[id] != nil { addSiblings(of: e) }
        }
        let checkpointedHeads = Set(entries.map(\.value.entry.head))
        for (id, d) in entries where dormant[id] != nil {
            let e = d.entry
            guard let (k, path, base) = Self.locate(e), let st = Posix.status(path) else {
                recoverCopy(id, e)
                continue
            }
            let key = DevIno(st)
            if let open = byKey[key] {
                // Its inode belongs to a file opened with another head: the checkpointed content
                // is gone from it.
                if open.head != nil && open.head != e.head { recoverCopy(id, e) }
                continue
            }
            // The metadata of the name the file was read under: a `cri` file's comes from its
            // name under /var/log/containers, not from kubelet's rotated name.
            let meta = metadata(forPath: e.path) ?? metadata(forPath: path)
            guard allowed(meta, key: key, path: path), let f = openFile(path, key: key) else { continue }
            let head = headHash(f, size: f.size)
            if head != e.head {
                // Another file has the inode now (the checkpointed one was deleted): the
                // entry is stale. Dropped, so it neither hides that file nor shapes its identity,
                // unless its content is found compressed.
                Glibc.close(f.fd)
                logger.debug("checkpointed file no longer exists; its inode belongs to another file", metadata: ["path": "\(path)"])
                recoverCopy(id, e)
                if dormant[id] != nil {
                    dormant[id] = nil
                    dirty = true
                }
                continue
            }
            guard e.offset <= f.size, checkMatches(f, e) else {
                Glibc.close(f.fd)
                continue
            }
            resume(f, id, e, metadata: meta, now: now)
            logger.info("resuming a file rotated while shipper was stopped", metadata: ["path": "\(path)", "offset": "\(e.offset)"])
            if k >= 2 {
                for j in stride(from: k - 1, through: 1, by: -1) { openNewerRotated(base + ".\(j)", namedAs: e.path, now: now) }
            }
        }
        // Its inode with another head: born before the checkpoint was written, it was truncated
        // in place and the files beside it are copies (some of content no checkpoint recorded);
        // born after, the checkpointed file was deleted and its inode reused, and the files
        // beside it are generations (renamed away).
        for (e, truncatedInPlace) in rewritten.values.sorted(by: { ($0.entry.path, $0.entry.inode) < ($1.entry.path, $1.entry.inode) }) {
            switch truncatedInPlace {
            case true?: readUnrecorded(Self.extendedNames(e.path).map { ($0, e.path) }, skippingHeads: checkpointedHeads, copiesOf: e.inode, now: now)
            case false?: addSiblings(of: e)
            case nil: break
            }
        }
        readUnrecorded(siblings, skippingHeads: checkpointedHeads, now: now)
        // Copies no checkpoint needs any more (read and committed to their end before a crash
        // kept them from being deleted, or cut short by one while being made).
        for path in Self.glob(Self.globEscaped(recoveredDir) + "/*")
        where !files.contains(where: { $0.path == path }) && !dormant.values.contains(where: { $0.entry.path == path }) {
            unlink(path)
        }
    }

    enum CopyFound { case none, plain, compressed }

    /// A checkpointed file whose content is now only in a copy, found among the files under
    /// names that extend its path by its head, and read on from its checkpoint under its own
    /// identity, so its events keep their ids:
    /// - compressed while shipper was stopped (kubelet compresses the generation before at each
    ///   rotation, Docker's `compress` right after a rotation): known by its decompressed head,
    ///   decompressed whole into ``recoveredDir`` and read there; that copy is deleted once
    ///   everything in it is committed (``pruneDormant()``);
    /// - copied by logrotate's `copytruncate` (`app.log.1`, another inode, the same head): read
    ///   where it is.
    /// The bytes before the checkpoint must be the same in the copy.
    @discardableResult
    private func recoverCopy(_ id: FileID, _ e: CheckpointEntry, now: Int64) -> CopyFound {
        for path in Self.extendedNames(e.path) {
            let start = Posix.read(path: path, count: 6) ?? []
            let gzip = path.hasSuffix(".gz") || start.starts(with: [0x1F, 0x8B])
            if !gzip {
                guard let st = Posix.status(path), Posix.isRegular(st), UInt64(truncatingIfNeeded: st.st_ino) != e.inode,
                    byKey[DevIno(st)] == nil, !Self.looksCompressed(path: path, start: start),
                    headHash(path: path) == e.head
                else { continue }
                let meta = metadata(forPath: e.path) ?? metadata(forPath: path)
                guard allowed(meta, key: DevIno(st), path: path), let f = openFile(path, key: DevIno(st)) else { continue }
                guard e.offset <= f.size, checkMatches(f, e) else {
                    Glibc.close(f.fd)
                    continue
                }
                resume(f, id, e, metadata: meta, now: now)
                logger.info("resuming a file truncated while shipper was stopped, from its copy", metadata: ["path": "\(path)", "offset": "\(e.offset)"])
                return .plain
            }
            guard let head = GzipFile.head(path: path, count: Self.headBytes),
                Self.headHash(of: head, final: true) == e.head
            else { continue }
            let meta = metadata(forPath: e.path)
            let copy = recoveredDir + "/" + hex(e.fingerprint)
            do {
                if Posix.makeDirectories(recoveredDir) != 0 { throw GzipFile.Failure(description: "cannot create \(recoveredDir)") }
                if try GzipFile.decompress(path: path, to: copy) >= GzipFile.copyLimit {
                    logger.warning(
                        "a compressed rotated file holds more than 1 GiB; only its first GiB is read",
                        metadata: ["path": "\(path)"])
                }
            } catch {
                logger.error(
                    "cannot decompress a rotated file to read on from its checkpoint; its lines after the checkpoint are not read",
                    metadata: ["path": "\(path)", "error": "\(error)"])
                unlink(copy)
                return .none
            }
            guard let st = Posix.status(copy), allowed(meta, key: DevIno(st), path: path), let f = openFile(copy, key: DevIno(st)) else {
                unlink(copy)
                return .none
            }
            guard e.offset <= f.size, checkMatches(f, e) else {
                Glibc.close(f.fd)
                unlink(copy)
                continue
            }
            resume(f, id, e, metadata: meta, now: now)
            logger.info(
                "resuming a file compressed while shipper was stopped, from a decompressed copy",
                metadata: ["path": "\(path)", "copy": "\(copy)", "offset": "\(e.offset)"])
            return .compressed
        }
        return .none
    }

    /// Reads `f` on from checkpoint `e` (taken out of the dormant ones) under its identity, to
    /// its end, then closes it: a rotated file.
    private func resume(_ f: OpenFile, _ id: FileID, _ e: CheckpointEntry, metadata: ContainerMetadata?, now: Int64) {
        dormant[id] = nil
        f.metadata = metadata
        f.head = e.head
        f.fingerprint = e.fingerprint
        f.start(at: e.offset)
        f.persistedCheck = (e.offset, e.check)
        f.draining = true
        f.drainSince = now
        register(f)
    }

    enum PlaceOfContent {
        /// Its inode with its head is at its path.
        case atItsPath
        /// Another inode, or nothing, is at its path.
        case elsewhere
        /// Its inode with another head is at its path: truncated in place and written again
        /// (`truncatedInPlace`: the file was born before the checkpoint file was written), or
        /// the inode reused by a new file (born after); nil where the file system does not tell
        /// birth times.
        case inodeRewritten(truncatedInPlace: Bool?)
    }

    /// Where the checkpointed content of `e` is, as seen from its path.
    private func placeOfContent(_ e: CheckpointEntry) -> PlaceOfContent {
        guard let st = Posix.status(e.path), UInt64(truncatingIfNeeded: st.st_ino) == e.inode else { return .elsewhere }
        if headHash(path: e.path) == e.head { return .atItsPath }
        guard let writtenAt = checkpointWrittenAt, let born = Posix.birthTime(e.path) else { return .inodeRewritten(truncatedInPlace: nil) }
        return .inodeRewritten(truncatedInPlace: born <= writtenAt)
    }

    /// Generations no checkpoint recorded, read whole: a file created, read in part and rotated
    /// away between two writes of the checkpoint file, then a crash (kubelet names the rotated
    /// file `0.log.<date>-<time>`, so the numbered `.k-1` … `.1` above do not find it). Among
    /// `siblings`, those written to since the checkpoint file was (mtime), not open, not
    /// compressed, and not a checkpointed file; oldest first. Lines read before the crash come
    /// again under the same ids (the identity is the head and inode).
    ///
    /// With `copiesOf`, the inode of a file truncated in place (``PlaceOfContent/inodeRewritten(truncatedInPlace:)``), the
    /// siblings are copies of content no checkpoint recorded: `copytruncate` made a new
    /// generation, shipper read it in part and was killed before the next checkpoint write, then
    /// a second `copytruncate` copied it to `app.log.1` (over the copy of the generation the
    /// checkpoint names). They are read under the identity that content had at the path (its
    /// head and that inode), so lines read before the crash come again under the same ids.
    private func readUnrecorded(
        _ siblings: [(path: String, namedAs: String)], skippingHeads heads: Set<UInt64>, copiesOf inode: UInt64? = nil, now: Int64
    ) {
        guard let writtenAt = checkpointWrittenAt else { return }
        var found: [(mtime: Int64, path: String, namedAs: String)] = []
        for s in siblings {
            guard let st = Posix.status(s.path), Posix.isRegular(st), byKey[DevIno(st)] == nil, Posix.mtime(st) >= writtenAt else { continue }
            // A file that starts as a checkpointed one is a copy of it (logrotate's
            // `copytruncate` leaves `app.log.1`): read whole, its lines would come twice.
            if let head = headHash(path: s.path), heads.contains(head) { continue }
            found.append((Posix.mtime(st), s.path, s.namedAs))
        }
        for s in found.sorted(by: { ($0.mtime, $0.path) < ($1.mtime, $1.path) }) {
            openNewerRotated(s.path, namedAs: s.namedAs, copyOf: inode, now: now)
        }
    }

    /// Names and first bytes of compressed files, which kubelet and logrotate leave beside
    /// rotated logs: never read as lines. The first bytes of gzip, zstd, xz and lz4 (none can
    /// start a line of text; bzip2's `BZh` can, so it is known by its name only).
    static let compressedSuffixes = [".gz", ".zst", ".bz2", ".xz", ".lz4", ".zip"]
    static let compressedMagic: [[UInt8]] = [[0x1F, 0x8B], [0x28, 0xB5, 0x2F, 0xFD], [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00], [0x04, 0x22, 0x4D, 0x18]]

    static func looksCompressed(path: String, start: [UInt8]) -> Bool {
        compressedSuffixes.contains { path.hasSuffix($0) } || compressedMagic.contains { start.starts(with: $0) }
    }

    /// A rotated file newer than a recovered one that was never read: read it whole, with the
    /// metadata of the name it was read under (`namedAs`). Compressed files are left alone. A
    /// copy of content that was at `namedAs` on inode `copyOf` is read under that identity.
    private func openNewerRotated(_ path: String, namedAs: String, copyOf inode: UInt64? = nil, now: Int64) {
        guard let st = Posix.status(path), Posix.isRegular(st) else { return }
        let key = DevIno(st)
        guard byKey[key] == nil else { return }
        let meta = metadata(forPath: namedAs) ?? metadata(forPath: path)
        guard allowed(meta, key: key, path: path), let f = openFile(path, key: key) else { return }
        // A checkpoint of this very file (same inode and head) is resumed by its own entry; one
        // with the inode but another head belongs to a deleted file whose inode was reused.
        let head = headHash(f, size: f.size, final: inode != nil)
        if dormant.values.contains(where: { $0.entry.inode == key.ino && $0.entry.head == head })
            || Self.looksCompressed(path: path, start: Posix.read(f.fd, at: 0, count: 6) ?? [])
            || (inode != nil && head == nil)
        {
            Glibc.close(f.fd)
            return
        }
        f.metadata = meta
        f.start(at: 0)
        f.draining = true
        f.drainSince = now
        if let inode, let head {
            f.head = head
            f.fingerprint = FileHash.mix(head, inode)
            register(f)
            logger.info(
                "reading the copy of a truncated file's content that no checkpoint recorded",
                metadata: ["path": "\(namedAs)", "copy": "\(path)"])
            return
        }
        register(f)
        ensureFingerprint(f)
        logger.info("reading a file rotated while shipper was stopped", metadata: ["path": "\(path)"])
    }

    /// Drops checkpoints of closed files that cannot be found any more (``locate(_:)``), and
    /// deletes the decompressed copies whose lines are all committed.
    private func pruneDormant() {
        for (id, d) in dormant {
            if Posix.dirname(d.entry.path) == recoveredDir, let end = d.endOffset, d.entry.offset >= end {
                unlink(d.entry.path)
                dormant[id] = nil
                dirty = true
                continue
            }
            let exists = Self.locate(d.entry).map { headHash(path: $0.path) == d.entry.head } ?? false
            if !exists {
                dormant[id] = nil
                dirty = true
            }
        }
    }

    private func updateWatches() {
        guard let watcher else { return }
        var dirs = Set(files.map(\.watchDir))
        for pattern in config.paths {
            let dir = Posix.dirname(pattern)
            if dir.contains(where: { $0 == "*" || $0 == "?" || $0 == "[" }) {
                for d in Self.glob(dir) where Posix.status(d).map({ ($0.st_mode & S_IFMT) == S_IFDIR }) ?? false { dirs.insert(d) }
                // The deepest directory without glob characters: new container directories appear there.
                var prefix = dir
                while prefix.contains(where: { $0 == "*" || $0 == "?" || $0 == "[" }) { prefix = Posix.dirname(prefix) }
                if Posix.status(prefix) != nil { dirs.insert(prefix) }
            } else if Posix.status(dir) != nil {
                dirs.insert(dir)
            }
        }
        for (dir, code) in watcher.update(dirs) {
            logger.notice(
                "cannot watch directory with inotify; relying on discovery_interval polling",
                metadata: ["path": "\(dir)", "error": "\(String(cString: strerror(code)))"])
        }
    }
}

/// A checkpoint of a file that is not open, with what late commits need.
struct DormantEntry {
    var entry: CheckpointEntry
    /// Where reading ended when the file was closed, and the check hash there.
    var endOffset: Int64?
    var endCheck: UInt64?
}

/// The state of one open file.
final class OpenFile {
    let fd: Int32
    let key: DevIno
    var path: String
    var watchDir = ""
    /// Size and link count at the last fstat.
    var size: Int64 = 0
    var nlink: UInt64 = 1
    /// The offset of the first byte not passed on yet.
    var lineStart: Int64 = 0
    /// Bytes from `lineStart` up to here were read and hold no newline.
    var scannedEnd: Int64 = 0
    var committed: Int64 = 0
    var head: UInt64?
    var fingerprint: UInt64?
    /// The fingerprint of the content this file had before it was replaced (truncated).
    var deriveFrom: UInt64?
    /// The head of that content: the new identity is derived only when the new head is the same.
    var deriveHead: UInt64?
    /// The checkpoint of that content, written while the new content has no identity yet.
    var predecessor: CheckpointEntry?
    var draining = false
    var drainSince: Int64 = 0
    var metadata: ContainerMetadata?
    /// Hash of the `length` bytes before `offset` (the end of the last chunk).
    var lastCheck: (offset: Int64, length: Int, hash: UInt64)?
    var persistedCheck: (offset: Int64, check: UInt64?)?
    var lastError: Int32 = 0

    init(fd: Int32, key: DevIno, path: String) {
        self.fd = fd
        self.key = key
        self.path = path
    }

    var id: FileID? { fingerprint.map { FileID(device: key.dev, inode: key.ino, fingerprint: $0) } }

    func start(at offset: Int64) {
        lineStart = offset
        scannedEnd = offset
        committed = offset
    }
}

/// A fingerprint as 16 hex digits (as in the checkpoint file).
private func hex(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: max(0, 16 - s.count)) + s
}
