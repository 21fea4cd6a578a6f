#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The text of a system error number.
func describeErrno(_ code: Int32) -> String {
    String(cString: strerror(code)) + " (errno \(code))"
}

/// An open file descriptor, closed when the last reference goes away.
///
/// Segment files are shared by the writer, readers and the fsync task through references to
/// this class, so a descriptor is never closed (and reused for another file) while a pread or
/// fdatasync on it is in flight, even when the segment is deleted at the same time.
final class FileHandle: Sendable {
    let fd: Int32
    let path: String

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { _ = close(fd) }

    /// Opens `path`; `flags` as for open(2) (O_CLOEXEC is added).
    static func openFile(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws -> FileHandle {
        while true {
            let fd = path.withCString { open($0, flags | O_CLOEXEC, mode) }
            if fd >= 0 { return FileHandle(fd: fd, path: path) }
            if errno == EINTR { continue }
            throw BufferError.io(operation: "open", path: path, errno: errno)
        }
    }

    func size() throws -> Int64 {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw BufferError.io(operation: "stat", path: path, errno: errno) }
        return Int64(st.st_size)
    }

    /// Reads exactly `count` bytes at `offset` into `buffer` (fewer only at the end of the file);
    /// returns the number read.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n > 0 {
                done += n
            } else if n == 0 {
                break
            } else if errno != EINTR {
                throw BufferError.io(operation: "read", path: path, errno: errno)
            }
        }
        return done
    }

    /// `count` bytes at `offset` (fewer at the end of the file).
    func read(count: Int, at offset: Int64) throws -> [UInt8] {
        var result: [UInt8] = []
        var failure: (any Error)?
        result = [UInt8](unsafeUninitializedCapacity: count) { buf, n in
            do { n = try read(into: UnsafeMutableRawBufferPointer(buf), at: offset) } catch { failure = error; n = 0 }
        }
        if let failure { throw failure }
        return result
    }

    /// Reads up to `count` bytes at `offset` into `bytes` (replacing what it held; its storage is
    /// used again when nothing else refers to it).
    func read(into bytes: inout [UInt8], count: Int, at offset: Int64) throws {
        bytes.removeAll(keepingCapacity: true)
        var failure: (any Error)?
        bytes.append(addingCapacity: count) { span in
            span.withUnsafeMutableBufferPointer { buffer, initialized in
                do { initialized = try read(into: UnsafeMutableRawBufferPointer(buffer), at: offset) } catch { failure = error }
            }
        }
        if let failure { throw failure }
    }

    /// Writes all of `bytes` at `offset`.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if n >= 0 {
                done += n
            } else if errno != EINTR {
                throw BufferError.io(operation: "write", path: path, errno: errno)
            }
        }
    }

    func write(_ bytes: [UInt8], at offset: Int64) throws {
        try bytes.withUnsafeBytes { b in try write(b, at: offset) }
    }

    /// fdatasync: the data and the size (not other metadata) reach the disk.
    func syncData() throws {
        while fdatasync(fd) != 0 {
            if errno != EINTR { throw BufferError.io(operation: "fdatasync", path: path, errno: errno) }
        }
    }

    func sync() throws {
        while fsync(fd) != 0 {
            if errno != EINTR { throw BufferError.io(operation: "fsync", path: path, errno: errno) }
        }
    }

    func truncate(to size: Int64) throws {
        while ftruncate(fd, off_t(size)) != 0 {
            if errno != EINTR { throw BufferError.io(operation: "truncate", path: path, errno: errno) }
        }
    }
}

/// Small POSIX helpers for paths.
enum FS {
    /// Creates `path` and its missing parents.
    static func makeDirectories(_ path: String) throws {
        if isDirectory(path) { return }
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            current += "/" + part
            if current.withCString({ mkdir($0, 0o755) }) != 0 && errno != EEXIST {
                throw BufferError.io(operation: "create directory", path: current, errno: errno)
            }
        }
        guard isDirectory(path) else { throw BufferError.io(operation: "use directory", path: path, errno: ENOTDIR) }
    }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return path.withCString { stat($0, &st) } == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func isRegularFile(_ path: String) -> Bool {
        var st = stat()
        return path.withCString { stat($0, &st) } == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    static func exists(_ path: String) -> Bool {
        var st = stat()
        return path.withCString { lstat($0, &st) } == 0
    }

    /// Size of a regular file, nil when it does not exist.
    static func fileSize(_ path: String) -> Int64? {
        var st = stat()
        guard path.withCString({ stat($0, &st) }) == 0 else { return nil }
        return Int64(st.st_size)
    }

    /// Names in a directory (without `.` and `..`), sorted.
    static func list(_ path: String) throws -> [String] {
        guard let dir = path.withCString({ opendir($0) }) else { throw BufferError.io(operation: "list", path: path, errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        // The name is read up to its NUL where it lies. (Copying the `d_name` field, 256 bytes,
        // read past the end of the directory buffer when the last entry's record is shorter:
        // found by the `buffer` fuzz target under AddressSanitizer.)
        let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        while let entry = readdir(dir) {
            let name = String(cString: (UnsafeRawPointer(entry) + nameOffset).assumingMemoryBound(to: CChar.self))
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// fsync on a directory, so entries created, renamed or removed in it are durable.
    static func syncDirectory(_ path: String) throws {
        let dir = try FileHandle.openFile(path, O_RDONLY | O_DIRECTORY)
        try dir.sync()
    }

    static func remove(_ path: String) throws {
        if path.withCString({ unlink($0) }) != 0 && errno != ENOENT { throw BufferError.io(operation: "remove", path: path, errno: errno) }
    }

    static func move(_ from: String, _ to: String) throws {
        if from.withCString({ f in to.withCString { rename(f, $0) } }) != 0 { throw BufferError.io(operation: "rename \(from) to", path: to, errno: errno) }
    }

    /// The whole file, nil when it does not exist or cannot be read.
    static func readFile(_ path: String, limit: Int = 1 << 20) -> [UInt8]? {
        guard let f = try? FileHandle.openFile(path, O_RDONLY) else { return nil }
        return try? f.read(count: limit, at: 0)
    }

    /// Writes `bytes` to `path` atomically: a temporary file, fsync, rename, fsync of the directory.
    static func writeAtomically(_ bytes: [UInt8], to path: String, directory: String) throws {
        let temp = path + ".tmp"
        let f = try FileHandle.openFile(temp, O_WRONLY | O_CREAT | O_TRUNC)
        try f.write(bytes, at: 0)
        try f.sync()
        try move(temp, path)
        try syncDirectory(directory)
    }

    /// An advisory exclusive lock on `path` (created when missing), or nil when another process
    /// (or another open buffer in this one) holds it.
    static func lock(_ path: String) throws -> FileHandle? {
        let f = try FileHandle.openFile(path, O_RDWR | O_CREAT)
        while flock(f.fd, LOCK_EX | LOCK_NB) != 0 {
            if errno == EWOULDBLOCK { return nil }
            if errno != EINTR { throw BufferError.io(operation: "lock", path: path, errno: errno) }
        }
        return f
    }

    /// Wall-clock time in ns since the epoch.
    static func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec)
    }
}
