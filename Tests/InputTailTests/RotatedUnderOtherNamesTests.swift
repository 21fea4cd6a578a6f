import Foundation
@testable import InputTail
import Logging
import OutputFile
import ShipperCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Files rotated to names that are not `<path>.N` while shipper was stopped or before their last
/// lines were durable: kubelet's `0.log.<date>-<time>` beside the file that
/// `/var/log/containers/*.log` links to, logrotate's `dateext`. The checkpointed file is found
/// by its inode and resumed at its checkpoint; before, its lines after the checkpoint were lost.
@Suite struct RotatedUnderOtherNamesTests {
    /// A Kubernetes node's layout: `pods/<ns>_<pod>_<uid>/<container>/0.log`, linked from
    /// `containers/<pod>_<ns>_<container>-<id>.log`.
    struct KubeletLayout {
        let containers: String
        let link: String
        let log: String

        init(_ dir: TempDir) throws {
            let podDir = dir.sub("pods/shop_web-1_0f4c/nginx")
            try FileManager.default.createDirectory(atPath: podDir, withIntermediateDirectories: true)
            containers = dir.sub("containers")
            try FileManager.default.createDirectory(atPath: containers, withIntermediateDirectories: true)
            log = podDir + "/0.log"
            link = containers + "/web-1_shop_nginx-0123abcd.log"
            try writeFile(log, "")
            #expect(symlink(log, link) == 0)
        }

        var config: TailConfig {
            var c = TailConfig(kind: .cri, paths: [containers + "/*.log"])
            c.inotify = false
            c.rotateWait = .seconds(0)
            c.discoveryInterval = .seconds(1)
            return c
        }

        /// What kubelet does: rename the log with a time suffix, start a new one (the link now
        /// reaches the new one).
        func rotate(suffix: String = "20261127-101530") throws {
            #expect(rename(log, log + "." + suffix) == 0)
            try writeFile(log, "")
        }
    }

    /// Reads what the files hold with a tailer, commits through line `committed`, writes the
    /// checkpoint and stops: what a shipper stopped at that point leaves. The lines read.
    static func readThenStop(config: TailConfig, checkpoint: String, committing committed: Int, clock: ManualClock = ManualClock()) throws -> Collector {
        let t = try Tailer(config: config, checkpointPath: checkpoint, logger: LogCapture().logger, clock: clock.tailClock)
        let c = Collector()
        try c.poll(t)
        t.commit(file: c.lines[committed].file, offset: c.lines[committed].endOffset)
        try t.persistCheckpoints()
        return c
    }

    /// A tailer started again on `checkpoint`, polled until it has `count` lines, then once more
    /// (anything it should not read would come then).
    static func restart(
        config: TailConfig, checkpoint: String, expecting count: Int, logger: Logger = LogCapture().logger, clock: ManualClock = ManualClock()
    ) throws -> (Tailer, Collector) {
        let t = try Tailer(config: config, checkpointPath: checkpoint, logger: logger, clock: clock.tailClock)
        let c = Collector()
        #expect(try c.poll(t, until: { c.lines.count >= count }))
        try c.poll(t)
        return (t, c)
    }

    /// What the event ids of the first lines with these texts are made of: the source (the
    /// file's fingerprint) and the offset.
    static func ids(_ c: Collector, _ texts: [String]) -> [String] {
        texts.map { text in c.lines.first { $0.text == text }.map { "\($0.file.fingerprint)@\($0.offset)" } ?? "absent" }
    }

    static func cri(_ text: String) -> String { "2026-11-27T10:15:30.000000001Z stdout F \(text)\n" }

    /// Sets a file's modification time `seconds` into the past.
    static func age(_ path: String, seconds: Int) {
        var times = [timespec](repeating: timespec(), count: 2)
        clock_gettime(CLOCK_REALTIME, &times[0])
        times[0].tv_sec -= seconds
        times[1] = times[0]
        #expect(utimensat(AT_FDCWD, path, times, 0) == 0)
    }

