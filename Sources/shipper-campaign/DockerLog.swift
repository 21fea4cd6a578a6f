import Foundation
import OutputFile

#if canImport(Glibc)
import Glibc
#endif

/// One container's log in a directory laid out like `/var/lib/docker/containers`:
/// `<root>/<id>/<id>-json.log` in Docker's json-file format, with `config.v2.json` beside it (as
/// in `pipelines/samples/containers`). Writes lines made of ``Block``s, records them in the
/// ``LineBook``, and rotates the way Docker does (rename) or logrotate's `copytruncate` does.
///
/// Or, made with ``init(kubeletPods:links:number:service:book:)``, laid out as kubelet does on a
/// Kubernetes node: CRI lines in `<pods>/campaign_<pod>_<uid>/app/0.log`, linked from
/// `<links>/<pod>_campaign_app-<id>.log`, rotated by ``rotateByRename(keep:)`` to
/// `0.log.<date>-<time>` (only ``writeLine(blocks:poison:)`` and ``writeBurst(_:blocks:)`` write
/// that format).
///
/// Safe to use from several threads (one lock per container).
final class ContainerLog: @unchecked Sendable {
    let number: Int
    let id: String
    let book: LineBook
    /// The directory of the log, and the log.
    let dir: String
    let logPath: String
    /// Kubelet's layout (CRI lines, time-named rotations), not Docker's.
    let kubelet: Bool
    private let lock = NSLock()
    private var fd: Int32 = -1
    private(set) var seq = 0
    private(set) var size = 0
    /// Sequence number of the first line in the live file (changes at each rotation).
    private(set) var fileStart = 0
    private(set) var rotations = 0
    private(set) var removed = false
    /// Kubelet's layout: the rotated files not compressed yet, oldest first, with their lines.
    private var uncompressed: [(path: String, lines: Range<Int>)] = []
    /// Kubelet's layout: the compressed generations, oldest first.
    private var compressed: [String] = []

    /// Docker's limit for one chunk of a long line.
    static let chunkBytes = 16 * 1024

    static func containerID(_ number: Int) -> String {
        var hex = ""
        var r = SeededRandom(seed: UInt64(number) &* 7919 &+ 17)
        while hex.count < 64 { hex += String(r.next(), radix: 16) }
        return String(String(format: "%02d", number) + hex.dropFirst(2).prefix(62))
    }

