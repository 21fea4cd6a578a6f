import Foundation
import InputTail
import Logging
import ShipperCore
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A temporary directory removed when the value goes away.
final class TempDir {
    let path: String

    init() {
        var template = Array("/tmp/inputtail-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = String(cString: p!)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func sub(_ name: String) -> String { path + "/" + name }
}

/// Clocks the test moves by hand.
final class ManualClock: Sendable {
    private let state: Mutex<(monotonic: Int64, wall: Int64)>

    init(wall: Int64 = ManualClock.realWall()) {
        state = Mutex((1_000_000_000_000, wall))
    }

    static func realWall() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    var tailClock: TailClock {
        TailClock(monotonic: { self.state.withLock { $0.monotonic } }, wall: { self.state.withLock { $0.wall } })
    }

    func advance(seconds: Double) {
        state.withLock {
            $0.monotonic += Int64(seconds * 1e9)
            $0.wall += Int64(seconds * 1e9)
        }
    }

    func setWall(_ wall: Int64) { state.withLock { $0.wall = wall } }
}

/// Log messages captured for assertions.
final class LogCapture: Sendable {
    let messages = Mutex<[(Logger.Level, String)]>([])

    var logger: Logger {
        Logger(label: "test") { _ in CaptureHandler(capture: self) }
    }

    func contains(_ level: Logger.Level, _ text: String) -> Bool {
        messages.withLock { $0.contains { $0.0 == level && $0.1.contains(text) } }
    }

    struct CaptureHandler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: Logging.LogEvent) {
            capture.messages.withLock { $0.append((event.level, "\(event.message)")) }
        }
    }
}

/// A line as the tests see it.
struct SeenLine: Equatable, CustomStringConvertible {
    var file: FileID
    var path: String
    var text: String
    var offset: Int64
    var endOffset: Int64
    var terminated: Bool

    var description: String { "\(path)@\(offset): \(text.prefix(60))" }
}

/// Polls a tailer and collects what it returns.
final class Collector {
    var lines: [SeenLine] = []
    var finished: [FileID] = []
    var polls: [[TailChunk]] = []

    /// One poll; returns its chunks.
    @discardableResult
    func poll(_ tailer: Tailer, maxBytes: Int = 1 << 20) throws -> [TailChunk] {
        let chunks = try tailer.poll(maxBytes: maxBytes)
        polls.append(chunks)
        for c in chunks {
            c.forEachLine { bytes, line in
                lines.append(SeenLine(
                    file: c.file.id, path: c.file.path, text: String(decoding: bytes, as: UTF8.self),
                    offset: line.offset, endOffset: line.endOffset, terminated: line.isTerminated))
            }
            if c.isLast { finished.append(c.file.id) }
        }
        return chunks
    }

    /// Polls (moving `clock` by `advance` seconds before each poll) until `condition` holds or 10 s
    /// of real time pass; returns whether it held.
    @discardableResult
    func poll(
        _ tailer: Tailer, maxBytes: Int = 1 << 20, clock: ManualClock? = nil, advance: Double = 0,
        until condition: () -> Bool
    ) throws -> Bool {
        let deadline = Date().addingTimeInterval(10)
        while !condition() {
            if Date() > deadline { return false }
            clock?.advance(seconds: advance)
            try poll(tailer, maxBytes: maxBytes)
        }
        return true
    }

    var texts: [String] { lines.map(\.text) }
}

/// Writes text to a file (creating or replacing it).
func writeFile(_ path: String, _ text: String) throws {
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
}

/// Appends text to a file.
func appendFile(_ path: String, _ text: String) {
    let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
    precondition(fd >= 0)
    defer { close(fd) }
    let bytes = Array(text.utf8)
    precondition(write(fd, bytes, bytes.count) == bytes.count)
}

func openDescriptorCount() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
}

func inode(_ path: String) -> UInt64 {
    var st = stat()
    return stat(path, &st) == 0 ? UInt64(st.st_ino) : 0
}

/// A `file` source config for tests: no inotify, no rotate wait, fast discovery.
func fileConfig(_ paths: [String], _ edit: (inout TailConfig) -> Void = { _ in }) -> TailConfig {
    var c = TailConfig(kind: .file, paths: paths)
    c.inotify = false
    c.rotateWait = .seconds(0)
    c.discoveryInterval = .seconds(1)
    edit(&c)
    return c
}

func dockerConfig(root: String, _ edit: (inout TailConfig) -> Void = { _ in }) -> TailConfig {
    var c = TailConfig(kind: .docker, paths: [root + "/*/*-json.log"])
    c.inotify = false
    c.rotateWait = .seconds(0)
    c.discoveryInterval = .seconds(1)
    edit(&c)
    return c
}
