import Synchronization

/// A dotted field path such as `http.response.status_code`, interned so that comparing two paths is
/// usually one pointer comparison.
///
/// Events keep their fields flat, in insertion order, keyed by ``FieldPath``; the JSON writer nests
/// them by path segment (`http.version` and `http.request.method` become one `http` object).
/// Every path knows its ancestors (`http`, `http.request`, …), so nesting and prefix checks are
/// pointer comparisons too.
public final class FieldPath: Sendable, Hashable, CustomStringConvertible {
    /// The full dotted path, e.g. `http.request.method`.
    public let dotted: String
    /// The last segment, e.g. `method`.
    public let name: String
    /// Number of segments (`http.request.method` has depth 3).
    public let depth: Int
    /// The parent path, nil at the top level. Held without reference counting (walking up a
    /// path costs no atomic operations): the intern table keeps every path alive for good.
    public unowned(unsafe) let parent: FieldPath?
    /// The JSON-encoded key of the last segment followed by a colon: `"method":`.
    public let jsonKey: [UInt8]
    /// A number that identifies the top-level ancestor (the same for `http` and
    /// `http.request.method`, different for `url`): comparing roots without walking up.
    public let rootID: Int

    private init(dotted: String, name: String, parent: FieldPath?, newRootID: Int) {
        self.dotted = dotted
        self.name = name
        self.parent = parent
        self.rootID = parent?.rootID ?? newRootID
        self.depth = (parent?.depth ?? 0) + 1
        var key: [UInt8] = []
        JSONWriter.writeString(name, into: &key)
        key.append(UInt8(ascii: ":"))
        self.jsonKey = key
    }

    public var description: String { dotted }

    /// Always true: every path is interned (kept for code written when some were not).
    public var interned: Bool { true }

    /// Every path is interned, so equal paths are the same object.
    @inlinable
    public static func == (lhs: FieldPath, rhs: FieldPath) -> Bool { lhs === rhs }

    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }

    /// True when `self` is `other` or one of its ancestors (`http` is a prefix of `http.version`).
    /// Walks up without reference counting: paths live for good (see ``parent``).
    @inlinable
    public func isPrefix(of other: FieldPath) -> Bool {
        if other.rootID != rootID || other.depth < depth { return false }
        var node = Unmanaged.passUnretained(other)
        for _ in 0..<(other.depth - depth) {
            node = node._withUnsafeGuaranteedRef { Unmanaged.passUnretained($0.parent!) }
        }
        return node.toOpaque() == Unmanaged.passUnretained(self).toOpaque()
    }

    /// The ancestor of `self` at `depth` (1 = top level); `self` when `depth == self.depth`.
    @inlinable
    public func ancestor(atDepth depth: Int) -> FieldPath {
        var node = Unmanaged.passUnretained(self)
        while node._withUnsafeGuaranteedRef({ $0.depth > depth && $0.parent != nil }) {
            node = node._withUnsafeGuaranteedRef { Unmanaged.passUnretained($0.parent!) }
        }
        return node.takeUnretainedValue()
    }

    /// Appends a child segment: `FieldPath("http").appending("version")` is `http.version`.
    public func appending(_ segment: String) -> FieldPath {
        FieldPath.intern(dotted + "." + segment)
    }

    // MARK: Interning

    /// A name compared by its UTF-8 bytes. Swift's `String` compares by canonical equivalence, so
    /// `"é"` (one scalar) and `"e\u{301}"` were one key, and the second spelling was written as the
    /// first; JSON, and Elasticsearch, keep them apart.
    struct Key: Hashable {
        let text: String
        static func == (a: Key, b: Key) -> Bool {
            a.text.utf8.count == b.text.utf8.count && a.text.utf8.elementsEqual(b.text.utf8)
        }
        func hash(into hasher: inout Hasher) {
            var t = text
            t.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        }
    }

    private static let table = Mutex<[Key: FieldPath]>([:])
    /// How many distinct paths ``internIfRoom(_:)`` lets input create: paths live as long as the
    /// process (fields refer to them without reference counting), so names that come from the
    /// data itself (keys of a `json` field, Docker `attrs`) must not grow memory without bound.
    public static let inputLimit = 100_000
    /// The longest name, in bytes, and the most segments ``internIfRoom(_:)`` accepts. Every
    /// ancestor of a path is interned too (a name of n segments makes n paths whose texts take
    /// n²/2 bytes, recursively): one JSON key `a.a.a…` of 40 KB took 430 MB and 2 s, one of 400 KB
    /// would take all memory.
    public static let inputMaxBytes = 1024
    public static let inputMaxDepth = 128

    /// Returns the path for a dotted string, creating it on first use. Paths are never freed: use
    /// this for names from the config and the code, and ``internIfRoom(_:)`` for names from input.
    /// Segments are split at `.`; an empty string gives the path `""`.
    public static func intern(_ dotted: String) -> FieldPath {
        table.withLock { table in
            intern(dotted, table: &table)
        }
    }

    /// Like ``intern(_:)``, for names that come from input: nil when the path is new and
    /// ``inputLimit`` paths exist already, or the name is longer than ``inputMaxBytes`` or has
    /// more than ``inputMaxDepth`` segments (the caller keeps the data some other way).
    public static func internIfRoom(_ dotted: String) -> FieldPath? {
        table.withLock { table in
            if let existing = table[Key(text: dotted)] { return existing }
            guard table.count < inputLimit, dotted.utf8.count <= inputMaxBytes else { return nil }
            var segments = 1
            for b in dotted.utf8 where b == UInt8(ascii: ".") { segments += 1 }
            guard segments <= inputMaxDepth else { return nil }
            return intern(dotted, table: &table)
        }
    }

    /// `self` plus a child segment, for names from input (see ``internIfRoom(_:)``).
    public func appendingIfRoom(_ segment: String) -> FieldPath? {
        FieldPath.internIfRoom(dotted + "." + segment)
    }

    private static func intern(_ dotted: String, table: inout [Key: FieldPath]) -> FieldPath {
        if let existing = table[Key(text: dotted)] { return existing }
        let parent: FieldPath?
        let name: String
        if let dot = dotted.utf8.lastIndex(of: UInt8(ascii: ".")) {
            // Split by bytes: String's own indices step over whole characters, and a combining
            // mark after the dot (".\u{300}x") is one character with it: the name lost the mark
            // (found by the json_roundtrip fuzz target).
            let parentText = String(decoding: dotted.utf8[..<dot], as: UTF8.self)
            parent = intern(parentText, table: &table)
            name = String(decoding: dotted.utf8[dotted.utf8.index(after: dot)...], as: UTF8.self)
        } else {
            parent = nil
            name = dotted
        }
        let path = FieldPath(dotted: dotted, name: name, parent: parent, newRootID: table.count)
        table[Key(text: dotted)] = path
        return path
    }
}

