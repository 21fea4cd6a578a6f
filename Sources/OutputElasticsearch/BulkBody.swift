import ShipperCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Builds `_bulk` NDJSON bodies: for each item a `create` action line and the document line.
///
/// ```
/// {"create":{"_index":"logs-app","_id":"q3Vb…"}}\n
/// {"@timestamp":"…","message":"…"}\n
/// ```
public enum BulkBody {
    /// Why an item could not be put in a body.
    public enum Problem: Sendable, Equatable {
        /// The document is empty or only whitespace (an empty line would shift the response items).
        case emptyDocument
    }

    /// A built body.
    public struct Built: Sendable, Equatable {
        /// The NDJSON bytes (each line ends with `\n`).
        public var bytes: [UInt8]
        /// Indices (into the input) of the items in the body, in order: response item *k* belongs to
        /// `included[k]`.
        public var included: [Int]
        /// Items left out, with the reason.
        public var excluded: [(index: Int, problem: Problem)]
        /// Bytes of the whole body (more than `bytes` holds when it was built in chunks).
        public var size = 0

        public init(bytes: [UInt8], included: [Int], excluded: [(index: Int, problem: Problem)]) {
            self.bytes = bytes
            self.included = included
            self.excluded = excluded
            self.size = bytes.count
        }

        public static func == (a: Built, b: Built) -> Bool {
            a.bytes == b.bytes && a.size == b.size && a.included == b.included && a.excluded.elementsEqual(b.excluded, by: { $0 == $1 })
        }
    }

    /// The body for `items[i]` for every `i` in `indices` (all items when nil).
    public static func build(_ items: [BulkItem], indices: [Int]? = nil) -> Built {
        var built = Built(bytes: [], included: [], excluded: [])
        build(items, indices: indices, into: &built)
        return built
    }

    /// Like ``build(_:indices:)``, reusing `built`'s storage.
    public static func build(_ items: [BulkItem], indices: [Int]?, into built: inout Built) {
        let count = indices?.count ?? items.count
        if built.bytes.capacity == 0 {
            var estimate = 0
            for k in 0..<count { estimate &+= items[indices?[k] ?? k].document.count &+ 100 }
            built.bytes.reserveCapacity(estimate)
        }
        build(items, indices: indices, into: &built, chunkBytes: .max) { _ in }
    }

    /// Builds the body a chunk at a time: whenever `built.bytes` holds `chunkBytes` or more, calls
    /// `emit` with them and starts the next chunk in the same storage; what is left at the end
    /// stays in `built.bytes` (not emitted). `built.size` counts the whole body. A compressor fed
    /// this way never needs the whole uncompressed body in memory, and compresses bytes still in
    /// the cache.
    public static func build(
        _ items: [BulkItem], indices: [Int]?, into built: inout Built, chunkBytes: Int,
        emit: (UnsafeRawBufferPointer) throws -> Void
    ) rethrows {
        built.bytes.removeAll(keepingCapacity: true)
        built.included.removeAll(keepingCapacity: true)
        built.excluded.removeAll(keepingCapacity: true)
        built.size = 0
        let count = indices?.count ?? items.count
        // Items are read in place (`items[i]` copied each one: a retain and release of its
        // index name and document per item).
        var prefix = ActionPrefix()
        try items.withUnsafeBufferPointer { items in
            for k in 0..<count {
                let i = indices?[k] ?? k
                if append(items[i], prefix: &prefix, to: &built.bytes) {
                    built.included.append(i)
                } else {
                    built.excluded.append((i, .emptyDocument))
                }
                if built.bytes.count >= chunkBytes {
                    built.size += built.bytes.count
                    try built.bytes.withUnsafeBytes(emit)
                    built.bytes.removeAll(keepingCapacity: true)
                }
            }
        }
        built.size += built.bytes.count
    }

    static let actionStart = Array(#"{"create":{"_index":"#.utf8)
    static let idKey = Array(#","_id":"#.utf8)
    static let actionEnd = Array("}}\n".utf8)

    /// The start of the action line for the last index name seen, `{"create":{"_index":"NAME","_id":`:
    /// items in a row mostly share their index.
    struct ActionPrefix {
        var index: String?
        var bytes: [UInt8] = []

        mutating func update(_ name: String) {
            if index == name { return }
            bytes.removeAll(keepingCapacity: true)
            bytes.append(contentsOf: actionStart)
            JSONWriter.writeString(name, into: &bytes)
            bytes.append(contentsOf: idKey)
            index = name
        }
    }

    /// Bytes of an item's lines besides the prefix and the document: `"`, the 22 characters of a
    /// hash id, `"}}\n`, and the document's `\n`.
    private static let hashItemExtra = 1 + DocumentID.hashTextCount + 1 + 3 + 1

    /// Appends one item (action line and document line); false (nothing appended) when the document
    /// is empty. Raw CR/LF bytes in the document (legal only as JSON whitespace) become spaces so the
    /// document stays one line; documents known to have none (``BulkItem/isSingleLine``) are not
    /// scanned for them (the scans were 1.6 % of shipper's CPU to Elasticsearch).
    @discardableResult
    public static func append(_ item: BulkItem, to out: inout [UInt8]) -> Bool {
        var prefix = ActionPrefix()
        return append(item, prefix: &prefix, to: &out)
    }

    /// ``append(_:to:)`` with the action line's start from `prefix` (kept from item to item). An
    /// item with a hash id and a document without CR/LF, all of `shipper run`'s, is written with
    /// one capacity check and no escaping.
    @inline(__always)
    static func append(_ item: BulkItem, prefix: inout ActionPrefix, to out: inout [UInt8]) -> Bool {
        let (hasContent, hasNewline) = item.document.withUnsafeBytes { doc -> (Bool, Bool) in
            var content = false
            for b in doc where !(b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D) {
                content = true
                break
            }
            guard let base = doc.baseAddress, content, !item.isSingleLine else { return (content, false) }
            // (memchr twice: a single pass with Swift's SIMD32 `any` was 4 times slower, its
            // `any` is not specialized.)
            return (content, memchr(base, 0x0A, doc.count) != nil || memchr(base, 0x0D, doc.count) != nil)
        }
        if !hasContent { return false }
        prefix.update(item.index)
        if !hasNewline, case .hash(let h1, let h2) = item.documentID {
            item.document.withUnsafeBytes { doc in
                prefix.bytes.withUnsafeBufferPointer { head in
                    out.append(addingCapacity: head.count &+ doc.count &+ hashItemExtra) { span in
                        span.withUnsafeMutableBufferPointer { buffer, initialized in
                            let p = buffer.baseAddress!
                            p.update(from: head.baseAddress!, count: head.count)
                            var at = head.count
                            p[at] = 0x22
                            at = DocumentID.writeHash(h1, h2, to: p, at: at &+ 1)
                            p[at] = 0x22
                            p[at &+ 1] = 0x7D
                            p[at &+ 2] = 0x7D
                            p[at &+ 3] = 0x0A
                            at &+= 4
                            UnsafeMutableRawPointer(p + at).copyMemory(from: doc.baseAddress!, byteCount: doc.count)
                            at &+= doc.count
                            p[at] = 0x0A
                            initialized = at &+ 1
                        }
                    }
                }
            }
            return true
        }
        out.append(contentsOf: prefix.bytes)
        item.documentID.writeJSON(into: &out)
        out.append(contentsOf: actionEnd)
        if hasNewline {
            for b in item.document { out.append(b == 0x0A || b == 0x0D ? 0x20 : b) }
        } else {
            out.append(contentsOf: item.document)
        }
        out.append(0x0A)
        return true
    }
}