    @Test func kubeletRotationWhileStoppedIsResumedBesideTheLinkTarget() throws {
        let dir = TempDir()
        let k = try KubeletLayout(dir)
        let cp = dir.sub("state/cp.json")
        appendFile(k.log, (0..<10).map { Self.cri("one \($0)") }.joined())
        var t: Tailer? = try Tailer(config: k.config, checkpointPath: cp, logger: LogCapture().logger, clock: ManualClock().tailClock)
        let c = Collector()
        try c.poll(t!)
        #expect(c.lines.count == 10)
        t!.commit(file: c.lines[6].file, offset: c.lines[6].endOffset)  // lines 7…9 not durable yet
        // An older generation kubelet left, last written before the checkpoint: not read.
        try writeFile(k.log + ".20261126-090000", Self.cri("older generation"))
        Self.age(k.log + ".20261126-090000", seconds: 3600)
        try t!.persistCheckpoints()
        t = nil
        appendFile(k.log, Self.cri("one 10"))
        try k.rotate()
        appendFile(k.log, (0..<3).map { Self.cri("two \($0)") }.joined())

        let log = LogCapture()
        let c2 = try Self.restart(config: k.config, checkpoint: cp, expecting: 7, logger: log.logger).1
        let texts = c2.texts.map { String($0.split(separator: " ", maxSplits: 3).last ?? "") }
        #expect(texts.sorted() == ((7..<11).map { "one \($0)" } + (0..<3).map { "two \($0)" }).sorted())
        let resumed = try #require(c2.lines.first { $0.text.hasSuffix(" one 7") })
        #expect(resumed.offset == c.lines[6].endOffset && resumed.file == c.lines[0].file, "resumed under its identity")
        #expect(log.contains(.info, "resuming a file rotated while shipper was stopped"))
        // Its events keep the pod's metadata: it comes from the name under containers/.
        let chunk = try #require(c2.polls.joined().first { $0.file.id == c.lines[0].file })
        #expect(chunk.file.metadata?.podName == "web-1" && chunk.file.metadata?.namespace == "shop")
        expectContiguous(c2.lines)
    }

    /// In a directory whose name holds glob characters (escaped in `paths`, as a user must).
    @Test func dateextRotationWhileStoppedIsResumed() throws {
        let dir = TempDir()
        let logs = dir.sub("logs [a]*?")
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        let path = logs + "/app.log"
        let paths = [Tailer.globEscaped(logs) + "/*.log"]
        let cp = dir.sub("cp.json")
        try writeFile(path, (0..<5).map { "a \($0)\n" }.joined())
        let c = try Self.readThenStop(config: fileConfig(paths), checkpoint: cp, committing: 2)
        appendFile(path, "a 5\n")
        #expect(rename(path, path + "-20261127") == 0)
        try writeFile(path, "b 0\n")
        let t2 = try Tailer(config: fileConfig(paths), checkpointPath: cp, logger: LogCapture().logger, clock: ManualClock().tailClock)
        let c2 = Collector()
        #expect(try c2.poll(t2, until: { c2.lines.count >= 4 }))
        #expect(c2.texts.sorted() == ["a 3", "a 4", "a 5", "b 0"])
        #expect(c2.lines.first { $0.text == "a 3" }?.file == c.lines[0].file)
    }

    /// The race a restart-free run has: the file is rotated, read to its end and closed before
    /// the checkpoint of its last lines is committed (they wait for the buffer's fsync). Its
    /// checkpoint must survive the next write of the checkpoint file, so that a crash then reads
    /// those lines again. Before, the entry was dropped as "cannot be found": they were lost.
    @Test func aClosedFileRotatedUnderAnotherNameKeepsItsCheckpoint() throws {
        let dir = TempDir()
        let k = try KubeletLayout(dir)
        let cp = dir.sub("cp.json")
        let clock = ManualClock()
        appendFile(k.log, (0..<6).map { Self.cri("one \($0)") }.joined())
        var t: Tailer? = try Tailer(config: k.config, checkpointPath: cp, logger: LogCapture().logger, clock: clock.tailClock)
        let c = Collector()
        try c.poll(t!)
        let first = try #require(c.lines.first?.file)
        t!.commit(file: first, offset: c.lines[2].endOffset)
        try k.rotate()
        appendFile(k.log, Self.cri("two 0"))
        #expect(try c.poll(t!, clock: clock, advance: 1.1, until: { c.finished.contains(first) && c.texts.count == 7 }))
        try t!.persistCheckpoints()
        t = nil  // a crash: lines 3…5 of the rotated file were never committed

        let c2 = try Self.restart(config: k.config, checkpoint: cp, expecting: 4, clock: clock).1
        // The rotated file from its checkpoint, and the new file's line, never committed either.
        #expect(c2.lines.filter { $0.file == first }.map(\.offset) == Array(c.lines[3..<6].map(\.offset)))
        #expect(c2.texts.map { String($0.split(separator: " ", maxSplits: 3).last ?? "") }.sorted() == ["one 3", "one 4", "one 5", "two 0"])
    }

