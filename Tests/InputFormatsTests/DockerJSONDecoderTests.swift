import InputFormats
import ShipperCore
import Testing

@Suite struct DockerJSONDecoderTests {
    /// (name, input lines, expected events as JSON in field order).
    static let cases: [(String, [String], [String])] = [
        (
            "dates in a row: the same day, the next, an invalid one (February 30), back, another year",
            [
                #"{"log":"a\n","stream":"stdout","time":"2024-02-28T23:59:59.5Z"}"#,
                #"{"log":"b\n","stream":"stdout","time":"2024-02-28T00:00:01Z"}"#,
                #"{"log":"c\n","stream":"stdout","time":"2024-02-29T12:00:00Z"}"#,
                #"{"log":"d\n","stream":"stdout","time":"2024-02-30T12:00:00Z"}"#,
                #"{"log":"e\n","stream":"stdout","time":"2024-02-29T12:00:00+01:00"}"#,
                #"{"log":"f\n","stream":"stdout","time":"2024-02-29T25:00:00Z"}"#,
                #"{"log":"g\n","stream":"stdout","time":"2023-02-29T12:00:00Z"}"#,
                #"{"log":"h\n","stream":"stdout","time":"2025-02-28T12:00:00Z"}"#,
            ],
            [
                #"{"@timestamp":"2024-02-28T23:59:59.500000000Z","message":"a","stream":"stdout"}"#,
                #"{"@timestamp":"2024-02-28T00:00:01.000000000Z","message":"b","stream":"stdout"}"#,
                #"{"@timestamp":"2024-02-29T12:00:00.000000000Z","message":"c","stream":"stdout"}"#,
                #"{"@timestamp":"\#(fixedNowText)","message":"d","stream":"stdout"}"#,
                #"{"@timestamp":"2024-02-29T11:00:00.000000000Z","message":"e","stream":"stdout"}"#,
                #"{"@timestamp":"\#(fixedNowText)","message":"f","stream":"stdout"}"#,
                #"{"@timestamp":"\#(fixedNowText)","message":"g","stream":"stdout"}"#,
                #"{"@timestamp":"2025-02-28T12:00:00.000000000Z","message":"h","stream":"stdout"}"#,
            ]
        ),
        (
            "plain stdout line",
            [#"{"log":"hello world\n","stream":"stdout","time":"2019-01-01T11:11:11.111111111Z"}"#],
            [#"{"@timestamp":"2019-01-01T11:11:11.111111111Z","message":"hello world","stream":"stdout"}"#]
        ),
        (
            "keys in another order, short fraction, CRLF",
            [#"{"time":"2019-01-01T11:11:11.1Z","stream":"stderr","log":"oops\r\n"}"#],
            [#"{"@timestamp":"2019-01-01T11:11:11.100000000Z","message":"oops","stream":"stderr"}"#]
        ),
        (
            "escapes, unicode escapes and a surrogate pair",
            [#"{"log":"q\"b\\s\/t\tu\u00e9\u20ac\ud83d\ude00 ctl\u0001\n","stream":"stdout","time":"2019-01-01T11:11:11Z"}"#],
            [#"{"@timestamp":"2019-01-01T11:11:11.000000000Z","message":"q\"b\\s/t\tué€😀 ctl\u0001","stream":"stdout"}"#]
        ),
        (
            "raw UTF-8 kept",
            [#"{"log":"grüße 日本\n","stream":"stdout","time":"2019-01-01T11:11:11Z"}"#],
            [#"{"@timestamp":"2019-01-01T11:11:11.000000000Z","message":"grüße 日本","stream":"stdout"}"#]
        ),
        (
            "missing stream and time: read time, no stream",
            [#"{"log":"bare\n"}"#],
            [#"{"@timestamp":"\#(fixedNowText)","message":"bare"}"#]
        ),
        (
            "invalid time: read time",
            [#"{"log":"x\n","stream":"stdout","time":"2019-13-01T11:11:11Z"}"#],
            [#"{"@timestamp":"\#(fixedNowText)","message":"x","stream":"stdout"}"#]
        ),
        (
            "time with an offset",
            [#"{"log":"x\n","stream":"stdout","time":"2019-01-01T12:11:11.5+01:00"}"#],
            [#"{"@timestamp":"2019-01-01T11:11:11.500000000Z","message":"x","stream":"stdout"}"#]
        ),
        (
            "attrs: dots in keys become underscores, non-strings ignored",
            [#"{"log":"x\n","stream":"stdout","attrs":{"com.docker.compose.project":"web","com.docker.compose.project.working_dir":"/srv","n":1,"tag":"t\u0031"},"time":"2019-01-01T11:11:11Z"}"#],
            [#"{"@timestamp":"2019-01-01T11:11:11.000000000Z","message":"x","stream":"stdout","docker":{"attrs":{"com_docker_compose_project":"web","com_docker_compose_project_working_dir":"/srv","tag":"t1"}}}"#]
        ),
        (
            "attrs: a dot followed by a combining mark becomes an underscore too",
            [#"{"log":"x\n","stream":"stdout","attrs":{"a.\#u{300}b":"v"},"time":"2019-01-01T11:11:11Z"}"#],
            [#"{"@timestamp":"2019-01-01T11:11:11.000000000Z","message":"x","stream":"stdout","docker":{"attrs":{"a_\#u{300}b":"v"}}}"#]
        ),
        (
            "unknown keys with nested values are ignored",
            [#"{"extra":{"a":[1,2.5e3,{"b":null}],"s":"\"}"},"log":"x\n","n":-1,"ok":true,"stream":"stdout","time":"2019-01-01T11:11:11Z"}"#],
            [#"{"@timestamp":"2019-01-01T11:11:11.000000000Z","message":"x","stream":"stdout"}"#]
        ),
        (
            "whitespace around tokens",
            [#"  { "log" : "x\n" ,  "stream":"stdout" }  "#],
            [#"{"@timestamp":"\#(fixedNowText)","message":"x","stream":"stdout"}"#]
        ),
        (
            "another stream value is kept",
            [#"{"log":"x\n","stream":"console"}"#],
            [#"{"@timestamp":"\#(fixedNowText)","message":"x","stream":"console"}"#]
        ),
        (
            "empty log line",
            [#"{"log":"\n","stream":"stdout","time":"2019-01-01T11:11:11Z"}"#],
            [#"{"@timestamp":"2019-01-01T11:11:11.000000000Z","message":"","stream":"stdout"}"#]
        ),
        (
            "partial chunks joined, first chunk's time",
            [
                #"{"log":"part one, ","stream":"stdout","time":"2019-01-01T11:11:11Z"}"#,
                #"{"log":"part two, ","stream":"stdout","time":"2019-01-01T11:11:12Z"}"#,
                #"{"log":"end\n","stream":"stdout","time":"2019-01-01T11:11:13Z"}"#,
            ],
            [#"{"@timestamp":"2019-01-01T11:11:11.000000000Z","message":"part one, part two, end","stream":"stdout"}"#]
        ),
        (
            "stdout and stderr chunks interleaved are kept apart",
            [
                #"{"log":"out-a ","stream":"stdout","time":"2019-01-01T11:11:11Z"}"#,
                #"{"log":"err-a ","stream":"stderr","time":"2019-01-01T11:11:12Z"}"#,
                #"{"log":"out-b\n","stream":"stdout","time":"2019-01-01T11:11:13Z"}"#,
                #"{"log":"single\n","stream":"stdout","time":"2019-01-01T11:11:14Z"}"#,
                #"{"log":"err-b\n","stream":"stderr","time":"2019-01-01T11:11:15Z"}"#,
            ],
            [
                #"{"@timestamp":"2019-01-01T11:11:11.000000000Z","message":"out-a out-b","stream":"stdout"}"#,
                #"{"@timestamp":"2019-01-01T11:11:14.000000000Z","message":"single","stream":"stdout"}"#,
                #"{"@timestamp":"2019-01-01T11:11:12.000000000Z","message":"err-a err-b","stream":"stderr"}"#,
            ]
        ),
        (
            "CR LF inside a joined line is kept, only the final newline goes",
            [#"{"log":"a\r","stream":"stdout"}"#, #"{"log":"\nb\n","stream":"stdout"}"#],
            [#"{"@timestamp":"\#(fixedNowText)","message":"a\r\nb","stream":"stdout"}"#]
        ),
        (
            "a partial chunk at the end is flushed and tagged",
            [#"{"log":"no newline","stream":"stdout","time":"2019-01-01T11:11:11Z"}"#],
            [#"{"@timestamp":"2019-01-01T11:11:11.000000000Z","message":"no newline","stream":"stdout","tags":["_partial_incomplete"]}"#]
        ),
    ]

    @Test(arguments: cases)
    func decodes(name: String, lines: [String], expected: [String]) {
        let events = decodeAll(.docker, text: lines)
        #expect(events.map { JSONWriter.string($0) } == expected, "\(name)")
    }

    /// (name, line, start of the failure reason).
    static let malformed: [(String, [UInt8], String)] = [
        ("not JSON", Array("plain text".utf8), "docker: unexpected 'p', expected '{' at byte 0"),
        ("empty line", [], "docker: unexpected end of input"),
        ("unterminated string", Array(#"{"log":"abc"#.utf8), "docker: unterminated string at byte 11"),
        ("missing brace", Array(#"{"log":"abc\n""#.utf8), "docker: unexpected end of input"),
        ("log not a string", Array(#"{"log":12}"#.utf8), #"docker: "log" is not a string at byte 7"#),
        ("no log key", Array(#"{"stream":"stdout"}"#.utf8), #"docker: no "log" string"#),
        ("empty object", Array("{}".utf8), #"docker: no "log" string"#),
        ("trailing data", Array(#"{"log":"a\n"} x"#.utf8), "docker: data after the JSON object at byte 14"),
        ("two objects", Array(#"{"log":"a\n"}{"log":"b\n"}"#.utf8), "docker: data after the JSON object"),
        ("invalid UTF-8 in log", Array(#"{"log":"a"#.utf8) + [0xC3, 0x28] + Array(#"\n"}"#.utf8), "docker: invalid UTF-8 in string at byte 9"),
        ("lone surrogate", Array(#"{"log":"\ud800\n"}"#.utf8), "docker: lone surrogate"),
        ("bad escape", Array(#"{"log":"\x"}"#.utf8), "docker: invalid escape"),
        ("raw control character", Array(#"{"log":"a"#.utf8) + [0x00] + Array(#""}"#.utf8), "docker: control character 0x0"),
        ("binary", [0x00, 0xFF, 0xFE, 0x7B, 0x0D], "docker: unexpected byte 0x0"),
        ("array", Array(#"["log"]"#.utf8), "docker: unexpected '['"),
    ]

    @Test(arguments: malformed)
    func malformedLinesAreShippedRaw(name: String, line: [UInt8], reason: String) {
        let events = decodeAll(.docker, [line], path: "/var/lib/docker/containers/c/c-json.log")
        #expect(events.count == 1, "\(name)")
        guard let event = events.first else { return }
        var expectedMessage = line
        if expectedMessage.last == 0x0D { expectedMessage.removeLast() }
        #expect(event.messageBytes == expectedMessage, "\(name)")
        #expect(event.tagNames == [EventTags.decodeFailure], "\(name)")
        let actual = event.string(FieldPaths.failureReason) ?? ""
        #expect(actual.hasPrefix(reason), "\(name): \(actual)")
        #expect(event[FieldPaths.timestamp] == .timestamp(fixedNow))
        #expect(event[FieldPaths.stream] == nil)
        #expect(event.string(FieldPaths.logFilePath) == "/var/lib/docker/containers/c/c-json.log")
    }

    @Test func failureBetweenChunksDoesNotBreakTheJoin() {
        let events = decodeAll(.docker, text: [#"{"log":"a","stream":"stdout"}"#, "garbage", #"{"log":"b\n","stream":"stdout"}"#])
        #expect(events.count == 2)
        #expect(events.first?.string(FieldPaths.message) == "garbage")
        #expect(events.first?.hasTag(EventTags.decodeFailure) == true)
        #expect(events.last?.string(FieldPaths.message) == "ab")
        #expect(events.last?.hasTag(EventTags.decodeFailure) == false)
    }

    @Test func originFieldsOffsetsAndStreamKeys() {
        let lines = [
            #"{"log":"a","stream":"stdout"}"#,  // 0..<30 (29 bytes and the newline)
            #"{"log":"x\n","stream":"stderr"}"#,  // 30..<62
            #"{"log":"b\n","stream":"stdout"}"#,  // 62..<94
        ].map { Array($0.utf8) }
        let events = decodeAll(.docker, lines, path: "/p.log", source: 99)
        #expect(events.count == 2)
        guard events.count == 2 else { return }
        let (err, out) = (events[0], events[1])
        #expect(JSONWriter.string(err) == #"{"@timestamp":"\#(fixedNowText)","message":"x","stream":"stderr","log":{"file":{"path":"/p.log"},"offset":30}}"#)
        #expect(err.origin == EventOrigin(source: 99, offset: 30, endOffset: 62))
        #expect(out.string(FieldPaths.message) == "ab")
        #expect(out[FieldPaths.logOffset] == .int(0))
        #expect(out.origin == EventOrigin(source: 99, offset: 0, endOffset: 94))
        #expect(out.streamKey != err.streamKey)
        // Same stream, another file: another key; same file and stream: the same key.
        let other = decodeAll(.docker, [lines[2]], path: "/q.log", source: 100)
        let same = decodeAll(.docker, [lines[2]], path: "/p.log", source: 99)
        #expect(other.first?.streamKey != out.streamKey)
        #expect(same.first?.streamKey == out.streamKey)
    }

    @Test func pendingOffsetTracksHeldChunks() {
        var decoder: any LineDecoder = DockerJSONDecoder()
        var out: [LogEvent] = []
        decoder.decode(Array(#"{"log":"a","stream":"stdout"}"#.utf8), origin: LineOrigin(offset: 100, endOffset: 131), now: fixedNow, into: &out)
        #expect(decoder.pendingOffset == 100)
        decoder.decode(Array(#"{"log":"b","stream":"stderr"}"#.utf8), origin: LineOrigin(offset: 131, endOffset: 162), now: fixedNow, into: &out)
        #expect(decoder.pendingOffset == 100)
        decoder.decode(Array(#"{"log":"c\n","stream":"stdout"}"#.utf8), origin: LineOrigin(offset: 162, endOffset: 195), now: fixedNow, into: &out)
        #expect(decoder.pendingOffset == 131)
        #expect(out.count == 1)
        decoder.flush(now: fixedNow, into: &out)
        #expect(decoder.pendingOffset == nil)
        #expect(out.map { $0.string(FieldPaths.message) } == ["ac", "b"])
        #expect(out.last?.tagNames == [DecoderTags.partialIncomplete])
        #expect(decoder.stats.lines == 3 && decoder.stats.linesInEvents == 3 && decoder.stats.linesHeld == 0)
    }

    @Test func joinsAreBoundedAndNothingIsDropped() {
        // 70 chunks of 16 KiB and a final one: the bound (1 MiB) cuts after 64 chunks.
        let chunk = String(repeating: "x", count: 16_384)
        var lines = (0..<70).map { i in #"{"log":"\#(i % 10)\#(chunk.dropFirst())","stream":"stdout"}"# }
        lines.append(#"{"log":"end\n","stream":"stdout"}"#)
        let events = decodeAll(.docker, text: lines)
        #expect(events.count == 2)
        #expect(events.map { $0.messageBytes.count } == [1 << 20, 6 * 16_384 + 3])
        #expect(events.allSatisfy { $0.tagNames == [DecoderTags.partialTruncated] })
        let joined = events.flatMap(\.messageBytes)
        let expected = (0..<70).flatMap { i in Array("\(i % 10)\(chunk.dropFirst())".utf8) } + Array("end".utf8)
        #expect(joined == expected)
    }

    @Test func smallBoundCutsEveryJoinAndTagsEachPiece() {
        let lines = ["ab", "cd", "ef", #"g\n"#].map { #"{"log":"\#($0)"}"# }
        let events = decodeAll(.docker, lines.map { Array($0.utf8) }, options: LineDecoderOptions(maxLineBytes: 3))
        #expect(events.map { $0.string(FieldPaths.message) } == ["ab", "cd", "ef", "g"])
        #expect(events.allSatisfy { $0.hasTag(DecoderTags.partialTruncated) })
    }

    @Test func oneMebibyteLineIsOneEvent() {
        let body = String(repeating: "é", count: 600_000)  // 1.2 MB of UTF-8
        let events = decodeAll(.docker, text: [#"{"log":"\#(body)\n","stream":"stdout"}"#])
        #expect(events.count == 1)
        #expect(events.first?.messageBytes == Array(body.utf8))
        #expect(events.first?.tagNames == [])
    }
}
