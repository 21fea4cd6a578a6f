#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Unbuffered writes to stdout/stderr that handle partial writes.
public enum StandardStreams {
    public enum Stream: Int32 {
        case standardOutput = 1
        case standardError = 2
    }

    public static func write(_ bytes: [UInt8], to stream: Stream) {
        bytes.withUnsafeBytes { buf in
            var offset = 0
            while offset < buf.count {
                let n = Glibc.write(stream.rawValue, buf.baseAddress! + offset, buf.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += n
            }
        }
    }

    public static func write(_ text: String, to stream: Stream) {
        write(Array(text.utf8), to: stream)
    }
}
