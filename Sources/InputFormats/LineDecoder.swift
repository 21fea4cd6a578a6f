import ShipperCore

/// Where a physical line was read: used for `log.file.path`, `log.offset` and the event identity.
public struct LineOrigin: Sendable, Equatable {
    /// The file path written to `log.file.path` (nil: neither `log.file.path` nor `log.offset` is written).
    public var path: String?
    /// Fingerprint of the file (see ``EventOrigin/source``).
    public var source: UInt64
    /// Byte offset of the line's first byte.
    public var offset: Int64
    /// Byte offset just after the line's newline.
    public var endOffset: Int64

    public init(path: String? = nil, source: UInt64 = 0, offset: Int64 = 0, endOffset: Int64 = 0) {
        self.path = path
        self.source = source
        self.offset = offset
        self.endOffset = endOffset
    }
}

/// Turns the physical lines of one log file into events (`docker`, `cri`, `raw`; `auto` picks one
/// per file from its first line, see ``makeDecoder(format:firstLine:options:)``).
///
/// A decoder is a plain value owned by the reader of one file. Every event it emits has, in this
/// order: `@timestamp`, `message`, `stream` (when the format has one), `log.file.path` and
/// `log.offset` (when ``LineOrigin/path`` is set), then format extras (`docker.attrs.*`), `tags` and
/// `shipper.failure.reason`. ``LogEvent/origin`` spans the event's physical lines (offset of the
/// first, end offset of the last) and ``LogEvent/streamKey`` is a hash of the source and the stream,
/// so stages that join lines never mix stdout and stderr of one file.
///
/// Decoders never drop a line and never trap: a line that cannot be decoded is shipped as its raw
/// bytes in `message` with the tag `_decode_failure` and a reason in `shipper.failure.reason`.
public protocol LineDecoder {
    /// Decodes one physical line (without its trailing `\n`). Appends the events it completes to
    /// `output`; a partial chunk is held until the chunk that completes it (same stream) arrives.
    ///
    /// - Parameters:
    ///   - line: the bytes of the line, without the newline.
    ///   - origin: where the line was read.
    ///   - now: the time given to events whose line carries no time (`raw` lines, decode failures,
    ///     docker lines without a usable `time`).
    ///   - output: where completed events are appended.
    mutating func decode(_ line: UnsafeRawBufferPointer, origin: LineOrigin, now: Timestamp, into output: inout [LogEvent])

    /// Emits everything held back (partial chunks, tagged `_partial_incomplete`), oldest first. Call it
    /// at the end of a file's input: the file was removed or rotated away, or shipper shuts down.
    mutating func flush(now: Timestamp, into output: inout [LogEvent])

    /// Byte offset of the first held-back line, nil when nothing is held. A checkpoint must not move
    /// past it, or the held chunks would be lost on restart.
    var pendingOffset: Int64? { get }

    /// Counters since the decoder was made (for metrics and for checking that no line is lost).
    var stats: LineDecoderStats { get }
}

extension LineDecoder {
    /// Decodes one line, using the current wall-clock time for events without a time of their own.
    public mutating func decode(_ line: UnsafeRawBufferPointer, origin: LineOrigin, into output: inout [LogEvent]) {
        decode(line, origin: origin, now: Timestamp.now(), into: &output)
    }

    /// Decodes one line given as bytes.
    public mutating func decode(
        _ line: some Collection<UInt8>, origin: LineOrigin, now: Timestamp, into output: inout [LogEvent]
    ) {
        let bytes = Array(line)
        bytes.withUnsafeBytes { decode($0, origin: origin, now: now, into: &output) }
    }

    /// Emits everything held back, using the current wall-clock time where a time is needed.
    public mutating func flush(into output: inout [LogEvent]) {
        flush(now: Timestamp.now(), into: &output)
    }
}

/// Counters kept by a ``LineDecoder``.
///
/// Every physical line is either in an emitted event or held back:
/// `lines == linesInEvents + linesHeld` at all times.
public struct LineDecoderStats: Sendable, Equatable {
    /// Physical lines given to ``LineDecoder/decode(_:origin:now:into:)``.
    public var lines = 0
    /// Events emitted.
    public var events = 0
    /// Sum over the emitted events of the physical lines each one was made of.
    public var linesInEvents = 0
    /// Physical lines held back in partial chunks right now.
    public var linesHeld = 0
    /// Lines shipped raw with the `_decode_failure` tag.
    public var decodeFailures = 0
    /// Events emitted early because a join of partial chunks reached ``LineDecoderOptions/maxLineBytes``.
    public var truncatedJoins = 0

