import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Seconds on a monotonic clock (for latencies and deadlines).
func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// A small seeded generator (SplitMix64): campaigns replay the same decisions for the same seed.
struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform value in `range`.
    mutating func uniform(_ range: ClosedRange<Double>) -> Double {
        range.lowerBound + (range.upperBound - range.lowerBound) * Double(next() >> 11) / Double(1 << 53)
    }

    mutating func chance(_ p: Double) -> Bool { uniform(0...1) < p }
}

/// A lock around a value shared between the writer threads, the tracker and the campaign.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }

    var current: Value { withLock { $0 } }
}

/// Sleeps without blocking the cooperative pool.
func pause(_ seconds: Double) async {
    guard seconds > 0 else { return }
    try? await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
}

/// Polls `condition` every `every` seconds until it holds or `timeout` passes.
func waitUntil(timeout: Double, every: Double = 0.05, _ condition: () async -> Bool) async -> Bool {
    let deadline = monotonicSeconds() + timeout
    while monotonicSeconds() < deadline {
        if await condition() { return true }
        await pause(every)
    }
    return await condition()
}

/// A free TCP port on 127.0.0.1 (bound and released; good enough for a port shipper binds next).
func freeLocalPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return 0 }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { return 0 }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// One HTTP GET to 127.0.0.1 (the shipper's /metrics), body as text; nil when it does not answer.
func httpGet(port: Int, path: String, timeout: Double = 5) -> String? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = UInt16(port).bigEndian
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { return nil }
    let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
    guard write(fd, request, request.count) == request.count else { return nil }
    var response: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fd, &buf, buf.count)
        if n <= 0 { break }
        response.append(contentsOf: buf[0..<n])
    }
    let text = String(decoding: response, as: UTF8.self)
    guard let split = text.range(of: "\r\n\r\n") else { return nil }
    return String(text[split.upperBound...])
}

/// The value of a Prometheus sample whose line starts with `name` (and contains every `labels` text).
func metricValue(_ text: String, _ name: String, labels: [String] = []) -> Double? {
    var total: Double?
    for line in text.split(separator: "\n") where line.hasPrefix(name) && !line.hasPrefix("#") {
        let rest = line.dropFirst(name.count)
        guard rest.first == " " || rest.first == "{" else { continue }
        guard labels.allSatisfy({ line.contains($0) }) else { continue }
        if let v = line.split(separator: " ").last.flatMap({ Double($0) }) { total = (total ?? 0) + v }
    }
    return total
}

enum FS {
    static func mkdirs(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    static func remove(_ path: String) { try? FileManager.default.removeItem(atPath: path) }

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    static func list(_ path: String) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }

    static func read(_ path: String) -> [UInt8]? {
        guard let d = FileManager.default.contents(atPath: path) else { return nil }
        return [UInt8](d)
    }

    static func write(_ path: String, _ bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    static func size(_ path: String) -> Int? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Int(st.st_size)
    }

    static func inode(_ path: String) -> UInt64? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return UInt64(st.st_ino)
    }

    /// Mounts a tmpfs of `bytes` at `path` (root only); false when the sandbox does not allow it.
    static func mountTmpfs(_ path: String, bytes: Int) -> Bool {
        mount("tmpfs", path, "tmpfs", 0, "size=\(bytes)") == 0
    }

    static func unmount(_ path: String) { _ = umount2(path, Int32(MNT_DETACH)) }
}

/// Formats seconds for the report.
func seconds(_ s: Double?) -> String {
    guard let s else { return "-" }
    return String(format: "%.2f s", s)
}

/// Logs a progress line to stderr (the report goes to stdout).
func note(_ text: String) {
    FileHandle.standardError.write(Data(("[campaign] " + text + "\n").utf8))
}

/// A campaign's own event log (`<workspace>/events.log`): rotations, kills and starts with wall
/// clock times, to line up with shipper's log when something went wrong.
enum EventLog {
    private static let file = Locked<Int32>(-1)

    static func open(_ path: String) {
        file.withLock { fd in
            if fd >= 0 { close(fd) }
            fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        }
    }

    static func add(_ text: String) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = ts.tv_sec
        var tmv = tm()
        gmtime_r(&t, &tmv)
        let line = String(format: "%02d:%02d:%02d.%06ld ", Int(tmv.tm_hour), Int(tmv.tm_min), Int(tmv.tm_sec), ts.tv_nsec / 1000) + text + "\n"
        file.withLock { fd in
            guard fd >= 0 else { return }
            _ = line.withCString { write(fd, $0, strlen($0)) }
        }
    }
}
