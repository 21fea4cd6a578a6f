/// A byte range inside a ``LogEvent``'s arena.
public struct ArenaSlice: Hashable, Sendable {
    public var start: Int32
    public var count: Int32

    @inlinable
    public init(start: Int, count: Int) {
        self.start = Int32(truncatingIfNeeded: start)
        self.count = Int32(truncatingIfNeeded: count)
    }

    @inlinable public var lowerBound: Int { Int(start) }
    @inlinable public var upperBound: Int { Int(start) + Int(count) }
    @inlinable public var range: Range<Int> { lowerBound..<upperBound }
    @inlinable public var isEmpty: Bool { count == 0 }

    /// The sub-slice `[offset, offset + length)` relative to this slice.
    @inlinable
    public func sub(_ offset: Int, _ length: Int) -> ArenaSlice {
        ArenaSlice(start: lowerBound + offset, count: length)
    }
}

/// A run of array elements (``LogEvent/values``) or object members (``LogEvent/members``) of one event.
public struct ValueList: Hashable, Sendable {
    public var start: Int32
    public var count: Int32

    @inlinable
    public init(start: Int, count: Int) {
        self.start = Int32(truncatingIfNeeded: start)
        self.count = Int32(truncatingIfNeeded: count)
    }

    @inlinable public var range: Range<Int> { Int(start)..<(Int(start) + Int(count)) }
    @inlinable public var isEmpty: Bool { count == 0 }
}

/// The value of one field. Text lives in the owning event's arena, so setting a parsed field costs
/// no allocation: a parser points at the bytes of the line it parsed. Arrays and objects live in
/// the event too (``LogEvent/values``, ``LogEvent/members``): a value holds no reference, so
/// fields are plain bytes to copy, and nothing to release when an event is reset or freed.
public enum FieldValue: Sendable, Equatable {
    /// UTF-8 text in the event's arena.
    case string(ArenaSlice)
    case int(Int64)
    case double(Double)
    case bool(Bool)
    case null
    /// A point in time, written as RFC 3339 UTC.
    case timestamp(Timestamp)
    /// A JSON array: its elements are `values[list.range]` of the event (see ``LogEvent/elements(_:)``).
    case array(ValueList)
    /// A JSON object nested inside an array (top-level objects are flattened into dotted paths):
    /// its members are `members[list.range]` of the event (see ``LogEvent/members(_:)``).
    case object(ValueList)
}

/// Read-only views of an event's storage: what its values refer to.
public struct ValueStorage {
    public let arena: UnsafeRawBufferPointer
    public let values: UnsafeBufferPointer<FieldValue>
    public let members: UnsafeBufferPointer<Field>

    @inlinable
    public init(arena: UnsafeRawBufferPointer, values: UnsafeBufferPointer<FieldValue>, members: UnsafeBufferPointer<Field>) {
        self.arena = arena
        self.values = values
        self.members = members
    }
}

/// One field of an event.
public struct Field: Sendable, Equatable {
    /// Paths are interned and never freed, so a field refers to its path without reference
    /// counting: creating, copying and destroying fields costs no atomic operations.
    public unowned(unsafe) var path: FieldPath
    public var value: FieldValue

    @inlinable
    public init(_ path: FieldPath, _ value: FieldValue) {
        self.path = path
        self.value = value
    }
}

/// Where an event came from: a stable identity that survives restarts (file fingerprint and the
/// byte offset of the event's first line), used to derive deterministic document ids.
public struct EventOrigin: Sendable, Hashable {
    /// Fingerprint of the source file (0 when unknown).
    public var source: UInt64
    /// Byte offset of the event's first line in the source.
    public var offset: Int64
    /// Byte offset just after the event's last line: reading resumes there once the event is durable.
    public var endOffset: Int64

    public init(source: UInt64 = 0, offset: Int64 = -1, endOffset: Int64 = -1) {
        self.source = source
        self.offset = offset
        self.endOffset = endOffset
    }

    public static let unknown = EventOrigin()
}

