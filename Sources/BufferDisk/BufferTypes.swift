#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One event as stored in the disk buffer: the encoded document plus what outputs need without
/// parsing it again.
public struct BufferRecord: Sendable, Equatable {
    /// `EventOrigin.source`: fingerprint of the file the event came from (0: none).
    public var source: UInt64
    /// `EventOrigin.offset`: byte offset of the event's first line in that file (-1: none).
    public var offset: Int64
    /// `@timestamp` in nanoseconds since the epoch (index names, buffer age).
    public var timestamp: Int64
    /// Field values outputs route by (index templates), in the order the output asked for them.
    public var attributes: [BufferAttribute]
    /// The event as compact JSON, without a trailing newline. Records read together share the
    /// bytes they were read into: this is a slice of them.
    public var document: ArraySlice<UInt8>

    public init(source: UInt64 = 0, offset: Int64 = -1, timestamp: Int64 = 0, attributes: [BufferAttribute] = [], document: ArraySlice<UInt8>) {
        self.source = source
        self.offset = offset
        self.timestamp = timestamp
        self.attributes = attributes
        self.document = document
    }

    public init(source: UInt64 = 0, offset: Int64 = -1, timestamp: Int64 = 0, attributes: [BufferAttribute] = [], document: [UInt8]) {
        self.init(source: source, offset: offset, timestamp: timestamp, attributes: attributes, document: document[...])
    }
}

/// A named value stored with a ``BufferRecord``.
public struct BufferAttribute: Sendable, Equatable {
    /// The field path (`service.name`), as the output named it.
    public var name: String
    /// The value's bytes (a string's UTF-8, a number's JSON text).
    public var value: [UInt8]

    public init(name: String, value: [UInt8]) {
        self.name = name
        self.value = value
    }
}

/// A place in the buffer: just after a record (or the start of a segment when `offset` is 0).
///
/// Positions only compare meaningfully when they come from the same buffer directory.
public struct BufferPosition: Sendable, Comparable, Hashable, CustomStringConvertible {
    /// Id of the segment file (`segment-<id>.dat`).
    public var segment: UInt64
    /// Byte offset in that segment file.
    public var offset: Int64

    public init(segment: UInt64, offset: Int64) {
        self.segment = segment
        self.offset = offset
    }

    public static func < (a: BufferPosition, b: BufferPosition) -> Bool {
        a.segment != b.segment ? a.segment < b.segment : a.offset < b.offset
    }

    public var description: String { "\(segment):\(offset)" }
}

/// Records handed to one reader by ``DiskBuffer/read(reader:maxRecords:maxBytes:)``.
public struct BufferBatch: Sendable {
    /// The records, oldest first.
    public var records: [BufferRecord]
    /// `positions[i]` is the position just after `records[i]`: acknowledging it acknowledges
    /// `records[0...i]` (an output that splits a batch acknowledges the prefix that is done).
    public var positions: [BufferPosition]
    /// The position after the last record of the batch: `acknowledge(reader:through: end)`
    /// acknowledges the whole batch (including records skipped because they were unreadable).
    public var end: BufferPosition

    public init(records: [BufferRecord], positions: [BufferPosition], end: BufferPosition) {
        self.records = records
        self.positions = positions
        self.end = end
    }
}

/// How far one reader is behind the writer.
public struct BufferReaderLag: Sendable, Equatable {
    /// The reader (output) name.
    public var name: String
    /// Records appended but not yet acknowledged by this reader.
    public var records: Int64
    /// Bytes of those records in the segment files (framing included).
    public var bytes: Int64
    /// Records handed out by `read` but not yet acknowledged.
    public var inFlight: Int64
}

