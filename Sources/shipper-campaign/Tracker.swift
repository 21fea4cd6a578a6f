import ElasticsearchTestServer
import Foundation

/// Watches what arrives: polls the test server's index (new documents only, in write order) and
/// the dead-letter file, and matches every block found against the ``LineBook``. Latency is the
/// time from writing a line to the poll that first saw all of it (polls are ~0.2 s apart, a little
/// more when the index is large).
final class Tracker: @unchecked Sendable {
    let server: ElasticsearchTestServer
    let book: LineBook
    let index: String
    private let lock = NSLock()
    private var processed = 0
    private var deadLetterPath: String?
    private var deadLetterOffset = 0
    private var deadLetterPartial: [UInt8] = []
    private var task: Task<Void, Never>?
    private(set) var counters = Counters()
    private(set) var lastProgress = monotonicSeconds()
    private(set) var pollInterval = 0.2

    struct Counters {
        var documents = 0
        var unkeyedDocuments = 0
        var corruptBlocks = 0
        var unknownBlocks = 0
        var deadLetterEntries = 0
        var deadLetterUnkeyed = 0
        /// Where duplicated lines came from: the first two documents of each (a few).
        var duplicateOrigins: [String] = []
    }

    init(server: ElasticsearchTestServer, book: LineBook, index: String = "campaign", deadLetters: String?) {
        self.server = server
        self.book = book
        self.index = index
        self.deadLetterPath = deadLetters
    }

    /// Polls in the background until `stop()`.
    func start() {
        task = Task.detached { [weak self] in
            while !Task.isCancelled {
                guard let self else { return }
                let started = monotonicSeconds()
                self.poll()
                let took = monotonicSeconds() - started
                self.pollInterval = max(0.2, took * 4)
                try? await Task.sleep(nanoseconds: UInt64(self.pollInterval * 1e9))
            }
        }
    }

    func stop() async {
        task?.cancel()
        _ = await task?.value
        task = nil
        poll()
    }

    /// Processes documents indexed and dead letters written since the last poll.
    func poll() {
        lock.lock()
        defer { lock.unlock() }
        let now = monotonicSeconds()
        var progressed = false
        if server.count(index: index) > processed {
            let docs = server.documents(index: index)
            if docs.count > processed {
                progressed = true
                let fresh = docs[processed...]
                processed = docs.count
                book.withState { s in
                    for d in fresh { self.account(document: d.source[...], id: d.id, now: now, state: &s) }
                }
            }
        }
        if let path = deadLetterPath, let size = FS.size(path), size > deadLetterOffset,
            let h = FileHandle(forReadingAtPath: path)
        {
            defer { try? h.close() }
            try? h.seek(toOffset: UInt64(deadLetterOffset))
            let data = [UInt8](h.readDataToEndOfFile())
            deadLetterOffset += data.count
            deadLetterPartial += data
            var lines: [ArraySlice<UInt8>] = []
            var start = 0
            for (i, b) in deadLetterPartial.enumerated() where b == 0x0A {
                lines.append(deadLetterPartial[start..<i])
                start = i + 1
            }
            if !lines.isEmpty {
                progressed = true
                book.withState { s in
                    for l in lines { self.account(deadLetter: l, state: &s) }
                }
            }
            deadLetterPartial = Array(deadLetterPartial[start...])
        }
        if progressed { lastProgress = now }
    }

