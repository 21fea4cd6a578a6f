import Foundation
import InputFormats
@testable import InputTail
import Logging
import ShipperCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The `log` of a json-file line.
func dockerMessage(_ line: String) -> String {
    guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let log = obj["log"] as? String else {
        return "<not json: \(line.prefix(40))>"
    }
    return log.hasSuffix("\n") ? String(log.dropLast()) : log
}

/// Every file's lines are contiguous: each starts where the previous one ended.
func expectContiguous(_ lines: [SeenLine], sourceLocation: SourceLocation = #_sourceLocation) {
    var last: [FileID: Int64] = [:]
    for l in lines {
        if let end = last[l.file] {
            #expect(l.offset == end, "gap or overlap in \(l.path) at \(l.offset), expected \(end)", sourceLocation: sourceLocation)
        }
        last[l.file] = l.endOffset
    }
}

@Suite struct TailerReadingTests {
    @Test func partialLineAtEOFWaitsForItsNewline() throws {
        let dir = TempDir()
        let clock = ManualClock()
        let path = dir.sub("app.log")
        try writeFile(path, "one\ntwo\nthr")
        let t = try Tailer(config: fileConfig([path]), checkpointPath: dir.sub("cp/app.json"), logger: LogCapture().logger, clock: clock.tailClock)
        let c = Collector()
        try c.poll(t)
        #expect(c.texts == ["one", "two"])
        try c.poll(t)
        #expect(c.texts == ["one", "two"])
        appendFile(path, "ee")
        try c.poll(t)
        #expect(c.texts == ["one", "two"])
        appendFile(path, "\nfour")
        try c.poll(t)
        #expect(c.texts == ["one", "two", "three"])
        #expect(c.lines[2].offset == 8 && c.lines[2].endOffset == 14 && c.lines[2].terminated)
        expectContiguous(c.lines)
    }

    /// `readLag` (for `shipper_file_read_lag_bytes`): the bytes of each open file not passed on
    /// as lines yet, a partial last line included; gone once the file is no longer open.
    @Test func readLagIsWhatIsNotPassedOnYet() throws {
        let dir = TempDir()
        let clock = ManualClock()
        let path = dir.sub("lag.log")
        let line = String(repeating: "x", count: 99) + "\n"
        try writeFile(path, String(repeating: line, count: 10) + "part")
        let t = try Tailer(config: fileConfig([path]), checkpointPath: dir.sub("cp.json"), logger: LogCapture().logger, clock: clock.tailClock)
        #expect(t.readLag.isEmpty, "nothing open before the first poll")
        let c = Collector()
        try c.poll(t, maxBytes: 300)
        let read = try #require(c.lines.last).endOffset
        #expect(read > 0 && read < 1000, "a poll of 300 bytes reads part of the file: \(read)")
        #expect(t.readLag == [path: 1004 - read])
        #expect(try c.poll(t, maxBytes: 300, until: { c.lines.count == 10 }))
        #expect(t.readLag == [path: 4], "the partial line is not passed on")
        appendFile(path, "\n")
        clock.advance(seconds: 1)
        try c.poll(t)
        #expect(c.texts.last == "part")
        #expect(t.readLag == [path: 0])
        unlink(path)
        clock.advance(seconds: 2)
        #expect(try c.poll(t, clock: clock, advance: 1, until: { t.openFileCount == 0 }))
        #expect(t.readLag.isEmpty)
    }

    @Test func linesLongerThanMaxLineBytesArePassedOnInPieces() throws {
        let dir = TempDir()
        let path = dir.sub("long.log")
        try writeFile(path, String(repeating: "x", count: 3000) + "\nshort\n" + String(repeating: "y", count: 1024) + "\n")
        let config = fileConfig([path]) { $0.maxLineBytes = ByteSize(bytes: 1024) }
        let t = try Tailer(config: config, checkpointPath: dir.sub("cp.json"), logger: LogCapture().logger, clock: ManualClock().tailClock)
        let c = Collector()
        #expect(try c.poll(t, maxBytes: 100, until: { c.lines.count >= 5 }))
        #expect(c.lines.map(\.text.count) == [1024, 1024, 952, 5, 1024])
        #expect(c.lines.map(\.terminated) == [false, false, true, true, true])
        expectContiguous(c.lines)
    }

