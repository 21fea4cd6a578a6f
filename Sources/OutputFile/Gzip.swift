import CZlib

/// gzip through zlib: one complete gzip member per call, so a file made of members appended one
/// after the other is a valid gzip file at every member boundary.
public enum Gzip {
    public struct Failure: Error, CustomStringConvertible {
        public var code: Int32
        public var description: String { "zlib error \(code)" }
    }

    /// Compresses `input` into one gzip member appended to `out`.
    public static func compressMember(_ input: UnsafeRawBufferPointer, level: Int32 = 6, into out: inout [UInt8]) throws {
        var stream = z_stream()
        guard shipper_deflateInit2(&stream, level, 15 + 16) == Z_OK else { throw Failure(code: -1) }
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, UInt(input.count))) + 32
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: bound))
        var status: Int32 = Z_OK
        out.withUnsafeMutableBytes { dst in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(input.count)
            stream.next_out = dst.baseAddress!.advanced(by: start).assumingMemoryBound(to: Bytef.self)
            stream.avail_out = uInt(bound)
            status = deflate(&stream, Z_FINISH)
        }
        guard status == Z_STREAM_END else {
            out.removeSubrange(start...)
            throw Failure(code: status)
        }
        out.removeSubrange((start + Int(stream.total_out))...)
    }

    /// Decompresses every complete member of `data`. Returns the bytes and how many input bytes the
    /// complete members span (a torn last member is left out).
    public static func decompressMembers(_ data: UnsafeRawBufferPointer) -> (output: [UInt8], validLength: Int) {
        var output: [UInt8] = []
        var validLength = 0
        var position = 0
        var chunk = [UInt8](repeating: 0, count: 65536)
        while position < data.count {
            var stream = z_stream()
            guard shipper_inflateInit2(&stream, 15 + 16) == Z_OK else { break }
            defer { inflateEnd(&stream) }
            stream.next_in = UnsafeMutablePointer(mutating: data.baseAddress!.advanced(by: position).assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(data.count - position)
            var member: [UInt8] = []
            var status: Int32 = Z_OK
            while status == Z_OK {
                chunk.withUnsafeMutableBytes { c in
                    stream.next_out = c.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    stream.avail_out = uInt(c.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                }
                let produced = chunk.count - Int(stream.avail_out)
                member.append(contentsOf: chunk[0..<produced])
                if status == Z_BUF_ERROR && stream.avail_in == 0 { break }
                if status == Z_BUF_ERROR && produced > 0 { status = Z_OK }
            }
            guard status == Z_STREAM_END else { break }
            output.append(contentsOf: member)
            position += Int(stream.total_in)
            validLength = position
        }
        return (output, validLength)
    }
}
