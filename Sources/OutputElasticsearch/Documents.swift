import ShipperCore

/// One field value the output routes by (see ``ElasticsearchOutput/attributeFields``), stored
/// with the event in the buffer.
public struct DocumentAttribute: Sendable, Equatable {
    /// The dotted field path, e.g. `service.name`.
    public var name: String
    /// The value's text: a string's UTF-8 bytes (unescaped), a number's decimal digits.
    public var value: [UInt8]

    public init(name: String, value: [UInt8]) {
        self.name = name
        self.value = value
    }

    public init(_ name: String, _ value: String) {
        self.init(name: name, value: Array(value.utf8))
    }
}

/// An event as the output receives it from the buffer.
public struct OutgoingDocument: Sendable, Equatable {
    /// Source fingerprint of the event's origin (0: none).
    public var source: UInt64
    /// Byte offset of the event's first line in the source (-1: none).
    public var offset: Int64
    /// `@timestamp`, nanoseconds since the epoch (for `%Y %m %d %H` in index names).
    public var timestamp: Int64
    /// Values of ``ElasticsearchOutput/attributeFields``, in any order; missing ones may be absent.
    public var attributes: [DocumentAttribute]
    /// The event as compact JSON, without a newline: a slice of the bytes the buffer read (the
    /// documents of one read share them; nothing is copied per document).
    public var document: ArraySlice<UInt8>
    /// True when the document is known to hold no raw CR or LF byte, so that the bulk body need
    /// not look for them: what shipper's encoders write (compact JSON, every control byte
    /// escaped), which is all the buffer of `shipper run` holds. False: the body looks, and turns
    /// any into spaces.
    public var isSingleLine: Bool

    public init(
        source: UInt64, offset: Int64, timestamp: Int64, attributes: [DocumentAttribute] = [], document: ArraySlice<UInt8>,
        isSingleLine: Bool = false
    ) {
        self.source = source
        self.offset = offset
        self.timestamp = timestamp
        self.attributes = attributes
        self.document = document
        self.isSingleLine = isSingleLine
    }

    public init(source: UInt64, offset: Int64, timestamp: Int64, attributes: [DocumentAttribute] = [], document: [UInt8]) {
        self.init(source: source, offset: offset, timestamp: timestamp, attributes: attributes, document: document[...])
    }
}

/// Documents read together, and the position to acknowledge once all of them are delivered or
/// dead-lettered.
public struct DocumentBatch<Position: Sendable>: Sendable {
    public var documents: [OutgoingDocument]
    /// Acknowledging this position acknowledges this batch and everything read before it.
    public var position: Position

    public init(documents: [OutgoingDocument], position: Position) {
        self.documents = documents
        self.position = position
    }
}

/// Where the output reads documents and sends acknowledgements (the disk buffer, adapted).
///
/// ```swift
/// struct BufferSource: DocumentSource {
///     let buffer: DiskBuffer, reader: String
///     func next(maxDocuments: Int, maxBytes: Int) async throws -> DocumentBatch<BufferPosition>? {
///         guard let b = try await buffer.read(reader: reader, maxRecords: maxDocuments, maxBytes: maxBytes) else { return nil }
///         return DocumentBatch(documents: b.records.map {
///             OutgoingDocument(source: $0.source, offset: $0.offset, timestamp: $0.timestamp,
///                              attributes: $0.attributes.map { DocumentAttribute(name: $0.name, value: $0.value) }, document: $0.document)
///         }, position: b.end)
///     }
///     func acknowledge(through position: BufferPosition) async throws {
///         try await buffer.acknowledge(reader: reader, through: position)
///     }
/// }
/// ```
public protocol DocumentSource: Sendable {
    associatedtype Position: Sendable
    /// The next documents, in order: suspends until at least one is available; nil once the
    /// source is closed and drained.
    func next(maxDocuments: Int, maxBytes: Int) async throws -> DocumentBatch<Position>?
    /// Everything up to and including `position` is delivered (or dead-lettered). Called in order.
    func acknowledge(through position: Position) async throws
}

/// One bulk `create` item: the target, the `_id` and the document, plus the origin (kept for the
/// dead-letter file).
public struct BulkItem: Sendable, Equatable {
    /// Index or data stream name.
    public var index: String
    /// The `_id`: a ``DocumentID`` kept as its hash (written as base64url text straight into the
    /// request, no `String` per document), or any text.
    public var documentID: DocumentID
    /// Compact JSON, no newline.
    public var document: ArraySlice<UInt8>
    public var source: UInt64
    public var offset: Int64
    public var timestamp: Int64
    /// Known to hold no raw CR or LF (see ``OutgoingDocument/isSingleLine``): copied into the
    /// body without looking for them.
    public var isSingleLine: Bool

