import Foundation
import OutputFile
import Testing

@testable import InputTail

#if canImport(Glibc)
import Glibc
#endif

/// Reading rotated logs that kubelet or Docker compressed.
@Suite struct GzipFileTests {
    static func gzip(_ text: String) throws -> [UInt8] {
        var out: [UInt8] = []
        try Array(text.utf8).withUnsafeBytes { try Gzip.compressMember($0, into: &out) }
        return out
    }

    static let big = (0..<20_000).map { "line \($0) of a rotated log\n" }.joined()  // ~560 KB: many 64 KiB steps

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var bytes: @Sendable () throws -> [UInt8]
        /// The decompressed content, nil when it must throw.
        var content: String?
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "one member", bytes: { try gzip("a\nb\n") }, content: "a\nb\n"),
        Case(name: "two members", bytes: { try gzip("a\n") + gzip("b\n") }, content: "a\nb\n"),
        Case(name: "large, in many steps", bytes: { try gzip(big) }, content: big),
        Case(name: "empty content", bytes: { try gzip("") }, content: ""),
        Case(name: "cut in the middle keeps what came before", bytes: { let g = try gzip(big); return Array(g.prefix(g.count / 2)) }, content: nil),
        Case(name: "garbage after the last member", bytes: { try gzip("a\n") + [0x00, 0x01, 0x02] }, content: "a\n"),
        Case(name: "not gzip", bytes: { Array("plain text\n".utf8) }, content: nil),
        Case(name: "empty file", bytes: { [] }, content: nil),
        Case(name: "gzip header only", bytes: { [0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0, 0, 0xFF] }, content: nil),
    ]

    @Test(arguments: cases)
    func decompressing(_ c: Case) throws {
        let dir = TempDir()
        let path = dir.sub("0.log.20261127-101530.gz")
        try Data(try c.bytes()).write(to: URL(fileURLWithPath: path))
        let copy = dir.sub("copy")
        if let content = c.content {
            let n = try GzipFile.decompress(path: path, to: copy)
            #expect(n == Int64(content.utf8.count))
            #expect(try String(contentsOfFile: copy, encoding: .utf8) == content)
            #expect(GzipFile.head(path: path, count: 1024) == Array(content.utf8.prefix(1024)))
        } else if c.name.hasPrefix("cut") {
            let n = try GzipFile.decompress(path: path, to: copy)
            let got = try #require(FileManager.default.contents(atPath: copy))
            #expect(n > 0 && n < Int64(Self.big.utf8.count) && Int64(got.count) == n)
            #expect(Self.big.utf8.starts(with: got), "a prefix of the content")
        } else {
            #expect(throws: GzipFile.Failure.self) { try GzipFile.decompress(path: path, to: copy) }
            #expect(GzipFile.head(path: path, count: 1024) == nil)
        }
    }

    @Test func decompressingStopsAtTheLimit() throws {
        let dir = TempDir()
        let path = dir.sub("a.gz")
        try Data(try Self.gzip(Self.big)).write(to: URL(fileURLWithPath: path))
        #expect(try GzipFile.decompress(path: path, to: dir.sub("copy"), limit: 1000) == 1000)
        #expect(FileManager.default.contents(atPath: dir.sub("copy")) == Data(Self.big.utf8.prefix(1000)))
        #expect(GzipFile.head(path: path, count: 10) == Array("line 0 of ".utf8))
    }

    @Test func aMissingFileThrows() {
        #expect(throws: GzipFile.Failure.self) { try GzipFile.decompress(path: "/nonexistent/a.gz", to: "/tmp/never") }
        #expect(GzipFile.head(path: "/nonexistent/a.gz", count: 10) == nil)
    }
}
