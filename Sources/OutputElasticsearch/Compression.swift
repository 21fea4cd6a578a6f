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
    /// Where igzip writes before the result is copied out (grows, never shrinks).
    private var scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 0, alignment: 16)

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
        scratch.deallocate()
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
        switch engine {
        case .igzip(let c):
            // Into the compressor's own scratch (room for the worst case, kept), then only the
            // compressed bytes into `out`: `out` is not grown to the worst case for every body.
            let bound = shipper_igzip_bound(input.count)
            if scratch.count < bound {
                scratch.deallocate()
                scratch = .allocate(byteCount: bound, alignment: 16)
            }
            let written = shipper_igzip_compress(c, input.baseAddress, input.count, scratch.baseAddress, scratch.count)
            guard written >= 0 else { throw Failure(code: -1) }
            out.writeBytes(UnsafeRawBufferPointer(rebasing: scratch[0..<written]))
        case .zlib(let stream):
            guard deflateReset(stream) == Z_OK else { throw Failure(code: Z_STREAM_ERROR) }
            let bound = Int(deflateBound(stream, UInt(input.count))) + 64
            var status: Int32 = Z_OK
            let written = out.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { dst -> Int in
                stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
                stream.pointee.avail_in = uInt(input.count)
                stream.pointee.next_out = dst.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = uInt(dst.count)
                status = deflate(stream, Z_FINISH)
                return dst.count - Int(stream.pointee.avail_out)
            }
            stream.pointee.next_in = nil
            stream.pointee.next_out = nil
            guard status == Z_STREAM_END else {
                out.moveWriterIndex(to: out.writerIndex - written)
                throw Failure(code: status)
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