    /// A generation no checkpoint recorded: created, read in part and rotated away between two
    /// writes of the checkpoint file, then a crash. Docker's numbered names had this covered
    /// (the newer `.k-1` … `.1` of a recovered `.k`); kubelet's time-named ones did not (found by
    /// the crash campaign's kubelet container: 984 lines lost). They are read whole, with the
    /// generations after them; compressed ones and those older than the checkpoint file are not.
    @Test func generationsNoCheckpointRecordedAreReadWhole() throws {
        let dir = TempDir()
        let k = try KubeletLayout(dir)
        let cp = dir.sub("cp.json")
        appendFile(k.log, (0..<4).map { Self.cri("one \($0)") }.joined())
        let c = try Self.readThenStop(config: k.config, checkpoint: cp, committing: 1)
        appendFile(k.log, Self.cri("one 4"))
        try k.rotate(suffix: "20261127-101530")
        appendFile(k.log, (0..<3).map { Self.cri("two \($0)") }.joined())
        try k.rotate(suffix: "20261127-101531")
        appendFile(k.log, Self.cri("three 0"))
        // Compressed generations (by name, and by their first bytes): never read as lines.
        try writeFile(k.log + ".20261127-101529.gz", "\u{1F}not read")
        try Data([0x1F, 0x8B, 0x08, 0x00] + Array("gzip data\n".utf8)).write(to: URL(fileURLWithPath: k.log + ".20261127-101528"))

        let c2 = try Self.restart(config: k.config, checkpoint: cp, expecting: 7).1
        let texts = c2.texts.map { String($0.split(separator: " ", maxSplits: 3).last ?? "") }
        #expect(texts.sorted() == ["one 2", "one 3", "one 4", "three 0", "two 0", "two 1", "two 2"])
        #expect(c2.lines.first { $0.text.hasSuffix(" one 2") }?.file == c.lines[0].file)
        let unrecorded = try #require(c2.polls.joined().first { $0.file.path.hasSuffix("0.log.20261127-101531") })
        #expect(unrecorded.file.metadata?.podName == "web-1", "the metadata of the name under containers/")
        expectContiguous(c2.lines)
    }

    /// The same when the checkpointed generation is gone (compressed by kubelet meanwhile): the
    /// later ones are still read.
    @Test func generationsAfterACheckpointedFileThatIsGoneAreReadWhole() throws {
        let dir = TempDir()
        let k = try KubeletLayout(dir)
        let cp = dir.sub("cp.json")
        appendFile(k.log, Self.cri("one 0"))
        _ = try Self.readThenStop(config: k.config, checkpoint: cp, committing: 0)
        try k.rotate(suffix: "20261127-101530")
        appendFile(k.log, Self.cri("two 0"))
        try k.rotate(suffix: "20261127-101531")
        #expect(unlink(k.log + ".20261127-101530") == 0)
        appendFile(k.log, Self.cri("three 0"))

        let c2 = try Self.restart(config: k.config, checkpoint: cp, expecting: 2).1
        #expect(c2.texts.map { String($0.split(separator: " ", maxSplits: 3).last ?? "") }.sorted() == ["three 0", "two 0"])
    }