    @Test func pollBoundsTheBytesItReturns() throws {
        let dir = TempDir()
        let path = dir.sub("big.log")
        let line = String(repeating: "a", count: 98)
        try writeFile(path, (0..<2000).map { "\(line)\($0 % 10)\n" }.joined())
        let t = try Tailer(config: fileConfig([path]), checkpointPath: dir.sub("cp.json"), logger: LogCapture().logger, clock: ManualClock().tailClock)
        let c = Collector()
        var maxPoll = 0
        let ok = try c.poll(t, maxBytes: 10_000) {
            if let last = c.polls.last { maxPoll = max(maxPoll, last.reduce(0) { $0 + $1.bytes.count }) }
            return c.lines.count >= 2000
        }
        #expect(ok)
        #expect(maxPoll > 0 && maxPoll <= 10_000 + 100, "a poll returned \(maxPoll) bytes")
        #expect(c.lines.count == 2000)
        expectContiguous(c.lines)
    }

    @Test func pollSharesTheBudgetFairlyBetweenFiles() throws {
        let dir = TempDir()
        let paths = ["a", "b", "c"].map { dir.sub("\($0).log") }
        for p in paths { try writeFile(p, (0..<3000).map { "\(p) line \($0) " + String(repeating: "z", count: 60) + "\n" }.joined()) }
        let t = try Tailer(config: fileConfig([dir.sub("*.log")]), checkpointPath: dir.sub("cp.json"), logger: LogCapture().logger, clock: ManualClock().tailClock)
        var perFile: [String: Int] = [:]
        for _ in 0..<10 {
            let chunks = try t.poll(maxBytes: 30_000)
            var thisPoll: [String: Int] = [:]
            for ch in chunks { thisPoll[ch.file.path, default: 0] += ch.bytes.count }
            #expect(thisPoll.count == 3, "every file with a backlog is served in each poll: \(thisPoll)")
            #expect(thisPoll.values.reduce(0, +) <= 30_000 + 3 * 100)
            for (k, v) in thisPoll { perFile[k, default: 0] += v }
        }
        let counts = perFile.values.sorted()
        #expect(counts.count == 3)
        #expect(Double(counts.last!) <= Double(counts.first!) * 1.2, "unfair shares \(perFile)")
    }

    @Test func readFromEndOnFirstStartOnly() throws {
        let dir = TempDir()
        let clock = ManualClock()
        let a = dir.sub("a.log")
        try writeFile(a, "old 1\nold 2\npart")
        let config = fileConfig([dir.sub("*.log")]) { $0.readFrom = .end }
        let cp = dir.sub("state/cp.json")
        var t: Tailer? = try Tailer(config: config, checkpointPath: cp, logger: LogCapture().logger, clock: clock.tailClock)
        #expect(t!.isFirstStart)
        let c = Collector()
        try c.poll(t!)
        #expect(c.lines.isEmpty)
        appendFile(a, "ial\nnew 1\n")
        // A file created after the first scan is read from its beginning.
        try writeFile(dir.sub("b.log"), "b 1\nb 2\n")
        #expect(try c.poll(t!, clock: clock, advance: 1, until: { c.lines.count >= 4 }))
        #expect(Set(c.texts) == ["partial", "new 1", "b 1", "b 2"])
        for l in c.lines { t!.commit(file: l.file, offset: l.endOffset) }
        try t!.persistCheckpoints()
        t = nil
        // Second start: a checkpoint file exists, so a file found now is read from the beginning.
        try writeFile(dir.sub("c.log"), "c 1\n")
        appendFile(a, "new 2\n")
        let t2 = try Tailer(config: config, checkpointPath: cp, logger: LogCapture().logger, clock: clock.tailClock)
        #expect(!t2.isFirstStart)
        let c2 = Collector()
        #expect(try c2.poll(t2, until: { c2.lines.count >= 2 }))
        try c2.poll(t2)
        #expect(Set(c2.texts) == ["c 1", "new 2"])
    }

    @Test func ignoreOlderSkipsStaleFilesUntilTheyAreWrittenAgain() throws {
        let dir = TempDir()
        let clock = ManualClock(wall: ManualClock.realWall() + 7200 * 1_000_000_000)
        let stale = dir.sub("stale.log")
        try writeFile(stale, "stale 1\nstale 2\n")
        let config = fileConfig([dir.sub("*.log")]) { $0.ignoreOlder = .seconds(3600) }
        let t = try Tailer(config: config, checkpointPath: dir.sub("cp.json"), logger: LogCapture().logger, clock: clock.tailClock)
        let c = Collector()
        try c.poll(t)
        #expect(c.lines.isEmpty)
        #expect(t.openFileCount == 0)
        // Written again (the wall clock now agrees with the file's mtime): read from where it was.
        clock.setWall(ManualClock.realWall())
        appendFile(stale, "fresh 1\n")
        #expect(try c.poll(t, clock: clock, advance: 1, until: { !c.lines.isEmpty }))
        #expect(c.texts == ["fresh 1"])
    }

