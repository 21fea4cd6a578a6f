#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Small POSIX file helpers (no Foundation in this module).
enum FileIO {
    /// The whole file, or nil when it cannot be read.
    static func readFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    static func environment(_ name: String) -> String? {
        guard let p = getenv(name) else { return nil }
        return String(cString: p)
    }

    /// Writes every byte (retrying short writes and EINTR).
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(FileIOError) {
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress!.advanced(by: written), $0.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileIOError(operation: "write", path: "", code: errno)
            }
            written += n
        }
    }

    /// Creates `path` and its parents (like `mkdir -p`).
    static func makeDirectories(_ path: String) throws(FileIOError) {
        guard !path.isEmpty else { return }
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o750) != 0 && errno != EEXIST {
                throw FileIOError(operation: "create directory", path: current, code: errno)
            }
        }
    }

    /// The directory part of a path (`"."` when there is none).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    static func move(_ from: String, _ to: String) throws(FileIOError) {
        if rename(from, to) != 0 { throw FileIOError(operation: "rename to \(to)", path: from, code: errno) }
    }
}

/// A failed file operation, with the system's reason.
public struct FileIOError: Error, CustomStringConvertible {
    public var operation: String
    public var path: String
    public var code: Int32

    public var description: String { "cannot \(operation) \(path): \(String(cString: strerror(code)))" }
}
