/// How every line the campaigns write can be recognised in what arrives, whole or in pieces.
///
/// A line's text is a run of 64-byte blocks. Each block names its line and its place in it:
///
/// ```text
/// <03-0000001234:00000>abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq
///  ^  ^          ^     ^ 43 filler bytes, a function of (container, sequence, block)
///  |  |          block index
///  |  sequence number of the line in its container
///  container number
/// ```
///
/// Blocks are ASCII without JSON escapes, so they appear verbatim in a stored document's
/// `message`, also when the line could not be decoded and was shipped raw (with its JSON around
/// it), and Docker's 16 KiB partial chunks and shipper's 1 MiB pieces fall on block boundaries.
/// A block that arrives altered counts as corrupt.
enum Block {
    static let size = 64
    static let headerSize = 21

    /// The line key: container and sequence.
    static func key(container: Int, seq: Int) -> Int { container << 40 | seq }
    static func container(ofKey key: Int) -> Int { key >> 40 }
    static func seq(ofKey key: Int) -> Int { key & ((1 << 40) - 1) }

    /// Appends block `index` of line (container, seq).
    static func append(container: Int, seq: Int, index: Int, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "<"))
        digits(container, 2, &out)
        out.append(UInt8(ascii: "-"))
        digits(seq, 10, &out)
        out.append(UInt8(ascii: ":"))
        digits(index, 5, &out)
        out.append(UInt8(ascii: ">"))
        var h = UInt64(truncatingIfNeeded: key(container: container, seq: seq)) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(index) &* 0xC2B2_AE3D_27D4_EB4F
        for _ in 0..<(size - headerSize) {
            h ^= h >> 29
            h = h &* 0xBF58_476D_1CE4_E5B9
            out.append(UInt8(ascii: "a") + UInt8(h % 26))
        }
    }

    /// The whole text of a line of `blocks` blocks.
    static func line(container: Int, seq: Int, blocks: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(blocks * size)
        for i in 0..<blocks { append(container: container, seq: seq, index: i, to: &out) }
        return out
    }

    private static func digits(_ v: Int, _ n: Int, _ out: inout [UInt8]) {
        var buf = [UInt8](repeating: UInt8(ascii: "0"), count: n)
        var x = v
        var i = n - 1
        while x > 0 && i >= 0 {
            buf[i] = UInt8(ascii: "0") + UInt8(x % 10)
            x /= 10
            i -= 1
        }
        out.append(contentsOf: buf)
    }

    /// A block found in a text: its line key and index, and whether its filler is intact.
    struct Found {
        var key: Int
        var index: Int
        var intact: Bool
    }

    /// Every block header in `text` (with its filler checked).
    static func scan(_ text: ArraySlice<UInt8>, _ body: (Found) -> Void) {
        var i = text.startIndex
        let end = text.endIndex
        var expected: [UInt8] = []
        expected.reserveCapacity(size)
        while i + headerSize <= end {
            guard text[i] == UInt8(ascii: "<"), let (c, s, x) = parseHeader(text, i) else {
                i += 1
                continue
            }
            expected.removeAll(keepingCapacity: true)
            append(container: c, seq: s, index: x, to: &expected)
            let intact = i + size <= end && text[i..<(i + size)].elementsEqual(expected)
            body(Found(key: key(container: c, seq: s), index: x, intact: intact))
            i += intact ? size : headerSize
        }
    }

    private static func parseHeader(_ t: ArraySlice<UInt8>, _ i: Int) -> (Int, Int, Int)? {
        func number(_ from: Int, _ n: Int) -> Int? {
            var v = 0
            for k in from..<(from + n) {
                let d = t[k]
                guard d >= 48 && d <= 57 else { return nil }
                v = v * 10 + Int(d - 48)
            }
            return v
        }
        guard t[i + 3] == UInt8(ascii: "-"), t[i + 14] == UInt8(ascii: ":"), t[i + 20] == UInt8(ascii: ">"),
            let c = number(i + 1, 2), let s = number(i + 4, 10), let x = number(i + 15, 5)
        else { return nil }
        return (c, s, x)
    }
}

/// What the checker expects of a line.
enum Expectation: Equatable {
    /// Indexed exactly once.
    case once
    /// Refused by Elasticsearch (a mapping error): in the dead-letter file exactly once, never indexed.
    case deadLetter
    /// May be missing for a documented reason (never duplicated, though).
    case mayBeLost(String)
}

/// One line written by a campaign and what became of it.
struct LineState {
    var key: Int
    var blocks: Int
    var writtenAt: Double
    var expectation: Expectation
    /// Copies of each block seen in indexed documents.
    var counts: [UInt16]
    /// Blocks seen at least once.
    var covered = 0
    /// When every block had arrived.
    var completedAt: Double?
    /// Documents holding some block of it.
    var documents = 0
    /// Dead-letter entries holding block 0.
    var deadLetters = 0
    /// Some block arrived twice (in two documents).
    var duplicated = false
    /// The first document that held block 0: `_id`, `log.file.path`, `log.offset` (to say where
    /// a duplicate came from).
    var firstDocument: String?

    var complete: Bool { covered == blocks }
}

/// The registry of written lines, shared by the writer threads and the tracker.
final class LineBook: @unchecked Sendable {
    private let state = Locked(State())

    struct State {
        var lines: [LineState] = []
        var index: [Int: Int] = [:]
        var written = 0
        var writtenBytes = 0
    }

    /// Records a line that was just written.
    func add(container: Int, seq: Int, blocks: Int, expectation: Expectation, bytes: Int) {
        let now = monotonicSeconds()
        let key = Block.key(container: container, seq: seq)
        state.withLock { s in
            s.index[key] = s.lines.count
            s.lines.append(LineState(key: key, blocks: blocks, writtenAt: now, expectation: expectation, counts: [UInt16](repeating: 0, count: blocks)))
            s.written += 1
            s.writtenBytes += bytes
        }
    }

    /// Changes what is expected of lines (e.g. lines a copytruncate took before they were read).
    func expect(_ keys: [Int], _ expectation: Expectation) {
        state.withLock { s in
            for k in keys { if let i = s.index[k] { s.lines[i].expectation = expectation } }
        }
    }

    func withState<T>(_ body: (inout State) -> T) -> T { state.withLock(body) }

    var written: Int { state.withLock { $0.written } }

    /// Whether every line of `container` with a sequence number in `range` is indexed (or
    /// dead-lettered).
    func delivered(container: Int, _ range: Range<Int>) -> Bool { undelivered(container: container, range) == 0 }

    /// How many lines of `container` with a sequence number in `range` are neither indexed nor
    /// dead-lettered yet.
    func undelivered(container: Int, _ range: Range<Int>) -> Int {
        state.withLock { s in
            range.reduce(0) { n, q in
                guard let i = s.index[Block.key(container: container, seq: q)] else { return n }
                let l = s.lines[i]
                return l.complete || l.deadLetters > 0 ? n : n + 1
            }
        }
    }

    /// Lines that must arrive (once or as a dead letter) and have not yet.
    func outstanding(writtenBefore t: Double = .infinity) -> Int {
        state.withLock { s in
            s.lines.reduce(0) { n, l in
                guard l.writtenAt < t else { return n }
                switch l.expectation {
                case .once: return l.complete ? n : n + 1
                case .deadLetter: return l.deadLetters > 0 ? n : n + 1
                case .mayBeLost: return n
                }
            }
        }
    }
}
