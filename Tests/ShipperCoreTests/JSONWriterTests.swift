import ShipperCore
import Testing

@Suite struct JSONWriterTests {
    @Test func nestsDottedPathsInFirstAppearanceOrder() {
        var e = LogEvent()
        e.set(FieldPath.intern("@timestamp"), .timestamp(Timestamp(seconds: 1_477_399_773)))
        e.set(FieldPath.intern("http.request.method"), string: Array("GET".utf8))
        e.set(FieldPath.intern("url.original"), string: Array("/".utf8))
        e.set(FieldPath.intern("http.version"), string: Array("1.1".utf8))
        e.set(FieldPath.intern("http.response.status_code"), .int(200))
        e.set(FieldPath.intern("http.request.referrer"), string: Array("-".utf8))
        #expect(
            JSONWriter.string(e)
                == #"{"@timestamp":"2016-10-25T12:49:33.000Z","http":{"request":{"method":"GET","referrer":"-"},"version":"1.1","response":{"status_code":200}},"url":{"original":"/"}}"#
        )
    }

    @Test func settingAPathRemovesConflictingFields() {
        var e = LogEvent()
        e.set(FieldPath.intern("a.b"), .int(1))
        e.set(FieldPath.intern("a.c"), .int(2))
        e.set(FieldPath.intern("a"), .int(3))
        #expect(JSONWriter.string(e) == #"{"a":3}"#)
        e.set(FieldPath.intern("a.d.e"), .int(4))
        #expect(JSONWriter.string(e) == #"{"a":{"d":{"e":4}}}"#)
        e.set(FieldPath.intern("a.d.e"), .int(5))
        #expect(JSONWriter.string(e) == #"{"a":{"d":{"e":5}}}"#)
        let removed = e.remove(FieldPath.intern("a"))
        #expect(removed)
        #expect(JSONWriter.string(e) == "{}")
    }

    @Test(arguments: [
        ("plain", #""plain""#),
        ("quote\"back\\slash", #""quote\"back\\slash""#),
        ("tab\tnl\ncr\r", #""tab\tnl\ncr\r""#),
        ("\u{01}\u{1F}", #""\u0001\u001f""#),
        ("é€😀", "\"é€😀\""),
    ])
    func escapesStrings(input: String, expected: String) {
        var out: [UInt8] = []
        JSONWriter.writeString(input, into: &out)
        #expect(String(decoding: out, as: UTF8.self) == expected)
    }

    @Test(arguments: [
        ([0xFF] as [UInt8], "\"\u{FFFD}\""),
        ([0x61, 0xC3], "\"a\u{FFFD}\""),  // truncated 2-byte sequence
        ([0xED, 0xA0, 0x80], "\"\u{FFFD}\u{FFFD}\u{FFFD}\""),  // encoded surrogate
        ([0xC0, 0xAF], "\"\u{FFFD}\u{FFFD}\""),  // overlong
    ])
    func replacesInvalidUTF8(input: [UInt8], expected: String) {
        var out: [UInt8] = []
        input.withUnsafeBytes { JSONWriter.writeString($0, into: &out) }
        #expect(String(decoding: out, as: UTF8.self) == expected)
        #expect(out.withUnsafeBytes { UTF8Validation.isValid($0) })
    }

    @Test(arguments: [
        (0 as Int64, "0"), (-1, "-1"), (Int64.max, "9223372036854775807"), (Int64.min, "-9223372036854775808"),
    ])
    func writesIntegers(value: Int64, expected: String) {
        var out: [UInt8] = []
        JSONWriter.writeInt(value, into: &out)
        #expect(String(decoding: out, as: UTF8.self) == expected)
    }

    @Test func writesDoublesAndNonFiniteAsNull() {
        var out: [UInt8] = []
        JSONWriter.writeDouble(1.5, into: &out)
        out.append(0x20)
        JSONWriter.writeDouble(.nan, into: &out)
        out.append(0x20)
        JSONWriter.writeDouble(3, into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "1.5 null 3")
    }

    @Test func tagsAreAnArrayWithoutDuplicates() {
        var e = LogEvent(message: Array("x".utf8))
        e.addTag("_parse_failure")
        e.addTag("_parse_failure")
        e.addTag("other")
        #expect(e.hasTag("other"))
        #expect(JSONWriter.string(e) == #"{"message":"x","tags":["_parse_failure","other"]}"#)
    }
}

@Suite struct JSONReaderTests {
    @Test(arguments: [
        (#"{"a":1,"b":[true,false,null],"c":"x\u00e9\ud83d\ude00"}"#, #"{"a":1,"b":[true,false,null],"c":"xé😀"}"#),
        (" [ 1.5e3 , -0 , 12345678901234567890 ] ", "[1500,0,1.2345678901234567e+19]"),
        (#""\"\\\/\b\f\n\r\t""#, #""\"\\/\b\f\n\r\t""#),
    ])
    func parsesValidDocuments(input: String, expected: String) throws {
        let v = try JSONScanner.parseDocument(input)
        #expect(v.description == expected)
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\"}", "{\"a\":}", "\"abc", "\"\\x\"", "\"\\ud800\"", "01", "1.", "-", "tru", "[1] x",
        "\"\u{01}\"", "{\"a\":1,}", "\"\\u12\"",
    ])
    func rejectsMalformedDocuments(input: String) {
        #expect(throws: JSONError.self) { try JSONScanner.parseDocument(input) }
    }

    @Test func rejectsInvalidUTF8InStrings() {
        let bytes: [UInt8] = [0x22, 0xC3, 0x28, 0x22]
        #expect(throws: JSONError.self) { try bytes.withUnsafeBytes { try JSONScanner.parseDocument($0) } }
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let deep = String(repeating: "[", count: 100_000)
        #expect(throws: JSONError.self) { try JSONScanner.parseDocument(deep) }
    }

    @Test func flattensToDottedPaths() throws {
        let v = try JSONScanner.parseDocument(#"{"http":{"version":"1.1","response":{"status_code":200}},"a.b":1}"#)
        let flat = v.flattened().map { "\($0.path)=\($0.value)" }
        #expect(flat == ["http.version=\"1.1\"", "http.response.status_code=200", "a.b=1"])
        #expect(v.value(atPath: "http.response.status_code") == .int(200))
    }
}

@Suite struct TimestampTests {
    @Test(arguments: [
        (0 as Int64, 3 as UInt8, "1970-01-01T00:00:00.000Z"),
        (1_477_399_773_000_000_000, 3, "2016-10-25T12:49:33.000Z"),
        (1_554_822_245_123_456_789, 9, "2019-04-09T15:04:05.123456789Z"),
        (1_554_822_245_123_456_000, 6, "2019-04-09T15:04:05.123456Z"),
        (-1_000_000, 3, "1969-12-31T23:59:59.999Z"),
        (951_782_400_000_000_000, 3, "2000-02-29T00:00:00.000Z"),
    ])
    func formatsRFC3339(nanos: Int64, precision: UInt8, expected: String) {
        #expect(Timestamp(nanoseconds: nanos, precision: precision).rfc3339 == expected)
    }

    @Test func civilRoundTrip() {
        for days in stride(from: -800_000 as Int64, to: 800_000, by: 997) {
            let (y, m, d) = Civil.civil(fromDays: days)
            #expect(Civil.days(year: y, month: m, day: d) == days)
        }
    }

    @Test func namedZonesApplyDaylightSaving() throws {
        let berlin = try #require(TimeZoneRule("Europe/Berlin"))
        let summer = CivilTime(year: 2016, month: 10, day: 25, hour: 14, minute: 49, second: 34)
        #expect(summer.timestamp(zone: berlin).rfc3339 == "2016-10-25T12:49:34.000Z")
        let winter = CivilTime(year: 2016, month: 12, day: 25, hour: 14, minute: 49, second: 34)
        #expect(winter.timestamp(zone: berlin).rfc3339 == "2016-12-25T13:49:34.000Z")
        #expect(TimeZoneRule("-02:00") == .fixed(seconds: -7200))
        #expect(TimeZoneRule("Not/AZone") == nil)
        let written = CivilTime(year: 2016, month: 10, day: 25, hour: 14, minute: 49, second: 33, utcOffset: 7200)
        #expect(written.timestamp(zone: berlin).rfc3339 == "2016-10-25T12:49:33.000Z")
    }

    @Test func monthAbbreviations() {
        let names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        for (i, n) in names.enumerated() {
            let b = Array(n.utf8)
            #expect(Civil.month(abbreviation: b[0], b[1], b[2]) == i + 1)
        }
        #expect(Civil.month(abbreviation: 0x58, 0x59, 0x5A) == nil)
    }
}

@Suite struct EventEncoderTests {
    func event(_ paths: [String]) -> LogEvent {
        var e = LogEvent()
        for (i, p) in paths.enumerated() { e.set(FieldPath.intern(p), .int(Int64(i))) }
        return e
    }

    @Test func writesWhatJSONWriterWritesForEveryLayout() {
        var encoder = EventEncoder()
        let layouts = [
            ["@timestamp", "http.request.method", "url.original", "http.version", "http.response.status_code"],
            ["a", "b.c", "b.d.e", "f", "b.d.g", "h.i"],
            ["x"],
            [],
            ["a.b.c.d.e", "a.b.x", "a.y", "z"],
        ]
        for round in 0..<3 {
            for l in layouts {
                var fast: [UInt8] = []
                var slow: [UInt8] = []
                let e = event(l)
                encoder.encode(e, into: &fast)
                JSONWriter.write(e, into: &slow)
                #expect(fast == slow, "round \(round): \(String(decoding: fast, as: UTF8.self)) vs \(String(decoding: slow, as: UTF8.self))")
            }
        }
        #expect(encoder.planned == 4)  // the empty event needs no plan
    }

    @Test func aDifferentOrderIsADifferentLayout() {
        var encoder = EventEncoder()
        var out: [UInt8] = []
        encoder.encode(event(["a.b", "c", "a.d"]), into: &out)
        out.append(0x0A)
        encoder.encode(event(["c", "a.b", "a.d"]), into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "{\"a\":{\"b\":0,\"d\":2},\"c\":1}\n{\"c\":0,\"a\":{\"b\":1,\"d\":2}}")
    }

    @Test func theCacheIsBounded() {
        var encoder = EventEncoder()
        var out: [UInt8] = []
        for i in 0..<2000 {
            out.removeAll()
            encoder.encode(event(["f\(i)", "g.h"]), into: &out)
            var slow: [UInt8] = []
            JSONWriter.write(event(["f\(i)", "g.h"]), into: &slow)
            #expect(out == slow)
        }
        #expect(encoder.planned == 2000)
        #expect(encoder.cachedLayouts <= 512)
        #expect(encoder.cachedLayouts >= 256)
        var again: [UInt8] = []
        JSONWriter.write(event(["f1999", "g.h"]), into: &again)
        out.removeAll()
        encoder.encode(event(["f1999", "g.h"]), into: &out)
        #expect(out == again)
        #expect(encoder.planned == 2000)
    }
}

@Suite struct EventEncoderStringTests {
    @Test func writesTheSameBytesAsJSONWriterForTrickyValues() {
        let values: [[UInt8]] = [
            Array("plain ascii that is longer than eight bytes".utf8), Array("quote\"back\\slash".utf8),
            [0x01, 0x1F, 0x0A, 0x0D, 0x09, 0x08, 0x0C], Array("é€😀 mixed ascii and unicode text".utf8),
            [0xFF, 0x61, 0xC3], [0xED, 0xA0, 0x80], [], Array(repeating: 0x22, count: 20),
        ]
        var encoder = EventEncoder()
        for v in values {
            var e = LogEvent()
            e.set(FieldPath.intern("a.b"), string: v)
            e.set(FieldPath.intern("n"), .int(Int64.min))
            e.set(FieldPath.intern("m"), .int(-42))
            e.set(FieldPath.intern("t"), .timestamp(Timestamp(nanoseconds: 1_554_822_245_123_456_789, precision: 9)))
            e.set(FieldPath.intern("d"), .double(1.5))
            e.set(FieldPath.intern("z"), .int(0))
            var fast: [UInt8] = []
            var slow: [UInt8] = []
            encoder.encode(e, into: &fast)
            JSONWriter.write(e, into: &slow)
            #expect(fast == slow, "\(String(decoding: fast, as: UTF8.self))")
        }
    }

    /// Plain bytes are copied a word at a time: a byte that needs escaping or checking at every
    /// position of strings of every length up to 40 (inside a word, at its edges, in the tail
    /// after the last whole word, two in a row) is written as JSONWriter writes it.
    /// Expects an event of one string field holding `value` to encode as JSONWriter writes it.
    func expectEncodedAsJSONWriterDoes(
        _ value: [UInt8], _ encoder: inout EventEncoder, _ what: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        var e = LogEvent()
        e.set(FieldPath.intern("s"), string: value)
        var fast: [UInt8] = []
        var slow: [UInt8] = []
        encoder.encode(e, into: &fast)
        JSONWriter.write(e, into: &slow)
        #expect(fast == slow, "\(what)", sourceLocation: sourceLocation)
    }

    @Test func aSpecialByteAtEveryPositionIsWrittenLikeJSONWriter() {
        let specials: [[UInt8]] = [[0x22], [0x5C], [0x0A], [0x01], [0x7F], [0xC3], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x98, 0x80], [0x22, 0x22], [0xFF]]
        var encoder = EventEncoder()
        var checked = 0
        for length in 0...40 {
            for position in 0...length {
                for special in specials {
                    var v = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                    v.insert(contentsOf: special, at: position)
                    expectEncodedAsJSONWriterDoes(v, &encoder, "length \(length), at \(position): \(special)")
                    checked += 1
                }
            }
        }
        #expect(checked == 8610)
    }

    /// A string's last 1 to 7 bytes are read as one word with the bytes that follow it in the
    /// arena (another field's text here): whatever those are (quotes, zeros, invalid UTF-8, plain
    /// text), and whatever the tail holds, the string is written as JSONWriter writes it, and so
    /// is the next field. Fails if the tail word's bytes past the string were checked or kept.
    @Test func aStringTailIsWrittenLikeJSONWriterWhateverFollowsItInTheArena() {
        let tails: [[UInt8]] = [[], Array("b".utf8), Array("bcdefg".utf8), [0x22], Array("bc\\".utf8), [0xC3, 0xA9], [0x0A, 0x62], [0xFF]]
        let followers: [[UInt8]] = [
            Array(repeating: 0x22, count: 9), Array(repeating: 0, count: 9), Array(repeating: 0xFF, count: 9),
            Array("plain text after".utf8), [0x5C], [],
        ]
        var encoder = EventEncoder()
        var checked = 0
        for head in 0...17 {
            for tail in tails {
                for after in followers {
                    let v = (0..<head).map { UInt8(ascii: "a") + UInt8($0 % 26) } + tail
                    var e = LogEvent()
                    e.set(FieldPath.intern("s"), string: v)
                    e.set(FieldPath.intern("t"), string: after)
                    #expect(e.arena.count == v.count + after.count)  // the two texts back to back
                    var fast: [UInt8] = []
                    var slow: [UInt8] = []
                    encoder.encode(e, into: &fast)
                    JSONWriter.write(e, into: &slow)
                    #expect(fast == slow, "\(String(decoding: fast, as: UTF8.self))")
                    checked += 1
                }
            }
        }
        #expect(checked == 18 * 8 * 6)
    }

    /// Plain bytes are copied a word at a time: two special bytes at every pair of positions in
    /// strings of 48 and 49 bytes (the copy resumes after the first, in a later word or in the
    /// tail) are written as JSONWriter writes them.
    @Test func twoSpecialBytesAtEveryPairOfPositionsAreWrittenLikeJSONWriter() {
        let specials: [[UInt8]] = [[0x22], [0x0A], [0xC3, 0xA9], [0xFF]]
        var encoder = EventEncoder()
        var checked = 0
        for length in [48, 49] {
            for first in 0..<length {
                for second in first..<length {
                    for special in specials {
                        var v = (0..<length).map { UInt8(ascii: "a") + UInt8($0 % 26) }
                        v.insert(contentsOf: special, at: second)
                        v.insert(contentsOf: special, at: first)
                        expectEncodedAsJSONWriterDoes(v, &encoder, "length \(length), at \(first) and \(second): \(special)")
                        checked += 1
                    }
                }
            }
        }
        #expect(checked == 9604)
    }

    /// The encoder keeps the text of the last second written; every timestamp still reads as
    /// JSONWriter writes it: in the same second, across seconds, days and years, before 1970, at
    /// the extremes, in every precision.
    @Test func timestampsInARowAreWrittenLikeJSONWriter() {
        let base: Int64 = 1_764_058_500_000_000_000
        var nanos: [Int64] = [
            base, base + 1, base + 999_999_999, base + 1_000_000_000, base + 86_400_000_000_000, base,
            -1, 0, -1_000_000_000, -999_999_999, Int64.min, Int64.min + 1, Int64.max, Int64.max - 1,
            253_402_300_799_999_999, 253_402_300_800_000_000, base,
        ]
        for k in 0..<200 { nanos.append(base + Int64(k) * 7_919_123) }
        var encoder = EventEncoder()
        for (i, n) in nanos.enumerated() {
            for precision: UInt8 in [3, 6, 9] {
                var e = LogEvent()
                e.set(FieldPaths.timestamp, .timestamp(Timestamp(nanoseconds: n, precision: precision)))
                e.set(FieldPath.intern("x"), .int(Int64(i)))
                var fast: [UInt8] = []
                var slow: [UInt8] = []
                encoder.encode(e, into: &fast)
                JSONWriter.write(e, into: &slow)
                #expect(fast == slow, "\(n) precision \(precision): \(String(decoding: fast, as: UTF8.self))")
            }
        }
    }

    /// Strings are scanned a word at a time: every length up to 40, with each special byte at each
    /// position, followed by more arena text or at the arena's very end, writes what JSONWriter writes.
    @Test func shortStringsWithEverySpecialAtEveryPosition() {
        let specials: [UInt8] = [0x22, 0x5C, 0x00, 0x0A, 0x1F, 0x7F, 0xC3, 0xFF]
        var encoder = EventEncoder()
        for length in 0...40 {
            for position in -1..<length {
                for special in position < 0 ? [UInt8(0)] : specials {
                    var value = (0..<length).map { UInt8(ascii: "a") + UInt8($0 % 26) }
                    if position >= 0 { value[position] = special }
                    for trailer in [0, 64] {
                        var e = LogEvent()
                        e.arena.append(contentsOf: value)
                        let slice = ArenaSlice(start: 0, count: value.count)
                        // Bytes after the value in the arena must not leak into it.
                        e.arena.append(contentsOf: Array(repeating: UInt8(0x22), count: trailer))
                        e.set(FieldPath.intern("s"), .string(slice))
                        e.set(FieldPath.intern("n"), .int(1))
                        var fast: [UInt8] = []
                        var slow: [UInt8] = []
                        encoder.encode(e, into: &fast)
                        JSONWriter.write(e, into: &slow)
                        #expect(fast == slow, "length \(length) special \(special) at \(position) trailer \(trailer)")
                    }
                }
            }
        }
    }
}