    @Test func newFileIsFoundWithinTwoDiscoveryIntervals() throws {
        let dir = TempDir()
        let root = dir.sub("containers")
        let clock = ManualClock()
        let first = try DockerLogWriter(root: root, spec: DockerContainerSpec(name: "first"))
        first.log("hello")
        let t = try Tailer(config: dockerConfig(root: root), checkpointPath: dir.sub("cp.json"), logger: LogCapture().logger, clock: clock.tailClock)
        let c = Collector()
        try c.poll(t)
        #expect(c.lines.count == 1)
        let second = try DockerLogWriter(root: root, spec: DockerContainerSpec(name: "second"))
        second.log("from the new container")
        var intervals = 0
        while !c.lines.contains(where: { $0.path == second.logPath }) && intervals < 2 {
            clock.advance(seconds: 1)
            intervals += 1
            try c.poll(t)
        }
        #expect(c.lines.contains { $0.path == second.logPath && dockerMessage($0.text) == "from the new container" })
        #expect(intervals <= 2)
    }

    @Test func throughputOfALargeBacklog() throws {
        let dir = TempDir()
        let path = dir.sub("bulk.log")
        let line = Array((String(repeating: "0123456789", count: 14) + "\n").utf8)
        var block: [UInt8] = []
        for _ in 0..<(1 << 20) / line.count { block += line }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        for _ in 0..<64 { _ = block.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } }
        close(fd)
        let total = block.count * 64
        let t = try Tailer(config: fileConfig([path]), checkpointPath: dir.sub("cp.json"), logger: LogCapture().logger, clock: ManualClock().tailClock)
        var bytes = 0
        var lines = 0
        let start = ContinuousClock.now
        while bytes < total {
            let chunks = try t.poll(maxBytes: 4 << 20)
            for ch in chunks {
                bytes += ch.bytes.count
                lines += ch.lines.count
            }
            if chunks.isEmpty { break }
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let mbps = Double(total) / 1_048_576 / max(seconds, 1e-9)
        print("InputTail throughput: \(Int(mbps)) MiB/s (\(lines) lines, \(total) bytes in \(seconds) s)")
        #expect(bytes == total)
        #expect(lines == total / line.count)
        // Debug builds on a shared machine: a loose floor; release builds read several GB/s.
        #expect(mbps > 100)
    }
}

@Suite struct TailerRotationTests {
    @Test func dockerRenameRotationReadsEveryLineExactlyOnce() throws {
        let dir = TempDir()
        let root = dir.sub("containers")
        let clock = ManualClock()
        let w = try DockerLogWriter(root: root, spec: DockerContainerSpec(name: "web"))
        for i in 0..<50 { w.log("before \(i)") }
        let t = try Tailer(config: dockerConfig(root: root), checkpointPath: dir.sub("cp.json"), logger: LogCapture().logger, clock: clock.tailClock)
        let c = Collector()
        try c.poll(t, maxBytes: 2000)
        #expect(!c.lines.isEmpty && c.lines.count < 50)
        try w.rotate()
        for i in 0..<5 { w.log("late \(i)", intoRotated: 1) }  // after the rename, before the next poll
        for i in 0..<30 { w.log("after \(i)") }
        // The next poll scans: the renamed file is read to its end over several small polls.
        clock.advance(seconds: 1)
        #expect(try c.poll(t, maxBytes: 500, until: { c.lines.count >= 85 && t.openFileCount == 1 }))
        try c.poll(t)
        let expected = (0..<50).map { "before \($0)" } + (0..<5).map { "late \($0)" } + (0..<30).map { "after \($0)" }
        #expect(c.lines.map { dockerMessage($0.text) }.sorted() == expected.sorted())
        #expect(c.finished.count == 1, "the rotated file ended")
        #expect(t.openFileCount == 1)
        expectContiguous(c.lines)
    }

    @Test(arguments: [false, true])
    func copytruncateReadsEveryLineExactlyOnce(regrowBeyondOldOffset: Bool) throws {
        let dir = TempDir()
        let root = dir.sub("containers")
        let clock = ManualClock()
        let w = try DockerLogWriter(root: root, spec: DockerContainerSpec(name: "api"))
        for i in 0..<20 { w.log("first \(i)") }
        let t = try Tailer(config: dockerConfig(root: root), checkpointPath: dir.sub("cp.json"), logger: LogCapture().logger, clock: clock.tailClock)
        let c = Collector()
        #expect(try c.poll(t, until: { c.lines.count == 20 }))
        let firstID = c.lines[0].file
        try w.copyTruncate()
        let n = regrowBeyondOldOffset ? 40 : 3
        for i in 0..<n { w.log("second \(i)") }
        #expect(try c.poll(t, clock: clock, advance: 0.5, until: { c.lines.count >= 20 + n }))
        try c.poll(t)
        let expected = (0..<20).map { "first \($0)" } + (0..<n).map { "second \($0)" }
        #expect(c.lines.map { dockerMessage($0.text) } == expected)
        #expect(c.finished == [firstID], "the truncated content ended its identity")
        let secondIDs = Set(c.lines.dropFirst(20).map(\.file))
        #expect(secondIDs.count == 1 && !secondIDs.contains(firstID))
        #expect(c.lines[20].offset == 0)
    }

