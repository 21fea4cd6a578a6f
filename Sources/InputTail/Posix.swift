import CPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Device and inode: the identity of an open file on this machine.
struct DevIno: Hashable, CustomStringConvertible {
    var dev: UInt64
    var ino: UInt64

    init(_ st: stat) {
        dev = UInt64(truncatingIfNeeded: st.st_dev)
        ino = UInt64(truncatingIfNeeded: st.st_ino)
    }

    init(dev: UInt64, ino: UInt64) {
        self.dev = dev
        self.ino = ino
    }

    var description: String { "\(dev):\(ino)" }
}

/// Thin wrappers over the POSIX calls the tailer uses.
enum Posix {
    static func status(_ path: String) -> stat? {
        var st = stat()
        return stat(path, &st) == 0 ? st : nil
    }

    static func status(fd: Int32) -> stat? {
        var st = stat()
        return fstat(fd, &st) == 0 ? st : nil
    }

    static func isRegular(_ st: stat) -> Bool { (st.st_mode & S_IFMT) == S_IFREG }

    /// When the file at `path` was created (nanoseconds since the epoch, as ``mtime(_:)``); nil
    /// where the file system does not say.
    static func birthTime(_ path: String) -> Int64? {
        var ns: Int64 = 0
        return shipper_birth_time(path, &ns) == 0 ? ns : nil
    }

    static func size(_ st: stat) -> Int64 { Int64(st.st_size) }

    static func mtime(_ st: stat) -> Int64 {
        Int64(st.st_mtim.tv_sec) &* 1_000_000_000 &+ Int64(st.st_mtim.tv_nsec)
    }

    /// Reads up to `buffer.count` bytes at `offset`, retrying short reads; the count read (less at
    /// end of file), or -errno.
    static func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        var done = 0
        while done < buffer.count {
            let n = Glibc.pread(fd, base + done, buffer.count - done, off_t(offset + Int64(done)))
            if n < 0 {
                if errno == EINTR { continue }
                return done > 0 ? done : -Int(errno)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Up to `count` bytes at `offset` (fewer at end of file); nil on a read error.
    static func read(_ fd: Int32, at offset: Int64, count: Int) -> [UInt8]? {
        guard count > 0 else { return [] }
        var failed = false
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buf, initialized in
            let n = pread(fd, into: UnsafeMutableRawBufferPointer(buf), at: offset)
            if n < 0 { failed = true }
            initialized = max(0, n)
        }
        return failed ? nil : bytes
    }

    /// The first `count` bytes of the file at `path` (fewer when it is shorter); nil when it
    /// cannot be read.
    static func read(path: String, count: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return read(fd, at: 0, count: count)
    }

    /// Writes all of `bytes`, retrying short writes; 0 or an errno.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Int32 {
        bytes.withUnsafeBytes { buf -> Int32 in
            guard let base = buf.baseAddress else { return 0 }
            var done = 0
            while done < buf.count {
                let n = Glibc.write(fd, base + done, buf.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                done += n
            }
            return 0
        }
    }

    /// Index of the first `\n` in `buf[from..<to]`.
    @inline(__always)
    static func newline(_ buf: UnsafeRawBufferPointer, from: Int, to: Int) -> Int? {
        guard from < to, let base = buf.baseAddress else { return nil }
        guard let p = memchr(base + from, 0x0A, to - from) else { return nil }
        return UnsafeRawPointer(p) - base
    }

    /// Index of the last `\n` in `buf`.
    static func lastNewline(_ buf: UnsafeRawBufferPointer) -> Int? {
        var i = buf.count - 1
        while i >= 0 {
            if buf[i] == 0x0A { return i }
            i -= 1
        }
        return nil
    }

    /// The directory part of a path (`.` when it has none).
    static func dirname(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// The path with symbolic links resolved, nil when it cannot be resolved.
    static func realpath(_ path: String) -> String? {
        guard let p = Glibc.realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    /// Creates a directory and its parents (`mkdir -p`); 0 or an errno.
    static func makeDirectories(_ path: String) -> Int32 {
        if path.isEmpty || path == "/" || path == "." { return 0 }
        if let st = status(path) { return (st.st_mode & S_IFMT) == S_IFDIR ? 0 : ENOTDIR }
        let parent = dirname(path)
        if parent != path {
            let e = makeDirectories(parent)
            if e != 0 { return e }
        }
        if mkdir(path, 0o755) != 0 && errno != EEXIST { return errno }
        return 0
    }
}

/// Hashes used for file identity: FNV-1a with a final avalanche (murmur3's fmix64).
enum FileHash {
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        return fmix(h ^ UInt64(bytes.count))
    }

    static func hash(_ bytes: [UInt8]) -> UInt64 { bytes.withUnsafeBytes { hash($0) } }

    static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        fmix(a ^ fmix(b &+ 0x9E37_79B9_7F4A_7C15))
    }

    static func fmix(_ x: UInt64) -> UInt64 {
        var k = x
        k ^= k >> 33
        k = k &* 0xff51_afd7_ed55_8ccd
        k ^= k >> 33
        k = k &* 0xc4ce_b9fe_1a85_ec53
        k ^= k >> 33
        return k
    }
}
