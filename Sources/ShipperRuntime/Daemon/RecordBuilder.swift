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
        // Index names and ages come from @timestamp; an event without one (decoders always set it,
        // a stage may remove it) is dated when its record is built, once: a replay from the buffer
        // goes to the same index.
        var timestamp = Timestamp.now().nanoseconds
        if case .timestamp(let t)? = event[FieldPaths.timestamp] { timestamp = t.nanoseconds }
        var attributes: [BufferAttribute] = []
        if !attributeFields.isEmpty {
            attributes.reserveCapacity(attributeFields.count)
            for path in attributeFields {
                guard let value = event[path] else { continue }
                if case .string(let s) = value {
                    attributes.append(BufferAttribute(name: path.dotted, value: Array(event.arena[s.range])))
                } else if let text = event.text(of: value) {
                    attributes.append(BufferAttribute(name: path.dotted, value: Array(text.utf8)))
                }
            }
        }
        return BufferRecord(
            source: event.origin.source, offset: event.origin.offset, timestamp: timestamp, attributes: attributes,
            document: scratch)
    }
}

extension BufferRecord {
    /// The value of an attribute stored with the record.
    func attribute(_ name: String) -> [UInt8]? { attributes.first { $0.name == name }?.value }
}
