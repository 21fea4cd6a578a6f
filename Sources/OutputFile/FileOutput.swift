import ShipperCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Options of the `file` output.
///
/// ```yaml
/// outputs:
///   local:
///     type: file
///     path: ./out/%{service.name}-%Y-%m-%d.ndjson   # %Y %m %d %H from @timestamp (UTC), %{field} from the event
///     max_size: 100MiB     # rotate: the full file becomes name.1.ndjson, name.2.ndjson, …
///     gzip: false          # write gzip members (path should end in .gz)
///     gzip_level: 6
///     fsync: false         # fsync after every batch
/// ```
public struct FileOutputConfig: Decodable, Sendable {
    /// Where to write. `%Y`, `%m`, `%d`, `%H` come from the event's `@timestamp` in UTC (the time
    /// it was written when the event has none); `%{field}` from the event (`_` when missing).
    public var path: String
    /// Size at which the file is rotated.
    public var maxSize: ByteSize = ByteSize(bytes: 100 * 1_048_576)
    /// Compress with gzip. Each batch is one gzip member, so the file is valid gzip after every batch.
    public var gzip: Bool = false
    /// zlib level 1 (fastest) to 9 (smallest).
    public var gzipLevel: Int = 6
    /// Call fsync after every batch (slower; survives power loss, not just a crash).
    public var fsync: Bool = false

    enum CodingKeys: String, CodingKey, CaseIterable {
        case path, gzip, fsync
        case maxSize = "max_size"
        case gzipLevel = "gzip_level"
    }

    public init(path: String, maxSize: ByteSize = ByteSize(bytes: 100 * 1_048_576), gzip: Bool = false) {
        self.path = path
        self.maxSize = maxSize
        self.gzip = gzip
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        path = try c.decode(String.self, forKey: .path)
        if path.isEmpty { throw ConfigValueError("'path' must not be empty") }
        maxSize = try c.decodeIfPresent(ByteSize.self, forKey: .maxSize) ?? maxSize
        if maxSize.bytes < 1024 { throw ConfigValueError("'max_size' must be at least 1KiB") }
        gzip = try c.decodeIfPresent(Bool.self, forKey: .gzip) ?? false
        gzipLevel = try c.decodeIfPresent(Int.self, forKey: .gzipLevel) ?? 6
        if !(1...9).contains(gzipLevel) { throw ConfigValueError("'gzip_level' must be 1 to 9, got \(gzipLevel)") }
        fsync = try c.decodeIfPresent(Bool.self, forKey: .fsync) ?? false
        _ = try PathTemplate(path)
    }
}

/// An I/O failure with the path and the system's reason.
public struct FileOutputError: Error, CustomStringConvertible {
    public var path: String
    public var operation: String
    public var code: Int32

    public var description: String {
        "cannot \(operation) \(path): \(String(cString: strerror(code))) (check the directory exists and shipper may write to it)"
    }
}

/// Writes events as JSON lines to files, with rotation and optional gzip.
///
/// After a crash the files hold only whole lines: when a file is opened again, a torn last line
/// (or torn last gzip member) is cut off first. Those events were never acknowledged, so they are
/// written again from the buffer.
public final class FileOutput {
    let config: FileOutputConfig
    let template: PathTemplate
    private var open: [String: OpenFile] = [:]
    private var pending: [String: [UInt8]] = [:]
    private var order: [String] = []
    /// Events written so far.
    public private(set) var eventsWritten = 0
    /// Bytes written so far (after compression).
    public private(set) var bytesWritten = 0

    final class OpenFile {
        let path: String
        var fd: Int32
        var size: Int

        init(path: String, fd: Int32, size: Int) {
            self.path = path
            self.fd = fd
            self.size = size
        }
    }

    public init(config: FileOutputConfig) throws {
        self.config = config
        self.template = try PathTemplate(config.path)
    }

    deinit { try? close() }

    /// Encodes and writes a batch; returns once the bytes are written (and fsynced if configured).
    public func write(_ events: [LogEvent]) throws {
        var line: [UInt8] = []
        line.reserveCapacity(1024)
        for event in events {
            let path = template.render(event)
            if pending[path] == nil {
                pending[path] = []
                order.append(path)
            }
            line.removeAll(keepingCapacity: true)
            JSONWriter.write(event, into: &line)
            line.append(0x0A)
            pending[path]!.append(contentsOf: line)
        }
        eventsWritten += events.count
        try flushPending()
    }

    /// Writes documents already encoded as JSON, each to its path (from ``PathTemplate/render(timestamp:attribute:)``).
    public func write(documents: [(path: String, json: ArraySlice<UInt8>)]) throws {
        var i = 0
        while i < documents.count {
            // One dictionary access per run of documents for the same path (usually the batch).
            let path = documents[i].path
            if pending[path] == nil { order.append(path) }
            func appendRun(to out: inout [UInt8]) {
                while i < documents.count && documents[i].path == path {
                    out.append(contentsOf: documents[i].json)
                    out.append(0x0A)
                    i += 1
                }
            }
            appendRun(to: &pending[path, default: []])
        }
        eventsWritten += documents.count
        try flushPending()
    }

