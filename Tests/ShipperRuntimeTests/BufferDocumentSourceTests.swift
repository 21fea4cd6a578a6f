import BufferDisk
import CoreMetrics
import Foundation
import struct Logging.Logger
import OutputElasticsearch
import ShipperCore
import Testing

@testable import ShipperRuntime

/// The Elasticsearch output's documents come from the buffer marked single-line, so the bulk body
/// copies them without looking for raw CR/LF: that holds because the records are what
/// `RecordBuilder`'s encoder wrote.
@Suite struct BufferDocumentSourceTests {
    @Test func documentsFromTheBufferAreSingleLineAndHoldNoRawLineBreak() async throws {
        let dir = NSTemporaryDirectory() + "shipper-source-test-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let buffer = try DiskBuffer(
            config: DiskBufferConfig(path: dir, fsync: .never), readers: ["es"], logger: Logger(label: "test"))
        // Line breaks and every other control byte in values, in keys, in arrays, and through
        // JSONWriter's general path (an object inside an array).
        var values: [[UInt8]] = [Array("a\r\nb\nc\rd".utf8), Array("\u{1}\u{8}\u{9}\u{B}\u{C}\u{1F}\u{7F}".utf8)]
        values.append((0..<32).map { UInt8($0) })
        var events: [LogEvent] = []
        for (i, v) in values.enumerated() {
            var e = LogEvent(message: v, timestamp: Timestamp(nanoseconds: 1_764_000_000_000_000_000, precision: 9))
            e.set(FieldPath.intern("key\nwith\r\nbreaks"), string: v)
            // The message's text is at the start of the arena.
            let text = FieldValue.string(ArenaSlice(start: 0, count: v.count))
            let list = e.appendArray([text, .int(Int64(i))])
            e.set(FieldPath.intern("list"), list)
            if i == 2 {
                let object = e.appendObject([Field(FieldPath.intern("inner\n"), text)])
                let objects = e.appendArray([object])
                e.set(FieldPath.intern("objects"), objects)
            }
            e.origin = EventOrigin(source: 7, offset: Int64(i * 100), endOffset: Int64(i * 100 + 99))
            events.append(e)
        }
        var builder = RecordBuilder(attributeFields: [])
        var writer = RecordCodec.BatchWriter()
        for e in events { try builder.append(e, to: &writer) }
        _ = try await buffer.appendWithoutWaitingForSync(&writer)

        let source = BufferDocumentSource(
            buffer: buffer, reader: "es", receivedEvents: Counter(label: "received"), receivedBytes: Counter(label: "bytes"))
        let batch = try #require(try await source.next(maxDocuments: 10, maxBytes: 1 << 20))
        #expect(batch.documents.count == events.count)
        for (doc, event) in zip(batch.documents, events) {
            #expect(doc.isSingleLine)
            #expect(!doc.document.contains(0x0A) && !doc.document.contains(0x0D), "\(String(decoding: doc.document, as: UTF8.self))")
            #expect(Array(doc.document) == Array(JSONWriter.string(event).utf8))
        }
        // The body is what it is when every document is scanned.
        let items = batch.documents.map {
            BulkItem(index: "logs", id: .text("x"), document: $0.document, isSingleLine: $0.isSingleLine)
        }
        var scanned = items
        for k in scanned.indices { scanned[k].isSingleLine = false }
        #expect(BulkBody.build(items).bytes == BulkBody.build(scanned).bytes)
        try await buffer.close()
    }
}
