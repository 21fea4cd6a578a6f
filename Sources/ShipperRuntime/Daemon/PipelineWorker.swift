import BufferDisk
import InputFormats
import InputTail
import Logging
import Metrics
import ShipperConfig
import ShipperCore
import ShipperTelemetry

/// Reads the sources, runs the pipelines and appends the results to the buffer: the input and
/// stage half of `shipper run`, on one task (one core).
///
/// A file's checkpoint is committed only after the events made from its lines are durable in the
/// buffer, and never past the first line of an event still held (a Docker partial chunk in the
/// decoder, a multiline event in a stage): after a crash those lines are read again.
final class PipelineWorker {
    struct Source {
        let name: String
        let tailer: Tailer
        let hostName: String
        let docker: Bool
        /// `host.name`, prepared for adding to each event in one copy.
        var hostBlock: FieldBlock { FieldBlock([(PipelineWorker.hostNamePath, hostName)]) }
        let metrics: SourceMetrics
    }

    /// A source's metrics (`component_kind="source"`): lines and bytes read, events made from
    /// them, files open.
    struct SourceMetrics {
        /// ``MetricNames/receivedEvents``: lines read.
        let receivedEvents: Counter
        /// ``MetricNames/receivedBytes``: bytes of the lines read (newlines included).
        let receivedBytes: Counter
        /// ``MetricNames/sentEvents``: events the decoder made from them.
        let sentEvents: Counter
        /// ``MetricNames/filesTailed``.
        let filesTailed: Gauge
        /// Makes the ``MetricNames/fileReadLagBytes`` gauge of each file.
        let component: ComponentMetrics

        init(name: String, type: String, factory: any MetricsFactory = MetricsSystem.factory) {
            let m = ComponentMetrics(id: name, kind: .source, type: type, factory: factory)
            receivedEvents = m.receivedEvents
            receivedBytes = m.receivedBytes
            sentEvents = m.sentEvents
            filesTailed = m.filesTailed()
            component = m
        }
    }

    struct FileState {
        var decoder: any LineDecoder
        var fingerprint: UInt64
        var lastEnd: Int64
        var committed: Int64
        /// The container's metadata block and the host block as one (one copy per event, one run
        /// for the encoder), with the metadata block it was made from.
        var blocks: (metadata: FieldBlock.Storage, combined: FieldBlock)?
    }

    private(set) var sources: [Source]
    /// Per source, its `host.name` field ready to add.
    private let hostBlocks: [FieldBlock]
    private(set) var router: MeteredRouter
    private var builder: RecordBuilder
    /// Frames of the next buffer append, reused batch after batch.
    private var writer = RecordCodec.BatchWriter()
    let buffer: DiskBuffer
    private let logger: Logger
    private var files: [FileID: (source: Int, state: FileState)] = [:]
    /// Files read to their end and released by the tailer: forgotten once committed.
    private var finished: Set<FileID> = []
    /// Appends whose checkpoints wait for their fsync, oldest first.
    private var pendingCommits: [(ticket: BufferAppendTicket?, offsets: [(FileID, Int64)])] = []
    /// At most this many appends wait for an fsync before the worker waits too.
    private let maxPendingCommits = 64
    /// Sources (fingerprints) with events held in stages, as of the last safeOffsets().
    private var heldSources: Set<UInt64> = []
    /// An append failed (e.g. the buffer was full at shutdown): the events of the lines read
    /// since the last append that went in are not in the buffer, so no checkpoint may move past
    /// those lines any more (they are read again at the next start).
    private(set) var appendFailed = false
    private let maxBytesPerStep: Int
    /// Per source, the ``MetricNames/fileReadLagBytes`` gauge of each path it has open.
    private var lagGauges: [[String: Gauge]]