    /// The path template (for rendering paths of buffered documents).
    public var pathTemplate: PathTemplate { template }

    private func flushPending() throws {
        defer {
            pending.removeAll(keepingCapacity: true)
            order.removeAll(keepingCapacity: true)
        }
        for path in order {
            guard let bytes = pending[path], !bytes.isEmpty else { continue }
            let file = try handle(for: path)
            var data = bytes
            if config.gzip {
                var compressed: [UInt8] = []
                try bytes.withUnsafeBytes { try Gzip.compressMember($0, level: Int32(config.gzipLevel), into: &compressed) }
                data = compressed
            }
            try writeAll(file, data)
            if config.fsync, Glibc.fsync(file.fd) != 0 { throw FileOutputError(path: path, operation: "fsync", code: errno) }
            if file.size >= config.maxSize.bytes { try rotate(file) }
        }
    }

    private func writeAll(_ file: OpenFile, _ data: [UInt8]) throws {
        try data.withUnsafeBytes { buf in
            var offset = 0
            while offset < buf.count {
                let n = Glibc.write(file.fd, buf.baseAddress! + offset, buf.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw FileOutputError(path: file.path, operation: "write", code: errno)
                }
                offset += n
            }
        }
        file.size += data.count
        bytesWritten += data.count
    }

    private func handle(for path: String) throws -> OpenFile {
        if let f = open[path] { return f }
        if open.count >= 16, let victim = open.keys.first {
            Glibc.close(open[victim]!.fd)
            open[victim] = nil
        }
        try makeParentDirectories(path)
        try repair(path)
        if config.gzip, fileSize(path) > 0 {
            // Never append to a gzip file from an earlier run: start a fresh one.
            try moveAside(path)
        }
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileOutputError(path: path, operation: "open", code: errno) }
        let f = OpenFile(path: path, fd: fd, size: fileSize(path))
        open[path] = f
        return f
    }

    private func rotate(_ file: OpenFile) throws {
        Glibc.close(file.fd)
        open[file.path] = nil
        try moveAside(file.path)
    }

    /// Renames `path` to the first free `name.N.ext`.
    private func moveAside(_ path: String) throws {
        var n = 1
        while true {
            let candidate = Self.rotatedName(path, n)
            if access(candidate, F_OK) != 0 {
                guard Glibc.rename(path, candidate) == 0 else { throw FileOutputError(path: path, operation: "rotate", code: errno) }
                return
            }
            n += 1
        }
    }

    /// `out/a.ndjson` → `out/a.1.ndjson`; `out/a.ndjson.gz` → `out/a.1.ndjson.gz`; `out/a` → `out/a.1`.
    public static func rotatedName(_ path: String, _ n: Int) -> String {
        // By bytes: a `/` or `.` followed by a combining mark is one `Character` with it.
        let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")).map { path.utf8.index(after: $0) } ?? path.startIndex
        let name = path[slash...]
        if let dot = name.utf8.firstIndex(of: UInt8(ascii: ".")), dot != name.startIndex {
            return String(path[..<dot]) + ".\(n)" + String(path[dot...])
        }
        return path + ".\(n)"
    }

    /// Cuts a torn tail left by a crash: a partial last line, or a partial last gzip member.
    func repair(_ path: String) throws {
        let size = fileSize(path)
        guard size > 0 else { return }
        let fd = Glibc.open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw FileOutputError(path: path, operation: "open", code: errno) }
        defer { Glibc.close(fd) }
        var keep = size
        if config.gzip {
            var data = [UInt8](repeating: 0, count: size)
            let n = data.withUnsafeMutableBytes { pread(fd, $0.baseAddress, size, 0) }
            guard n == size else { throw FileOutputError(path: path, operation: "read", code: errno) }
            keep = data.withUnsafeBytes { Gzip.decompressMembers($0).validLength }
        } else {
            var end = size
            var chunk = [UInt8](repeating: 0, count: 4096)
            keep = 0
            search: while end > 0 {
                let start = max(0, end - chunk.count)
                let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, end - start, off_t(start)) }
                guard n == end - start else { throw FileOutputError(path: path, operation: "read", code: errno) }
                for i in stride(from: n - 1, through: 0, by: -1) where chunk[i] == 0x0A {
                    keep = start + i + 1
                    break search
                }
                end = start
            }
        }
        if keep < size, ftruncate(fd, off_t(keep)) != 0 {
            throw FileOutputError(path: path, operation: "truncate", code: errno)
        }
    }

    private func fileSize(_ path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : 0
    }

    private func makeParentDirectories(_ path: String) throws {
        var components = path.split(separator: "/", omittingEmptySubsequences: false)
        components.removeLast()
        var current = path.hasPrefix("/") ? "" : "."
        for c in components where !c.isEmpty && c != "." {
            current += "/" + c
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw FileOutputError(path: current, operation: "create the directory", code: errno)
            }
        }
    }

    /// Closes every file (after fsync when configured).
    public func close() throws {
        for f in open.values {
            if config.fsync { _ = Glibc.fsync(f.fd) }
            Glibc.close(f.fd)
        }
        open.removeAll()
    }
}

