/// String fields prepared once and added to many events: a container's metadata, the host name.
///
/// Their text is one byte run, so adding the block to an event is one arena copy and one
/// reservation of the field list, instead of a conflict scan, an arena append and a field insert
/// per field. The result is exactly what calling ``LogEvent/set(_:string:)`` for each field in
/// order gives.
public struct FieldBlock: Sendable {
    /// The fields' text, back to back.
    public let bytes: [UInt8]
    /// The fields, with slices into ``bytes``.
    public let fields: [Field]
    /// The ``FieldPath/rootID``s of the fields' paths (that of `container` for `container.image.name`).
    let roots: [Int]
    /// Bit `rootID % 64` set for each of ``roots``: a field whose bit is clear is under none of
    /// them (one test per field of an event; the roots are compared only on a hit).
    let rootMask: UInt64
    /// True when two fields of the block conflict with each other (then they are set one by one).
    let selfConflicting: Bool

    public init(_ pairs: [(FieldPath, String)]) {
        var bytes: [UInt8] = []
        var fields: [Field] = []
        var roots: [Int] = []
        var conflicting = false
        for (path, text) in pairs {
            let start = bytes.count
            bytes.append(contentsOf: text.utf8)
            for f in fields where f.path.isPrefix(of: path) || path.isPrefix(of: f.path) { conflicting = true }
            fields.append(Field(path, .string(ArenaSlice(start: start, count: bytes.count - start))))
            if !roots.contains(path.rootID) { roots.append(path.rootID) }
        }
        self.bytes = bytes
        self.fields = fields
        self.roots = roots
        self.rootMask = roots.reduce(0) { $0 | 1 &<< (UInt64(truncatingIfNeeded: $1) & 63) }
        self.selfConflicting = conflicting
    }

    public var isEmpty: Bool { fields.isEmpty }
}

extension LogEvent {
    /// Sets every field of `block`, as ``set(_:string:)`` would one by one.
    public mutating func add(_ block: FieldBlock) {
        guard !block.fields.isEmpty else { return }
        if block.selfConflicting || sharesRoot(with: block) {
            for f in block.fields {
                guard case .string(let s) = f.value else { continue }
                set(f.path, string: block.bytes[s.range])
            }
            return
        }
        let base = arena.count
        arena.append(contentsOf: block.bytes)
        fields.reserveCapacity(fields.count &+ block.fields.count)
        block.fields.withUnsafeBufferPointer { added in
            for f in added {
                guard case .string(let s) = f.value else { continue }
                fields.append(Field(f.path, .string(ArenaSlice(start: base &+ s.lowerBound, count: Int(s.count)))))
            }
        }
    }

    /// True when one of the event's fields is under one of the block's top-level names.
    private func sharesRoot(with block: FieldBlock) -> Bool {
        let mask = block.rootMask
        return fields.withUnsafeBufferPointer { existing in
            block.roots.withUnsafeBufferPointer { roots in
                for i in existing.indices {
                    let root = existing[i].path.rootID
                    guard mask & (1 &<< (UInt64(truncatingIfNeeded: root) & 63)) != 0 else { continue }
                    for r in roots where r == root { return true }
                }
                return false
            }
        }
    }
}
