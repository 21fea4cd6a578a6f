import Synchronization

/// String fields prepared once and added to many events: a container's metadata, the host name.
///
/// Their text is one byte run, so adding the block to an event is one arena copy and one
/// reservation of the field list, instead of a conflict scan, an arena append and a field insert
/// per field. The result is exactly what calling ``LogEvent/set(_:string:)`` for each field in
/// order gives.
///
/// An event the block was added to that way remembers it (``LogEvent/blockMark``): while the
/// fields stay as added, ``EventEncoder`` writes them as one run of JSON prepared once per block
/// and layout, instead of escaping each value again for every event.
public struct FieldBlock: Sendable {
    /// What the block holds, and the ``id`` that marks the events it was added to (see
    /// ``LogEvent/blockMark``).
    public final class Storage: Sendable {
        /// A number no other block made by this process has (never 0).
        public let id: UInt64
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

        init(_ pairs: [(FieldPath, String)]) {
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
            self.id = Storage.lastID.add(1, ordering: .relaxed).newValue
        }

        private static let lastID = Atomic<UInt64>(0)

        /// True when `root` (a ``FieldPath/rootID``) is the root of one of the block's fields.
        @inline(__always)
        func hasRoot(_ root: Int) -> Bool {
            guard rootMask & (1 &<< (UInt64(truncatingIfNeeded: root) & 63)) != 0 else { return false }
            for r in roots where r == root { return true }
            return false
        }
    }

    public let storage: Storage

    public init(_ pairs: [(FieldPath, String)]) {
        storage = Storage(pairs)
    }

    /// The fields of `first`, then those of `second` (as set one by one in that order): one block
    /// to add, and one run for the encoder to write.
    public init(_ first: FieldBlock, _ second: FieldBlock) {
        self.init(first.pairs + second.pairs)
    }

    /// The fields' text, back to back.
    public var bytes: [UInt8] { storage.bytes }
    /// The fields, with slices into ``bytes``.
    public var fields: [Field] { storage.fields }
    public var isEmpty: Bool { storage.fields.isEmpty }

    /// The fields as (path, text) pairs.
    public var pairs: [(FieldPath, String)] {
        storage.fields.map { f in
            guard case .string(let s) = f.value else { return (f.path, "") }
            return (f.path, String(decoding: storage.bytes[s.range], as: UTF8.self))
        }
    }
}

/// Which ``FieldBlock`` was added to an event in one copy (``LogEvent/add(_:)``): its
/// ``FieldBlock/Storage/id`` (0: none), where its text went in the arena, how many fields it
/// added. A hint only, plain numbers (copying an event costs nothing more): stages may change,
/// remove or move those fields afterwards, so ``EventEncoder`` checks that they are still in a
/// row, unchanged, before writing them as the block's prepared run.
public struct BlockMark: Sendable, Equatable {
    public var block: UInt64
    public var base: Int32
    public var bytes: Int32
    public var fields: Int32

    public static let none = BlockMark(block: 0, base: 0, bytes: 0, fields: 0)
}

extension LogEvent {
    /// Sets every field of `block`, as ``set(_:string:)`` would one by one.
    public mutating func add(_ block: FieldBlock) {
        let storage = block.storage
        guard !storage.fields.isEmpty else { return }
        if storage.selfConflicting || sharesRoot(with: storage) {
            for f in storage.fields {
                guard case .string(let s) = f.value else { continue }
                set(f.path, string: storage.bytes[s.range])
            }
            return
        }
        let base = arena.count
        if blockMark.block == 0, base <= Int(Int32.max) - storage.bytes.count {
            blockMark = BlockMark(block: storage.id, base: Int32(base), bytes: Int32(storage.bytes.count), fields: Int32(storage.fields.count))
        }
        arena.append(contentsOf: storage.bytes)
        fields.reserveCapacity(fields.count &+ storage.fields.count)
        storage.fields.withUnsafeBufferPointer { added in
            for f in added {
                guard case .string(let s) = f.value else { continue }
                fields.append(Field(f.path, .string(ArenaSlice(start: base &+ s.lowerBound, count: Int(s.count)))))
            }
        }
    }

    /// True when one of the event's fields is under one of the block's top-level names.
    private func sharesRoot(with block: FieldBlock.Storage) -> Bool {
        fields.withUnsafeBufferPointer { existing in
            for i in existing.indices where block.hasRoot(existing[i].path.rootID) { return true }
            return false
        }
    }
}
