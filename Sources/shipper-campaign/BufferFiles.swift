import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Reads shipper's buffer segments from the outside (format at the top of BufferDisk/DiskBuffer.swift:
/// frames of a 12-byte header — payload length, payload CRC-32C, header CRC-32C — and a payload
/// ending in the event's JSON), to know which lines each record holds before the campaign damages it.
enum BufferFiles {
    struct Record {
        var segment: String
        /// Byte range of the whole frame in the segment file.
        var start: Int
        var end: Int
        /// Lines (keys) whose blocks the record's document holds.
        var keys: Set<Int>
    }

    /// Segment files of a buffer directory, oldest first.
    static func segments(_ dir: String) -> [String] {
        FS.list(dir).filter { $0.hasPrefix("segment-") && ($0.hasSuffix(".seg") || $0.hasSuffix(".dat")) }.map { dir + "/" + $0 }
    }

    /// The frames of every segment, up to the first that does not look whole.
    static func records(_ dir: String) -> [Record] {
        var out: [Record] = []
        for path in segments(dir) {
            guard let bytes = FS.read(path) else { continue }
            var off = 0
            while off + 12 <= bytes.count {
                let length = Int(bytes[off]) | Int(bytes[off + 1]) << 8 | Int(bytes[off + 2]) << 16 | Int(bytes[off + 3]) << 24
                guard length >= 26, off + 12 + length <= bytes.count, bytes[off + 12] == 1 else { break }
                var keys = Set<Int>()
                if let message = Tracker.stringValue(of: "message", in: bytes[(off + 12)..<(off + 12 + length)]) {
                    Block.scan(message) { if $0.intact { keys.insert($0.key) } }
                }
                out.append(Record(segment: path, start: off, end: off + 12 + length, keys: keys))
                off += 12 + length
            }
        }
        return out
    }

    /// Cuts a file at `offset`.
    static func truncate(_ path: String, at offset: Int) {
        _ = Glibc.truncate(path, off_t(offset))
    }

    /// Inverts one bit of a file.
    static func flipBit(_ path: String, at offset: Int, bit: Int) {
        let fd = open(path, O_RDWR)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var b: UInt8 = 0
        guard pread(fd, &b, 1, off_t(offset)) == 1 else { return }
        b ^= UInt8(1 << (bit & 7))
        _ = pwrite(fd, &b, 1, off_t(offset))
    }
}