    @Test func removedContainerIsReadToItsEndAndItsDescriptorClosed() throws {
        let dir = TempDir()
        let root = dir.sub("containers")
        let clock = ManualClock()
        let w = try DockerLogWriter(root: root, spec: DockerContainerSpec(name: "gone"))
        for i in 0..<10 { w.log("line \(i)") }
        let t = try Tailer(config: dockerConfig(root: root), checkpointPath: dir.sub("cp.json"), logger: LogCapture().logger, clock: clock.tailClock)
        let c = Collector()
        #expect(try c.poll(t, until: { c.lines.count == 10 }))
        for i in 10..<15 { w.log("line \(i)") }
        let logPath = w.logPath
        #expect(descriptors(pointingTo: logPath) == 2, "the writer's and the tailer's")
        try w.removeContainer()
        #expect(try c.poll(t, maxBytes: 100, until: { t.openFileCount == 0 }))
        #expect(c.polls.count >= 4, "the removed file was read over several polls")
        #expect(c.lines.map { dockerMessage($0.text) } == (0..<15).map { "line \($0)" })
        #expect(c.finished.count == 1)
        #expect(descriptors(pointingTo: logPath) == 0, "the removed file's descriptor is closed")
    }

    @Test func removedFileKeepsBeingReadDuringRotateWait() throws {
        let dir = TempDir()
        let clock = ManualClock()
        let path = dir.sub("app.log")
        try writeFile(path, "a\n")
        let config = fileConfig([path]) { $0.rotateWait = .seconds(5) }
        let t = try Tailer(config: config, checkpointPath: dir.sub("cp.json"), logger: LogCapture().logger, clock: clock.tailClock)
        let c = Collector()
        try c.poll(t)
        let fd = open(path, O_WRONLY | O_APPEND)
        defer { close(fd) }
        unlink(path)
        _ = write(fd, "b\nunterminated", 14)
        clock.advance(seconds: 1)
        try c.poll(t)
        #expect(c.texts == ["a", "b"])
        #expect(t.openFileCount == 1, "still open within rotate_wait")
        clock.advance(seconds: 5)
        try c.poll(t)
        #expect(c.texts == ["a", "b", "unterminated"])
        #expect(c.lines.last?.terminated == false)
        #expect(t.openFileCount == 0)
        #expect(c.finished.count == 1)
    }

    @Test func reusedInodeWithOtherContentIsANewFile() throws {
        let dir = TempDir()
        let clock = ManualClock()
        let path = dir.sub("app.log")
        try writeFile(path, "generation one, line 1\ngeneration one, line 2\n")
        let cp = dir.sub("cp.json")
        var t: Tailer? = try Tailer(config: fileConfig([path]), checkpointPath: cp, logger: LogCapture().logger, clock: clock.tailClock)
        let c = Collector()
        try c.poll(t!)
        let oldID = try #require(c.lines.first?.file)
        t!.commit(file: oldID, offset: c.lines.last!.endOffset)
        try t!.persistCheckpoints()
        t = nil
        // Same inode (rewritten in place), other content, longer than the old offset.
        let ino = inode(path)
        let fd = open(path, O_WRONLY | O_TRUNC)
        let text = "generation two starts here\n" + (0..<5).map { "two \($0)\n" }.joined()
        _ = write(fd, text, text.utf8.count)
        close(fd)
        #expect(inode(path) == ino)
        let t2 = try Tailer(config: fileConfig([path]), checkpointPath: cp, logger: LogCapture().logger, clock: clock.tailClock)
        let c2 = Collector()
        try c2.poll(t2)
        #expect(c2.texts == ["generation two starts here"] + (0..<5).map { "two \($0)" })
        #expect(c2.lines.first?.offset == 0)
        #expect(c2.lines.first?.file.inode == oldID.inode)
        #expect(c2.lines.first?.file != oldID)
    }

