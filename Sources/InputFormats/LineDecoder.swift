import ShipperCore

/// Where a physical line was read: used for `log.file.path`, `log.offset` and the event identity.
public struct LineOrigin: Sendable, Equatable {
    /// The file path written to `log.file.path` (nil: not written).
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

/// Turns physical lines of a log file into events (`docker`, `cri`, `raw`, `auto`).
/// (Stub: to be implemented.)
public protocol LineDecoder {
    /// Decodes one physical line (without its trailing newline). Appends the events it completes
    /// to `output`; a partial chunk is held until the chunk that completes it arrives.
    mutating func decode(_ line: UnsafeRawBufferPointer, origin: LineOrigin, into output: inout [LogEvent])

    /// Emits what is held back (partial chunks) at the end of input.
    mutating func flush(into output: inout [LogEvent])
}
