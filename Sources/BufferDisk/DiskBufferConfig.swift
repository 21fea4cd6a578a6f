import ShipperCore

/// Options of the disk buffer between the stages and the outputs.
///
/// ```yaml
/// buffer:
///   path: /var/lib/shipper/buffer   # a directory, created when missing
///   max_size: 256MiB                # appends wait (backpressure) while the buffer holds this much
///   fsync: 500ms                    # always | never | <interval>; `interval` means 500ms
///   segment_size: 16MiB             # size of each segment file
/// ```
public struct DiskBufferConfig: Decodable, Sendable, Equatable {
    /// The buffer directory: segment files, one ledger per output, and `quarantine/`. Created
    /// (with its parents) when missing. Only one shipper may use a directory at a time.
    public var path: String
    /// The most bytes the segment files may hold. When an append would go above it, the append
    /// waits until outputs acknowledge enough records for segments to be deleted; nothing is
    /// dropped. A single batch larger than `max_size` is still written once the buffer is empty.
    public var maxSize: ByteSize = ByteSize(bytes: 256 * 1_048_576)
    /// When appended records are made durable before `append` returns (and input checkpoints
    /// may move past them): `always` (fsync every append), `never` (after write(2) only: survives
    /// a crash of shipper, not of the machine), or an interval such as `500ms` (group commit: one
    /// fsync per interval covers every append made during it; appends wait for it). `interval`
    /// alone means `500ms`.
    public var fsync: DiskBufferFsync = .interval(.milliseconds(500))
    /// Size at which the writer starts a new segment file (between records; a single larger
    /// record gets a segment of its own). Segments are deleted whole once every output
    /// acknowledged them. Used as at most a quarter of `max_size`, so acknowledgements free space
    /// in steps.
    public var segmentSize: ByteSize = ByteSize(bytes: 16 * 1_048_576)
    /// Reads bring in whole frames, about this many bytes at a time (see
    /// `DiskBuffer.PieceRing`). Not a YAML option: tests and the fuzzer make it small, so that
    /// small buffers are read in many pieces.
    public var readPieceBytes: Int = DiskBufferConfig.defaultReadPieceBytes
    /// Small enough that malloc serves pieces from its free lists instead of mapping fresh pages
    /// for each batch.
    public static let defaultReadPieceBytes = 128 << 10
    /// With `fsync: always` or `never` (no periodic fsync to do it), how often the spares past four
    /// are looked at once the readers have caught up (see "Reusing segment files" in
    /// `DiskBuffer.swift`). Not a YAML option: tests make it short.
    public var spareTrimInterval: Duration = .seconds(10)

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case path, fsync
        case maxSize = "max_size"
        case segmentSize = "segment_size"
    }

    public init(
        path: String,
        maxSize: ByteSize = ByteSize(bytes: 256 * 1_048_576),
        fsync: DiskBufferFsync = .interval(.milliseconds(500)),
        segmentSize: ByteSize = ByteSize(bytes: 16 * 1_048_576)
    ) {
        self.path = path
        self.maxSize = maxSize
        self.fsync = fsync
        self.segmentSize = segmentSize
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        path = try c.decode(String.self, forKey: .path)
        if path.isEmpty { throw ConfigValueError("'path' must not be empty") }
        maxSize = try c.decodeIfPresent(ByteSize.self, forKey: .maxSize) ?? maxSize
        if maxSize.bytes < 4096 { throw ConfigValueError("'max_size' must be at least 4KiB, got \(maxSize.bytes) bytes") }
        fsync = try c.decodeIfPresent(DiskBufferFsync.self, forKey: .fsync) ?? fsync
        segmentSize = try c.decodeIfPresent(ByteSize.self, forKey: .segmentSize) ?? segmentSize
        if segmentSize.bytes < 1024 || segmentSize.bytes > 1 << 30 {
            throw ConfigValueError("'segment_size' must be between 1KiB and 1GiB, got \(segmentSize.bytes) bytes")
        }
    }

    /// The segment size used: `segment_size`, at most a quarter of `max_size`, at least 1 KiB,
    /// at most 1 GiB.
    public var effectiveSegmentSize: Int {
        max(1024, min(segmentSize.bytes, maxSize.bytes / 4, 1 << 30))
    }
}

/// When the buffer calls fsync: the `fsync` option.
public enum DiskBufferFsync: Decodable, Sendable, Hashable, CustomStringConvertible {
    /// fdatasync after every append, before it returns.
    case always
    /// Never: `append` returns after write(2).
    case never
    /// One fdatasync per interval covering all appends since the last one; appends wait for it.
    case interval(ConfigDuration)

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) {
            switch s.trimmingWhitespace().lowercased() {
            case "always": self = .always
            case "never": self = .never
            case "interval": self = .interval(.milliseconds(500))
            default:
                guard let d = ConfigDuration(parsing: s) else {
                    throw ConfigValueError("'\(s)' is not an fsync policy; write always, never, interval or a duration such as 500ms")
                }
                self = try Self.checked(d)
            }
            return
        }
        guard let d = try? ConfigDuration(from: decoder) else {
            throw ConfigValueError("'fsync' must be always, never, interval or a duration such as 500ms")
        }
        self = try Self.checked(d)
    }

    private static func checked(_ d: ConfigDuration) throws -> DiskBufferFsync {
        guard d.nanoseconds >= 1_000_000, d.nanoseconds <= 3_600_000_000_000 else {
            throw ConfigValueError("the fsync interval must be between 1ms and 1h, got \(d)")
        }
        return .interval(d)
    }

    public var description: String {
        switch self {
        case .always: "always"
        case .never: "never"
        case let .interval(d): d.description
        }
    }
}
