import BufferDisk
import Logging
import Metrics
import OutputElasticsearch
import ShipperConfig
import ShipperCore
import ShipperTelemetry

/// The `elasticsearch` output driven from the buffer.
///
/// Its metrics come from ``OutputMetrics`` (sent events and bytes, errors, retries, dead letters),
/// plus the events and bytes it read from the buffer (`shipper_component_received_events_total`,
/// `shipper_component_received_bytes_total`), counted here.
final class ElasticsearchOutputRunner: OutputRunner, @unchecked Sendable {
    let name: String
    let type = "elasticsearch"
    let output: ElasticsearchOutput
    let receivedEvents: Counter
    let receivedBytes: Counter

    init(name: String, spec: ComponentSpec, dataDir: String, logger: Logger, health: HealthState) throws {
        self.name = name
        // Not a ComponentMetrics: OutputMetrics owns the other names for this output (its sent
        // bytes carry a `compression` label).
        let labels = sinkLabels(name: name, type: "elasticsearch")
        receivedEvents = Counter(label: MetricNames.receivedEvents, dimensions: labels)
        receivedBytes = Counter(label: MetricNames.receivedBytes, dimensions: labels)
        let config = try spec.decode(ElasticsearchOutputConfig.self)
        output = try ElasticsearchOutput(
            name: name, config: config, dataDirectory: dataDir, logger: logger,
            healthObserver: { healthy in
                if healthy { health.outputRecovered(name: name) } else { health.outputFailing(name: name) }
            })
    }

    /// Decodes and checks the options without connecting.
    static func validate(spec: ComponentSpec) throws {
        let config = try spec.decode(ElasticsearchOutputConfig.self)
        try config.validate()
    }

    var attributeFields: [FieldPath] { output.attributeFields }

    func run(buffer: DiskBuffer) async throws {
        do {
            try await output.run(
                source: BufferDocumentSource(buffer: buffer, reader: name, receivedEvents: receivedEvents, receivedBytes: receivedBytes))
        } catch {
            try? await output.shutdown()
            throw error
        }
        try await output.shutdown()
    }
}

/// The buffer seen as the Elasticsearch output's document source.
struct BufferDocumentSource: DocumentSource {
    let buffer: DiskBuffer
    let reader: String
    let receivedEvents: Counter
    let receivedBytes: Counter

    /// Up to `maxDocuments` / about `maxBytes` of what the buffer has now (waiting only while it
    /// has nothing). A buffer read stops at a segment's end; the batch goes on into the next
    /// segments when they have records already, so a backlog is sent in full batches (a short
    /// batch makes the output wait for its batch timeout before the next read).
    func next(maxDocuments: Int, maxBytes: Int) async throws -> DocumentBatch<BufferPosition>? {
        guard var batch = try await buffer.read(reader: reader, maxRecords: maxDocuments, maxBytes: maxBytes) else { return nil }
        var records = batch.records
        var bytes = 0
        for r in records { bytes &+= r.document.count }
        while records.count < maxDocuments && bytes < maxBytes && unread() > 0 {
            // Does not wait: this reader has records left (only this task reads as `reader`).
            guard let more = try await buffer.read(reader: reader, maxRecords: maxDocuments - records.count, maxBytes: maxBytes - bytes)
            else { break }
            for r in more.records { bytes &+= r.document.count }
            records.append(contentsOf: more.records)
            batch.end = more.end
        }
        receivedEvents.increment(by: records.count)
        receivedBytes.increment(by: bytes)
        // Single-line: the buffer holds what `RecordBuilder`'s encoder wrote (compact JSON, every
        // control byte escaped), checked by the record's CRC-32C when read.
        return DocumentBatch(
            documents: records.map {
                OutgoingDocument(
                    source: $0.source, offset: $0.offset, timestamp: $0.timestamp,
                    attributes: $0.attributes.map { DocumentAttribute(name: $0.name, value: $0.value) }, document: $0.document,
                    isSingleLine: true)
            }, position: batch.end)
    }

    /// Records appended that this reader has not read yet.
    private func unread() -> Int64 {
        guard let lag = buffer.stats().readers.first(where: { $0.name == reader }) else { return 0 }
        return lag.records - lag.inFlight
    }

    func acknowledge(through position: BufferPosition) async throws {
        try await buffer.acknowledge(reader: reader, through: position)
    }
}
