#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file reads without Foundation.
enum FileManagerShim {
    /// The file's bytes, or why it cannot be read (`strerror`: "No such file or directory",
    /// "Is a directory", "Permission denied").
    static func readOrError(_ path: String) -> Result<[UInt8], ReadFailure> {
        guard let f = fopen(path, "rb") else { return .failure(ReadFailure(errno)) }
        defer { fclose(f) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n > 0 { out.append(contentsOf: buf[0..<n]) }
            if n < buf.count { break }
        }
        return ferror(f) == 0 ? .success(out) : .failure(ReadFailure(errno))
    }

    struct ReadFailure: Error, CustomStringConvertible {
        let code: Int32
        init(_ code: Int32) { self.code = code }
        var description: String { String(cString: strerror(code)) }
    }
}

/// The process environment without Foundation.
public enum ProcessInfoShim {
    public static var environment: [String: String] {
        var out: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let text = String(cString: entry)
            if let eq = text.firstIndex(of: "=") {
                out[String(text[..<eq])] = String(text[text.index(after: eq)...])
            }
            p += 1
        }
        return out
    }
}
