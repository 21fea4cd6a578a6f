import CoreMetrics
import Logging
import NIOCore
import ShipperCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Counts of what happened to a batch.
public struct DeliveryReport: Sendable, Equatable {
    /// Documents Elasticsearch has (2xx or 409).
    public var delivered = 0
    /// Of those, answered 409: they were already there (a replay).
    public var duplicates = 0
    /// Documents written to the dead-letter file.
    public var deadLettered = 0
    /// Item sends repeated after 429/5xx.
    public var retriedItems = 0
    /// HTTP requests made (answered or not).
    public var requests = 0

    public init() {}

    public mutating func add(_ other: DeliveryReport) {
        delivered += other.delivered
        duplicates += other.duplicates
        deadLettered += other.deadLettered
        retriedItems += other.retriedItems
        requests += other.requests
    }
}

/// What `GET /` said.
public struct ClusterInfo: Sendable, Equatable {
    public var clusterName: String
    /// `version.number`, e.g. `9.1.0`.
    public var versionNumber: String
    /// `elasticsearch` or `opensearch`.
    public var distribution: String
    public var tagline: String

    /// The integer before the first `.` of the version.
    public var majorVersion: Int? { Int(versionNumber.split(separator: ".").first ?? "") }
}

/// Errors that stop the output (everything else is retried).
public enum ElasticsearchOutputError: Error, Sendable, CustomStringConvertible {
    /// `GET /` did not answer 200.
    case notReady(String)
    /// Elasticsearch refused the index template (400): fix the file.
    case templateRejected(name: String, reason: String)

    public var description: String {
        switch self {
        case .notReady(let s): return "Elasticsearch is not ready: \(s)"
        case .templateRejected(let name, let reason): return "Elasticsearch rejected the index template '\(name)': \(reason)"
        }
    }
}

/// What a dead-letter replay did.
public struct ReplayReport: Sendable, Equatable {
    /// Records read from the file.
    public var records = 0
    /// Lines that were not dead-letter records (skipped).
    public var unreadableLines = 0
    public var delivery = DeliveryReport()
    /// When the replayed file was the output's own dead-letter file, where it was moved first
    /// (documents rejected again are appended to a new dead-letter file).
    public var movedTo: String?

    public init() {}
}

/// The `elasticsearch` output: reads batches from a ``DocumentSource``, sends them with `_bulk`
/// (`create`, deterministic `_id`s, gzip), retries what can succeed later, dead-letters what never
/// will, and acknowledges batches in order once every document is delivered or dead-lettered.
///
/// ```swift
/// let output = try ElasticsearchOutput(name: "es", config: config, dataDirectory: "/var/lib/shipper", logger: logger)
/// // the pipeline stores output.attributeFields in every buffer record
/// try await output.run(source: BufferSource(buffer: buffer, reader: "es"))   // until drained or cancelled
/// try await output.shutdown()
/// ```
public final class ElasticsearchOutput: Sendable {
    public let name: String
    public let config: ElasticsearchOutputConfig
    /// Fields the index name needs; the pipeline stores their values with each event
    /// (``OutgoingDocument/attributes``).
    public let attributeFields: [FieldPath]
    /// The dead-letter file.
    public let deadLetterPath: String
    public let metrics: OutputMetrics

    let resolver: IndexResolver
    let transport: any ElasticsearchTransport
    let rotation: Mutex<HostRotation>
    let authorization: Secret?
    let deadLetters: DeadLetterFile
    let compressors: GzipCompressorPool?
    /// Bulk body arrays to reuse (one per batch in flight).
    private let bodies = Mutex<[[UInt8]]>([])
    let bulkQuery: String
    let backoff: Backoff
    let logger: Logger
    let templateBody: [UInt8]?
    let healthObserver: (@Sendable (_ healthy: Bool) -> Void)?
    /// 0: unknown, 1: healthy, 2: failing.
    private let health = Atomic<Int>(0)