/// A log event: ordered fields keyed by dotted path (Elastic Common Schema names), with every
/// string value stored in one byte arena.
///
/// The flat field list keeps insertion order; ``JSONWriter`` nests fields by path when encoding.
/// Setting a path removes fields it conflicts with (setting `http` removes `http.version`, and the
/// other way round), so the encoded object never has duplicate keys.
public struct LogEvent: Sendable {
    public var fields: [Field]
    /// Backing bytes of every `.string` value.
    public var arena: [UInt8]
    /// The elements of every `.array` value (appended with ``appendArray(_:)``).
    public var values: [FieldValue]
    /// The members of every `.object` value (appended with ``appendObject(_:)``).
    public var members: [Field]
    public var origin: EventOrigin
    /// Grouping key for stages that join lines (multiline, partial chunks): the source and stream.
    public var streamKey: UInt64
    /// Where a ``FieldBlock`` was added in one copy (the first such block), for ``EventEncoder``.
    public var blockMark = BlockMark.none

    @inlinable
    public init(fields: [Field] = [], arena: [UInt8] = [], origin: EventOrigin = .unknown, streamKey: UInt64 = 0) {
        self.fields = fields
        self.arena = arena
        self.values = []
        self.members = []
        self.origin = origin
        self.streamKey = streamKey
        self.blockMark = .none
    }

    /// Creates an event whose `message` is `message`.
    public init(message: some Collection<UInt8>, timestamp: Timestamp? = nil) {
        self.init()
        arena.reserveCapacity(message.count + 64)
        if let timestamp { set(FieldPaths.timestamp, .timestamp(timestamp)) }
        set(FieldPaths.message, string: message)
    }

    // MARK: Reading

    /// The index of the field at exactly `path`.
    @inlinable
    public func index(of path: FieldPath) -> Int? {
        for i in fields.indices where fields[i].path === path { return i }
        return nil
    }

    @inlinable
    public subscript(path: FieldPath) -> FieldValue? {
        guard let i = index(of: path) else { return nil }
        return fields[i].value
    }

    /// The text of a `.string` field, nil if absent or not a string.
    public func string(_ path: FieldPath) -> String? {
        guard case .string(let slice)? = self[path] else { return nil }
        return string(slice)
    }

    /// Decodes arena bytes as UTF-8 (invalid sequences become U+FFFD).
    public func string(_ slice: ArenaSlice) -> String {
        String(decoding: arena[slice.range], as: UTF8.self)
    }

    /// The bytes of a `.string` field.
    public func bytes(_ path: FieldPath) -> ArraySlice<UInt8>? {
        guard case .string(let slice)? = self[path] else { return nil }
        return arena[slice.range]
    }

    /// A field's value rendered as text the way a condition or a placeholder sees it: strings as-is,
    /// numbers and booleans in JSON form, timestamps in RFC 3339; nil for absent fields, null,
    /// arrays and objects.
    public func text(_ path: FieldPath) -> String? {
        guard let value = self[path] else { return nil }
        return text(of: value)
    }

    public func text(of value: FieldValue) -> String? {
        switch value {
        case .string(let s): return string(s)
        case .int(let i): return String(i)
        case .double(let d):
            var out: [UInt8] = []
            JSONWriter.writeDouble(d, into: &out)
            return String(decoding: out, as: UTF8.self)
        case .bool(let b): return b ? "true" : "false"
        case .timestamp(let t): return t.rfc3339
        case .null, .array, .object: return nil
        }
    }

    /// The elements of an array value of this event.
    @inlinable
    public func elements(_ list: ValueList) -> ArraySlice<FieldValue> { values[list.range] }

    /// The members of an object value of this event.
    @inlinable
    public func members(_ list: ValueList) -> ArraySlice<Field> { members[list.range] }

    /// The event's storage, for writers that read values without copying.
    @inlinable
    public func withStorage<R>(_ body: (ValueStorage) throws -> R) rethrows -> R {
        try arena.withUnsafeBytes { arena in
            try values.withUnsafeBufferPointer { values in
                try members.withUnsafeBufferPointer { members in
                    try body(ValueStorage(arena: arena, values: values, members: members))
                }
            }
        }
    }

    // MARK: Writing

    /// Stores array elements (of this event) and returns the array value.
    @inlinable
    public mutating func appendArray(_ elements: some Collection<FieldValue>) -> FieldValue {
        let start = values.count
        values.append(contentsOf: elements)
        return .array(ValueList(start: start, count: values.count - start))
    }