    @Test func fileReplacedInPlaceWhileOpenIsANewFile() throws {
        let dir = TempDir()
        let clock = ManualClock()
        let path = dir.sub("app.log")
        try writeFile(path, "first content 1\nfirst content 2\n")
        let t = try Tailer(config: fileConfig([path]), checkpointPath: dir.sub("cp.json"), logger: LogCapture().logger, clock: clock.tailClock)
        let c = Collector()
        try c.poll(t)
        #expect(c.lines.count == 2)
        // Truncated and written past the old read position before the next poll.
        let fd = open(path, O_WRONLY | O_TRUNC)
        let text = "replacement 1\nreplacement 2\nreplacement 3\n"
        _ = write(fd, text, text.utf8.count)
        close(fd)
        try c.poll(t)
        #expect(c.texts == ["first content 1", "first content 2", "replacement 1", "replacement 2", "replacement 3"])
        #expect(c.finished == [c.lines[0].file])
        #expect(c.lines[2].file != c.lines[0].file && c.lines[2].offset == 0)
    }

    /// Number of this process's descriptors open on `path`.
    func descriptors(pointingTo path: String) -> Int {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return fds.filter { fd in
            let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + fd)) ?? ""
            return target == path || target == path + " (deleted)"
        }.count
    }
}

@Suite struct TailerCheckpointTests {
    @Test func checkpointRoundTripResumesExactlyAtTheCommittedOffset() throws {
        let dir = TempDir()
        let clock = ManualClock()
        let path = dir.sub("app.log")
        try writeFile(path, (0..<10).map { "line \($0)\n" }.joined())
        let cp = dir.sub("state/app.json")
        var t: Tailer? = try Tailer(config: fileConfig([path]), checkpointPath: cp, logger: LogCapture().logger, clock: clock.tailClock)
        let c = Collector()
        try c.poll(t!)
        #expect(c.lines.count == 10)
        let committed = c.lines[5].endOffset
        t!.commit(file: c.lines[5].file, offset: committed)
        #expect(t!.committedOffset(of: c.lines[5].file) == committed)
        try t!.persistCheckpoints()
        #expect(FileManager.default.fileExists(atPath: cp))
        #expect(!FileManager.default.fileExists(atPath: cp + ".tmp"))
        t = nil
        appendFile(path, "line 10\n")
        let t2 = try Tailer(config: fileConfig([path]), checkpointPath: cp, logger: LogCapture().logger, clock: clock.tailClock)
        let c2 = Collector()
        try c2.poll(t2)
        #expect(c2.texts == ["line 6", "line 7", "line 8", "line 9", "line 10"])
        #expect(c2.lines.first?.offset == committed)
        #expect(c2.lines.first?.file == c.lines[0].file, "same identity after the restart")
    }

    @Test(arguments: [
        #"{"version":1,"files":[{"path":"/x","dev"#,
        "\u{0}\u{0}\u{0}garbage",
        #"{"version":7,"files":[]}"#,
        #"{"version":1,"files":[{"path":"/x"}]}"#,
    ])
    func corruptCheckpointIsLoggedAndEveryFileIsReadFromTheBeginning(content: String) throws {
        let dir = TempDir()
        let path = dir.sub("app.log")
        try writeFile(path, "a\nb\n")
        let cp = dir.sub("cp.json")
        try writeFile(cp, content)
        let log = LogCapture()
        // read_from: end does not apply: a checkpoint file existed, so this is not a first start.
        let config = fileConfig([path]) { $0.readFrom = .end }
        let t = try Tailer(config: config, checkpointPath: cp, logger: log.logger, clock: ManualClock().tailClock)
        #expect(log.contains(.error, "checkpoint file is unreadable"))
        #expect(FileManager.default.fileExists(atPath: cp + ".corrupt"))
        let c = Collector()
        try c.poll(t)
        #expect(c.texts == ["a", "b"])
        try t.persistCheckpoints()
        let written = try String(contentsOfFile: cp, encoding: .utf8)
        #expect(written.hasPrefix(#"{"version":1,"files":["#))
    }