    public init(
        index: String, id: DocumentID, document: ArraySlice<UInt8>, source: UInt64 = 0, offset: Int64 = -1, timestamp: Int64 = 0,
        isSingleLine: Bool = false
    ) {
        self.index = index
        self.documentID = id
        self.document = document
        self.source = source
        self.offset = offset
        self.timestamp = timestamp
        self.isSingleLine = isSingleLine
    }

    public init(index: String, id: String, document: [UInt8], source: UInt64 = 0, offset: Int64 = -1, timestamp: Int64 = 0) {
        self.init(index: index, id: .text(id), document: document[...], source: source, offset: offset, timestamp: timestamp)
    }

    /// The `_id` as text.
    public var id: String {
        get { documentID.text }
        set { documentID = .text(newValue) }
    }

    public static func == (a: BulkItem, b: BulkItem) -> Bool {
        a.index == b.index && a.id == b.id && a.document == b.document && a.source == b.source && a.offset == b.offset
            && a.timestamp == b.timestamp
    }
}

/// Deterministic, URL-safe document ids: the same event always gets the same `_id`, so sending it
/// again is answered 409 (already exists) instead of storing a copy.
///
/// The id is the 128-bit MurmurHash3 (x64) of the event's origin (source fingerprint and offset,
/// 8 bytes each, little-endian), base64url without padding: 22 characters. Events without an
/// origin (source 0 or offset < 0) hash their document bytes instead (with another seed), so two
/// identical documents without an origin get one id.
public enum DocumentID: Sendable, Hashable {
    /// The 128-bit hash; its text is the 16 bytes (h1, then h2, little-endian) in base64url
    /// without padding.
    case hash(UInt64, UInt64)
    /// Any other id (tests, dead-letter replays).
    case text(String)

    static let contentSeed: UInt64 = 0x7368_6970_7065_7221  // "shipper!"

    /// Characters of a hash id's text.
    public static let hashTextCount = 22

    /// The deterministic id of an event (see above).
    public static func make(source: UInt64, offset: Int64, document: ArraySlice<UInt8>) -> DocumentID {
        if source != 0 && offset >= 0 {
            var key = (source.littleEndian, UInt64(bitPattern: offset).littleEndian)
            let (h1, h2) = withUnsafeBytes(of: &key) { Murmur3.hash128($0, seed: 0) }
            return .hash(h1, h2)
        }
        let (h1, h2) = document.withUnsafeBytes { Murmur3.hash128($0, seed: contentSeed) }
        return .hash(h1, h2)
    }

    public static func make(source: UInt64, offset: Int64, document: [UInt8]) -> DocumentID {
        make(source: source, offset: offset, document: document[...])
    }

    public static func make(_ document: OutgoingDocument) -> DocumentID {
        make(source: document.source, offset: document.offset, document: document.document)
    }

    /// The id's text.
    public var text: String {
        switch self {
        case .text(let t): return t
        case .hash:
            var out: [UInt8] = []
            write(into: &out)
            return String(decoding: out, as: UTF8.self)
        }
    }

    /// Appends the id as a JSON string (quotes included).
    public func writeJSON(into out: inout [UInt8]) {
        switch self {
        case .text(let t):
            JSONWriter.writeString(t, into: &out)
        case .hash:
            out.append(UInt8(ascii: "\""))
            write(into: &out)
            out.append(UInt8(ascii: "\""))
        }
    }

    /// Appends the id's text (a hash: 22 base64url characters, which JSON needs no escape for).
    func write(into out: inout [UInt8]) {
        switch self {
        case .text(let t):
            out.append(contentsOf: t.utf8)
        case .hash(let h1, let h2):
            out.append(addingCapacity: Self.hashTextCount) { span in
                span.withUnsafeMutableBufferPointer { buffer, initialized in
                    initialized = Self.writeHash(h1, h2, to: buffer.baseAddress!, at: 0)
                }
            }
        }
    }

    /// Writes the text of a hash id (base64url of its 16 bytes, little-endian, no padding:
    /// ``hashTextCount`` bytes) at `start`; returns the position after it.
    @inline(__always)
    static func writeHash(_ h1: UInt64, _ h2: UInt64, to p: UnsafeMutablePointer<UInt8>, at start: Int) -> Int {
        var bytes = (h1.littleEndian, h2.littleEndian)
        return start &+ withUnsafeBytes(of: &bytes) { Base64.encode($0, alphabet: Base64.urlSafe, padding: false, to: p + start) }
    }

    public static func == (a: DocumentID, b: DocumentID) -> Bool {
        switch (a, b) {
        case let (.hash(a1, a2), .hash(b1, b2)): return a1 == b1 && a2 == b2
        default: return a.text == b.text
        }
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(text) }
}

