import ShipperCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The saved position of one file.
struct CheckpointEntry: Equatable {
    /// Where the file was last seen.
    var path: String
    var device: UInt64
    var inode: UInt64
    /// Hash of the file's head (first line, or first 1024 bytes when the first line is longer).
    var head: UInt64
    /// The source identity given to its events (``FileID/fingerprint``).
    var fingerprint: UInt64
    /// Lines before this offset are durable downstream; reading resumes here.
    var offset: Int64
    /// Hash of the up to 64 bytes before ``offset`` (nil: not known), to notice a file that was
    /// truncated and written again beyond the offset while shipper was not running.
    var check: UInt64?

    var id: FileID { FileID(device: device, inode: inode, fingerprint: fingerprint) }
}

/// The checkpoint file: one JSON document written atomically (temp file, fsync, rename, fsync of
/// the directory).
///
/// ```json
/// {"version":1,"files":[
/// {"path":"/var/lib/docker/containers/ab…/ab…-json.log","device":2049,"inode":1234,"head":"…","fingerprint":"…","offset":5120,"check":"…"}
/// ]}
/// ```
/// `head`, `fingerprint` and `check` are 16 hex digits (64-bit values do not fit JSON numbers everywhere).
struct CheckpointFile {
    enum Loaded {
        /// Neither the file nor its temp file exists: shipper never ran with this path.
        case missing
        case entries([CheckpointEntry])
        /// The file exists but cannot be read or parsed.
        case corrupt(String)
    }

    let path: String
    var tempPath: String { path + ".tmp" }

    init(path: String) {
        self.path = path
    }

    func load() -> Loaded {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let code = errno
            if code == ENOENT { return Posix.status(tempPath) == nil ? .missing : .entries([]) }
            return .corrupt("cannot open: \(String(cString: strerror(code)))")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var offset: Int64 = 0
        while true {
            guard let part = Posix.read(fd, at: offset, count: 1 << 20) else {
                return .corrupt("cannot read: \(String(cString: strerror(errno)))")
            }
            if part.isEmpty { break }
            bytes += part
            offset += Int64(part.count)
            if bytes.count > 256 << 20 { return .corrupt("larger than 256 MiB") }
        }
        return Self.parse(bytes)
    }

    static func parse(_ bytes: [UInt8]) -> Loaded {
        let doc: JSONValue
        do {
            doc = try bytes.withUnsafeBytes { (b) throws(JSONError) -> JSONValue in try JSONScanner.parseDocument(b) }
        } catch {
            return .corrupt("not JSON: \(error)")
        }
        guard case .int(1)? = doc["version"] else { return .corrupt("unknown version (expected 1)") }
        guard case .array(let items)? = doc["files"] else { return .corrupt("no 'files' list") }
        var out: [CheckpointEntry] = []
        for (i, item) in items.enumerated() {
            guard let path = item["path"]?.stringValue,
                let dev = Self.unsigned(item["device"]), let ino = Self.unsigned(item["inode"]),
                let head = item["head"]?.stringValue.flatMap(Hex.parse),
                let fp = item["fingerprint"]?.stringValue.flatMap(Hex.parse),
                case .int(let offset)? = item["offset"], offset >= 0
            else { return .corrupt("entry \(i) is incomplete") }
            let check = item["check"]?.stringValue.flatMap(Hex.parse)
            out.append(CheckpointEntry(
                path: path, device: dev, inode: ino, head: head,
                fingerprint: fp, offset: offset, check: check))
        }
        return .entries(out)
    }

    /// A 64-bit unsigned number: a JSON number up to Int64.max, a decimal string above.
    static func unsigned(_ value: JSONValue?) -> UInt64? {
        switch value {
        case .int(let v)? where v >= 0: return UInt64(v)
        case .string(let s)?: return UInt64(s)
        default: return nil
        }
    }

    static func unsignedText(_ v: UInt64) -> String {
        v <= UInt64(Int64.max) ? String(v) : "\"\(v)\""
    }

    static func encode(_ entries: [CheckpointEntry]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 + entries.count * 200)
        out += Array(#"{"version":1,"files":["#.utf8)
        for (i, e) in entries.enumerated() {
            out += Array((i == 0 ? "\n" : ",\n").utf8)
            out += Array(#"{"path":"#.utf8)
            JSONWriter.writeString(e.path, into: &out)
            out += Array(",\"device\":\(unsignedText(e.device)),\"inode\":\(unsignedText(e.inode))".utf8)
            out += Array(",\"head\":\"\(Hex.string(e.head))\",\"fingerprint\":\"\(Hex.string(e.fingerprint))\"".utf8)
            out += Array(",\"offset\":\(e.offset)".utf8)
            if let c = e.check { out += Array(",\"check\":\"\(Hex.string(c))\"".utf8) }
            out.append(UInt8(ascii: "}"))
        }
        out += Array("\n]}\n".utf8)
        return out
    }

    /// Replaces the file atomically: write the temp file, fsync it, rename it over the file, fsync
    /// the directory.
    func write(_ entries: [CheckpointEntry]) throws {
        let bytes = Self.encode(entries)
        let fd = open(tempPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw TailError(path: tempPath, operation: "create", code: errno) }
        let e = Posix.writeAll(fd, bytes)
        if e != 0 {
            close(fd)
            throw TailError(path: tempPath, operation: "write", code: e)
        }
        if fsync(fd) != 0 {
            let code = errno
            close(fd)
            throw TailError(path: tempPath, operation: "fsync", code: code)
        }
        close(fd)
        guard rename(tempPath, path) == 0 else { throw TailError(path: path, operation: "rename the temp file to", code: errno) }
        let dir = Posix.dirname(path)
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dfd >= 0 else { throw TailError(path: dir, operation: "open the directory", code: errno) }
        defer { close(dfd) }
        if fsync(dfd) != 0 { throw TailError(path: dir, operation: "fsync", code: errno) }
    }
}