    @Test func fileRotatedWhileStoppedIsResumedUnderItsNewName() throws {
        let dir = TempDir()
        let root = dir.sub("containers")
        let clock = ManualClock()
        let cp = dir.sub("cp.json")
        let w = try DockerLogWriter(root: root, spec: DockerContainerSpec(name: "svc"))
        for i in 0..<10 { w.log("one \(i)") }
        var t: Tailer? = try Tailer(config: dockerConfig(root: root), checkpointPath: cp, logger: LogCapture().logger, clock: clock.tailClock)
        let c = Collector()
        try c.poll(t!)
        #expect(c.lines.count == 10)
        t!.commit(file: c.lines[6].file, offset: c.lines[6].endOffset)  // lines 7…9 not durable yet
        try t!.persistCheckpoints()
        t = nil
        for i in 10..<12 { w.log("one \(i)") }
        try w.rotate()
        for i in 0..<3 { w.log("two \(i)") }
        try w.rotate()
        for i in 0..<4 { w.log("three \(i)") }
        // Stopped during two rotations: the checkpointed file is <log>.2, the unread one <log>.1.
        let t2 = try Tailer(config: dockerConfig(root: root), checkpointPath: cp, logger: LogCapture().logger, clock: clock.tailClock)
        let c2 = Collector()
        #expect(try c2.poll(t2, until: { c2.lines.count >= 12 && t2.openFileCount == 1 }))
        let got = c2.lines.map { dockerMessage($0.text) }
        let expected = (7..<12).map { "one \($0)" } + (0..<3).map { "two \($0)" } + (0..<4).map { "three \($0)" }
        #expect(got.sorted() == expected.sorted())
        let resumed = try #require(c2.lines.first { dockerMessage($0.text) == "one 7" })
        #expect(resumed.offset == c.lines[6].endOffset && resumed.file == c.lines[0].file)
        expectContiguous(c2.lines)
    }

    @Test func commitsAreKeptExactlyAsGiven() throws {
        let dir = TempDir()
        let path = dir.sub("app.log")
        try writeFile(path, "aaaa\nbbbb\ncccc\n")
        let cp = dir.sub("cp.json")
        var t: Tailer? = try Tailer(config: fileConfig([path]), checkpointPath: cp, logger: LogCapture().logger, clock: ManualClock().tailClock)
        let c = Collector()
        try c.poll(t!)
        // An offset inside a line (a caller holding a partial chunk) is honoured as is.
        t!.commit(file: c.lines[0].file, offset: 7)
        try t!.persistCheckpoints()
        t = nil
        let t2 = try Tailer(config: fileConfig([path]), checkpointPath: cp, logger: LogCapture().logger, clock: ManualClock().tailClock)
        let c2 = Collector()
        try c2.poll(t2)
        #expect(c2.lines.first?.offset == 7)
        #expect(c2.texts == ["bb", "cccc"])
    }
}

@Suite struct TailerContainerTests {
    struct FilterCase: CustomTestStringConvertible, Sendable {
        var include: ContainerFilter?
        var exclude: ContainerFilter?
        var expected: Set<String>
        var testDescription: String { "include \(String(describing: include)) exclude \(String(describing: exclude))" }
    }

    static let filterCases: [FilterCase] = [
        FilterCase(include: nil, exclude: nil, expected: ["web", "shipper-1", "db"]),
        FilterCase(include: nil, exclude: ContainerFilter(name: ["shipper*"]), expected: ["web", "db"]),
        FilterCase(include: nil, exclude: ContainerFilter(image: ["postgres:*"]), expected: ["web", "shipper-1"]),
        FilterCase(include: ContainerFilter(label: ["com.docker.stack.namespace": "sh?p"]), exclude: nil, expected: ["web"]),
        FilterCase(include: ContainerFilter(image: ["postgres*"], label: ["com.docker.stack.namespace": "shop"]),
                   exclude: ContainerFilter(name: ["web"]), expected: ["db"]),
        FilterCase(include: ContainerFilter(name: ["nothing"]), exclude: nil, expected: []),
    ]

    @Test(arguments: filterCases)
    func includeAndExcludeByNameImageAndLabel(_ f: FilterCase) throws {
        let dir = TempDir()
        let root = dir.sub("containers")
        let specs = [
            DockerContainerSpec(name: "web", image: "nginx:1.27", labels: [("com.docker.stack.namespace", "shop")]),
            DockerContainerSpec(name: "shipper-1", image: "example/shipper:1.0"),
            DockerContainerSpec(name: "db", image: "postgres:16"),
        ]
        for s in specs { try DockerLogWriter(root: root, spec: s).log("hello from \(s.name)") }
        let config = dockerConfig(root: root) {
            $0.includeContainers = f.include
            $0.excludeContainers = f.exclude
        }
        let t = try Tailer(config: config, checkpointPath: dir.sub("cp.json"), logger: LogCapture().logger, clock: ManualClock().tailClock)
        let chunks = try t.poll(maxBytes: 1 << 20)
        #expect(Set(chunks.compactMap { $0.file.metadata?.name }) == f.expected)
        #expect(t.openFileCount == f.expected.count)
    }