    @Test(arguments: [
        ("0.log.20261127-101530.gz", "x", true),
        ("app.log-20261127.zst", "x", true),
        ("app.log.2.bz2", "x", true),
        ("0.log.20261127-101530", "\u{1F}\u{8B}", false),  // U+008B is two bytes in UTF-8: not gzip's
        ("0.log.20261127-101530", "BZh91AY&SY a log line that starts like bzip2", false),
        ("0.log.20261127-101530", "2026-11-27T10:15:30Z stdout F hello", false),
        ("app.log-20261127", "", false),
    ])
    func compressedFilesAreKnownByNameOrFirstBytes(name: String, start: String, compressed: Bool) {
        #expect(Tailer.looksCompressed(path: "/var/log/pods/x/" + name, start: Array(start.utf8)) == compressed)
    }

    @Test(arguments: [[0x1F, 0x8B, 0x08], [0x28, 0xB5, 0x2F, 0xFD, 0x04], [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00], [0x04, 0x22, 0x4D, 0x18]] as [[UInt8]])
    func compressedFirstBytes(start: [UInt8]) {
        #expect(Tailer.looksCompressed(path: "/var/log/pods/x/0.log.20261127-101530", start: start))
        #expect(!Tailer.looksCompressed(path: "/var/log/pods/x/0.log.20261127-101530", start: Array(start.dropFirst())))
    }

