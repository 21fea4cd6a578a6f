import CZlib

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Reading gzip files as the rotated logs kubelet and Docker (`compress`) leave: streamed from
/// file to file, 64 KiB at a time, so memory stays small whatever their size. Members after the
/// first are read too (`cat a.gz b.gz` is a gzip file).
enum GzipFile {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The first `count` bytes of the decompressed content (fewer when it is shorter); nil when
    /// the file cannot be read or does not start as gzip.
    static func head(path: String, count: Int) -> [UInt8]? {
        var out: [UInt8] = []
        do {
            try inflate(path: path) { chunk in
                out.append(contentsOf: chunk.prefix(count - out.count))
                return out.count < count
            }
        } catch {
            return out.isEmpty ? nil : out
        }
        return out
    }

    /// The most ``decompress(path:to:limit:)`` writes by default.
    static let copyLimit: Int64 = 1 << 30

    /// Decompresses `path` into a new file at `destination` (replaced if it exists), at most
    /// `limit` bytes (1 GiB: rotated logs are far smaller, and the copy shares the data volume
    /// with the buffer); returns the decompressed size. A truncated or damaged end keeps what
    /// came before it.
    @discardableResult
    static func decompress(path: String, to destination: String, limit: Int64 = copyLimit) throws -> Int64 {
        let out = open(destination, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard out >= 0 else { throw Failure(description: "cannot create \(destination): \(String(cString: strerror(errno)))") }
        defer { close(out) }
        var written: Int64 = 0
        var writeError: Int32 = 0
        let body: (UnsafeRawBufferPointer) -> Bool = { chunk in
            let n = Int(min(Int64(chunk.count), limit - written))
            writeError = Posix.writeAll(out, Array(chunk.prefix(n)))
            if writeError != 0 { return false }
            written += Int64(n)
            return written < limit
        }
        do {
            try inflate(path: path, body)
        } catch {
            if written == 0 { throw error }
        }
        if writeError != 0 { throw Failure(description: "cannot write \(destination): \(String(cString: strerror(writeError)))") }
        return written
    }

    /// Calls `body` with each piece of decompressed content until it returns false or the
    /// content ends. Throws when the file cannot be read or is not (or stops being) gzip.
    static func inflate(path: String, _ body: (UnsafeRawBufferPointer) -> Bool) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(description: "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var input = [UInt8](repeating: 0, count: 64 << 10)
        var output = [UInt8](repeating: 0, count: 64 << 10)
        var stream = z_stream()
        guard shipper_inflateInit2(&stream, 15 + 16) == Z_OK else { throw Failure(description: "zlib: cannot start inflating") }
        defer { inflateEnd(&stream) }
        var pending = 0  // input bytes not consumed yet, at the start of `input`
        var atEOF = false
        while true {
            if pending == 0 && !atEOF {
                let n = input.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw Failure(description: "cannot read \(path): \(String(cString: strerror(errno)))")
                }
                if n == 0 { atEOF = true } else { pending = n }
            }
            if pending == 0 && atEOF { throw Failure(description: "\(path): gzip data ends early") }
            var status: Int32 = Z_OK
            var consumed = 0
            var produced = 0
            input.withUnsafeMutableBytes { inBuf in
                output.withUnsafeMutableBytes { outBuf in
                    stream.next_in = inBuf.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    stream.avail_in = uInt(pending)
                    stream.next_out = outBuf.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    stream.avail_out = uInt(outBuf.count)
                    status = zlibInflate(&stream)
                    consumed = pending - Int(stream.avail_in)
                    produced = outBuf.count - Int(stream.avail_out)
                }
            }
            if consumed > 0 && consumed < pending {
                input.withUnsafeMutableBytes { b in _ = memmove(b.baseAddress!, b.baseAddress! + consumed, pending - consumed) }
            }
            pending -= consumed
            if produced > 0 {
                let more = output.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) }
                if !more { return }
            }
            switch status {
            case Z_STREAM_END:
                // Another member may follow.
                if pending == 0 && !atEOF {
                    let n = input.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    if n <= 0 { return }
                    pending = n
                }
                if pending == 0 { return }
                guard inflateReset(&stream) == Z_OK else { throw Failure(description: "zlib: cannot restart inflating") }
            case Z_OK:
                continue
            case Z_BUF_ERROR where produced > 0 || consumed > 0 || pending == 0:
                continue
            default:
                throw Failure(description: "\(path): not gzip, or damaged (zlib error \(status))")
            }
        }
    }

    private static func zlibInflate(_ stream: inout z_stream) -> Int32 {
        CZlib.inflate(&stream, Z_NO_FLUSH)
    }
}