    public init() {}
}

/// The format of a source's lines: the `format:` option of a file source.
public enum LogFormat: String, Decodable, Sendable, CaseIterable {
    /// Per file, from its first line: `{` → `docker`; `<RFC 3339 time> <stdout|stderr> <P|F> ` → `cri`;
    /// anything else → `raw`.
    case auto
    /// Docker's json-file driver: `{"log":"…\n","stream":"stdout","time":"…"}`; 16 KiB partial
    /// chunks (a `log` without a trailing `\n`) are joined.
    case docker
    /// The container runtime (containerd, CRI-O) format: `<time> <stdout|stderr> <P|F> <message>`;
    /// `P` chunks are joined up to the next `F` of the same stream.
    case cri
    /// Each line is the message; `@timestamp` is the time it was read.
    case raw

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let format = LogFormat(rawValue: text) else {
            let all = LogFormat.allCases.map(\.rawValue).joined(separator: ", ")
            throw ConfigValueError("format '\(text)' is not one of: \(all)")
        }
        self = format
    }

    /// The format of a file whose first line is `line` (never ``auto``).
    public static func detect(firstLine line: UnsafeRawBufferPointer) -> LogFormat {
        if let first = line.first, first == UInt8(ascii: "{") { return .docker }
        if CRIPrefix.parse(line) != nil { return .cri }
        return .raw
    }

    /// The format of a file whose first line is `line` (never ``auto``).
    public static func detect(firstLine line: some Collection<UInt8>) -> LogFormat {
        Array(line).withUnsafeBytes { detect(firstLine: $0) }
    }
}

/// Options shared by the decoders.
public struct LineDecoderOptions: Sendable, Equatable {
    /// The largest `message` built by joining partial chunks (docker 16 KiB chunks, CRI `P` lines),
    /// default 1 MiB. When the next chunk would make the join larger, what is held is emitted as
    /// one event and the join starts again with that chunk; every event cut this way is tagged
    /// `_partial_truncated`. Nothing is dropped. A single physical line is never cut.
    public var maxLineBytes: Int
    /// Arena bytes each event gets beyond what the decoder writes, so that metadata and stages
    /// add text without reallocating it.
    public var extraArenaBytes: Int
    /// Field slots each event gets beyond the decoder's own, for the same reason.
    public var extraFields: Int
    /// Where the decoder takes the events it fills (their storage reused; see ``EventPool``);
    /// nil: every event is allocated.
    public var pool: EventPool?

    public init(maxLineBytes: Int = 1 << 20, extraArenaBytes: Int = 0, extraFields: Int = 0, pool: EventPool? = nil) {
        self.maxLineBytes = max(1, maxLineBytes)
        self.extraArenaBytes = max(0, min(extraArenaBytes, 1 << 20))
        self.extraFields = max(0, min(extraFields, 1024))
        self.pool = pool
    }

    public static let defaults = LineDecoderOptions()
}

/// Tags added by the decoders (besides ``EventTags/decodeFailure``).
public enum DecoderTags {
    /// The event is one piece of a longer joined line, cut at ``LineDecoderOptions/maxLineBytes``.
    public static let partialTruncated = "_partial_truncated"
    /// The event is a partial line emitted by ``LineDecoder/flush(now:into:)`` before its final chunk came.
    public static let partialIncomplete = "_partial_incomplete"
}

/// Makes the decoder for one file.
///
/// - Parameters:
///   - format: the source's `format:`; ``LogFormat/auto`` is resolved with ``LogFormat/detect(firstLine:)``.
///   - firstLine: the file's first line (without newline); only read when `format` is `auto`.
///   - options: limits shared by the decoders.
public func makeDecoder(
    format: LogFormat, firstLine: UnsafeRawBufferPointer, options: LineDecoderOptions = .defaults
) -> any LineDecoder {
    let resolved = format == .auto ? LogFormat.detect(firstLine: firstLine) : format
    switch resolved {
    case .docker: return DockerJSONDecoder(options: options)
    case .cri: return CRIDecoder(options: options)
    case .raw, .auto: return RawDecoder(options: options)
    }
}

/// Makes the decoder for one file whose first line is given as bytes.
public func makeDecoder(
    format: LogFormat, firstLine: some Collection<UInt8>, options: LineDecoderOptions = .defaults
) -> any LineDecoder {
    Array(firstLine).withUnsafeBytes { makeDecoder(format: format, firstLine: $0, options: options) }
}