    @Test(arguments: [("/a/b*c/0.log", #"/a/b\*c/0.log"#), ("/a/[x]?.log", #"/a/\[x]\?.log"#), (#"/a\b"#, #"/a\\b"#), ("/plain/0.log", "/plain/0.log")])
    func globMetacharactersInPathsAreEscaped(path: String, escaped: String) {
        #expect(Tailer.globEscaped(path) == escaped)
    }

    /// What kubelet does to a rotated file at the next rotation, and Docker's `compress` right
    /// after one: a gzip copy (a new file), the original deleted.
    static func compress(_ path: String) throws {
        let bytes = try #require(FileManager.default.contents(atPath: path))
        var gz: [UInt8] = []
        try Array(bytes).withUnsafeBytes { try Gzip.compressMember($0, into: &gz) }
        try Data(gz).write(to: URL(fileURLWithPath: path + ".gz"))
        #expect(unlink(path) == 0)
    }

    /// Stopped across two kubelet rotations: the checkpointed generation was compressed by the
    /// second. It is read on from its checkpoint out of a decompressed copy, under its identity
    /// (the same event ids); the copy is deleted once all of it is committed.
    @Test func aCheckpointedFileCompressedWhileStoppedIsReadOnFromACopy() throws {
        let dir = TempDir()
        let k = try KubeletLayout(dir)
        let cp = dir.sub("state/cp.json")
        let clock = ManualClock()
        appendFile(k.log, (0..<5).map { Self.cri("one \($0)") }.joined())
        let c = try Self.readThenStop(config: k.config, checkpoint: cp, committing: 1, clock: clock)
        appendFile(k.log, Self.cri("one 5"))
        try k.rotate(suffix: "20261127-101530")
        appendFile(k.log, Self.cri("two 0"))
        try k.rotate(suffix: "20261127-101531")
        try Self.compress(k.log + ".20261127-101530")
        appendFile(k.log, Self.cri("three 0"))

        let log = LogCapture()
        let (t2, c2) = try Self.restart(config: k.config, checkpoint: cp, expecting: 6, logger: log.logger, clock: clock)
        let texts = c2.texts.map { String($0.split(separator: " ", maxSplits: 3).last ?? "") }
        #expect(texts.sorted() == ["one 2", "one 3", "one 4", "one 5", "three 0", "two 0"])
        #expect(log.contains(.info, "resuming a file compressed while shipper was stopped"))
        let resumed = try #require(c2.lines.first { $0.text.hasSuffix(" one 2") })
        #expect(resumed.offset == c.lines[1].endOffset)
        #expect(resumed.file.fingerprint == c.lines[0].file.fingerprint, "the same identity, so the same event ids")
        let copy = try #require(c2.polls.joined().first { $0.file.fingerprint == resumed.file.fingerprint }?.file)
        #expect(copy.metadata?.podName == "web-1")
        #expect(copy.path.hasPrefix(t2.recoveredDir + "/"))
        expectContiguous(c2.lines)

        // Read to its end and closed, then committed: the copy goes.
        #expect(try c2.poll(t2, clock: clock, advance: 1.1, until: { c2.finished.contains(copy.id) }))
        #expect(FileManager.default.fileExists(atPath: copy.path))
        try t2.persistCheckpoints()
        #expect(FileManager.default.fileExists(atPath: copy.path), "not committed yet: kept for a restart")
        t2.commit(file: copy.id, offset: try #require(c2.lines.last { $0.file == copy.id }).endOffset)
        try t2.persistCheckpoints()
        #expect(!FileManager.default.fileExists(atPath: copy.path))
    }

    /// Docker with `compress: true` compresses `-json.log.1` right after a rotation: a rotation
    /// while shipper was stopped left the checkpointed file only as `-json.log.1.gz`.
    @Test func dockerCompressedRotationWhileStoppedIsReadOnFromACopy() throws {
        let dir = TempDir()
        let root = dir.sub("containers")
        let cp = dir.sub("cp.json")
        let w = try DockerLogWriter(root: root, spec: DockerContainerSpec(name: "svc"))
        for i in 0..<6 { w.log("one \(i)") }
        let c = try Self.readThenStop(config: dockerConfig(root: root), checkpoint: cp, committing: 3)
        w.log("one 6")
        try w.rotate()
        try Self.compress(w.logPath + ".1")
        w.log("two 0")
        let c2 = try Self.restart(config: dockerConfig(root: root), checkpoint: cp, expecting: 4).1
        #expect(c2.lines.map { dockerMessage($0.text) }.sorted() == ["one 4", "one 5", "one 6", "two 0"])
        #expect(c2.lines.first { dockerMessage($0.text) == "one 4" }?.file.fingerprint == c.lines[0].file.fingerprint)
    }

    /// A compressed file whose head is not the checkpointed file's is not read, and a damaged
    /// gzip file stops nothing.
    @Test func otherOrDamagedCompressedFilesAreLeftAlone() throws {
        let dir = TempDir()
        let k = try KubeletLayout(dir)
        let cp = dir.sub("cp.json")
        appendFile(k.log, Self.cri("one 0") + Self.cri("one 1"))
        _ = try Self.readThenStop(config: k.config, checkpoint: cp, committing: 0)
        try k.rotate(suffix: "20261127-101530")
        #expect(unlink(k.log + ".20261127-101530") == 0)  // gone for good
        try writeFile(k.log + ".20261127-101529", Self.cri("another file"))
        try Self.compress(k.log + ".20261127-101529")
        try Data([0x1F, 0x8B, 0x08, 0x00, 0xFF, 0xFF]).write(to: URL(fileURLWithPath: k.log + ".20261127-101528.gz"))
        appendFile(k.log, Self.cri("two 0"))
        let (t2, c2) = try Self.restart(config: k.config, checkpoint: cp, expecting: 1)
        #expect(c2.texts.map { String($0.split(separator: " ", maxSplits: 3).last ?? "") } == ["two 0"])
        #expect((try? FileManager.default.contentsOfDirectory(atPath: t2.recoveredDir))?.isEmpty ?? true)
    }

    /// Kubelet deletes a rotated file when it compresses it, just before it renames the live log
    /// and creates a new one, which then often gets the deleted file's inode: the checkpoint's
    /// inode holds another head. Its content is still found compressed, and the generation in
    /// between is read whole (found by the input campaign: 800 lines lost).
    @Test(.enabled(if: StaleCheckpointTests.inodesAreReused, "needs a file system that reuses inodes"))
    func aCompressedFileWhoseInodeTheNewLogGotIsStillReadOn() throws {
        try StaleCheckpointTests.withInodeReuse { try compressedFileWhoseInodeTheNewLogGot() }
    }

    func compressedFileWhoseInodeTheNewLogGot() throws -> Bool {
        let dir = TempDir()
        let k = try KubeletLayout(dir)
        let cp = dir.sub("cp.json")
        appendFile(k.log, (0..<3).map { Self.cri("one \($0)") }.joined())
        let c = try Self.readThenStop(config: k.config, checkpoint: cp, committing: 0)
        let first = inode(k.log)
        try k.rotate(suffix: "20261127-101530")
        appendFile(k.log, Self.cri("two 0"))
        try Self.compress(k.log + ".20261127-101530")
        #expect(rename(k.log, k.log + ".20261127-101531") == 0)
        guard StaleCheckpointTests.createReusingInode(k.log, first) else { return false }
        appendFile(k.log, Self.cri("three 0"))

        let c2 = try Self.restart(config: k.config, checkpoint: cp, expecting: 4).1
        #expect(c2.texts.map { String($0.split(separator: " ", maxSplits: 3).last ?? "") }.sorted() == ["one 1", "one 2", "three 0", "two 0"])
        #expect(c2.lines.first { $0.text.hasSuffix(" one 1") }?.file.fingerprint == c.lines[0].file.fingerprint)
        return true
    }

    /// logrotate's `copytruncate` while shipper was stopped: the file keeps its inode with new
    /// content, and `app.log.1` is a copy of the checkpointed content (compressed without
    /// `delaycompress`). The copy is read on from the checkpoint, under the file's identity.
    @Test(arguments: [false, true])
    func copytruncateWhileStoppedReadsOnFromTheCopy(compressed: Bool) throws {
        let dir = TempDir()
        let path = dir.sub("app.log")
        let cp = dir.sub("cp.json")
        try writeFile(path, "a 0\na 1\na 2\n")
        _ = try Self.readThenStop(config: fileConfig([path]), checkpoint: cp, committing: 0)
        appendFile(path, "a 3\n")
        try Data(try #require(FileManager.default.contents(atPath: path))).write(to: URL(fileURLWithPath: path + ".1"))
        #expect(truncate(path, 0) == 0)
        if compressed { try Self.compress(path + ".1") }
        appendFile(path, "b 0\n")
        let c2 = try Self.restart(config: fileConfig([path]), checkpoint: cp, expecting: 4).1
        #expect(c2.texts.sorted() == ["a 1", "a 2", "a 3", "b 0"])
    }

    /// A generation no checkpoint recorded, copied by a second `copytruncate`: shipper read it
    /// in part after the first truncation and was killed before its next checkpoint write (the
    /// checkpoint still names the first generation, whose copy the second one overwrote). The
    /// copy is read whole under the identity the generation had at the path (its head and the
    /// file's inode), so the lines read before the kill come again under the same ids, and
    /// none is lost. The crash campaign found both ends of this: read under the copy's own
    /// identity (session 11, 1,320 lines twice), then not read at all (session 12, 2,769 lost).
    @Test func aCopyOfAGenerationNoCheckpointRecordedIsReadWholeUnderTheFilesIdentity() throws {
        let dir = TempDir()
        let path = dir.sub("app.log")
        let cp = dir.sub("cp.json")
        try writeFile(path, "a 0\na 1\n")
        _ = try Self.readThenStop(config: fileConfig([path]), checkpoint: cp, committing: 1)
        func copytruncate() throws {
            try Data(try #require(FileManager.default.contents(atPath: path))).write(to: URL(fileURLWithPath: path + ".1"))
            #expect(truncate(path, 0) == 0)
        }
        try copytruncate()
        appendFile(path, "b 0\nb 1\n")
        // Read by a shipper killed before it wrote a checkpoint.
        let killed = try Tailer(config: fileConfig([path]), checkpointPath: cp, logger: LogCapture().logger, clock: ManualClock().tailClock)
        let before = Collector()
        #expect(try before.poll(killed, until: { before.texts.contains("b 1") }))
        appendFile(path, "b 2\n")
        try copytruncate()
        appendFile(path, "c 0\n")
        let log = LogCapture()
        let c2 = try Self.restart(config: fileConfig([path]), checkpoint: cp, expecting: 4, logger: log.logger).1
        #expect(c2.texts.sorted() == ["b 0", "b 1", "b 2", "c 0"])
        #expect(Self.ids(c2, ["b 0", "b 1"]) == Self.ids(before, ["b 0", "b 1"]))
        #expect(log.contains(.info, "reading the copy of a truncated file's content that no checkpoint recorded"))
    }

    /// The other case of a checkpointed inode at its path with another head: the checkpointed
    /// file was deleted and a new one got its inode (born after the checkpoint was written). The
    /// files beside it are then generations renamed away, not copies: one no checkpoint recorded
    /// (read in part by a shipper killed before its next checkpoint write) is read whole under
    /// its own identity, as it was read before. Before, it was not read at all.
    @Test(.enabled(if: StaleCheckpointTests.inodesAreReused, "needs a file system that reuses inodes"))
    func generationsBesideAReusedInodeAreReadWhole() throws {
        try StaleCheckpointTests.withInodeReuse {
            let dir = TempDir()
            let path = dir.sub("app.log")
            let cp = dir.sub("cp.json")
            try writeFile(path, "a 0\na 1\n")
            let inodeA = inode(path)
            _ = try Self.readThenStop(config: fileConfig([path]), checkpoint: cp, committing: 1)
            // The checkpoint file was written before everything below (birth times and mtimes
            // are taken from a clock that ticks every few milliseconds).
            Self.age(cp, seconds: 2)
            try writeFile(path + ".new", "p 0\np 1\n")
            #expect(rename(path + ".new", path) == 0)  // a deleted
            let killed = try Tailer(config: fileConfig([path]), checkpointPath: cp, logger: LogCapture().logger, clock: ManualClock().tailClock)
            let before = Collector()
            #expect(try before.poll(killed, until: { before.texts.contains("p 1") }))
            appendFile(path, "p 2\n")
            #expect(rename(path, path + ".1") == 0)
            guard StaleCheckpointTests.createReusingInode(path, inodeA) else { return false }
            appendFile(path, "n 0\n")
            let c2 = try Self.restart(config: fileConfig([path]), checkpoint: cp, expecting: 4).1
            #expect(c2.texts.sorted() == ["n 0", "p 0", "p 1", "p 2"])
            #expect(Self.ids(c2, ["p 0", "p 1"]) == Self.ids(before, ["p 0", "p 1"]))
            return true
        }
    }

    /// logrotate's `copytruncate` while shipper runs and has not read everything yet: the lines
    /// not read are read from the copy (`app.log.1`), under the file's identity, none twice.
    /// Before, they were lost, as in every shipper. A file that starts the same but differs
    /// before the read position is not taken for the copy.
    @Test(arguments: [true, false])
    func copytruncateWhileRunningReadsTheUnreadLinesFromTheCopy(trueCopy: Bool) throws {
        let dir = TempDir()
        let path = dir.sub("app.log")
        let clock = ManualClock()
        let log = LogCapture()
        let lines = (0..<10).map { "a \($0) \(String(repeating: "x", count: 40))\n" }
        try writeFile(path, lines.joined())
        let t = try Tailer(config: fileConfig([path]), checkpointPath: dir.sub("cp.json"), logger: log.logger, clock: clock.tailClock)
        let c = Collector()
        try c.poll(t, maxBytes: 100)
        let read = c.lines.count
        #expect(read > 0 && read < 10)
        let copy = trueCopy ? lines.joined() : lines[0] + lines[1...].map { $0.replacingOccurrences(of: "x", with: "y") }.joined()
        try writeFile(path + ".1", copy)
        #expect(truncate(path, 0) == 0)
        appendFile(path, "b 0\n")
        #expect(try c.poll(t, clock: clock, advance: 1.1, until: { c.texts.contains("b 0") }))
        for _ in 0..<3 {
            clock.advance(seconds: 1.1)
            try c.poll(t)
        }
        #expect(t.openFileCount == 1, "the copy is closed once read")
        let expected = (trueCopy ? lines : Array(lines[0..<read])).map { String($0.dropLast()) } + ["b 0"]
        #expect(c.texts.sorted() == expected.sorted())
        #expect(log.contains(.info, "reading the lines not read yet from its copy") == trueCopy)
        if trueCopy {
            #expect(c.lines.first { $0.text.hasPrefix("a 9 ") }?.file.fingerprint == c.lines[0].file.fingerprint, "the file's identity")
            expectContiguous(c.lines.filter { $0.text.hasPrefix("a ") }.sorted { $0.offset < $1.offset }.map { var l = $0; l.file = c.lines[0].file; return l })
        }
    }
}
