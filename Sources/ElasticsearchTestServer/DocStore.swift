// The documents of one index, by id. A dictionary whose keys carry a hash computed once from
// the id's bytes: probing compares integers before strings, and growing the table rehashes no
// strings (with millions of 20-byte ids, String hashing and comparison were a fifth of `_bulk`).

struct DocStore: Sequence {
    struct Key: Hashable {
        let id: String
        let hash: UInt64

        init(_ id: String) {
            var id = id
            self.hash = id.withUTF8 { DocStore.hash($0) }
            self.id = id
        }

        /// Byte for byte, as Elasticsearch compares ids (`String ==` follows canonical
        /// equivalence: "é" precomposed and "e" + U+0301 would be one document on a hash collision).
        static func == (a: Key, b: Key) -> Bool { a.hash == b.hash && a.id.utf8.elementsEqual(b.id.utf8) }
        func hash(into hasher: inout Hasher) { hasher.combine(hash) }

        /// The precomputed hash mixed with the table's seed, without running SipHash again on
        /// every probe and every resize.
        func _rawHashValue(seed: Int) -> Int {
            var h = hash ^ UInt64(UInt(bitPattern: seed)) &* 0x9E37_79B9_7F4A_7C15
            h ^= h >> 31
            h &*= 0xBF58_476D_1CE4_E5B9
            h ^= h >> 29
            return Int(truncatingIfNeeded: h)
        }
    }

    private var storage: [Key: DocState] = [:]

    var count: Int { storage.count }
    var isEmpty: Bool { storage.isEmpty }

    subscript(id: String) -> DocState? {
        get { storage[Key(id)] }
        set { storage[Key(id)] = newValue }
    }

    subscript(key: Key) -> DocState? {
        get { storage[key] }
        set { storage[key] = newValue }
    }

    func makeIterator() -> AnyIterator<(key: String, value: DocState)> {
        var inner = storage.makeIterator()
        return AnyIterator { inner.next().map { (key: $0.key.id, value: $0.value) } }
    }

    /// 64-bit hash of the id's bytes, eight at a time.
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        let m: UInt64 = 0x9E37_79B9_7F4A_7C15
        var h: UInt64 = 0xA076_1D64_78BD_642F ^ UInt64(bytes.count) &* m
        guard let base = bytes.baseAddress else { return h }
        let raw = UnsafeRawPointer(base)
        var i = 0
        while i + 8 <= bytes.count {
            let w = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            h = (h ^ w) &* m
            h ^= h >> 29
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < bytes.count {
            tail |= UInt64(base[i]) << shift
            shift += 8
            i += 1
        }
        h = (h ^ tail) &* m
        h ^= h >> 32
        return h
    }
}