    @Test func swarmTaskMetadataAndPartialChunksThroughTheDockerDecoder() throws {
        let dir = TempDir()
        let root = dir.sub("containers")
        let spec = DockerContainerSpec.swarmTask(stack: "shop", service: "web", slot: 2)
        let w = try DockerLogWriter(root: root, spec: spec)
        let long = String((0..<40_000).map { i -> Character in Character(UnicodeScalar(UInt8(97 + i % 26))) })
        #expect(w.log(long) == 3, "40000 bytes are split into 16 KiB chunks: 16384 + 16384 + 7232")
        w.log("short <b>&</b>", stream: "stderr")
        let t = try Tailer(config: dockerConfig(root: root), checkpointPath: dir.sub("cp.json"), logger: LogCapture().logger, clock: ManualClock().tailClock)
        let chunks = try t.poll(maxBytes: 1 << 20)
        let file = try #require(chunks.first?.file)
        let meta = try #require(file.metadata)
        #expect(meta.name == spec.name && meta.image == spec.image && meta.id == spec.id)
        let fields = Dictionary(meta.fields.map { ($0.0.description, $0.1) }, uniquingKeysWith: { a, _ in a })
        #expect(fields["service.name"] == "shop_web")
        #expect(fields["swarm.service.name"] == "shop_web")
        #expect(fields["swarm.stack.namespace"] == "shop")
        #expect(fields["swarm.task.name"] == spec.name)
        #expect(fields["swarm.node.id"] == "k0nb2bm4m9uw0qfh5rpeuw4wr")
        var decoder: (any LineDecoder)?
        var events: [ShipperCore.LogEvent] = []
        for ch in chunks {
            ch.forEachLine { bytes, line in
                if decoder == nil { decoder = makeDecoder(format: ch.file.format, firstLine: bytes) }
                decoder!.decode(bytes, origin: ch.origin(of: line), into: &events)
            }
        }
        #expect(events.count == 2)
        #expect(events.first?.string(FieldPaths.message) == long)
        #expect(events.last?.string(FieldPaths.message) == "short <b>&</b>")
        #expect(events.first?.origin.source == file.fingerprint)
        #expect(events.first?.origin.offset == 0)
    }

    @Test func criMetadataComesFromTheFileName() throws {
        let dir = TempDir()
        let path = dir.sub("web-7d9f8b6c5d-x2x9q_shop_nginx-proxy-0123abcd.log")
        try writeFile(path, "2024-05-01T12:00:00.000000001Z stdout F hello\n")
        var config = TailConfig(kind: .cri, paths: [dir.sub("*.log")])
        config.inotify = false
        let t = try Tailer(config: config, checkpointPath: dir.sub("cp.json"), logger: LogCapture().logger, clock: ManualClock().tailClock)
        let chunks = try t.poll(maxBytes: 1 << 20)
        let meta = try #require(chunks.first?.file.metadata)
        #expect(meta.podName == "web-7d9f8b6c5d-x2x9q" && meta.namespace == "shop" && meta.name == "nginx-proxy" && meta.id == "0123abcd")
        #expect(meta.fields.map { "\($0.0)=\($0.1)" } == [
            "container.id=0123abcd", "container.name=nginx-proxy", "kubernetes.pod.name=web-7d9f8b6c5d-x2x9q", "kubernetes.namespace=shop",
        ])
        #expect(chunks.first?.file.format == .cri)
    }

    @Test(arguments: [
        ("/var/log/containers/pod_ns_ctr-abc.log", "pod", "ns", "ctr", "abc"),
        ("pod-1_kube-system_my-container-9f.log", "pod-1", "kube-system", "my-container", "9f"),
    ])
    func criFileNames(path: String, pod: String, ns: String, name: String, id: String) {
        let m = ContainerMetadata(criLogPath: path)
        #expect(m?.podName == pod && m?.namespace == ns && m?.name == name && m?.id == id)
    }

    @Test(arguments: ["/var/log/containers/x.log", "a_b.log", "a_b_c.log", "a_b_-id.log", "_b_c-d.log", "a_b_c-d.txt", ""])
    func malformedCRIFileNamesHaveNoMetadata(path: String) {
        #expect(ContainerMetadata(criLogPath: path) == nil)
    }
}

