/// The frames of the latest appends, kept in memory after they are written, so that a reader
/// close behind the appender (the usual case: outputs keep up) decodes them from there instead
/// of reading them back from the segment file. A read from the file is a copy out of the page
/// cache plus a CRC-32C pass over every frame; a read from here is neither: the documents are
/// slices of the very arrays the appender encoded into, which never left memory.
///
/// Pure bookkeeping (no I/O): ``DiskBuffer`` registers what ``DiskBuffer/write`` put where and
/// looks frames up by (segment, offset). Entries describe whole frames only, as written; a
/// segment id is never used twice, so an entry can never describe bytes that a file no longer
/// holds (a reused file is renamed to a new id; a write that failed is never kept).
///
/// The arrays go round: the appender hands its written array over and gets back an older one
/// (``takeArray()``) whose storage is used again once nothing holds it, so that steady appends
/// allocate nothing (a fresh array of a megabyte is mapped pages, faulted in one by one).
struct KeptWrites {
    /// Frames `start..<end` of segment `segment` are `bytes[offset..<offset + (end - start)]`.
    struct Entry {
        let segment: UInt64
        let start: Int64
        let end: Int64
        let bytes: [UInt8]
        let offset: Int

        /// The index in ``bytes`` of segment offset `position` (within `start...end`).
        func index(of position: Int64) -> Int { offset + Int(position - start) }
    }

    /// Bytes kept at most (the arrays' counts, each counted once): 0 keeps nothing.
    let limit: Int
    /// Oldest first.
    private(set) var entries: [Entry] = []
    /// The arrays of the entries, oldest first, with their byte counts.
    private var arrays: [(base: UnsafeRawPointer?, count: Int)] = []
    private(set) var keptBytes = 0
    /// Arrays no longer kept, oldest first, for ``takeArray()``.
    private var retired: [[UInt8]] = []
    /// How many retired arrays wait to be used again at most (readers may hold a few).
    static let maxRetired = 8

    init(limit: Int) { self.limit = max(0, limit) }

    /// Keeps `bytes`, whose `ranges` (index ranges of whole frames) were written to
    /// `segment` at `at` (the segment offset of each range's first byte). The oldest arrays go
    /// once more than ``limit`` bytes are kept. An array larger than the limit is not kept.
    mutating func keep(_ bytes: [UInt8], _ ranges: [(segment: UInt64, at: Int64, range: Range<Int>)]) {
        guard limit > 0, !ranges.isEmpty, bytes.count <= limit else {
            retire(bytes)
            return
        }
        for r in ranges where !r.range.isEmpty {
            entries.append(Entry(segment: r.segment, start: r.at, end: r.at + Int64(r.range.count), bytes: bytes, offset: r.range.lowerBound))
        }
        arrays.append((bytes.withUnsafeBytes { $0.baseAddress }, bytes.count))
        keptBytes += bytes.count
        while keptBytes > limit, let oldest = arrays.first {
            arrays.removeFirst()
            keptBytes -= oldest.count
            var dropped: [UInt8]?
            while let e = entries.first, e.bytes.withUnsafeBytes({ $0.baseAddress }) == oldest.base {
                dropped = e.bytes
                entries.removeFirst()
            }
            if let dropped { retire(dropped) }
        }
    }

    /// The entry holding the frame that starts at `position` of `segment`, if any.
    func entry(segment: UInt64, at position: Int64) -> Entry? {
        // Newest first: readers are usually right behind the appender.
        for e in entries.reversed() where e.segment == segment && e.start <= position && position < e.end { return e }
        return nil
    }

    /// Where the first entry of `segment` after `position` starts (a read from the file can
    /// stop there), if any.
    func nextStart(segment: UInt64, after position: Int64) -> Int64? {
        entries.lazy.filter { $0.segment == segment && $0.start > position }.map(\.start).min()
    }

    /// An empty array to encode the next batch into: the oldest retired one (its storage used
    /// again when no reader holds it any more; else it gets new storage of the same capacity),
    /// or a new one.
    mutating func takeArray() -> [UInt8] {
        guard !retired.isEmpty else { return [] }
        var a = retired.removeFirst()
        a.removeAll(keepingCapacity: true)
        return a
    }

    private mutating func retire(_ bytes: [UInt8]) {
        guard bytes.capacity > 0 else { return }
        retired.append(bytes)
        if retired.count > Self.maxRetired { retired.removeFirst() }
    }
}
