import InputFormats
import ShipperCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a whole file line by line (for `test-pipeline` and one-shot runs), calling `body` with
/// each line (without its newline) and its byte offsets. A last line without a newline is passed too.
public enum LineReader {
    public struct Failure: Error, CustomStringConvertible {
        public var path: String
        public var code: Int32
        public var description: String { "cannot read \(path): \(String(cString: strerror(code)))" }
    }

    public static func forEachLine(
        path: String, chunkSize: Int = 1 << 20,
        _ body: (_ line: UnsafeRawBufferPointer, _ offset: Int64, _ endOffset: Int64) throws -> Void
    ) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(path: path, code: errno) }
        defer { close(fd) }
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        var fileOffset: Int64 = 0  // offset of buffer[0]
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(path: path, code: errno)
            }
            if n == 0 { break }
            buffer.append(contentsOf: chunk[0..<n])
            var consumed = 0
            try buffer.withUnsafeBytes { buf in
                var start = 0
                while let nl = memchrIndex(buf, from: start) {
                    try body(UnsafeRawBufferPointer(rebasing: buf[start..<nl]), fileOffset + Int64(start), fileOffset + Int64(nl + 1))
                    start = nl + 1
                }
                consumed = start
            }
            buffer.removeFirst(consumed)
            fileOffset += Int64(consumed)
        }
        if !buffer.isEmpty {
            try buffer.withUnsafeBytes { try body($0, fileOffset, fileOffset + Int64($0.count)) }
        }
    }

    /// Splits text into lines the same way (for `tests:` input).
    public static func forEachLine(
        bytes: [UInt8], _ body: (_ line: UnsafeRawBufferPointer, _ offset: Int64, _ endOffset: Int64) throws -> Void
    ) rethrows {
        try bytes.withUnsafeBytes { buf in
            var start = 0
            while let nl = memchrIndex(buf, from: start) {
                try body(UnsafeRawBufferPointer(rebasing: buf[start..<nl]), Int64(start), Int64(nl + 1))
                start = nl + 1
            }
            if start < buf.count {
                try body(UnsafeRawBufferPointer(rebasing: buf[start...]), Int64(start), Int64(buf.count))
            }
        }
    }

    @inline(__always)
    static func memchrIndex(_ buf: UnsafeRawBufferPointer, from start: Int) -> Int? {
        guard start < buf.count, let base = buf.baseAddress else { return nil }
        guard let p = memchr(base + start, 0x0A, buf.count - start) else { return nil }
        return UnsafeRawPointer(p) - base
    }
}
