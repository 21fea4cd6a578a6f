import BufferDisk
import ShipperCore

/// Turns finished events into buffer records: the event encoded once as JSON, its origin (for
/// deterministic document ids), its `@timestamp`, and the field values the outputs route by.
struct RecordBuilder {
    var encoder = EventEncoder()
    /// Fields whose values outputs need (index and path templates), stored with each record.
    let attributeFields: [FieldPath]
    private var scratch: [UInt8] = []

    init(attributeFields: [FieldPath]) {
        var seen = Set<ObjectIdentifier>()
        self.attributeFields = attributeFields.filter { seen.insert(ObjectIdentifier($0)).inserted }
        scratch.reserveCapacity(4096)
    }

    mutating func record(for event: LogEvent) -> BufferRecord {
        scratch.removeAll(keepingCapacity: true)
        encoder.encode(event, into: &scratch)
        return BufferRecord(
            source: event.origin.source, offset: event.origin.offset, timestamp: Self.timestamp(of: event),
            attributes: attributes(of: event), document: scratch)
    }

    /// Appends the event's record to `writer`, encoding the document straight into the frame.
    mutating func append(_ event: LogEvent, to writer: inout RecordCodec.BatchWriter) throws {
        try writer.append(
            source: event.origin.source, offset: event.origin.offset, timestamp: Self.timestamp(of: event),
            attributes: attributes(of: event)
        ) { encoder.encode(event, into: &$0) }
    }

    /// Index names and ages come from @timestamp; an event without one (decoders always set it,
    /// a stage may remove it) is dated when its record is built, once: a replay from the buffer
    /// goes to the same index.
    private static func timestamp(of event: LogEvent) -> Int64 {
        if case .timestamp(let t)? = event[FieldPaths.timestamp] { return t.nanoseconds }
        return Timestamp.now().nanoseconds
    }

    private func attributes(of event: LogEvent) -> [BufferAttribute] {
        guard !attributeFields.isEmpty else { return [] }
        var attributes: [BufferAttribute] = []
        attributes.reserveCapacity(attributeFields.count)
        for path in attributeFields {
            guard let value = event[path] else { continue }
            if case .string(let s) = value {
                attributes.append(BufferAttribute(name: path.dotted, value: Array(event.arena[s.range])))
            } else if let text = event.text(of: value) {
                attributes.append(BufferAttribute(name: path.dotted, value: Array(text.utf8)))
            }
        }
        return attributes
    }
}

extension BufferRecord {
    /// The value of an attribute stored with the record.
    func attribute(_ name: String) -> [UInt8]? { attributes.first { $0.name == name }?.value }
}