    init(kubeletPods pods: String, links: String, number: Int, service: String, book: LineBook) throws {
        self.number = number
        self.book = book
        id = Self.containerID(number)
        kubelet = true
        let pod = "\(service)-\(number)"
        dir = pods + "/campaign_\(pod)_\(id.prefix(8))/app"
        logPath = dir + "/0.log"
        try FS.mkdirs(dir)
        try FS.mkdirs(links)
        fd = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CampaignError("cannot create \(logPath): \(String(cString: strerror(errno)))") }
        let link = links + "/\(pod)_campaign_app-\(id).log"
        guard symlink(logPath, link) == 0 else { throw CampaignError("cannot link \(link): \(String(cString: strerror(errno)))") }
    }

    init(root: String, number: Int, service: String, book: LineBook) throws {
        self.number = number
        self.book = book
        id = Self.containerID(number)
        kubelet = false
        dir = root + "/" + id
        logPath = dir + "/" + id + "-json.log"
        try FS.mkdirs(dir)
        let name = "campaign_\(service).1.task\(id.prefix(12))"
        let config = """
            {"ID":"\(id)","Created":"2026-11-25T08:00:00.000000000Z","Path":"/entrypoint.sh","Config":{"Hostname":"\(id.prefix(12))",\
            "Image":"example/\(service):1.0","Labels":{"com.docker.stack.namespace":"campaign","com.docker.swarm.node.id":"node-1",\
            "com.docker.swarm.service.name":"campaign_\(service)","com.docker.swarm.task.name":"\(name)"}},\
            "Image":"sha256:\(String(repeating: "ab", count: 32))","Name":"/\(name)","LogPath":"\(logPath)"}
            """
        try FS.write(dir + "/config.v2.json", Array(config.utf8))
        fd = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CampaignError("cannot create \(logPath): \(String(cString: strerror(errno)))") }
    }

    deinit { if fd >= 0 { close(fd) } }

    // MARK: Writing

    /// Writes one ordinary line of `blocks` blocks; `poison` adds `attrs: {poison: yes}`, which
    /// the test server refuses with a mapping error (the line must end up as a dead letter).
    @discardableResult
    func writeLine(blocks: Int = 2, poison: Bool = false) -> Int {
        lock.lock()
        defer { lock.unlock() }
        guard !removed else { return -1 }
        let s = seq
        seq += 1
        var line: [UInt8] = []
        if kubelet {
            precondition(!poison, "a CRI line has no attrs to poison")
            appendCRIStart(&line)
            for i in 0..<blocks { Block.append(container: number, seq: s, index: i, to: &line) }
            line.append(0x0A)
        } else {
            line = Array(#"{"log":""#.utf8)
            for i in 0..<blocks { Block.append(container: number, seq: s, index: i, to: &line) }
            line.append(contentsOf: #"\n","stream":"stdout","#.utf8)
            if poison { line.append(contentsOf: #""attrs":{"poison":"yes"},"#.utf8) }
            appendTime(&line)
        }
        book.add(container: number, seq: s, blocks: blocks, expectation: poison ? .deadLetter : .once, bytes: line.count)
        put(line)
        return s
    }

    /// Writes many ordinary lines in one write (a burst).
    func writeBurst(_ count: Int, blocks: Int = 2) {
        lock.lock()
        defer { lock.unlock() }
        guard !removed else { return }
        var all: [UInt8] = []
        for _ in 0..<count {
            let s = seq
            seq += 1
            let start = all.count
            if kubelet {
                appendCRIStart(&all)
                for i in 0..<blocks { Block.append(container: number, seq: s, index: i, to: &all) }
                all.append(0x0A)
            } else {
                all.append(contentsOf: #"{"log":""#.utf8)
                for i in 0..<blocks { Block.append(container: number, seq: s, index: i, to: &all) }
                all.append(contentsOf: #"\n","stream":"stdout","#.utf8)
                appendTime(&all)
            }
            book.add(container: number, seq: s, blocks: blocks, expectation: .once, bytes: all.count - start)
        }
        put(all)
    }

    /// Writes a long line as Docker does: chunks of 16 KiB without their newline, the last one
    /// with it. `between(k)` runs after chunk k is written (e.g. a rotation in the middle).
    func writeLong(blocks: Int, between: ((Int) -> Void)? = nil) {
        lock.lock()
        let s = seq
        seq += 1
        let text = Block.line(container: number, seq: s, blocks: blocks)
        book.add(container: number, seq: s, blocks: blocks, expectation: .once, bytes: text.count)
        lock.unlock()
        var start = 0
        var k = 0
        while start < text.count {
            let end = min(text.count, start + Self.chunkBytes)
            var line = Array(#"{"log":""#.utf8)
            line.append(contentsOf: text[start..<end])
            if end == text.count { line.append(contentsOf: #"\n"#.utf8) }
            line.append(contentsOf: #"","stream":"stdout","#.utf8)
            appendTime(&line)
            lock.lock()
            put(line)
            lock.unlock()
            between?(k)
            start = end
            k += 1
        }
    }

    /// A json-file line whose `log` holds invalid UTF-8 after its blocks (not what Docker writes;
    /// another writer might): shipped raw with `_decode_failure`, blocks intact. With
    /// `valid: true` the extra text is valid multi-byte UTF-8 instead.
    func writeOddText(valid: Bool) {
        lock.lock()
        defer { lock.unlock() }
        let s = seq
        seq += 1
        var line = Array(#"{"log":""#.utf8)
        Block.append(container: number, seq: s, index: 0, to: &line)
        if valid {
            line.append(contentsOf: " caf\u{e9} \u{2713} \u{1F600} \u{4E2D}\u{6587}".utf8)
        } else {
            line.append(contentsOf: [0x20, 0xFF, 0xFE, 0x20, 0xC3, 0x28, 0x20, 0x80, 0x20, 0xED, 0xA0, 0x80, 0x20, 0xF5, 0x90, 0x80, 0x80, 0x20, 0xE2, 0x82])
        }
        line.append(contentsOf: #"\n","stream":"stdout","#.utf8)
        appendTime(&line)
        book.add(container: number, seq: s, blocks: 1, expectation: .once, bytes: line.count)
        put(line)
    }

    /// A line of random bytes (no newline in them). With `keyed`, one block sits in the middle of
    /// the noise so the line can be found again.
    func writeNoise(keyed: Bool, rng: inout SeededRandom) {
        lock.lock()
        defer { lock.unlock() }
        var line: [UInt8] = []
        func noise(_ n: Int) {
            for _ in 0..<n {
                var b = UInt8(truncatingIfNeeded: rng.next())
                if b == 0x0A || b == UInt8(ascii: "<") { b = 0x0B }
                line.append(b)
            }
        }
        noise(1 + Int(rng.next() % 200))
        if keyed {
            let s = seq
            seq += 1
            Block.append(container: number, seq: s, index: 0, to: &line)
            noise(Int(rng.next() % 200))
            book.add(container: number, seq: s, blocks: 1, expectation: .once, bytes: line.count + 1)
        }
        line.append(0x0A)
        put(line)
    }

    private func put(_ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n <= 0 {
                if errno == EINTR { continue }
                note("write to \(logPath) failed: \(String(cString: strerror(errno)))")
                return
            }
            off += n
        }
        size += bytes.count
    }

    private func appendTime(_ out: inout [UInt8]) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        out.append(contentsOf: "\"time\":\"\(Self.rfc3339(ts))\"}\n".utf8)
    }

    /// The start of a CRI line, before its text: `<time> stdout F `.
    private func appendCRIStart(_ out: inout [UInt8]) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        out.append(contentsOf: "\(Self.rfc3339(ts)) stdout F ".utf8)
    }

    static func rfc3339(_ ts: timespec) -> String {
        var t = ts.tv_sec
        var tmv = tm()
        gmtime_r(&t, &tmv)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", Int(tmv.tm_year) + 1900, Int(tmv.tm_mon) + 1, Int(tmv.tm_mday),
            Int(tmv.tm_hour), Int(tmv.tm_min), Int(tmv.tm_sec), ts.tv_nsec)
    }

    // MARK: Rotation and removal

    /// Docker's rotation: `-json.log` becomes `-json.log.1` (older ones shift, the oldest beyond
    /// `keep` is deleted), and a new empty file starts. In kubelet's layout, kubelet's rotation.
    func rotateByRename(keep: Int = 5) {
        lock.lock()
        defer { lock.unlock() }
        guard !removed else { return }
        if kubelet { return rotateAsKubelet(keep: keep) }
        close(fd)
        let old = FS.inode(logPath).map(String.init) ?? "?"
        let dropped = FS.inode(logPath + ".\(keep)").map(String.init) ?? "-"
        unlink(logPath + ".\(keep)")
        for n in stride(from: keep - 1, through: 1, by: -1) { rename(logPath + ".\(n)", logPath + ".\(n + 1)") }
        rename(logPath, logPath + ".1")
        startNewLog { "rename rotation: lines \(fileStart)..<\(seq) (inode \(old)) now .1; new inode \($0); deleted .\(keep) inode \(dropped)" }
    }

    /// After a rotation moved the log away: a new empty log; `event` (given the new inode) goes
    /// to the event log.
    private func startNewLog(_ event: (String) -> String) {
        fd = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        EventLog.add("container \(number): " + event(FS.inode(logPath).map(String.init) ?? "?"))
        size = 0
        fileStart = seq
        rotations += 1
    }

    /// Kubelet's rotation (pkg/kubelet/logs): the rotated files not compressed yet are
    /// compressed (gzip, a new file `<name>.gz`, the original deleted), then `0.log` is renamed
    /// to `0.log.<date>-<time>` and a new `0.log` starts; at most `keep` generations are kept.
    /// Kubelet rotates at 10 MiB, checked every 10 s, so the generation before is long read when
    /// it is compressed; here rotations come every few seconds, between kills, so one is
    /// compressed only once its lines are indexed (else at a later rotation), as that timing
    /// gives on a node. ``compressRotated()`` compresses them regardless (shipper stopped).
    private func rotateAsKubelet(keep: Int) {
        while let first = uncompressed.first, book.delivered(container: number, first.lines) {
            uncompressed.removeFirst()
            compressed.append(Self.gzipReplacing(first.path))
        }
        while compressed.count + uncompressed.count >= keep, !compressed.isEmpty { unlink(compressed.removeFirst()) }
        close(fd)
        // Names one second apart from a fixed start: unique and in order, as kubelet's are.
        let ts = timespec(tv_sec: 1_795_000_000 + rotations, tv_nsec: 0)
        let stamp = Self.rfc3339(ts).prefix(19).filter { $0 != ":" && $0 != "-" }.replacingOccurrences(of: "T", with: "-")
        let rotated = logPath + "." + stamp
        let old = FS.inode(logPath).map(String.init) ?? "?"
        rename(logPath, rotated)
        uncompressed.append((rotated, fileStart..<seq))
        startNewLog { "kubelet rotation: lines \(fileStart)..<\(seq) (inode \(old)) now \(rotated); new inode \($0); compressed \(compressed.count)" }
    }

    /// Compresses the rotated files as they are, read or not (shipper stopped): Docker with
    /// `compress: true` compresses `-json.log.1` right after a rotation; in kubelet's layout,
    /// every rotated file not compressed yet.
    func compressRotated() {
        lock.lock()
        defer { lock.unlock() }
        if kubelet {
            while !uncompressed.isEmpty { compressed.append(Self.gzipReplacing(uncompressed.removeFirst().path)) }
        } else if FS.inode(logPath + ".1") != nil {
            _ = Self.gzipReplacing(logPath + ".1")
        }
        EventLog.add("container \(number): rotated files compressed")
    }

    /// `path` gzip-compressed into the new file `path.gz` (replaced if there), `path` deleted;
    /// returns the new path.
    static func gzipReplacing(_ path: String) -> String {
        var gz: [UInt8] = []
        if let bytes = FS.read(path) {
            bytes.withUnsafeBytes { try? Gzip.compressMember($0, level: 1, into: &gz) }
        }
        unlink(path + ".gz")
        try? FS.write(path + ".gz", gz)
        unlink(path)
        return path + ".gz"
    }

    /// logrotate's `copytruncate`: copies the file to `.1`, then truncates it in place. Returns
    /// the sequence numbers of the lines that were in it (only in `.1` from now on).
    @discardableResult
    func copyTruncate() -> Range<Int> {
        lock.lock()
        defer { lock.unlock() }
        guard !removed else { return seq..<seq }
        unlink(logPath + ".1")
        if let bytes = FS.read(logPath) { try? FS.write(logPath + ".1", bytes) }
        ftruncate(fd, 0)
        size = 0
        let range = fileStart..<seq
        fileStart = seq
        rotations += 1
        EventLog.add("container \(number): copytruncate: lines \(range) (inode \(FS.inode(logPath).map(String.init) ?? "?"))")
        return range
    }

    /// Sequence numbers of the lines in the live file.
    var liveRange: Range<Int> {
        lock.lock()
        defer { lock.unlock() }
        return fileStart..<seq
    }

    /// Deletes the container directory (as `docker rm` does), while shipper may be reading it.
    func remove() {
        lock.lock()
        defer { lock.unlock() }
        close(fd)
        fd = -1
        removed = true
        FS.remove(dir)
    }

    /// Deletes the log file (the container lives on); returns the inode it had.
    @discardableResult
    func unlinkLog() -> UInt64? {
        lock.lock()
        defer { lock.unlock() }
        let old = FS.inode(logPath)
        close(fd)
        fd = -1
        unlink(logPath)
        return old
    }

    /// Creates the log file again, trying to get `inode` (a file system hands a freed inode out
    /// again, once no process holds it open). Returns whether it got it.
    func recreate(reusing inode: UInt64?, attempts: Int = 2000) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        var reused = false
        var spares: [String] = []
        for k in 0..<attempts where inode != nil {
            let candidate = dir + "/.candidate-\(k)"
            let f = open(candidate, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if f < 0 { continue }
            close(f)
            if FS.inode(candidate) == inode {
                rename(candidate, logPath)
                reused = true
                break
            }
            spares.append(candidate)
        }
        for s in spares { unlink(s) }
        fd = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        size = 0
        fileStart = seq
        return reused
    }
}

struct CampaignError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