    /// Bytes of lines read per step (all sources together). Below the 256 KiB from which malloc
    /// maps blocks (CMalloc): a step's read buffer then comes from the heap's free lists; at
    /// 256 KiB every step mapped fresh pages and faulted them in (about 1 % of the CPU end to end).
    static let defaultMaxBytesPerStep = 224 << 10
    private let decoderOptions: [LineDecoderOptions]
    /// The storage of events appended to the buffer, reused by the decoders for new events.
    private let eventPool = EventPool()
    private var lastFlush = Timestamp.now()
    private var lastCheckpointWrite = Timestamp.now()
    private let checkpointInterval: Int64
    /// Counters for the summary and metrics.
    private(set) var linesRead = 0
    private(set) var eventsOut = 0

    static let hostNamePath = FieldPath.intern("host.name")

    init(
        sources: [Source], decoderOptions: [LineDecoderOptions], router: Router, attributeFields: [FieldPath], buffer: DiskBuffer,
        logger: Logger, checkpointInterval: Duration = .seconds(1), maxBytesPerStep: Int = PipelineWorker.defaultMaxBytesPerStep
    ) {
        self.checkpointInterval = checkpointInterval.components.seconds * 1_000_000_000 + checkpointInterval.components.attoseconds / 1_000_000_000
        self.sources = sources
        self.hostBlocks = sources.map(\.hostBlock)
        self.decoderOptions = decoderOptions
        self.router = MeteredRouter(router)
        self.builder = RecordBuilder(attributeFields: attributeFields)
        self.buffer = buffer
        self.logger = logger
        self.maxBytesPerStep = maxBytesPerStep
        self.lagGauges = sources.map { _ in [:] }
    }

    /// Sets the read lag of each file the source has open; the series of a file no longer open
    /// goes away.
    private func recordReadLag(of index: Int) {
        let source = sources[index]
        let lag = source.tailer.readLag
        for (path, bytes) in lag {
            if let gauge = lagGauges[index][path] {
                gauge.record(bytes)
            } else {
                let gauge = source.metrics.component.fileReadLagBytes(path: path)
                gauge.record(bytes)
                lagGauges[index][path] = gauge
            }
        }
        // Every open path has its gauge now: any more gauges are of files no longer open.
        if lagGauges[index].count > lag.count {
            for (path, gauge) in lagGauges[index] where lag[path] == nil {
                gauge.destroy()
                lagGauges[index][path] = nil
            }
        }
    }

    /// Replaces the pipelines (SIGHUP). Events held by the old stages are flushed through them first.
    func replaceRouter(_ new: Router) async throws {
        var held = router.flush(now: nil)
        router = MeteredRouter(new)
        if !held.isEmpty {
            let ticket = try await appendWithoutWaiting(&held)
            pendingCommits.append((ticket, safeOffsets()))
        }
    }

    /// One round: read what is new, process it, make it durable, commit checkpoints.
    /// Returns false when no source had anything new.
    func step() async throws -> Bool {
        var batch: [ShipperCore.LogEvent] = []
        var touched = false
        for (index, source) in sources.enumerated() {
            let chunks = try source.tailer.poll(maxBytes: maxBytesPerStep / max(1, sources.count))
            for chunk in chunks where !chunk.lines.isEmpty || chunk.isLast {
                touched = true
                decode(chunk, sourceIndex: index, into: &batch)
            }
            source.metrics.filesTailed.record(source.tailer.openFileCount)
            recordReadLag(of: index)
        }
        let now = Timestamp.now()
        var out: [ShipperCore.LogEvent] = []
        if !batch.isEmpty { out = router.process(consume batch) }
        if now.nanoseconds - lastFlush.nanoseconds >= 200_000_000 {
            out.append(contentsOf: router.flush(now: now))
            lastFlush = now
        }
        router.recycleSpent(into: eventPool)
        var ticket: BufferAppendTicket?
        if !out.isEmpty { ticket = try await appendWithoutWaiting(&out) }
        // Checkpoints wait for the fsync that makes these events durable; meanwhile the next
        // batches are read and processed (group commit), so one fsync covers many batches.
        pendingCommits.append((ticket, safeOffsets()))
        try await commitDurable(wait: false)
        if now.nanoseconds - lastCheckpointWrite.nanoseconds >= checkpointInterval {
            try persistCheckpoints()
            lastCheckpointWrite = now
        }
        return touched
    }

