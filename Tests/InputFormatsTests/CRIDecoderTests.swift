import InputFormats
import ShipperCore
import Testing

@Suite struct CRIDecoderTests {
    static let cases: [(String, [String], [String])] = [
        (
            "full line",
            ["2016-10-06T00:17:09.669794202Z stdout F log message here"],
            [#"{"@timestamp":"2016-10-06T00:17:09.669794202Z","message":"log message here","stream":"stdout"}"#]
        ),
        (
            "stderr, offset time, CR removed, spaces kept",
            ["2016-10-06T02:17:09.5+02:00 stderr F   indented\r"],
            [#"{"@timestamp":"2016-10-06T00:17:09.500000000Z","message":"  indented","stream":"stderr"}"#]
        ),
        (
            "empty message with and without the space",
            ["2016-10-06T00:17:09Z stdout F ", "2016-10-06T00:17:10Z stdout F"],
            [
                #"{"@timestamp":"2016-10-06T00:17:09.000000000Z","message":"","stream":"stdout"}"#,
                #"{"@timestamp":"2016-10-06T00:17:10.000000000Z","message":"","stream":"stdout"}"#,
            ]
        ),
        (
            "more tags after the P/F tag",
            ["2016-10-06T00:17:09Z stdout F:x:y msg"],
            [#"{"@timestamp":"2016-10-06T00:17:09.000000000Z","message":"msg","stream":"stdout"}"#]
        ),
        (
            "P chunks joined up to F, first chunk's time",
            [
                "2016-10-06T00:17:09Z stdout P first ",
                "2016-10-06T00:17:10Z stdout P second ",
                "2016-10-06T00:17:11Z stdout F third",
            ],
            [#"{"@timestamp":"2016-10-06T00:17:09.000000000Z","message":"first second third","stream":"stdout"}"#]
        ),
        (
            "stdout and stderr interleaved are kept apart",
            [
                "2016-10-06T00:17:01Z stdout P out-1 ",
                "2016-10-06T00:17:02Z stderr P err-1 ",
                "2016-10-06T00:17:03Z stderr F err-2",
                "2016-10-06T00:17:04Z stdout P out-2 ",
                "2016-10-06T00:17:05Z stderr F err-alone",
                "2016-10-06T00:17:06Z stdout F out-3",
            ],
            [
                #"{"@timestamp":"2016-10-06T00:17:02.000000000Z","message":"err-1 err-2","stream":"stderr"}"#,
                #"{"@timestamp":"2016-10-06T00:17:05.000000000Z","message":"err-alone","stream":"stderr"}"#,
                #"{"@timestamp":"2016-10-06T00:17:01.000000000Z","message":"out-1 out-2 out-3","stream":"stdout"}"#,
            ]
        ),
        (
            "a P chunk left at the end is flushed and tagged",
            ["2016-10-06T00:17:09Z stdout P dangling"],
            [#"{"@timestamp":"2016-10-06T00:17:09.000000000Z","message":"dangling","stream":"stdout","tags":["_partial_incomplete"]}"#]
        ),
    ]

    @Test(arguments: cases)
    func decodes(name: String, lines: [String], expected: [String]) {
        let events = decodeAll(.cri, text: lines)
        #expect(events.map { JSONWriter.string($0) } == expected, "\(name)")
    }

    static let malformed: [(String, String, String)] = [
        ("no prefix", "hello world", "cri: the line does not start with an RFC 3339 time"),
        ("no space at all", "2016-10-06T00:17:09Z", "cri: no space after the time"),
        ("bad date", "2016-13-06T00:17:09Z stdout F x", "cri: the line does not start with an RFC 3339 time"),
        ("no zone", "2016-10-06T00:17:09 stdout F x", "cri: the line does not start with an RFC 3339 time"),
        ("bad stream", "2016-10-06T00:17:09Z stdin F x", "cri: stream at byte 21 is not stdout or stderr"),
        ("no tag", "2016-10-06T00:17:09Z stdout", "cri: no tag after the stream"),
        ("bad tag", "2016-10-06T00:17:09Z stdout X x", "cri: tag at byte 28 is not P or F"),
        ("long tag", "2016-10-06T00:17:09Z stdout Full x", "cri: tag at byte 28 is not P or F"),
        ("double space", "2016-10-06T00:17:09Z  stdout F x", "cri: stream at byte 21 is not stdout or stderr"),
        ("empty", "", "cri: no space after the time"),
    ]

    @Test(arguments: malformed)
    func malformedLinesAreShippedRaw(name: String, line: String, reason: String) {
        let events = decodeAll(.cri, text: [line])
        #expect(events.count == 1)
        #expect(events.first?.string(FieldPaths.message) == line, "\(name)")
        #expect(events.first?.tagNames == [EventTags.decodeFailure], "\(name)")
        #expect(events.first?.string(FieldPaths.failureReason) == reason, "\(name)")
        #expect(events.first?[FieldPaths.timestamp] == .timestamp(fixedNow))
    }

    @Test func invalidUTF8AndNULBytesAreKeptAsBytes() {
        let line = Array("2016-10-06T00:17:09Z stdout F a".utf8) + [0xFF, 0x00, 0xC3] + Array("b".utf8)
        let events = decodeAll(.cri, [line])
        #expect(events.count == 1)
        #expect(events.first?.messageBytes == [0x61, 0xFF, 0x00, 0xC3, 0x62])
        #expect(events.first?.tagNames == [])
        // The JSON writer replaces the invalid bytes.
        #expect(events.first.map { JSONWriter.string($0) }?.contains(#""message":"a\#u{FFFD}\u0000\#u{FFFD}b""#) == true)
    }

    @Test func joinedEventSpansItsLines() {
        let lines = [
            "2016-10-06T00:17:01Z stdout P a",  // 0..<32
            "2016-10-06T00:17:02Z stderr F b",  // 32..<64
            "2016-10-06T00:17:03Z stdout F c",  // 64..<96
        ].map { Array($0.utf8) }
        let events = decodeAll(.cri, lines, path: "/var/log/pods/x/0.log", source: 5)
        #expect(events.count == 2)
        #expect(events.last?.string(FieldPaths.message) == "ac")
        #expect(events.last?.origin == EventOrigin(source: 5, offset: 0, endOffset: 96))
        #expect(events.last?[FieldPaths.logOffset] == .int(0))
        #expect(events.first?.origin == EventOrigin(source: 5, offset: 32, endOffset: 64))
        #expect(events.first?.streamKey != events.last?.streamKey)
    }
}