/// A snapshot of the buffer for metrics and `shipper buffer inspect`.
public struct BufferStats: Sendable, Equatable {
    /// Bytes in segment files on disk (what `max_size` limits, with ``spareBytes``).
    public var bytes: Int64
    /// Bytes in acknowledged segment files kept to be written over as new segments; deleted
    /// first when an append needs their room.
    public var spareBytes: Int64
    /// Records in segment files on disk (some may be acknowledged already: a segment is deleted
    /// once every reader acknowledged all of it).
    public var records: Int64
    /// Segment files on disk.
    public var segments: Int
    /// `@timestamp` (ns since the epoch) of the oldest record on disk, nil when empty.
    public var oldestTimestamp: Int64?
    /// Per reader, in the order the readers were configured.
    public var readers: [BufferReaderLag]
    /// Bytes written but not yet covered by an fsync (always 0 with `fsync: never`, where a
    /// write counts as done).
    public var unsyncedBytes: Int64
    /// fsync/fdatasync calls on segment files since the buffer was opened.
    public var syncs: Int
    /// Appends currently suspended because the buffer is at `max_size`.
    public var appendsWaitingForSpace: Int
    /// Appends whose records are written and that wait for the fsync covering them.
    public var appendsWaitingForSync: Int
    /// Readers suspended in `read` because they have read everything.
    public var readersWaiting: Int
    /// Records skipped by readers because they failed their checksum after the buffer was opened.
    public var corruptRecordsSkipped: Int
    /// An append is waiting because the buffer's volume is full (a write failed with ENOSPC or
    /// EDQUOT before `max_size` was reached).
    public var waitingForVolumeSpace: Bool
}

/// What opening the buffer found and repaired. Any non-zero repair is also logged.
public struct BufferRecoveryReport: Sendable, Equatable {
    /// Segment files found (before repairs).
    public var segments: Int = 0
    /// Valid records found.
    public var records: Int64 = 0
    /// Bytes of valid records found.
    public var bytes: Int64 = 0
    /// Torn last records cut off the end of the last segment (a write interrupted by a crash;
    /// the lines they came from were never checkpointed, so they are read again).
    public var tornTails: Int = 0
    /// Bytes cut off by those repairs (also counts all-zero tails left by a crash).
    public var tornBytes: Int64 = 0
    /// Corrupt regions moved to `quarantine/`, one file each (paths relative to the buffer dir).
    public var quarantined: [String] = []
    /// Bytes moved to `quarantine/`.
    public var quarantinedBytes: Int64 = 0
    /// Records that could not be read and are not delivered: one per damaged region moved to
    /// `quarantine/` (valid records after a damaged one are kept). A segment cut short lost the
    /// records that followed the cut too; they left no trace to count.
    public var damagedRecords: Int = 0
    /// Configured readers whose ledger was missing (with data in the buffer) or unreadable: they
    /// start at the oldest retained record.
    public var readersReset: [String] = []
    /// Ledgers of readers that are no longer configured, removed (their position is forgotten).
    public var readersDropped: [String] = []
    /// Segment files deleted because every reader had acknowledged them, or empty.
    public var segmentsDeleted: Int = 0

    public init() {}
}

/// Errors of the disk buffer.
public enum BufferError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A system call failed.
    case io(operation: String, path: String, errno: Int32)
    /// `append` after `close()`, or an append waiting for space when `close()` was called.
    case closed
    /// An append that would have to wait for room after ``DiskBuffer/stopWaitingForRoom()``.
    case full
    /// A reader name that was not passed to `init`.
    case unknownReader(String)
    /// `acknowledge` with a position that is not a record boundary of this buffer.
    case invalidPosition(BufferPosition)
    /// A record larger than the format allows (``RecordCodec/maxPayload``).
    case recordTooLarge(Int)
    /// Bytes that are not a valid record or ledger.
    case malformed(String)

    /// A write failed because the volume is full (ENOSPC) or the quota is used up (EDQUOT).
    public var isNoSpace: Bool {
        if case let .io(_, _, code) = self { return code == ENOSPC || code == EDQUOT }
        return false
    }

    public var description: String {
        switch self {
        case let .io(op, path, code): "cannot \(op) \(path): \(describeErrno(code))"
        case .closed: "the buffer is closed"
        case .full: "the buffer is full and appends no longer wait for room (shutting down)"
        case let .unknownReader(r): "'\(r)' is not a reader of this buffer"
        case let .invalidPosition(p): "\(p) is not a record boundary in the buffer"
        case let .recordTooLarge(n): "a record of \(n) bytes is larger than the buffer allows (\(RecordCodec.maxPayload))"
        case let .malformed(what): "malformed buffer data: \(what)"
        }
    }
}