    private func account(document source: ArraySlice<UInt8>, id: String, now: Double, state s: inout LineBook.State) {
        counters.documents += 1
        func origin() -> String {
            let path = Self.stringValue(of: "path", in: source).map { String(decoding: $0, as: UTF8.self) } ?? "?"
            var offset = "?"
            if let at = Self.find(Array(#""offset":"#.utf8), in: source) {
                offset = String(decoding: source[(at + 9)...].prefix { $0 >= 48 && $0 <= 57 }, as: UTF8.self)
            }
            return "\(id) \(path.split(separator: "/").last ?? "?")@\(offset)"
        }
        guard let message = Self.stringValue(of: "message", in: source) else {
            counters.unkeyedDocuments += 1
            return
        }
        var lines: Set<Int> = []
        Block.scan(message) { found in
            guard found.intact else {
                counters.corruptBlocks += 1
                return
            }
            guard let i = s.index[found.key], found.index < s.lines[i].blocks else {
                counters.unknownBlocks += 1
                return
            }
            lines.insert(i)
            if found.index == 0 {
                if s.lines[i].firstDocument == nil {
                    s.lines[i].firstDocument = origin()
                } else if counters.duplicateOrigins.count < 12 {
                    counters.duplicateOrigins.append("line \(Block.container(ofKey: found.key))/\(Block.seq(ofKey: found.key)): \(s.lines[i].firstDocument!) and \(origin())")
                }
            }
            s.lines[i].counts[found.index] += 1
            if s.lines[i].counts[found.index] == 1 {
                s.lines[i].covered += 1
                if s.lines[i].complete { s.lines[i].completedAt = now }
            } else {
                s.lines[i].duplicated = true
            }
        }
        if lines.isEmpty { counters.unkeyedDocuments += 1 }
        for i in lines { s.lines[i].documents += 1 }
    }

    private func account(deadLetter line: ArraySlice<UInt8>, state s: inout LineBook.State) {
        guard !line.isEmpty else { return }
        counters.deadLetterEntries += 1
        let marker = Array(#""document""#.utf8)
        guard let at = Self.find(marker, in: line), let message = Self.stringValue(of: "message", in: line[at...]) else {
            counters.deadLetterUnkeyed += 1
            return
        }
        var keyed = false
        Block.scan(message) { found in
            guard found.intact, found.index == 0, let i = s.index[found.key] else { return }
            s.lines[i].deadLetters += 1
            keyed = true
        }
        if !keyed { counters.deadLetterUnkeyed += 1 }
    }

    /// The raw (still escaped) bytes of the first string value of `"key"` in a JSON text.
    static func stringValue(of key: String, in json: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        let pattern = Array("\"\(key)\":\"".utf8)
        guard let at = find(pattern, in: json) else { return nil }
        var i = at + pattern.count
        let start = i
        while i < json.endIndex {
            let b = json[i]
            if b == UInt8(ascii: "\\") {
                i += 2
                continue
            }
            if b == UInt8(ascii: "\"") { return json[start..<i] }
            i += 1
        }
        return nil
    }

    static func find(_ pattern: [UInt8], in text: ArraySlice<UInt8>) -> Int? {
        guard let first = pattern.first, text.count >= pattern.count else { return nil }
        var i = text.startIndex
        let last = text.endIndex - pattern.count
        while i <= last {
            if text[i] == first && text[i..<(i + pattern.count)].elementsEqual(pattern) { return i }
            i += 1
        }
        return nil
    }

    /// Waits until every line written so far that must arrive has arrived (indexed, or in the
    /// dead-letter file), or nothing arrived for `idle` seconds, or `timeout` passed. Returns
    /// whether everything arrived.
    func waitForDelivery(timeout: Double, idle: Double = 90, shipper: ShipperRun? = nil) async -> Bool {
        let deadline = monotonicSeconds() + timeout
        lastProgress = monotonicSeconds()
        while monotonicSeconds() < deadline {
            poll()
            if book.outstanding() == 0 { return true }
            if monotonicSeconds() - lastProgress > idle { return false }
            shipper?.checkAlive()
            await pause(0.25)
        }
        poll()
        return book.outstanding() == 0
    }

    /// How long until every line written before `time` has arrived (nil: not within `timeout`).
    func catchUp(writtenBefore time: Double, timeout: Double, shipper: ShipperRun? = nil) async -> Double? {
        let deadline = monotonicSeconds() + timeout
        while monotonicSeconds() < deadline {
            poll()
            if book.outstanding(writtenBefore: time) == 0 { return monotonicSeconds() - time }
            shipper?.checkAlive()
            await pause(0.1)
        }
        return nil
    }
}