/// MurmurHash3 x64 128-bit (Austin Appleby, public domain), as Fluent Bit's `Generate_ID` uses.
public enum Murmur3 {
    @inline(__always) static func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }

    @inline(__always) static func fmix(_ k: UInt64) -> UInt64 {
        var k = k
        k ^= k >> 33
        k &*= 0xff51_afd7_ed55_8ccd
        k ^= k >> 33
        k &*= 0xc4ce_b9fe_1a85_ec53
        k ^= k >> 33
        return k
    }

    /// The two 64-bit halves (h1, h2) of the hash.
    public static func hash128(_ data: UnsafeRawBufferPointer, seed: UInt64) -> (UInt64, UInt64) {
        let c1: UInt64 = 0x87c3_7b91_1142_53d5
        let c2: UInt64 = 0x4cf5_ad43_2745_937f
        var h1 = seed
        var h2 = seed
        let len = data.count
        let blocks = len / 16
        for i in 0..<blocks {
            var k1 = UInt64(littleEndian: data.loadUnaligned(fromByteOffset: i * 16, as: UInt64.self))
            var k2 = UInt64(littleEndian: data.loadUnaligned(fromByteOffset: i * 16 + 8, as: UInt64.self))
            k1 &*= c1
            k1 = rotl(k1, 31)
            k1 &*= c2
            h1 ^= k1
            h1 = rotl(h1, 27)
            h1 &+= h2
            h1 = h1 &* 5 &+ 0x52dc_e729
            k2 &*= c2
            k2 = rotl(k2, 33)
            k2 &*= c1
            h2 ^= k2
            h2 = rotl(h2, 31)
            h2 &+= h1
            h2 = h2 &* 5 &+ 0x3849_5ab5
        }
        let tail = blocks * 16
        let rest = len & 15
        var k1: UInt64 = 0
        var k2: UInt64 = 0
        if rest > 8 {
            for j in stride(from: rest - 1, through: 8, by: -1) { k2 ^= UInt64(data[tail + j]) << (8 * UInt64(j - 8)) }
            k2 &*= c2
            k2 = rotl(k2, 33)
            k2 &*= c1
            h2 ^= k2
        }
        if rest > 0 {
            for j in stride(from: min(rest, 8) - 1, through: 0, by: -1) { k1 ^= UInt64(data[tail + j]) << (8 * UInt64(j)) }
            k1 &*= c1
            k1 = rotl(k1, 31)
            k1 &*= c2
            h1 ^= k1
        }
        h1 ^= UInt64(len)
        h2 ^= UInt64(len)
        h1 &+= h2
        h2 &+= h1
        h1 = fmix(h1)
        h2 = fmix(h2)
        h1 &+= h2
        h2 &+= h1
        return (h1, h2)
    }
}

/// Base64 (RFC 4648), standard or URL-safe alphabet.
public enum Base64 {
    /// The alphabets, as literals: no global to reach and no array to retain per call.
    static var standard: StaticString { "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/" }
    static var urlSafe: StaticString { "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" }

    public static func encode(_ bytes: [UInt8], url: Bool = false, padding: Bool = true) -> String {
        var out: [UInt8] = []
        bytes.withUnsafeBytes { b in
            out.append(addingCapacity: (b.count + 2) / 3 * 4) { span in
                span.withUnsafeMutableBufferPointer { buffer, initialized in
                    initialized = encode(b, alphabet: url ? urlSafe : standard, padding: padding, to: buffer.baseAddress!)
                }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Writes the base64 text of `bytes` at `p`, which has room for `(bytes.count + 2) / 3 * 4`
    /// bytes; returns the number written.
    @inline(__always)
    static func encode(_ bytes: UnsafeRawBufferPointer, alphabet: StaticString, padding: Bool, to p: UnsafeMutablePointer<UInt8>) -> Int {
        let t = alphabet.utf8Start
        var i = 0
        var at = 0
        while i &+ 3 <= bytes.count {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i &+ 1]) << 8 | UInt32(bytes[i &+ 2])
            p[at] = t[Int(v >> 18 & 63)]
            p[at &+ 1] = t[Int(v >> 12 & 63)]
            p[at &+ 2] = t[Int(v >> 6 & 63)]
            p[at &+ 3] = t[Int(v & 63)]
            at &+= 4
            i &+= 3
        }
        let rest = bytes.count &- i
        if rest == 1 {
            let v = UInt32(bytes[i]) << 16
            p[at] = t[Int(v >> 18 & 63)]
            p[at &+ 1] = t[Int(v >> 12 & 63)]
            at &+= 2
            if padding {
                p[at] = UInt8(ascii: "=")
                p[at &+ 1] = UInt8(ascii: "=")
                at &+= 2
            }
        } else if rest == 2 {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i &+ 1]) << 8
            p[at] = t[Int(v >> 18 & 63)]
            p[at &+ 1] = t[Int(v >> 12 & 63)]
            p[at &+ 2] = t[Int(v >> 6 & 63)]
            at &+= 3
            if padding {
                p[at] = UInt8(ascii: "=")
                at &+= 1
            }
        }
        return at
    }
}