    /// The dead-letter file of an output: `dead_letter.path`, relative to `dataDirectory` unless
    /// absolute; default `dead-letter/<output name>.ndjson`.
    public static func deadLetterPath(config: ElasticsearchOutputConfig, outputName: String, dataDirectory: String) -> String {
        let safeName = String(outputName.map { $0 == "/" || $0 == "\0" ? "_" : $0 })
        let path = config.deadLetter.path ?? "dead-letter/\(safeName).ndjson"
        if path.hasPrefix("/") { return path }
        if dataDirectory.isEmpty { return path }
        return dataDirectory.hasSuffix("/") ? dataDirectory + path : dataDirectory + "/" + path
    }

    /// Builds the output: resolves secrets (files, environment), reads the template file and the
    /// TLS files. Throws ``ConfigValueError`` for unusable values.
    /// - Parameters:
    ///   - name: the output's name in the config (metrics `component_id`, dead-letter file name).
    ///   - dataDirectory: base of a relative `dead_letter.path`.
    ///   - metricsFactory: default `MetricsSystem.factory`.
    ///   - transport: default ``AsyncHTTPTransport`` (call ``shutdown()`` when done).
    ///   - healthObserver: called when delivery starts failing (`false`: no answer, whole requests
    ///     refused, health check failing) and when it works again (`true`), on changes only.
    public init(
        name: String, config: ElasticsearchOutputConfig, dataDirectory: String, logger: Logger,
        metricsFactory: (any MetricsFactory)? = nil, transport: (any ElasticsearchTransport)? = nil,
        healthObserver: (@Sendable (_ healthy: Bool) -> Void)? = nil
    ) throws {
        try config.validate()
        self.name = name
        self.healthObserver = healthObserver
        self.config = config
        resolver = try IndexResolver(config: config)
        attributeFields = resolver.fields.map { FieldPath.intern($0) }
        deadLetterPath = Self.deadLetterPath(config: config, outputName: name, dataDirectory: dataDirectory)
        deadLetters = DeadLetterFile(path: deadLetterPath)
        metrics = OutputMetrics(component: name, compression: config.compression.rawValue, factory: metricsFactory)
        rotation = Mutex(HostRotation(count: config.hosts.count, cooldown: config.hostCooldown.duration))
        backoff = Backoff(initial: config.retry.initialBackoff.duration, maximum: config.retry.maxBackoff.duration)
        compressors = config.compression == .gzip ? GzipCompressorPool(level: Int32(config.compressionLevel)) : nil
        bulkQuery = Self.bulkQuery(config)
        var logger = logger
        logger[metadataKey: "output"] = "\(name)"
        self.logger = logger
        if let auth = config.auth {
            let password = try auth.password.resolve()
            authorization = Secret("Basic " + Base64.encode(Array((auth.user + ":" + password.value).utf8)))
        } else if let apiKey = config.apiKey {
            let key = try apiKey.resolve()
            authorization = Secret("ApiKey " + (key.value.contains(":") ? Base64.encode(Array(key.value.utf8)) : key.value))
        } else {
            authorization = nil
        }
        if let template = config.installTemplate {
            guard let bytes = FileIO.readFile(template.file) else {
                throw ConfigValueError("install_template.file \(template.file): cannot read the file")
            }
            guard DeadLetterRecord.isValidJSON(bytes) else {
                throw ConfigValueError("install_template.file \(template.file): not valid JSON")
            }
            templateBody = bytes
        } else {
            templateBody = nil
        }
        let connectTimeout = min(config.requestTimeout.duration, .seconds(10))
        self.transport = try transport ?? AsyncHTTPTransport(tls: config.tls, connectTimeout: connectTimeout)
        if !config.tls.verify && config.hosts.contains(where: { $0.scheme == "https" }) {
            logger.warning(
                "tls.verify is false: the Elasticsearch certificate and host name are not checked, so anyone on the network path can read and change the traffic, credentials included; set tls.ca_file instead"
            )
        }
        if authorization != nil, let plain = config.hosts.first(where: { $0.scheme == "http" }) {
            logger.warning(
                "credentials are sent over plain HTTP: anyone on the network path can read them; use https:// hosts",
                metadata: ["host": "\(plain)"])
        }
    }

