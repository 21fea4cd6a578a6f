import CoreMetrics
import ElasticsearchTestServer
import Foundation
import Logging
import ShipperCore
import Synchronization
import Testing

@testable import OutputElasticsearch

/// Log lines captured in memory (message plus metadata, rendered as text).
final class LogCapture: Sendable {
    let lines = Mutex<[String]>([])

    var all: [String] { lines.withLock { $0 } }
    var text: String { all.joined(separator: "\n") }

    func logger(_ label: String = "test") -> Logger {
        var logger = Logger(label: label) { _ in CapturingHandler(capture: self) }
        logger.logLevel = .trace
        return logger
    }

    struct CapturingHandler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: Logging.LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            let rendered = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            capture.lines.withLock { $0.append("\(event.level) \(event.message) \(rendered)") }
        }
    }
}

/// Counters and gauges kept in memory, keyed by label and sorted dimensions.
final class TestMetrics: MetricsFactory, Sendable {
    final class Value: CounterHandler, FloatingPointCounterHandler, RecorderHandler, TimerHandler, MeterHandler, Sendable {
        let value = Mutex<Double>(0)
        func increment(by amount: Int64) { value.withLock { $0 += Double(amount) } }
        func increment(by amount: Double) { value.withLock { $0 += amount } }
        func reset() { value.withLock { $0 = 0 } }
        func record(_ v: Int64) { value.withLock { $0 = Double(v) } }
        func record(_ v: Double) { value.withLock { $0 = v } }
        func recordNanoseconds(_ duration: Int64) { value.withLock { $0 = Double(duration) } }
        func set(_ v: Int64) { value.withLock { $0 = Double(v) } }
        func set(_ v: Double) { value.withLock { $0 = v } }
        func decrement(by amount: Double) { value.withLock { $0 -= amount } }
    }

    let values = Mutex<[String: Value]>([:])

    static func key(_ label: String, _ dimensions: [(String, String)]) -> String {
        label + "{" + dimensions.sorted { $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }.joined(separator: ",") + "}"
    }

    func handler(_ label: String, _ dimensions: [(String, String)]) -> Value {
        values.withLock { v in
            let k = Self.key(label, dimensions)
            if let h = v[k] { return h }
            let h = Value()
            v[k] = h
            return h
        }
    }

    /// Sum over every series of `label` whose dimensions include `matching`.
    func total(_ label: String, _ matching: [String: String] = [:]) -> Double {
        values.withLock { v in
            v.filter { key, _ in
                key.hasPrefix(label + "{") && matching.allSatisfy { key.contains("\($0.key)=\($0.value)") }
            }.reduce(0) { $0 + $1.value.value.withLock { $0 } }
        }
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler { handler(label, dimensions) }
    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        handler(label, dimensions)
    }
    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler { handler(label, dimensions) }
    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler { handler(label, dimensions) }
    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler { handler(label, dimensions) }
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyMeter(_ handler: any MeterHandler) {}
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}
}

/// Documents from an array in batches; positions are "documents acknowledged so far".
final class ArraySource: DocumentSource, Sendable {
    let documents: [OutgoingDocument]
    let batchSize: Int
    private let state = Mutex<(next: Int, acks: [Int])>((0, []))

    init(_ documents: [OutgoingDocument], batchSize: Int) {
        self.documents = documents
        self.batchSize = batchSize
    }

    func next(maxDocuments: Int, maxBytes: Int) async throws -> DocumentBatch<Int>? {
        state.withLock { s -> DocumentBatch<Int>? in
            guard s.next < documents.count else { return nil }
            var end = s.next
            var bytes = 0
            while end < documents.count && end - s.next < min(batchSize, maxDocuments)
                && (end == s.next || bytes + documents[end].document.count <= maxBytes)
            {
                bytes += documents[end].document.count
                end += 1
            }
            let batch = DocumentBatch(documents: Array(documents[s.next..<end]), position: end)
            s.next = end
            return batch
        }
    }

    func acknowledge(through position: Int) async throws {
        state.withLock { $0.acks.append(position) }
    }

    var acknowledgements: [Int] { state.withLock { $0.acks } }
}

/// A fresh directory under the system temp directory.
func makeTempDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "es-output-tests-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// `n` ECS-like events from one source file; documents whose index is in `poisoned` carry a
/// `poison` field (the test server's mapping-error rule rejects them).
func makeDocuments(_ n: Int, source: UInt64 = 0xfeed_0001, poisoned: Set<Int> = [], service: String = "web") -> [OutgoingDocument] {
    let base: Int64 = 1_731_622_400_000_000_000  // 2024-11-14T22:13:20Z
    return (0..<n).map { i in
        let ts = base + Int64(i) * 1_000_000
        var doc = #"{"@timestamp":""# + Timestamp(nanoseconds: ts).rfc3339 + #"","message":"GET /item/\#(i) HTTP/1.1 200","#
        doc += #""service":{"name":"\#(service)"},"log":{"offset":\#(i * 100)}"#
        if poisoned.contains(i) { doc += #","poison":true"# }
        doc += "}"
        return OutgoingDocument(
            source: source, offset: Int64(i * 100), timestamp: ts, attributes: [DocumentAttribute("service.name", service)],
            document: Array(doc.utf8))
    }
}

/// A config for tests: one host, fast retries, no batching delay.
func testConfig(port: Int, index: String = "logs-%{service.name}-%Y.%m.%d") -> ElasticsearchOutputConfig {
    var c = ElasticsearchOutputConfig(hosts: [ElasticsearchHost(host: "127.0.0.1", port: port)], index: index)
    c.batch = .init(maxBytes: ByteSize(bytes: 5 * 1_048_576), maxEvents: 100, timeout: .seconds(0))
    c.retry = .init(initialBackoff: .milliseconds(1), maxBackoff: .milliseconds(20))
    c.hostCooldown = .milliseconds(50)
    c.requestTimeout = .seconds(5)
    return c
}

/// Starts a server, runs `body`, shuts the server down.
@discardableResult
func withServer<T>(
    _ configuration: ElasticsearchTestServerConfiguration = .init(), _ body: (ElasticsearchTestServer) async throws -> T
) async throws -> T {
    let server = try await ElasticsearchTestServer.start(host: "127.0.0.1", port: 0, configuration: configuration)
    do {
        let result = try await body(server)
        try await server.shutdown()
        return result
    } catch {
        try? await server.shutdown()
        throw error
    }
}

/// Builds an output, runs `body`, shuts the output down.
@discardableResult
func withOutput<T>(
    name: String = "es", _ config: ElasticsearchOutputConfig, dataDirectory: String, logs: LogCapture = LogCapture(),
    metrics: TestMetrics? = nil, health: (@Sendable (Bool) -> Void)? = nil, _ body: (ElasticsearchOutput) async throws -> T
) async throws -> T {
    let output = try ElasticsearchOutput(
        name: name, config: config, dataDirectory: dataDirectory, logger: logs.logger(), metricsFactory: metrics ?? TestMetrics(),
        healthObserver: health)
    do {
        let result = try await body(output)
        try await output.shutdown()
        return result
    } catch {
        try? await output.shutdown()
        throw error
    }
}