@Suite struct TailerWaitTests {
    @Test func waitForDataWakesOnAppendWithInotify() async throws {
        let dir = TempDir()
        let path = dir.sub("app.log")
        try writeFile(path, "a\n")
        var config = fileConfig([path])
        config.inotify = true
        config.discoveryInterval = .seconds(60)
        let t = try Tailer(config: config, checkpointPath: dir.sub("cp.json"), logger: LogCapture().logger)
        #expect(try t.poll(maxBytes: 1 << 20).count == 1)
        // Nothing new: the wait lasts its timeout.
        let quiet = ContinuousClock.now
        await t.waitForData(timeout: .milliseconds(150))
        #expect(ContinuousClock.now - quiet >= .milliseconds(140))
        appendFile(path, "b\n")
        let start = ContinuousClock.now
        // Returns at once when the append is noticed; the bound only tells that from the timeout,
        // with room for a loaded machine (CI runs the whole suite on two cores).
        await t.waitForData(timeout: .seconds(120))
        #expect(ContinuousClock.now - start < .seconds(60))
        let chunks = try t.poll(maxBytes: 1 << 20)
        #expect(chunks.flatMap { c in c.lines.map { String(decoding: c.bytes[$0.range], as: UTF8.self) } } == ["b"])
    }

    /// An idle wait sleeps until something is due instead of waking on a fixed step (it woke
    /// every 10 ms with inotify, every 25 ms without: ~1.5 % of a core for an idle shipper).
    @Test(arguments: [true, false])
    func anIdleWaitWakesOnlyWhenSomethingIsDue(inotify: Bool) async throws {
        let dir = TempDir()
        let path = dir.sub("app.log")
        try writeFile(path, "a\n")
        var config = fileConfig([path])
        config.inotify = inotify
        config.discoveryInterval = .seconds(60)
        let t = try Tailer(config: config, checkpointPath: dir.sub("cp.json"), logger: LogCapture().logger)
        _ = try t.poll(maxBytes: 1 << 20)
        let before = (rounds: t.waitRounds, stats: t.waitStatChecks)
        await t.waitForData(timeout: .milliseconds(450))
        // With inotify: one wait to the deadline (the next fstat check is 500 ms away); without:
        // one per 100 ms fstat check. A loaded machine may add a round; not the 45 of old.
        #expect(t.waitRounds - before.rounds <= (inotify ? 3 : 7))
        // With inotify no fstat at all: the poll looked at every file after draining inotify, so
        // anything written since has left an event. Without, one at once and every 100 ms.
        let stats = t.waitStatChecks - before.stats
        #expect(inotify ? stats == 0 : stats >= 1, "\(stats) fstat checks")
    }

    /// Several sources are waited on at once: data in one ends the wait at once. Waiting on each
    /// in turn for a share of the timeout left the second source's data unnoticed while the
    /// wait was on the first (the input campaign, once it had a second source: copytruncate took
    /// 31,825 unread lines instead of 150).
    @Test(arguments: [true, false])
    func waitingOnSeveralTailersEndsWhenAnyHasData(inotify: Bool) async throws {
        let dir = TempDir()
        var tailers: [Tailer] = []
        // In directories of their own: one's writes are no inotify events of the other.
        for name in ["a", "b"] {
            try FileManager.default.createDirectory(atPath: dir.sub(name), withIntermediateDirectories: true)
            try writeFile(dir.sub(name + "/app.log"), "1\n")
            var config = fileConfig([dir.sub(name + "/app.log")])
            config.inotify = inotify
            config.discoveryInterval = .seconds(600)
            let t = try Tailer(config: config, checkpointPath: dir.sub(name + ".cp.json"), logger: LogCapture().logger)
            #expect(try t.poll(maxBytes: 1 << 20).count == 1)
            tailers.append(t)
        }
        // Nothing new: the wait lasts its timeout.
        let quiet = ContinuousClock.now
        await Tailer.waitForData(tailers, timeout: .milliseconds(150))
        #expect(ContinuousClock.now - quiet >= .milliseconds(140))
        appendFile(dir.sub("b/app.log"), "2\n")
        let start = ContinuousClock.now
        // A share of this timeout is 60 s: waiting on `a` first would take that long.
        await Tailer.waitForData(tailers, timeout: .seconds(120))
        #expect(ContinuousClock.now - start < .seconds(30))
        #expect(try tailers[1].poll(maxBytes: 1 << 20).count == 1)
    }

    @Test func waitForDataNoticesAppendWithoutInotify() async throws {
        let dir = TempDir()
        let path = dir.sub("app.log")
        try writeFile(path, "a\n")
        var config = fileConfig([path])
        config.discoveryInterval = .seconds(60)
        let t = try Tailer(config: config, checkpointPath: dir.sub("cp.json"), logger: LogCapture().logger)
        _ = try t.poll(maxBytes: 1 << 20)
        appendFile(path, "b\n")
        let start = ContinuousClock.now
        await t.waitForData(timeout: .seconds(120))
        #expect(ContinuousClock.now - start < .seconds(60), "noticed by polling, long before the timeout")
    }
}