    /// How long to wait for data when a step found nothing: 200 ms while stages hold events (a
    /// multiline event whose timeout must be watched) or checkpoints wait for an fsync; else 1 s,
    /// as new data, a discovery scan or an inotify event ends the wait sooner.
    var idleWait: Duration {
        heldSources.isEmpty && pendingCommits.isEmpty ? .seconds(1) : .milliseconds(200)
    }

    /// Waits until a source may have new data (or the timeout passes): on every source's tailer
    /// at once.
    func waitForData(timeout: Duration) async {
        await Tailer.waitForData(sources.map(\.tailer), timeout: timeout)
    }

    /// At shutdown: emit what stages hold (multiline), make it durable, commit and write checkpoints.
    /// Decoder partial chunks are not flushed: they are not lines yet, and are read again next start.
    ///
    /// With a full buffer (``DiskBuffer/stopWaitingForRoom()`` was called, the outputs cannot
    /// deliver), the held events are not flushed, and after a failed append nothing read since
    /// the last append that went in is committed: those lines are read again at the next start.
    func drain() async throws {
        if !appendFailed {
            let beforeFlush = safeOffsets()
            var held = router.flush(now: nil)
            if held.isEmpty {
                pendingCommits.append((nil, beforeFlush))
            } else {
                do {
                    let ticket = try await appendWithoutWaiting(&held)
                    pendingCommits.append((ticket, safeOffsets()))
                } catch BufferError.full {
                    pendingCommits.append((nil, beforeFlush))
                }
            }
        }
        try await commitDurable(wait: true)
        try persistCheckpoints()
    }

    /// Commits the checkpoints of appends that are durable now (all of them, waiting, when `wait`).
    private func commitDurable(wait: Bool) async throws {
        while let first = pendingCommits.first {
            if let ticket = first.ticket, !buffer.isDurable(ticket) {
                guard wait || pendingCommits.count > maxPendingCommits else { return }
                try await buffer.waitUntilDurable(ticket)
            }
            pendingCommits.removeFirst()
            for (id, offset) in first.offsets {
                guard let entry = files[id] else { continue }
                if offset > entry.state.committed {
                    sources[entry.source].tailer.commit(file: id, offset: offset)
                    files[id]?.state.committed = offset
                }
            }
            forgetFinished()
        }
    }

    func persistCheckpoints() throws {
        for s in sources { try s.tailer.persistCheckpoints() }
    }

