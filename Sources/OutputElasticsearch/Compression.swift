import CIsal
import CZlib
import NIOCore
import Synchronization

/// A reusable gzip compressor for bulk bodies. Levels 1 to 3 use ISA-L's igzip (level 1, the
/// default, compresses about 7 times faster than zlib level 1 at a better ratio, measured on
/// bulk bodies); levels 4 to 9 use zlib at that level, for a smaller body at more CPU. Both write
/// standard gzip (RFC 1952) that Elasticsearch and zlib decode. One body at a time (see
/// ``GzipCompressorPool``).
final class GzipCompressor: @unchecked Sendable {
    private enum Engine {
        case igzip(OpaquePointer)
        case zlib(UnsafeMutablePointer<z_stream>)
    }
    private let engine: Engine
    let level: Int32

    struct Failure: Error, CustomStringConvertible {
        var code: Int32
        var description: String { "gzip compression error \(code)" }
    }

    init(level: Int32) throws {
        self.level = level
        if (1...3).contains(level) {
            guard let c = shipper_igzip_create(level) else { throw Failure(code: -1) }
            engine = .igzip(c)
            return
        }
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = shipper_deflateInit2(stream, level, 15 + 16)
        guard status == Z_OK else {
            stream.deallocate()
            throw Failure(code: status)
        }
        engine = .zlib(stream)
    }

    deinit {
        switch engine {
        case .igzip(let c):
            shipper_igzip_destroy(c)
        case .zlib(let stream):
            deflateEnd(stream)
            stream.deinitialize(count: 1)
            stream.deallocate()
        }
    }

    /// Appends one gzip member holding `input` to `out`.
    func compress(_ input: UnsafeRawBufferPointer, into out: inout ByteBuffer) throws {
        begin()
        try feed(input, last: true, into: &out)
    }

    /// Starts a gzip member whose input comes in pieces (``feed(_:last:into:)``): a bulk body is
    /// compressed as it is built, a chunk at a time, and never held whole.
    func begin() {
        switch engine {
        case .igzip(let c):
            shipper_igzip_begin(c)
        case .zlib(let stream):
            deflateReset(stream)
        }
    }

    /// Compresses the next piece of the member started by ``begin()`` and appends what comes out
    /// to `out`; `last: true` ends the member (an empty last piece is fine).
    func feed(_ input: UnsafeRawBufferPointer, last: Bool, into out: inout ByteBuffer) throws {
        if input.isEmpty && !last { return }
        var rest = input
        switch engine {
        case .igzip(let c):
            while true {
                var consumed = 0
                var done: Int32 = 0
                let room = max(shipper_igzip_bound(rest.count), 16 << 10)
                var failed = false
                var written = 0
                out.writeWithUnsafeMutableBytes(minimumWritableBytes: room) { dst -> Int in
                    written = shipper_igzip_feed(c, rest.baseAddress, rest.count, dst.baseAddress, dst.count, last ? 1 : 0, &consumed, &done)
                    if written < 0 {
                        failed = true
                        return 0
                    }
                    return written
                }
                if failed { throw Failure(code: -1) }
                // With this much room igzip always makes progress; never spin if it did not.
                if consumed == 0 && written == 0 && done == 0 { throw Failure(code: -2) }
                rest = UnsafeRawBufferPointer(rebasing: rest[consumed...])
                if rest.isEmpty && (!last || done != 0) { return }
            }
        case .zlib(let stream):
            defer {
                stream.pointee.next_in = nil
                stream.pointee.next_out = nil
            }
            while true {
                let room = max(Int(deflateBound(stream, UInt(rest.count))) + 64, 16 << 10)
                var status: Int32 = Z_OK
                var consumed = 0
                let produced = out.writeWithUnsafeMutableBytes(minimumWritableBytes: room) { dst -> Int in
                    stream.pointee.next_in = UnsafeMutablePointer(mutating: rest.baseAddress?.assumingMemoryBound(to: Bytef.self))
                    stream.pointee.avail_in = uInt(rest.count)
                    stream.pointee.next_out = dst.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    stream.pointee.avail_out = uInt(dst.count)
                    status = deflate(stream, last ? Z_FINISH : Z_NO_FLUSH)
                    consumed = rest.count - Int(stream.pointee.avail_in)
                    return dst.count - Int(stream.pointee.avail_out)
                }
                guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else { throw Failure(code: status) }
                if consumed == 0 && produced == 0 && status != Z_STREAM_END { throw Failure(code: status) }
                rest = UnsafeRawBufferPointer(rebasing: rest[consumed...])
                if last ? status == Z_STREAM_END : rest.isEmpty { return }
            }
        }
    }

    /// `input` as a gzip member, in a new buffer.
    func compress(_ input: [UInt8], allocator: ByteBufferAllocator = ByteBufferAllocator()) throws -> ByteBuffer {
        var out = allocator.buffer(capacity: input.count / 8 + 1024)
        try input.withUnsafeBytes { try compress($0, into: &out) }
        return out
    }
}

/// Compressors to reuse across requests (one per request in flight).
final class GzipCompressorPool: Sendable {
    private let idle = Mutex<[GzipCompressor]>([])
    let level: Int32

    init(level: Int32) { self.level = level }

    func withCompressor<T>(_ body: (GzipCompressor) throws -> T) throws -> T {
        let c = try idle.withLock { $0.popLast() } ?? GzipCompressor(level: level)
        defer { idle.withLock { if $0.count < 16 { $0.append(c) } } }
        return try body(c)
    }
}

/// Decodes a gzip or zlib body (responses are small; one stream per call).
enum Inflate {
    static func decompress(_ data: [UInt8], limit: Int = 256 << 20) -> [UInt8]? {
        var stream = z_stream()
        guard shipper_inflateInit2(&stream, 15 + 32) == Z_OK else { return nil }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        return data.withUnsafeBytes { input -> [UInt8]? in
            guard let base = input.baseAddress else { return [] }
            stream.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(input.count)
            while true {
                var status: Int32 = Z_OK
                let produced = chunk.withUnsafeMutableBytes { c -> Int in
                    stream.next_out = c.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    stream.avail_out = uInt(c.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    return c.count - Int(stream.avail_out)
                }
                output.append(contentsOf: chunk[0..<produced])
                if output.count > limit { return nil }
                if status == Z_STREAM_END { return output }
                if status != Z_OK && !(status == Z_BUF_ERROR && produced > 0) { return nil }
                if stream.avail_in == 0 && produced == 0 { return nil }
            }
        }
    }
}
