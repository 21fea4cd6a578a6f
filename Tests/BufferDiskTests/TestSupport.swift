import Foundation
import Logging
import ShipperCore
import Synchronization
import Testing

@testable import BufferDisk

/// A fresh directory under the system temp dir, removed at the end of the test.
final class TempDir: Sendable {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "shipper-buffer-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    func files(_ sub: String = "") -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path + sub)) ?? []).sorted()
    }
    func segments() -> [String] { files().filter { $0.hasPrefix("segment-") } }
    func read(_ name: String) -> [UInt8] { Array((try? Data(contentsOf: URL(fileURLWithPath: path + "/" + name))) ?? Data()) }
    func write(_ name: String, _ bytes: [UInt8]) throws { try Data(bytes).write(to: URL(fileURLWithPath: path + "/" + name)) }
    func size(_ name: String) -> Int { read(name).count }
}

/// Collects log messages so tests can check what was logged.
final class LogCapture: Sendable {
    let entries = Mutex<[(Logger.Level, String)]>([])

    var logger: Logger {
        Logger(label: "test") { _ in Handler(capture: self) }
    }

    func messages(_ level: Logger.Level) -> [String] {
        entries.withLock { $0.filter { $0.0 == level }.map(\.1) }
    }

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: Logging.LogEvent) {
            capture.entries.withLock { $0.append((event.level, "\(event.message)")) }
        }
    }
}

func record(_ i: Int, size: Int = 40, attributes: [BufferAttribute] = []) -> BufferRecord {
    var doc = Array("{\"message\":\"line \(i)\"".utf8)
    while doc.count < size - 1 { doc.append(UInt8(ascii: " ")) }
    doc.append(UInt8(ascii: "}"))
    return BufferRecord(source: 7, offset: Int64(i) * 100, timestamp: 1_764_000_000_000_000_000 + Int64(i), attributes: attributes, document: doc)
}

func records(_ range: Range<Int>, size: Int = 40) -> [BufferRecord] { range.map { record($0, size: size) } }

/// The `i` a test record was made from.
func number(_ r: BufferRecord) -> Int { Int(r.offset / 100) }

func config(_ dir: TempDir, maxSize: Int = 1 << 20, segmentSize: Int = 4096, fsync: DiskBufferFsync = .never) -> DiskBufferConfig {
    DiskBufferConfig(path: dir.path, maxSize: .init(bytes: maxSize), fsync: fsync, segmentSize: .init(bytes: segmentSize))
}

/// Reads until `count` records arrived (acknowledging nothing).
func readRecords(_ b: DiskBuffer, _ reader: String, count: Int, maxRecords: Int = 7) async throws -> (records: [BufferRecord], end: BufferPosition?) {
    var out: [BufferRecord] = []
    var end: BufferPosition?
    while out.count < count {
        guard let batch = try await b.read(reader: reader, maxRecords: min(maxRecords, count - out.count), maxBytes: 1 << 20) else { break }
        out += batch.records
        end = batch.end
    }
    return (out, end)
}

/// Reads everything until `read` returns nil (call after `close()`).
func drain(_ b: DiskBuffer, _ reader: String, ack: Bool = false) async throws -> [BufferRecord] {
    var out: [BufferRecord] = []
    while let batch = try await b.read(reader: reader, maxRecords: 50, maxBytes: 1 << 20) {
        out += batch.records
        if ack { try await b.acknowledge(reader: reader, through: batch.end) }
    }
    return out
}

/// Waits (yielding, no sleeps) until `condition` holds; fails the test after `seconds`.
func eventually(_ what: String, seconds: Double = 10, _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while !condition() {
        if ContinuousClock.now > deadline {
            Issue.record("timed out waiting for \(what)")
            throw CancellationError()
        }
        await Task.yield()
    }
}

/// Records events in order from several tasks.
final class EventLog: Sendable {
    let events = Mutex<[String]>([])
    func add(_ e: String) { events.withLock { $0.append(e) } }
    var all: [String] { events.withLock { $0 } }
}
