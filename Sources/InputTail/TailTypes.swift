import InputFormats
import ShipperCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The identity of one tailed file: the device and inode it lives on, plus its ``fingerprint``
/// (derived from its first bytes). A reused inode with other content has another fingerprint, so
/// it is another file; a truncated file that is written again (copytruncate) is another file too.
public struct FileID: Hashable, Sendable, CustomStringConvertible {
    /// `st_dev` of the file.
    public var device: UInt64
    /// `st_ino` of the file.
    public var inode: UInt64
    /// The stable source identity written to ``EventOrigin/source`` (see ``TailedFile/fingerprint``).
    public var fingerprint: UInt64

    public init(device: UInt64, inode: UInt64, fingerprint: UInt64) {
        self.device = device
        self.inode = inode
        self.fingerprint = fingerprint
    }

    public var description: String { "\(device):\(inode):\(Hex.string(fingerprint))" }
}

/// A file being tailed, as carried by every ``TailChunk``.
public struct TailedFile: Sendable {
    /// Its identity: pass it to ``Tailer/commit(file:offset:)``.
    public var id: FileID
    /// The path the file was last seen at (a rotated file keeps the path it had under the glob, its
    /// new name when one was found).
    public var path: String
    /// The source identity for ``EventOrigin/source`` and ``LineOrigin/source``: stable across
    /// restarts and renames (a hash of the file's first line, or first 1024 bytes when the first
    /// line is longer, mixed with its inode).
    public var fingerprint: UInt64 { id.fingerprint }
    /// Container metadata (docker: from `config.v2.json`, refreshed when it changes; cri: from the
    /// file name); nil for `file` sources and when it cannot be read.
    public var metadata: ContainerMetadata?
    /// The source's `format:` (``LogFormat/auto`` is left to ``makeDecoder(format:firstLine:options:)``).
    public var format: LogFormat

    public init(id: FileID, path: String, metadata: ContainerMetadata?, format: LogFormat) {
        self.id = id
        self.path = path
        self.metadata = metadata
        self.format = format
    }
}

/// One physical line inside a ``TailChunk``'s bytes.
public struct TailLine: Sendable, Equatable {
    /// The line's bytes in ``TailChunk/bytes``, without the newline.
    public var range: Range<Int>
    /// File offset of the line's first byte.
    public var offset: Int64
    /// File offset just after the line (after its newline): lines before it are done once this line is.
    public var endOffset: Int64

    public init(range: Range<Int>, offset: Int64, endOffset: Int64) {
        self.range = range
        self.offset = offset
        self.endOffset = endOffset
    }

    /// False for a line without a newline: a piece of a line longer than `max_line_bytes`, or the
    /// unterminated last line of a file that was removed or rotated away.
    public var isTerminated: Bool { endOffset > offset + Int64(range.count) }
}

/// Complete lines read from one file in one ``Tailer/poll(maxBytes:)``.
public struct TailChunk: Sendable {
    /// The file the lines come from.
    public var file: TailedFile
    /// The bytes the lines point into (whole lines with their newlines, back to back).
    public var bytes: [UInt8]
    /// The lines, in file order; ``TailLine/range`` points into ``bytes``.
    public var lines: [TailLine]
    /// The file is finished: it was removed or rotated away and read to its end, or it was
    /// truncated (its new content comes under a new ``FileID``). No more chunks come for this
    /// ``FileID``: flush its decoder (``LineDecoder/flush(now:into:)``) and forget it. Such a chunk
    /// may have no lines.
    public var isLast: Bool

    public init(file: TailedFile, bytes: [UInt8], lines: [TailLine], isLast: Bool = false) {
        self.file = file
        self.bytes = bytes
        self.lines = lines
        self.isLast = isLast
    }

    /// Calls `body` with each line's bytes (without the newline) and the line, in file order.
    @inlinable
    public func forEachLine(_ body: (UnsafeRawBufferPointer, TailLine) throws -> Void) rethrows {
        try bytes.withUnsafeBytes { buf in
            for line in lines {
                try body(UnsafeRawBufferPointer(rebasing: buf[line.range]), line)
            }
        }
    }

    /// Where `line` was read, for the decoders.
    @inlinable
    public func origin(of line: TailLine) -> LineOrigin {
        LineOrigin(path: file.path, source: file.fingerprint, offset: line.offset, endOffset: line.endOffset)
    }

    /// The number of line bytes (without newlines).
    public var lineBytes: Int { lines.reduce(0) { $0 + $1.range.count } }
}

/// The clocks a ``Tailer`` reads; tests inject their own to drive discovery and waits.
public struct TailClock: Sendable {
    /// Nanoseconds on a monotonic clock: discovery intervals, `rotate_wait`, waits.
    public var monotonic: @Sendable () -> Int64
    /// Nanoseconds since the epoch: compared with file modification times (`ignore_older`).
    public var wall: @Sendable () -> Int64

    public init(monotonic: @escaping @Sendable () -> Int64, wall: @escaping @Sendable () -> Int64) {
        self.monotonic = monotonic
        self.wall = wall
    }

    /// The system's clocks.
    public static let system = TailClock(
        monotonic: {
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            return Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec)
        },
        wall: {
            var ts = timespec()
            clock_gettime(CLOCK_REALTIME, &ts)
            return Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec)
        })
}

/// An I/O failure of the tailer with the path and the system's reason.
public struct TailError: Error, CustomStringConvertible {
    /// The file or directory.
    public var path: String
    /// What was attempted (`create`, `write`, `fsync` …).
    public var operation: String
    /// The errno.
    public var code: Int32

    public init(path: String, operation: String, code: Int32) {
        self.path = path
        self.operation = operation
        self.code = code
    }

    public var description: String {
        "cannot \(operation) \(path): \(String(cString: strerror(code)))"
    }
}

enum Hex {
    static func string(_ v: UInt64) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8](repeating: 0, count: 16)
        for i in 0..<16 { out[i] = digits[Int((v >> UInt64(60 - 4 * i)) & 0xF)] }
        return String(decoding: out, as: UTF8.self)
    }

    static func parse(_ s: String) -> UInt64? {
        guard s.utf8.count == 16 else { return nil }
        return UInt64(s, radix: 16)
    }
}
