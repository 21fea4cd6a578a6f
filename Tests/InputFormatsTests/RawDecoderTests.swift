import InputFormats
import ShipperCore
import Testing

@Suite struct RawDecoderTests {
    static let cases: [(String, [UInt8], [UInt8])] = [
        ("text", Array("127.0.0.1 - - [x] \"GET /\"".utf8), Array("127.0.0.1 - - [x] \"GET /\"".utf8)),
        ("CR removed", Array("line\r".utf8), Array("line".utf8)),
        ("lone CR", [0x0D], []),
        ("CR inside kept", Array("a\rb".utf8), Array("a\rb".utf8)),
        ("empty", [], []),
        ("invalid UTF-8 and NUL kept", [0xFF, 0x00, 0x41, 0xC3], [0xFF, 0x00, 0x41, 0xC3]),
        ("JSON is not decoded", Array(#"{"log":"x\n"}"#.utf8), Array(#"{"log":"x\n"}"#.utf8)),
    ]

    @Test(arguments: cases)
    func messageIsTheLine(name: String, line: [UInt8], message: [UInt8]) {
        let events = decodeAll(.raw, [line], path: "/var/log/app.log")
        #expect(events.count == 1)
        guard let event = events.first else { return }
        #expect(event.messageBytes == message, "\(name)")
        #expect(event[FieldPaths.timestamp] == .timestamp(fixedNow))
        #expect(event[FieldPaths.stream] == nil)
        #expect(event.tagNames == [])
        #expect(event.fields.map(\.path.dotted) == ["@timestamp", "message", "log.file.path", "log.offset"])
    }

    @Test func offsetsOfConsecutiveLines() {
        let events = decodeAll(.raw, text: ["one", "two", "three"], path: "/a.log")
        #expect(events.map { $0[FieldPaths.logOffset] } == [.int(0), .int(4), .int(8)])
        #expect(events.map(\.origin.endOffset) == [4, 8, 14])
        #expect(Set(events.map(\.streamKey)).count == 1)
    }

    @Test func withoutAPathNoLogFields() {
        let events = decodeAll(.raw, text: ["one"])
        #expect(JSONWriter.string(events[0]) == #"{"@timestamp":"\#(fixedNowText)","message":"one"}"#)
    }
}