/// A file path with `%Y %m %d %H` (from @timestamp, UTC) and `%{field}` placeholders.
public struct PathTemplate: Sendable {
    enum Part: Sendable {
        case literal(String)
        case year, month, day, hour
        case field(FieldPath)
    }

    let parts: [Part]
    let isConstant: Bool

    public init(_ text: String) throws {
        var parts: [Part] = []
        var literal = ""
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            let next = text.index(after: i)
            if c == "%", next < text.endIndex {
                let d = text[next]
                switch d {
                case "Y", "m", "d", "H":
                    if !literal.isEmpty { parts.append(.literal(literal)); literal = "" }
                    parts.append(d == "Y" ? .year : d == "m" ? .month : d == "d" ? .day : .hour)
                    i = text.index(after: next)
                    continue
                case "{":
                    guard let close = text[next...].firstIndex(of: "}") else {
                        throw ConfigValueError("path '\(text)': '%{' has no closing '}'")
                    }
                    if !literal.isEmpty { parts.append(.literal(literal)); literal = "" }
                    parts.append(.field(FieldPath.intern(String(text[text.index(after: next)..<close]))))
                    i = text.index(after: close)
                    continue
                case "%":
                    literal.append("%")
                    i = text.index(after: next)
                    continue
                default:
                    throw ConfigValueError("path '\(text)': unknown placeholder '%\(d)'; use %Y %m %d %H or %{field}")
                }
            }
            literal.append(c)
            i = next
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        self.parts = parts
        self.isConstant = parts.allSatisfy { if case .literal = $0 { return true } else { return false } }
    }

    /// The fields the template refers to.
    public var fieldReferences: [FieldPath] {
        parts.compactMap { if case .field(let p) = $0 { return p } else { return nil } }
    }

    /// The path for a buffered document: `%Y…` from its timestamp (ns, UTC), `%{field}` from `attribute`.
    public func render(timestamp: Int64, attribute: (FieldPath) -> [UInt8]?) -> String {
        if isConstant, case .literal(let s)? = parts.first { return s }
        let secs = timestamp >= 0 ? timestamp / 1_000_000_000 : (timestamp - 999_999_999) / 1_000_000_000
        let days = secs >= 0 ? secs / 86_400 : (secs - 86_399) / 86_400
        let (y, m, d) = Civil.civil(fromDays: days)
        let h = Int((secs - days * 86_400) / 3600)
        var out = ""
        for part in parts {
            switch part {
            case .literal(let s): out += s
            case .year: out += String(y)
            case .month: out += Self.two(m)
            case .day: out += Self.two(d)
            case .hour: out += Self.two(h)
            case .field(let path):
                out += Self.pathComponent(attribute(path))
            }
        }
        return out
    }

    /// The path for one event. Field values have `/` and NUL replaced so they cannot leave the directory.
    public func render(_ event: LogEvent) -> String {
        if isConstant, case .literal(let s)? = parts.first { return s }
        var civil: (Int, Int, Int, Int)?
        func time() -> (Int, Int, Int, Int) {
            if let civil { return civil }
            let ts: Timestamp
            if case .timestamp(let t)? = event[FieldPaths.timestamp] { ts = t } else { ts = .now() }
            let secs = ts.nanoseconds >= 0 ? ts.nanoseconds / 1_000_000_000 : (ts.nanoseconds - 999_999_999) / 1_000_000_000
            let days = secs >= 0 ? secs / 86_400 : (secs - 86_399) / 86_400
            let (y, m, d) = Civil.civil(fromDays: days)
            let h = Int((secs - days * 86_400) / 3600)
            civil = (y, m, d, h)
            return civil!
        }
        var out = ""
        for part in parts {
            switch part {
            case .literal(let s): out += s
            case .year: out += String(time().0)
            case .month: out += Self.two(time().1)
            case .day: out += Self.two(time().2)
            case .hour: out += Self.two(time().3)
            case .field(let path):
                out += Self.pathComponent(event.text(path).map { Array($0.utf8) })
            }
        }
        return out
    }

    static func two(_ v: Int) -> String { v < 10 ? "0\(v)" : String(v) }

    /// A field value made safe to put into a path, byte by byte: `/` and NUL become `_`, and a
    /// missing or empty value, `.` and `..` become `_`. (Done on Characters, this missed a `/`
    /// that a combining mark follows, one Character with it: `../\u{300}x` left the directory.)
    public static func pathComponent(_ value: [UInt8]?) -> String {
        guard var bytes = value, !bytes.isEmpty, bytes != [0x2E], bytes != [0x2E, 0x2E] else { return "_" }
        for i in bytes.indices where bytes[i] == UInt8(ascii: "/") || bytes[i] == 0 { bytes[i] = UInt8(ascii: "_") }
        return String(decoding: bytes, as: UTF8.self)
    }
}