    /// True while requests get answers (nil before the first request).
    public var isHealthy: Bool? {
        switch health.load(ordering: .relaxed) {
        case 1: return true
        case 2: return false
        default: return nil
        }
    }

    func reportHealth(_ healthy: Bool) {
        let new = healthy ? 1 : 2
        if health.exchange(new, ordering: .relaxed) != new { healthObserver?(healthy) }
    }

    /// Closes the HTTP client.
    public func shutdown() async throws {
        try await transport.shutdown()
    }

    static func percentEncode(_ text: String) -> String {
        var out = ""
        for b in text.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: ","), UInt8(ascii: "*"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                out += "%" + String(decoding: [hex[Int(b >> 4)], hex[Int(b & 15)]], as: UTF8.self)
            }
        }
        return out
    }

    // MARK: Running

    /// Reads, sends and acknowledges until the source is drained (returns) or the task is cancelled
    /// (throws `CancellationError`; unacknowledged documents are sent again on the next start, and
    /// the deterministic ids make that harmless). Waits for ``waitUntilReady()`` first.
    public func run<Source: DocumentSource>(source: Source) async throws {
        try await waitUntilReady()
        let (completions, continuation) = AsyncStream.makeStream(of: (Int, Source.Position).self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { continuation.finish() }
                try await self.produce(source, continuation)
            }
            var done: [Int: Source.Position] = [:]
            var nextAck = 0
            for await (sequence, position) in completions {
                done[sequence] = position
                var through: Source.Position?
                while let p = done.removeValue(forKey: nextAck) {
                    through = p
                    nextAck += 1
                }
                if let through { try await source.acknowledge(through: through) }
            }
            try await group.waitForAll()
        }
    }

    /// Reads batches and delivers up to `max_in_flight` at once; reports each finished batch.
    func produce<Source: DocumentSource>(_ source: Source, _ completions: AsyncStream<(Int, Source.Position)>.Continuation) async throws {
        let maxEvents = config.batch.maxEvents
        let maxBytes = config.batch.maxBytes.bytes
        let linger = config.batch.timeout.duration
        let maxInFlight = config.maxInFlight
        try await withThrowingTaskGroup(of: Void.self) { deliveries in
            var running = 0
            var sequence = 0
            var wakeAt: ContinuousClock.Instant?
            while true {
                while running >= maxInFlight {
                    _ = try await deliveries.next()
                    running -= 1
                }
                if let w = wakeAt {
                    try await Task.sleep(until: w, clock: .continuous)
                    wakeAt = nil
                }
                guard let batch = try await source.next(maxDocuments: maxEvents, maxBytes: maxBytes) else { break }
                let s = sequence
                sequence += 1
                let n = batch.documents.count
                var bytes = 0
                for d in batch.documents { bytes &+= d.document.count }
                if linger > .zero && n < maxEvents && (n == 0 || bytes + bytes / n <= maxBytes) {
                    wakeAt = .now + linger
                }
                if n == 0 {
                    completions.yield((s, batch.position))
                    continue
                }
                deliveries.addTask {
                    _ = try await self.deliver(batch.documents)
                    completions.yield((s, batch.position))
                }
                running += 1
            }
            try await deliveries.waitForAll()
        }
    }

    /// Sends documents until each is delivered or dead-lettered. Throws only `CancellationError`.
    public func deliver(_ documents: [OutgoingDocument]) async throws -> DeliveryReport {
        try await deliver(items: resolver.items(for: documents))
    }

    /// The bulk items (index, id) for documents.
    public func items(for documents: [OutgoingDocument]) -> [BulkItem] {
        resolver.items(for: documents)
    }

    /// Sends prepared items (fixed index and id) until each is delivered or dead-lettered.
    public func deliver(items: [BulkItem]) async throws -> DeliveryReport {
        var report = DeliveryReport()
        var work: [[Int]] = [Array(items.indices)]
        var dead: [DeadLetterRecord] = []
        var attempts: [Int: Int] = [:]
        var failures = 0
        // Body memory is reused from batch to batch (a fresh multi-MiB array per batch would be
        // mapped, faulted in and unmapped every time).
        var built = BulkBody.Built(bytes: bodies.withLock { $0.popLast() } ?? [], included: [], excluded: [])
        defer {
            let bytes = built.bytes
            built.bytes = []
            bodies.withLock { if $0.count < max(1, config.maxInFlight) { $0.append(bytes) } }
        }
        let maxAttempts = config.retry.maxAttempts

        func pause() async throws {
            try await Task.sleep(for: backoff.delay(attempt: failures))
            failures += 1
        }

        while let chunk = work.popLast() {
            try Task.checkCancellation()
            let body = try buildBody(items, indices: chunk, into: &built)
            for (i, _) in built.excluded {
                dead.append(
                    DeadLetterRecord(
                        item: items[i], status: 0, error: ElasticsearchError(type: "shipper_empty_document", reason: "the document is empty")))
            }
            let included = built.included
            if included.isEmpty { continue }
            report.requests += 1
            let (answer, host) = try await sendBulk(body, uncompressedBytes: built.size)
            guard let response = answer.response else {
                reportHealth(false)
                work.append(included)
                let available = rotation.withLock { $0.hasAvailable(now: .now) }
                logger.warning(
                    "Elasticsearch request failed, retrying\(available ? " on the next host" : "")",
                    metadata: ["host": "\(config.hosts[host])", "error": "\(answer.failure ?? "")", "documents": "\(included.count)"])
                if !available { try await pause() }
                continue
            }
            switch BulkResponseClassifier.classify(status: response.status, body: response.body, itemCount: included.count) {
            case .items(let outcomes):
                reportHealth(true)
                var retry: [Int] = []
                var delivered = 0
                var deliveredBytes = 0
                var firstRetry: (Int, ElasticsearchError?)?
                for (k, outcome) in outcomes.enumerated() {
                    let i = included[k]
                    switch outcome {
                    case .delivered(let status):
                        delivered += 1
                        deliveredBytes += items[i].document.count
                        if status == 409 { report.duplicates += 1 }
                    case .retry(let status, let error):
                        if firstRetry == nil { firstRetry = (status, error) }
                        if maxAttempts > 0 {
                            let n = attempts[i, default: 0] + 1
                            attempts[i] = n
                            if n >= maxAttempts {
                                let reason = "gave up after \(n) attempts; last: \(status) \(error.map { "\($0)" } ?? "")"
                                dead.append(
                                    DeadLetterRecord(
                                        item: items[i], status: status,
                                        error: ElasticsearchError(type: "shipper_retries_exhausted", reason: reason)))
                                continue
                            }
                        }
                        retry.append(i)
                    case .rejected(let status, let error):
                        dead.append(DeadLetterRecord(item: items[i], status: status, error: error))
                    }
                }
                report.delivered += delivered
                metrics.sentEvents.increment(by: delivered)
                metrics.sentEventBytes.increment(by: deliveredBytes)
                if outcomes.contains(where: { if case .delivered(409) = $0 { return true } else { return false } }) {
                    metrics.duplicates.increment(by: outcomes.count { if case .delivered(409) = $0 { return true } else { return false } })
                }
                if retry.isEmpty {
                    failures = 0
                } else {
                    report.retriedItems += retry.count
                    metrics.retried.increment(by: retry.count)
                    if let (status, error) = firstRetry, status == 401 || status == 403 {
                        logger.error(
                            "Elasticsearch refused documents (\(status)): check the credentials and the index privileges; retrying, nothing is dropped",
                            metadata: ["error": "\(error.map { "\($0)" } ?? "")", "documents": "\(retry.count)"])
                    } else {
                        logger.debug(
                            "Elasticsearch asked to retry some documents",
                            metadata: [
                                "documents": "\(retry.count)", "status": "\(firstRetry?.0 ?? 0)",
                                "error": "\(firstRetry?.1.map { "\($0)" } ?? "")",
                            ])
                    }
                    try await pause()
                    work.append(retry)
                }
            case .retryRequest(let status, let reason):
                reportHealth(false)
                let malformed = (200..<300).contains(status)
                metrics.error(malformed ? "malformed_response" : "request_failed")
                logger.warning(
                    malformed ? "unreadable Elasticsearch response, retrying" : "Elasticsearch rejected the request, retrying",
                    metadata: ["host": "\(config.hosts[host])", "status": "\(status)", "reason": "\(reason)", "documents": "\(included.count)"])
                try await pause()
                work.append(included)
            case .split(let status, let reason):
                if included.count > 1 {
                    logger.info(
                        "Elasticsearch refused the request as a whole (\(status)); sending it in halves",
                        metadata: ["reason": "\(reason)", "documents": "\(included.count)"])
                    let middle = included.count / 2
                    work.append(Array(included[middle...]))
                    work.append(Array(included[..<middle]))
                } else {
                    let type = status == 413 ? "shipper_document_too_large" : "shipper_request_rejected"
                    dead.append(
                        DeadLetterRecord(
                            item: items[included[0]], status: status,
                            error: ElasticsearchError(type: type, reason: status == 413 ? "the document alone is too large: \(reason)" : reason)))
                }
            case .misconfigured(let status, let reason):
                reportHealth(false)
                metrics.error("unauthorized")
                logger.error(
                    "Elasticsearch refused the request (\(status)): a configuration problem (credentials, privileges, host URL or proxy); retrying, nothing is dropped",
                    metadata: ["host": "\(config.hosts[host])", "status": "\(status)", "reason": "\(reason)"])
                try await pause()
                work.append(included)
            }
        }
        if !dead.isEmpty {
            try await writeDeadLetters(dead)
            report.deadLettered = dead.count
        }
        return report
    }

    struct Answer {
        var response: TransportResponse?
        var failure: String?
    }

    /// Body bytes built before they are compressed (with gzip the whole uncompressed body never
    /// exists; a chunk is compressed while it is still in the cache). igzip copies about 64 KiB of
    /// every call's input into its window (32 KiB in, 32 KiB of history kept): with 64 KiB chunks
    /// that copied every byte once more (1.5 % of shipper's CPU on the nginx run), at 256 KiB a
    /// quarter. Each body being built holds a chunk: 512 KiB cost 1 MiB of peak RSS on the jetty
    /// run for no gain the end-to-end runs could tell from noise.
    static let bodyChunkBytes = 256 << 10

    /// The request body for `items[i]`, `i` in `indices`: gzip-compressed while it is built, or
    /// as is (`built` has the items included and left out, and the body's uncompressed size).
    func buildBody(_ items: [BulkItem], indices: [Int], into built: inout BulkBody.Built) throws -> ByteBuffer {
        guard let compressors else {
            BulkBody.build(items, indices: indices, into: &built)
            return ByteBuffer(bytes: built.bytes)
        }
        return try compressors.withCompressor { c in
            var out = ByteBufferAllocator().buffer(capacity: 128 << 10)
            c.begin()
            try BulkBody.build(items, indices: indices, into: &built, chunkBytes: Self.bodyChunkBytes) {
                try c.feed($0, last: false, into: &out)
            }
            try built.bytes.withUnsafeBytes { try c.feed($0, last: true, into: &out) }
            return out
        }
    }

    /// POSTs one bulk body (from ``buildBody(_:indices:into:)``) to the next host.
    func sendBulk(_ body: ByteBuffer, uncompressedBytes: Int) async throws -> (Answer, host: Int) {
        var headers: [(name: String, value: String)] = [("Content-Type", "application/x-ndjson"), ("User-Agent", "shipper")]
        if compressors != nil { headers.append(("Content-Encoding", "gzip")) }
        metrics.uncompressedBytes.increment(by: uncompressedBytes)
        metrics.sentBytes.increment(by: body.readableBytes)
        return try await send(method: "POST", path: "/_bulk" + bulkQuery, headers: headers, body: body)
    }

    /// One request to the next host; a host that does not answer cools down.
    func send(method: String, path: String, headers: [(name: String, value: String)], body: ByteBuffer?) async throws -> (Answer, host: Int) {
        var headers = headers
        if let authorization { headers.append(("Authorization", authorization.value)) }
        let host = rotation.withLock { $0.pick(now: .now) }
        let request = TransportRequest(
            method: method, url: config.hosts[host].baseURL + path, headers: headers, body: body, timeout: config.requestTimeout.duration)
        metrics.requestStarted()
        defer { metrics.requestEnded() }
        let start = ContinuousClock.now
        do {
            let response = try await transport.execute(request)
            rotation.withLock { $0.succeeded(host) }
            metrics.duration.recordNanoseconds(Backoff.nanoseconds(ContinuousClock.now - start))
            metrics.response(status: response.status)
            return (Answer(response: response), host)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            if Task.isCancelled { throw CancellationError() }
            rotation.withLock { $0.failed(host, now: .now) }
            if case TransportError.timedOut = error { metrics.error("timed_out") } else { metrics.error("connection_failed") }
            return (Answer(failure: "\(error)"), host)
        }
    }

    /// Appends to the dead-letter file (fsynced), retrying until it works: the batch is
    /// acknowledged only after this.
    func writeDeadLetters(_ records: [DeadLetterRecord]) async throws {
        var lines: [UInt8] = []
        let now = Timestamp.now()
        for r in records { r.encode(output: name, now: now, into: &lines) }
        var failures = 0
        while true {
            do {
                try deadLetters.append(lines)
                break
            } catch {
                metrics.error("dead_letter_write_failed")
                logger.error(
                    "cannot write the dead-letter file; retrying (the batch stays unacknowledged)",
                    metadata: ["path": "\(deadLetterPath)", "error": "\(error)"])
                try await Task.sleep(for: backoff.delay(attempt: failures))
                failures += 1
            }
        }
        metrics.deadLettered.increment(by: records.count)
        metrics.error("item_rejected", count: records.count)
        let first = records[0]
        logger.error(
            "Elasticsearch rejected documents; written to the dead-letter file",
            metadata: [
                "documents": "\(records.count)", "path": "\(deadLetterPath)", "status": "\(first.status)",
                "error": "\(first.error)", "index": "\(first.item.index)",
            ])
    }

    // MARK: Start-up

    /// `GET /` on the next host: the cluster's name and version.
    public func healthCheck() async throws -> ClusterInfo {
        let (answer, host) = try await send(method: "GET", path: "/", headers: [("User-Agent", "shipper")], body: nil)
        guard let response = answer.response else {
            throw ElasticsearchOutputError.notReady("\(config.hosts[host]): \(answer.failure ?? "no answer")")
        }
        guard response.status == 200 else {
            throw ElasticsearchOutputError.notReady(
                "\(config.hosts[host]): \(BulkResponseClassifier.errorSummary(status: response.status, body: response.body))")
        }
        let info = try? response.body.withUnsafeBytes { (b) throws(JSONError) -> JSONValue in try JSONScanner.parseDocument(b) }
        let version = info?["version"]
        return ClusterInfo(
            clusterName: info?["cluster_name"]?.stringValue ?? "", versionNumber: version?["number"]?.stringValue ?? "",
            distribution: version?["distribution"]?.stringValue ?? "elasticsearch", tagline: info?["tagline"]?.stringValue ?? "")
    }

    /// `PUT /_index_template/{name}` with the configured file.
    public func installTemplate() async throws {
        guard let template = config.installTemplate, let body = templateBody else { return }
        let (answer, host) = try await send(
            method: "PUT", path: "/_index_template/" + Self.percentEncode(template.name),
            headers: [("Content-Type", "application/json"), ("User-Agent", "shipper")], body: ByteBuffer(bytes: body))
        guard let response = answer.response else {
            throw ElasticsearchOutputError.notReady("\(config.hosts[host]): \(answer.failure ?? "no answer")")
        }
        let summary = BulkResponseClassifier.errorSummary(status: response.status, body: response.body)
        switch response.status {
        case 200..<300:
            logger.info("installed the index template", metadata: ["template": "\(template.name)"])
        case 400:
            throw ElasticsearchOutputError.templateRejected(name: template.name, reason: summary)
        default:
            throw ElasticsearchOutputError.notReady("installing template '\(template.name)': \(summary)")
        }
    }

    /// The health check (when `health_check`) and the template install (when `install_template`),
    /// retried with backoff until they succeed. Throws for a rejected template and when cancelled.
    public func waitUntilReady() async throws {
        guard config.healthCheck || config.installTemplate != nil else { return }
        var failures = 0
        while true {
            do {
                if config.healthCheck {
                    let info = try await healthCheck()
                    logger.info(
                        "connected to Elasticsearch",
                        metadata: ["cluster": "\(info.clusterName)", "version": "\(info.versionNumber)", "distribution": "\(info.distribution)"])
                    if let major = info.majorVersion, major < 7, info.distribution != "opensearch" {
                        logger.warning("Elasticsearch \(info.versionNumber) is older than 7: bulk requests without _type may fail")
                    }
                }
                try await installTemplate()
                reportHealth(true)
                return
            } catch let error as ElasticsearchOutputError {
                reportHealth(false)
                if case .templateRejected = error { throw error }
                if Task.isCancelled { throw CancellationError() }
                if "\(error)".contains("HTTP 401") || "\(error)".contains("HTTP 403") {
                    logger.error("Elasticsearch refused the credentials: check auth / api_key; retrying", metadata: ["error": "\(error)"])
                } else if "\(error)".contains(": TLS: ") {
                    logger.error("no secure connection to Elasticsearch: check the tls options; retrying", metadata: ["error": "\(error)"])
                } else {
                    logger.warning("Elasticsearch is not ready; retrying", metadata: ["error": "\(error)"])
                }
                try await Task.sleep(for: backoff.delay(attempt: failures))
                failures += 1
            }
        }
    }

    /// The query of every bulk request: `?pipeline=…&filter_path=…`, each when set.
    static func bulkQuery(_ config: ElasticsearchOutputConfig) -> String {
        var parameters: [String] = []
        if let pipeline = config.pipeline { parameters.append("pipeline=" + percentEncode(pipeline)) }
        if !config.filterPath.isEmpty { parameters.append("filter_path=" + percentEncode(config.filterPath)) }
        return parameters.isEmpty ? "" : "?" + parameters.joined(separator: "&")
    }

    // MARK: Dead-letter replay

    /// Sends the documents of a dead-letter file again, with their original index and `_id` (so
    /// documents that made it in the meantime are answered 409 and not duplicated). Documents
    /// rejected again go to this output's dead-letter file. When `path` is that file, it is first
    /// moved to `<path>.replayed-<unix ns>`.
    public func replayDeadLetters(path: String) async throws -> ReplayReport {
        var report = ReplayReport()
        var readPath = path
        if Self.samePath(path, deadLetterPath) {
            let moved = path + ".replayed-\(Timestamp.now().nanoseconds)"
            try FileIO.move(path, moved)
            readPath = moved
            report.movedTo = moved
        }
        let (records, unreadable) = try DeadLetterRecord.read(path: readPath)
        report.records = records.count
        report.unreadableLines = unreadable
        if unreadable > 0 { logger.warning("skipped unreadable dead-letter lines", metadata: ["lines": "\(unreadable)", "path": "\(readPath)"]) }
        var batch: [BulkItem] = []
        var bytes = 0
        for r in records {
            if !batch.isEmpty && (batch.count >= config.batch.maxEvents || bytes + r.item.document.count > config.batch.maxBytes.bytes) {
                report.delivery.add(try await deliver(items: batch))
                batch.removeAll(keepingCapacity: true)
                bytes = 0
            }
            batch.append(r.item)
            bytes += r.item.document.count
        }
        if !batch.isEmpty { report.delivery.add(try await deliver(items: batch)) }
        return report
    }

    static func samePath(_ a: String, _ b: String) -> Bool {
        if a == b { return true }
        guard let ra = realpath(a, nil) else { return false }
        defer { free(ra) }
        guard let rb = realpath(b, nil) else { return false }
        defer { free(rb) }
        return String(cString: ra) == String(cString: rb)
    }
}