    /// Stores object members (values of this event) and returns the object value.
    @inlinable
    public mutating func appendObject(_ fields: some Collection<Field>) -> FieldValue {
        let start = members.count
        members.append(contentsOf: fields)
        return .object(ValueList(start: start, count: members.count - start))
    }

    /// Copies bytes into the arena and returns where they are.
    @inlinable
    @discardableResult
    public mutating func append(bytes: some Collection<UInt8>) -> ArenaSlice {
        let start = arena.count
        arena.append(contentsOf: bytes)
        return ArenaSlice(start: start, count: arena.count - start)
    }

    @inlinable
    @discardableResult
    public mutating func append(string: String) -> ArenaSlice {
        var s = string
        return s.withUTF8 { append(bytes: $0) }
    }

    /// Sets `path` to `value`, replacing the field at that path and removing conflicting fields
    /// (its ancestors and descendants). A new path is appended at the end (insertion order).
    @inlinable
    public mutating func set(_ path: FieldPath, _ value: FieldValue) {
        // The usual case, found in one read-only pass without reference counting: at most the
        // field itself exists, nothing above or below it (binding each field's path to a local
        // across the removals below cost a retain and release per field: 5 % of the jetty
        // pipeline's CPU, most of it from one `modify` stage).
        let (match, clashes) = fields.withUnsafeBufferPointer { existing -> (Int, Bool) in
            let root = path.rootID
            var match = -1
            for i in existing.indices where existing[i].path.rootID == root {
                if existing[i].path === path, match < 0 {
                    match = i
                } else if existing[i].path === path || existing[i].path.isPrefix(of: path) || path.isPrefix(of: existing[i].path) {
                    return (match, true)
                }
            }
            return (match, false)
        }
        if !clashes {
            if match >= 0 { fields[match].value = value } else { fields.append(Field(path, value)) }
            return
        }
        var i = 0
        var replaced = false
        while i < fields.count {
            let existing = fields[i].path
            let conflicts: Bool
            if existing.depth == path.depth {
                if existing == path {
                    if !replaced {
                        fields[i].value = value
                        replaced = true
                        i += 1
                        continue
                    }
                    conflicts = true
                } else {
                    conflicts = false
                }
            } else if existing.depth < path.depth {
                conflicts = existing.isPrefix(of: path)
            } else {
                conflicts = path.isPrefix(of: existing)
            }
            if conflicts {
                fields.remove(at: i)
            } else {
                i += 1
            }
        }
        if !replaced { fields.append(Field(path, value)) }
    }

    /// Appends a field without checking for an existing one at the same path. For parsers that
    /// write into a fresh event whose paths they know to be distinct.
    @inlinable
    public mutating func appendField(_ path: FieldPath, _ value: FieldValue) {
        fields.append(Field(path, value))
    }

    /// Sets a string field, copying the bytes into the arena.
    @inlinable
    public mutating func set(_ path: FieldPath, string bytes: some Collection<UInt8>) {
        let slice = append(bytes: bytes)
        set(path, .string(slice))
    }

    public mutating func set(_ path: FieldPath, string: String) {
        let slice = append(string: string)
        set(path, .string(slice))
    }

    /// Removes the field at `path` and every field below it. Returns whether anything was removed.
    @discardableResult
    public mutating func remove(_ path: FieldPath) -> Bool {
        let before = fields.count
        fields.removeAll { path.isPrefix(of: $0.path) }
        return fields.count != before
    }

    /// True when the event has a field at `path` or below it.
    public func contains(_ path: FieldPath) -> Bool {
        fields.contains { path.isPrefix(of: $0.path) }
    }

    /// Fields at `path` and below it, in order.
    public func subtree(_ path: FieldPath) -> [Field] {
        fields.filter { path.isPrefix(of: $0.path) }
    }

    /// Adds `tag` to the `tags` array unless it is already there.
    public mutating func addTag(_ tag: String) {
        var existing: [FieldValue] = []
        if case .array(let list)? = self[FieldPaths.tags] {
            for v in elements(list) {
                if case .string(let s) = v, arena[s.range].elementsEqual(tag.utf8) { return }
            }
            existing.append(contentsOf: elements(list))
        }
        existing.append(.string(append(string: tag)))
        set(FieldPaths.tags, appendArray(existing))
    }

