import Foundation
import InputTail
import Logging
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Checkpoints of deleted files whose inode another file now has (found by the crash campaign:
/// with rename rotation the newest file often gets the inode of the one just deleted). Such a
/// stale entry hid the new file when it was rotated while shipper was stopped (its lines were
/// lost), and changed the new file's identity depending on whether the entry was still there
/// (its lines were sent twice under two ids after a restart).
@Suite struct StaleCheckpointTests {
    /// Creates `path` on inode `ino` (freed just before), trying fresh names in its directory.
    static func createReusingInode(_ path: String, _ ino: UInt64) -> Bool {
        let dir = (path as NSString).deletingLastPathComponent
        var spares: [String] = []
        defer { for s in spares { unlink(s) } }
        for k in 0..<2000 {
            let candidate = dir + "/.candidate-\(k)"
            let fd = open(candidate, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard fd >= 0 else { continue }
            close(fd)
            if inode(candidate) == ino { return rename(candidate, path) == 0 }
            spares.append(candidate)
        }
        return false
    }

    /// Runs `scenario` until it gets the freed inode it asks for (it returns false when it did
    /// not: other tests, run at the same time, create files too and may get it first), at most
    /// `attempts` times, each from scratch.
    static func withInodeReuse(attempts: Int = 5, _ scenario: () throws -> Bool, sourceLocation: SourceLocation = #_sourceLocation) rethrows {
        for _ in 0..<attempts where try scenario() { return }
        Issue.record("the file system did not hand the freed inode out again in \(attempts) attempts", sourceLocation: sourceLocation)
    }

    /// Whether the file system of the temporary directory hands a freed inode out again.
    static let inodesAreReused: Bool = {
        let dir = TempDir()
        let path = dir.sub("probe")
        guard (try? writeFile(path, "x")) != nil else { return false }
        let ino = inode(path)
        unlink(path)
        return createReusingInode(path, ino)
    }()

    @Test(.enabled(if: StaleCheckpointTests.inodesAreReused, "needs a file system that reuses inodes"))
    func aFileOnTheInodeOfADeletedCheckpointedFileIsReadWhenRotatedWhileStopped() throws {
        try Self.withInodeReuse { try fileOnTheInodeOfADeletedCheckpointedFile() }
    }

    func fileOnTheInodeOfADeletedCheckpointedFile() throws -> Bool {
        let dir = TempDir()
        let clock = ManualClock()
        let base = dir.sub("app.log")
        let cp = dir.sub("cp.json")
        // A is read whole and rotated to .1; P, the live file, is read in part. Both checkpointed.
        try writeFile(base, "A 0\nA 1\n")
        var t: Tailer? = try Tailer(config: fileConfig([base]), checkpointPath: cp, logger: LogCapture().logger, clock: clock.tailClock)
        let c = Collector()
        try c.poll(t!)
        let a = try #require(c.lines.last)
        t!.commit(file: a.file, offset: a.endOffset)
        #expect(rename(base, base + ".1") == 0)
        try writeFile(base, "P 0\nP 1\nP 2\n")
        #expect(try c.poll(t!, clock: clock, advance: 1.1, until: { c.texts.contains("P 0") }))
        let p0 = try #require(c.lines.first { $0.text == "P 0" })
        t!.commit(file: p0.file, offset: p0.endOffset)
        try t!.persistCheckpoints()
        t = nil

        // While stopped: A is deleted and N, made on A's inode, becomes the live file; then
        // another rotation: P is .2, N is .1, M is live.
        let inodeA = inode(base + ".1")
        unlink(base + ".1")
        #expect(rename(base, base + ".1") == 0)
        guard Self.createReusingInode(base, inodeA) else { return false }
        appendFile(base, "N 0\nN 1\n")
        #expect(rename(base + ".1", base + ".2") == 0)
        #expect(rename(base, base + ".1") == 0)
        try writeFile(base, "M 0\n")

        let t2 = try Tailer(config: fileConfig([base]), checkpointPath: cp, logger: LogCapture().logger, clock: clock.tailClock)
        let c2 = Collector()
        let expected: Set = ["P 1", "P 2", "N 0", "N 1", "M 0"]
        #expect(try c2.poll(t2, clock: clock, advance: 1.1, until: { Set(c2.texts).isSuperset(of: expected) }), "read: \(c2.texts)")
        #expect(c2.texts.sorted() == expected.sorted(), "each line once, nothing of A again")
        return true
    }

    @Test(.enabled(if: StaleCheckpointTests.inodesAreReused, "needs a file system that reuses inodes"))
    func aFileOnAReusedInodeHasTheSameIdentityWithOrWithoutTheStaleCheckpoint() throws {
        try Self.withInodeReuse { try fileOnAReusedInodeHasTheSameIdentity() }
    }

    func fileOnAReusedInodeHasTheSameIdentity() throws -> Bool {
        let dir = TempDir()
        let clock = ManualClock()
        let other = dir.sub("other.log")
        let app = dir.sub("app.log")
        let cp = dir.sub("cp.json")
        try writeFile(other, "D 0\nD 1\n")
        var t: Tailer? = try Tailer(config: fileConfig([dir.sub("*.log")]), checkpointPath: cp, logger: LogCapture().logger, clock: clock.tailClock)
        let c = Collector()
        try c.poll(t!)
        let d = try #require(c.lines.last)
        t!.commit(file: d.file, offset: d.endOffset)
        try t!.persistCheckpoints()
        t = nil
        // D is deleted; N, another file at another name, gets its inode.
        let inodeD = inode(other)
        unlink(other)
        guard Self.createReusingInode(app, inodeD) else { return false }
        appendFile(app, "N 0\nN 1\n")

        func identity(checkpoint: String) throws -> FileID? {
            let t = try Tailer(config: fileConfig([dir.sub("*.log")]), checkpointPath: checkpoint, logger: LogCapture().logger, clock: clock.tailClock)
            let c = Collector()
            try c.poll(t)
            #expect(c.texts == ["N 0", "N 1"])
            return c.lines.first?.file
        }
        let withStale = try identity(checkpoint: cp)
        let without = try identity(checkpoint: dir.sub("fresh.json"))
        #expect(withStale != nil && withStale == without, "event ids must not depend on a stale checkpoint entry")
        return true
    }

    /// A copytruncate noticed while running, a checkpoint written before the new content's first
    /// line, then a restart: the new content must keep the identity the running tailer gave it
    /// (it had none in that checkpoint, so the restart took another one: its lines came twice).
    @Test func copytruncatedContentKeepsItsIdentityAcrossARestartBeforeItsFirstLine() throws {
        let dir = TempDir()
        let clock = ManualClock()
        let path = dir.sub("app.log")
        let cp = dir.sub("cp.json")
        try writeFile(path, "old 0\nold 1\n")
        var t: Tailer? = try Tailer(config: fileConfig([path]), checkpointPath: cp, logger: LogCapture().logger, clock: clock.tailClock)
        let c = Collector()
        try c.poll(t!)
        let old = try #require(c.lines.last)
        t!.commit(file: old.file, offset: old.endOffset)
        try t!.persistCheckpoints()
        // Truncated in place; noticed, and checkpointed, before anything new is written.
        #expect(truncate(path, 0) == 0)
        try c.poll(t!)
        #expect(c.finished == [old.file])
        try t!.persistCheckpoints()
        appendFile(path, "new 0\nnew 1\n")
        try c.poll(t!)
        let running = try #require(c.lines.last { $0.text == "new 0" }).file
        #expect(running != old.file)
        t = nil  // stopped before the next checkpoint

        let t2 = try Tailer(config: fileConfig([path]), checkpointPath: cp, logger: LogCapture().logger, clock: clock.tailClock)
        let c2 = Collector()
        try c2.poll(t2)
        #expect(c2.texts == ["new 0", "new 1"])
        #expect(c2.lines.first?.file == running, "the same event ids as before the restart")
    }

    /// Two copytruncates while running, no checkpoint written in between, then a restart from the
    /// checkpoint of the content before both: the running tailer and the restarted one must give
    /// the newest content the same identity (chained derivations differed: its lines came twice).
    @Test func contentAfterTwoCopytruncatesHasTheSameIdentityAfterARestart() throws {
        let dir = TempDir()
        let clock = ManualClock()
        let path = dir.sub("app.log")
        let cp = dir.sub("cp.json")
        try writeFile(path, "A 0\nA 1\n")
        var t: Tailer? = try Tailer(config: fileConfig([path]), checkpointPath: cp, logger: LogCapture().logger, clock: clock.tailClock)
        let c = Collector()
        try c.poll(t!)
        t!.commit(file: c.lines[1].file, offset: c.lines[1].endOffset)
        try t!.persistCheckpoints()
        for (k, content) in ["B 0\n", "C 0\nC 1\n"].enumerated() {
            #expect(truncate(path, 0) == 0)
            try c.poll(t!)
            appendFile(path, content)
            #expect(try c.poll(t!, until: { c.lines.count == 2 + (k == 0 ? 1 : 3) }))
        }
        let running = try #require(c.lines.last { $0.text == "C 0" }).file
        t = nil

        let t2 = try Tailer(config: fileConfig([path]), checkpointPath: cp, logger: LogCapture().logger, clock: clock.tailClock)
        let c2 = Collector()
        try c2.poll(t2)
        #expect(c2.texts == ["C 0", "C 1"])
        #expect(c2.lines.first?.file == running, "the same event ids as before the restart")
        #expect(Set([c.lines[0].file, c.lines[2].file, running]).count == 3, "each content its own identity")
    }

    /// New content that starts with the same line as the content it replaced is still a new
    /// file (its identity is derived from the old one), while running and after a restart.
    @Test func rewrittenContentWithTheSameFirstLineIsANewFileEitherWay() throws {
        let dir = TempDir()
        let clock = ManualClock()
        let path = dir.sub("app.log")
        let cp = dir.sub("cp.json")
        try writeFile(path, "banner\nold\n")
        var t: Tailer? = try Tailer(config: fileConfig([path]), checkpointPath: cp, logger: LogCapture().logger, clock: clock.tailClock)
        let c = Collector()
        try c.poll(t!)
        t!.commit(file: c.lines[1].file, offset: c.lines[1].endOffset)
        try t!.persistCheckpoints()
        #expect(truncate(path, 0) == 0)
        try c.poll(t!)
        appendFile(path, "banner\nnew one\nnew two\n")
        #expect(try c.poll(t!, until: { c.lines.count == 5 }))
        let running = c.lines[2].file
        #expect(running != c.lines[0].file)
        t = nil
        let t2 = try Tailer(config: fileConfig([path]), checkpointPath: cp, logger: LogCapture().logger, clock: clock.tailClock)
        let c2 = Collector()
        try c2.poll(t2)
        #expect(c2.texts == ["banner", "new one", "new two"])
        #expect(c2.lines.first?.file == running)
    }
}
