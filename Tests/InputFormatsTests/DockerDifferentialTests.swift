import InputFormats
import ShipperCore
import Testing

/// The docker decoder has a fast path for the exact json-file layout and a generic path for any
/// key order, both with their own string unescaper: both must agree with `JSONScanner`.
@Suite struct DockerDifferentialTests {
    static let pieces: [[UInt8]] = [
        Array("plain text ".utf8), Array("0123456789abcdef".utf8), Array(#"\""#.utf8), Array(#"\\"#.utf8),
        Array(#"\/"#.utf8), Array(#"\b\f\n\r\t"#.utf8), Array(#"\u00e9"#.utf8), Array(#"\u20AC"#.utf8),
        Array(#"\ud83d\ude00"#.utf8), Array(#"\u0000"#.utf8), Array("é€😀".utf8), Array(#"\ud800"#.utf8),
        Array(#"\udc00"#.utf8), Array(#"\ud83dx"#.utf8), Array(#"\x"#.utf8), Array(#"\u12"#.utf8), Array(#"\u12g4"#.utf8),
        [0xFF], [0xC3], [0xE2, 0x82], [0xED, 0xA0, 0x80], [0x01], [0x1F], [0x7F], [0x00], [0x5C],
    ]

    /// What JSONScanner makes of `"body"`: the bytes, or nil when it rejects the string.
    static func reference(_ body: [UInt8]) -> [UInt8]? {
        let quoted = [0x22] + body + [0x22]
        return quoted.withUnsafeBytes { bytes -> [UInt8]? in
            var scanner = JSONScanner(bytes)
            var out: [UInt8] = []
            guard let r = try? scanner.readString(into: &out), scanner.position == bytes.count else { return nil }
            return Array(out[r])
        }
    }

    @Test(arguments: [1, 2, 3, 4])
    func agreesWithJSONScanner(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        for _ in 0..<500 {
            var body: [UInt8] = []
            for _ in 0..<Int.random(in: 0...12, using: &rng) {
                body += Self.pieces[Int.random(in: 0..<Self.pieces.count, using: &rng)]
                if Bool.random(using: &rng) {
                    // Runs of plain bytes of every length exercise the eight-byte steps.
                    body += Array(repeating: UInt8(ascii: "a"), count: Int.random(in: 0...40, using: &rng))
                }
            }
            body += Array(#"\n"#.utf8)
            let time = #""time":"2024-05-01T12:00:00.5Z""#
            let exact = Array(#"{"log":""#.utf8) + body + Array(#"","stream":"stdout",\#(time)}"#.utf8)
            let reordered = Array(#"{\#(time),"stream":"stdout","log":""#.utf8) + body + Array(#""}"#.utf8)
            let events = [exact, reordered].map { decodeAll(.docker, [$0]) }
            guard events.allSatisfy({ $0.count == 1 }) else {
                Issue.record("not one event for \(body)")
                continue
            }
            let (a, b) = (events[0][0], events[1][0])
            if var expected = Self.reference(body) {
                // A bare backslash piece can escape the final `\n`: the line is then a partial chunk,
                // emitted whole by the flush.
                let isFinal = expected.last == 0x0A
                if isFinal {
                    expected.removeLast()
                    if expected.last == 0x0D { expected.removeLast() }
                }
                #expect(a.messageBytes == expected, "\(body)")
                #expect(b.messageBytes == expected, "\(body)")
                let tags = isFinal ? [] : [DecoderTags.partialIncomplete]
                #expect(a.tagNames == tags && b.tagNames == tags)
                #expect(JSONWriter.string(a) == JSONWriter.string(b))
                #expect(a.string(FieldPaths.stream) == "stdout")
                #expect(a[FieldPaths.timestamp] == .timestamp(Timestamp(nanoseconds: 1_714_564_800_500_000_000, precision: 9)))
            } else {
                #expect(a.hasTag(EventTags.decodeFailure), "\(body)")
                #expect(b.hasTag(EventTags.decodeFailure), "\(body)")
                #expect(a.messageBytes == exact)
                #expect(b.messageBytes == reordered)
            }
        }
    }

    /// Lines that start like the exact layout but deviate later go the generic way and still decode.
    @Test(arguments: [
        (#"{"log":"x\n","stream":"stdout","attrs":{"a":"b"},"time":"2024-05-01T12:00:00Z"}"#, "stdout", true),
        (#"{"log":"x\n","stream":"stdlog","time":"2024-05-01T12:00:00Z"}"#, "stdlog", true),
        (#"{"log":"x\n","time":"2024-05-01T12:00:00Z","stream":"stderr"}"#, "stderr", true),
        (#"{"log":"x\n","stream":"stdout","time":"2024-05-01T12:00:00Z"} "#, "stdout", true),
        (#"{"log":"x\n","stream":"stdout","time":"2024-05-01T12:00:00Z","extra":1}"#, "stdout", true),
        (#"{"log":"x\n","stream":"stdout","time":"2024-05-01T12:00:00\u005a"}"#, "stdout", false),
        (#"{"log":"x\n" , "stream" : "stdout"}"#, "stdout", false),
    ])
    func deviationsFallBackToTheGenericPath(line: String, stream: String, hasTime: Bool) {
        let events = decodeAll(.docker, text: [line])
        #expect(events.count == 1)
        #expect(events.first?.string(FieldPaths.message) == "x")
        #expect(events.first?.string(FieldPaths.stream) == stream)
        #expect(events.first?.tagNames == [])
        let expectedTime = hasTime ? Timestamp(nanoseconds: 1_714_564_800_000_000_000, precision: 9) : fixedNow
        #expect(events.first?[FieldPaths.timestamp] == .timestamp(expectedTime))
    }
}