    /// True when `tags` contains `tag`.
    public func hasTag(_ tag: String) -> Bool {
        guard case .array(let list)? = self[FieldPaths.tags] else { return false }
        return elements(list).contains { v in
            if case .string(let s) = v { return arena[s.range].elementsEqual(tag.utf8) }
            return false
        }
    }

    /// The text of each string element of the array at `path` (empty when it is not an array).
    public func strings(_ path: FieldPath) -> [String] {
        guard case .array(let list)? = self[path] else { return [] }
        return elements(list).compactMap { v in
            if case .string(let s) = v { return string(s) }
            return nil
        }
    }

    /// Copies a value from another event, moving its strings, elements and members into this event.
    public mutating func importValue(_ value: FieldValue, from other: LogEvent) -> FieldValue {
        switch value {
        case .string(let s):
            return .string(append(bytes: other.arena[s.range]))
        case .array(let list):
            let items = other.elements(list).map { importValue($0, from: other) }
            return appendArray(items)
        case .object(let list):
            let fields = other.members(list).map { Field($0.path, importValue($0.value, from: other)) }
            return appendObject(fields)
        default:
            return value
        }
    }

    /// Resets the event for reuse, keeping the allocated capacity.
    @inlinable
    public mutating func reset() {
        fields.removeAll(keepingCapacity: true)
        arena.removeAll(keepingCapacity: true)
        if !values.isEmpty { values.removeAll(keepingCapacity: true) }
        if !members.isEmpty { members.removeAll(keepingCapacity: true) }
        origin = .unknown
        streamKey = 0
        blockMark = .none
    }
}

/// Well-known ECS field paths.
public enum FieldPaths {
    public static let timestamp = FieldPath.intern("@timestamp")
    public static let message = FieldPath.intern("message")
    public static let tags = FieldPath.intern("tags")
    public static let stream = FieldPath.intern("stream")
    public static let logFilePath = FieldPath.intern("log.file.path")
    public static let logOffset = FieldPath.intern("log.offset")
    public static let logLevel = FieldPath.intern("log.level")
    public static let logLogger = FieldPath.intern("log.logger")
    public static let logFlags = FieldPath.intern("log.flags")
    public static let eventOriginal = FieldPath.intern("event.original")
    public static let errorType = FieldPath.intern("error.type")
    public static let errorMessage = FieldPath.intern("error.message")
    public static let errorStackTrace = FieldPath.intern("error.stack_trace")
    /// Why a line could not be decoded or parsed (with the `_decode_failure` / `_parse_failure` tags).
    public static let failureReason = FieldPath.intern("shipper.failure.reason")
}

/// Tags shipper adds to events.
public enum EventTags {
    /// The line could not be decoded (bad JSON, invalid UTF-8, binary); it is shipped raw.
    public static let decodeFailure = "_decode_failure"
    /// No parser of a parse stage matched; the line is kept in `message`.
    public static let parseFailure = "_parse_failure"
    /// A timestamp stage could not parse its field.
    public static let timestampFailure = "_timestamp_failure"
    /// A JSON field could not be parsed.
    public static let jsonFailure = "_json_failure"
}

extension Array where Element == LogEvent {
    /// Calls `body` with each event moved out of the array, in order, and leaves the array empty
    /// (capacity kept). A stage that changes an event it receives this way changes it in place:
    /// iterating with `for event in array` would leave a second reference to the event's storage
    /// in the array, and the first change would copy its fields and arena.
    @inlinable
    public mutating func drainEvents(_ body: (consuming LogEvent) throws -> Void) rethrows {
        try withUnsafeMutableBufferPointer { buffer in
            for i in buffer.indices {
                var event = LogEvent()
                swap(&event, &buffer[i])
                try body(consume event)
            }
        }
        removeAll(keepingCapacity: true)
    }

    /// Calls `body` with each event in place, in order. Reading an event passed this way costs no
    /// copy; an event read through the array's buffer pointer (`buffer[i]` passed by value) is
    /// copied (a retain and release per array in it), since the callee could change that memory.
    @inlinable
    public mutating func withEachEvent(_ body: (inout LogEvent) throws -> Void) rethrows {
        try withUnsafeMutableBufferPointer { buffer in
            for i in buffer.indices { try body(&buffer[i]) }
        }
    }
}
