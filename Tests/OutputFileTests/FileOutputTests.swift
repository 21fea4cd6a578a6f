import Foundation
import OutputFile
import ShipperConfig
import ShipperCore
import Testing

/// A fresh directory under the system temp dir, removed at the end of the test.
final class TempDir {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "shipper-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func files() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }
    func read(_ name: String) -> [UInt8] { Array((try? Data(contentsOf: URL(fileURLWithPath: path + "/" + name))) ?? Data()) }
}

func sampleEvents(_ n: Int, service: String = "web", start: Int = 0) -> [LogEvent] {
    (start..<(start + n)).map { i in
        var e = LogEvent(message: Array("line \(i)".utf8), timestamp: Timestamp(seconds: 1_764_000_000 + Int64(i)))
        e.set(FieldPath.intern("service.name"), string: service)
        return e
    }
}

@Suite struct FileOutputTests {
    @Test func writesJSONLinesToTemplatedPaths() throws {
        let dir = try TempDir()
        let out = try FileOutput(config: FileOutputConfig(path: dir.path + "/logs/%{service.name}-%Y-%m-%d.ndjson"))
        try out.write(sampleEvents(2, service: "web") + sampleEvents(1, service: "a/b"))
        try out.close()
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path + "/logs").sorted() == ["a_b-2025-11-24.ndjson", "web-2025-11-24.ndjson"])
        let text = String(decoding: dir.read("logs/web-2025-11-24.ndjson"), as: UTF8.self)
        #expect(text == """
            {"@timestamp":"2025-11-24T16:00:00.000Z","message":"line 0","service":{"name":"web"}}
            {"@timestamp":"2025-11-24T16:00:01.000Z","message":"line 1","service":{"name":"web"}}

            """)
        #expect(out.eventsWritten == 3)
    }

    /// Field values in a path template never leave the directory or end a path early, whatever
    /// their bytes.
    @Test(arguments: [
        (nil, "_"), ("", "_"), (".", "_"), ("..", "_"), ("...", "..."), ("web", "web"),
        ("a/b", "a_b"), ("../x", ".._x"), ("a\0b", "a_b"),
        // A combining mark after `/` makes one Character of the two: still replaced.
        ("../\u{300}x", ".._\u{300}x"), ("/\u{301}", "_\u{301}"), ("\0\u{300}", "_\u{300}"),
        (".\u{300}", ".\u{300}"),
    ] as [(String?, String)])
    func fieldValuesBecomeOnePathComponent(value: String?, component: String) throws {
        #expect(Array(PathTemplate.pathComponent(value.map { Array($0.utf8) }).utf8) == Array(component.utf8))
        let template = try PathTemplate("/out/%{service.name}.ndjson")
        var event = LogEvent(message: Array("m".utf8), timestamp: Timestamp(seconds: 0))
        if let value { event.set(FieldPath.intern("service.name"), string: value) }
        let rendered = template.render(event)
        #expect(Array(rendered.utf8) == Array(("/out/" + component + ".ndjson").utf8))
        #expect(rendered.utf8.filter { $0 == UInt8(ascii: "/") }.count == 2)
        let fromBuffer = template.render(timestamp: 0) { _ in value.map { Array($0.utf8) } }
        #expect(Array(fromBuffer.utf8) == Array(rendered.utf8))
    }

    /// Encoded documents (from the buffer) to interleaved paths: each file gets its documents in
    /// order, one line each.
    @Test func writesDocumentsToInterleavedPaths() throws {
        let dir = try TempDir()
        let out = try FileOutput(config: FileOutputConfig(path: dir.path + "/%{x}.ndjson"))
        let a = dir.path + "/a.ndjson", b = dir.path + "/b.ndjson"
        let docs: [(path: String, json: ArraySlice<UInt8>)] = [(a, Array("1".utf8)[...]), (a, Array("2".utf8)[...]), (b, Array("3".utf8)[...]), (a, Array("4".utf8)[...])]
        try out.write(documents: docs)
        try out.close()
        #expect(dir.files() == ["a.ndjson", "b.ndjson"])
        #expect(String(decoding: dir.read("a.ndjson"), as: UTF8.self) == "1\n2\n4\n")
        #expect(String(decoding: dir.read("b.ndjson"), as: UTF8.self) == "3\n")
        #expect(out.eventsWritten == 4)
    }

    @Test func rotatesBySize() throws {
        let dir = try TempDir()
        var config = FileOutputConfig(path: dir.path + "/x.ndjson", maxSize: ByteSize(bytes: 1024))
        config.fsync = true
        let out = try FileOutput(config: config)
        for batch in 0..<10 { try out.write(sampleEvents(5, start: batch * 5)) }
        try out.close()
        let files = dir.files()
        #expect(files.count > 2)
        #expect(files.contains("x.ndjson") && files.contains("x.1.ndjson"))
        // Every event is in exactly one file, whole.
        var lines: [String] = []
        for f in files { lines += String(decoding: dir.read(f), as: UTF8.self).split(separator: "\n").map(String.init) }
        #expect(lines.count == 50)
        #expect(Set(lines.map { try! JSONScanner.parseDocument($0)["message"]!.stringValue! }).count == 50)
    }

    @Test func gzipFilesAreValidAfterEveryBatchAndNeverAppendedAcrossRuns() throws {
        let dir = try TempDir()
        var config = FileOutputConfig(path: dir.path + "/x.ndjson.gz")
        config.gzip = true
        do {
            let out = try FileOutput(config: config)
            try out.write(sampleEvents(3))
            try out.write(sampleEvents(2, start: 3))
            try out.close()
        }
        let first = dir.read("x.ndjson.gz")
        let (plain, valid) = first.withUnsafeBytes { Gzip.decompressMembers($0) }
        #expect(valid == first.count)
        #expect(String(decoding: plain, as: UTF8.self).split(separator: "\n").count == 5)
        let out2 = try FileOutput(config: config)
        try out2.write(sampleEvents(1, start: 5))
        try out2.close()
        #expect(dir.files() == ["x.1.ndjson.gz", "x.ndjson.gz"])
    }

    @Test func aTornLastLineIsCutWhenTheFileIsOpenedAgain() throws {
        let dir = try TempDir()
        let path = dir.path + "/x.ndjson"
        try Data("{\"a\":1}\n{\"a\":2}\n{\"a\":".utf8).write(to: URL(fileURLWithPath: path))
        let out = try FileOutput(config: FileOutputConfig(path: path))
        try out.write(sampleEvents(1))
        try out.close()
        let lines = String(decoding: dir.read("x.ndjson"), as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines.allSatisfy { (try? JSONScanner.parseDocument(String($0))) != nil })
    }

    @Test func aTornGzipMemberIsCutWhenTheFileIsOpenedAgain() throws {
        let dir = try TempDir()
        let path = dir.path + "/x.gz"
        var good: [UInt8] = []
        try Array("{\"a\":1}\n".utf8).withUnsafeBytes { try Gzip.compressMember($0, into: &good) }
        var second: [UInt8] = []
        try Array("{\"a\":2}\n".utf8).withUnsafeBytes { try Gzip.compressMember($0, into: &second) }
        try Data(good + second.prefix(second.count / 2)).write(to: URL(fileURLWithPath: path))
        var config = FileOutputConfig(path: path)
        config.gzip = true
        let out = try FileOutput(config: config)
        try out.write(sampleEvents(1))
        try out.close()
        #expect(dir.read("x.1.gz") == good)
    }

    @Test(arguments: [
        ("a/b.ndjson", 1, "a/b.1.ndjson"), ("a/b.ndjson.gz", 2, "a/b.2.ndjson.gz"), ("a/b", 3, "a/b.3"), ("a.d/.hidden", 1, "a.d/.hidden.1"),
        // A `/` or `.` followed by a combining mark still counts (names are split by bytes).
        ("my.dir/\u{301}a", 1, "my.dir/\u{301}a.1"), ("a/b.\u{301}x", 1, "a/b.1.\u{301}x"),
    ])
    func rotatedNames(path: String, n: Int, expected: String) {
        #expect(FileOutput.rotatedName(path, n) == expected)
    }

    @Test func unwritableDirectoryIsAClearError() throws {
        let out = try FileOutput(config: FileOutputConfig(path: "/proc/shipper-cannot-write/x.ndjson"))
        do {
            try out.write(sampleEvents(1))
            Issue.record("wrote into /proc")
        } catch {
            #expect("\(error)".contains("/proc/shipper-cannot-write"))
        }
    }

    @Test(arguments: ["path: ''", "path: x\nmax_size: 10", "path: x\ngzip_level: 11", "path: 'x-%Q'", "path: 'x-%{a'", "gzip: true"])
    func refusesBadOptions(yaml: String) throws {
        let doc = "outputs:\n  o:\n    type: file\n" + yaml.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n") + "\n"
        let c = try ConfigLoader.parse(yaml: doc, file: "t.yaml")
        #expect(throws: (any Error).self) { try c.outputs.items[0].value.decode(FileOutputConfig.self) }
    }
}