    private func decode(_ chunk: TailChunk, sourceIndex: Int, into batch: inout [ShipperCore.LogEvent]) {
        let source = sources[sourceIndex]
        var entry = files[chunk.file.id]
        if entry == nil {
            let firstLine = chunk.lines.first.map { Array(chunk.bytes[$0.range]) } ?? []
            // Room in each event for what is added after decoding (metadata, host, parsed fields).
            var options = decoderOptions[sourceIndex]
            let meta = chunk.file.metadata?.fieldBlock
            options.extraArenaBytes = (meta?.bytes.count ?? 0) + hostBlocks[sourceIndex].bytes.count + 64
            options.extraFields = (meta?.fields.count ?? 0) + 1 + 24
            options.pool = eventPool
            let decoder = makeDecoder(format: chunk.file.format, firstLine: firstLine, options: options)
            let start = chunk.lines.first?.offset ?? 0
            entry = (sourceIndex, FileState(decoder: decoder, fingerprint: chunk.file.fingerprint, lastEnd: start, committed: start))
        }
        var state = entry!.state
        let first = batch.count
        let now = Timestamp.now()
        // Container metadata and the host are added to each event as soon as it is decoded, while
        // it is in the cache (a pass over the chunk's events afterwards missed it: 1.5 % of the CPU).
        let meta = chunk.file.metadata
        let host = hostBlocks[sourceIndex]
        // What each event gets: the container's metadata and the host in one block, or without
        // metadata (a Docker source whose container's config is missing) the tag and the host.
        var block = host
        if let meta {
            if let made = state.blocks, made.metadata === meta.fieldBlock.storage {
                block = made.combined
            } else {
                block = FieldBlock(meta.fieldBlock, host)
                state.blocks = (meta.fieldBlock.storage, block)
            }
        }
        let tagsMissingMetadata = source.docker && meta == nil
        var finishedEvents = first
        func addBlocks() {
            while finishedEvents < batch.count {
                if tagsMissingMetadata { batch[finishedEvents].addContainerMetadata(nil) }
                batch[finishedEvents].add(block)
                finishedEvents += 1
            }
        }
        chunk.forEachLine { bytes, line in
            state.decoder.decode(bytes, origin: chunk.origin(of: line), now: now, into: &batch)
            state.lastEnd = line.endOffset
            addBlocks()
        }
        if chunk.isLast {
            // The file is gone or rotated away and read to its end: nothing will complete a held chunk.
            state.decoder.flush(now: now, into: &batch)
            finished.insert(chunk.file.id)
            addBlocks()
        }
        linesRead += chunk.lines.count
        if let firstLine = chunk.lines.first, let lastLine = chunk.lines.last {
            source.metrics.receivedEvents.increment(by: chunk.lines.count)
            source.metrics.receivedBytes.increment(by: Int(max(0, lastLine.endOffset - firstLine.offset)))
        }
        if first < batch.count { source.metrics.sentEvents.increment(by: batch.count - first) }
        files[chunk.file.id] = (sourceIndex, state)
    }

    private func appendWithoutWaiting(_ events: inout [ShipperCore.LogEvent]) async throws -> BufferAppendTicket {
        writer.reset()
        eventsOut += events.count
        // Each event is encoded and emptied for reuse in one pass (a second pass missed the cache).
        try eventPool.recycle(&events) { try builder.append($0, to: &writer) }
        let ticket: BufferAppendTicket
        do {
            ticket = try await buffer.appendWithoutWaitingForSync(&writer)
        } catch {
            appendFailed = true
            throw error
        }
        writer.reset()  // the buffer keeps no reference: the memory is reused for the next batch
        return ticket
    }

    /// Per file, the offset before which every line's events have been appended: never past a
    /// decoder's held chunk or a stage's held event.
    private func safeOffsets() -> [(FileID, Int64)] {
        var held: [UInt64: Int64] = [:]
        router.forEachHeldOrigin { origin in
            if origin.offset >= 0 { held[origin.source] = min(held[origin.source] ?? .max, origin.offset) }
        }
        heldSources = Set(held.keys)
        var out: [(FileID, Int64)] = []
        for (id, entry) in files {
            var safe = entry.state.lastEnd
            if let pending = entry.state.decoder.pendingOffset { safe = min(safe, pending) }
            if let h = held[entry.state.fingerprint] { safe = min(safe, h) }
            if safe > entry.state.committed { out.append((id, safe)) }
        }
        return out
    }

    /// Forgets files the tailer released once nothing of them is held or waiting for an fsync.
    private func forgetFinished() {
        guard pendingCommits.isEmpty else { return }
        for id in finished {
            guard let entry = files[id], !heldSources.contains(entry.state.fingerprint) else { continue }
            files[id] = nil
            finished.remove(id)
        }
    }
}

extension Router {
    /// Calls `body` with the origin of every event some stage holds back.
    public func forEachHeldOrigin(_ body: (EventOrigin) -> Void) {
        for p in pipelines { p.forEachHeldOrigin(body) }
    }
}

extension Pipeline {
    /// Calls `body` with the origin of every event one of the stages holds back.
    public func forEachHeldOrigin(_ body: (EventOrigin) -> Void) {
        for s in stages { s.forEachHeldOrigin(body) }
    }
}
