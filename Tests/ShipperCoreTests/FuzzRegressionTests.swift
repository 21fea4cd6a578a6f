import Testing

@testable import ShipperCore

/// Inputs found by the libFuzzer targets (`Fuzz/`, README "Fuzzing"): each trapped or broke a
/// promise once.
@Suite struct FuzzRegressionTests {
    /// `timestamp` target: `unix_ns` with `-9223372036854775808` trapped (negating Int64.min);
    /// 19-digit values above Int64.max and a fraction pushing past it wrapped to wrong times.
    @Test func unixTimesBeyondInt64AreRejectedNotWrappedOrTrapped() throws {
        let ns = try TimeFormat("unix_ns")
        #expect(ns.parse("-9223372036854775808") == nil)
        #expect(ns.parse("9999999999999999999") == nil)
        #expect(ns.parse("9223372036854775807")?.nanoseconds == Int64.max)
        #expect(ns.parse("-9223372036854775807")?.nanoseconds == -Int64.max)
        let seconds = try TimeFormat("unix")
        #expect(seconds.parse("9223372036.9") == nil)
        #expect(seconds.parse("9223372036.5")?.nanoseconds == 9_223_372_036_500_000_000)
        #expect(seconds.parse("1764054901.5")?.nanoseconds == 1_764_054_901_500_000_000)
    }

    /// `timestamp` target: `%s` takes up to 12 digits, and 999999999999 seconds overflowed
    /// converting to nanoseconds (a trap); past 2262 is no time.
    @Test func epochSecondsPastNanosecondRangeAreRejected() throws {
        let format = try TimeFormat("%s")
        #expect(format.parse("999999999999") == nil)
        #expect(try TimeFormat("%s.%f").parse("9223372036.9") == nil)
        #expect(format.parse("9223372036")?.nanoseconds == 9_223_372_036_000_000_000)
        #expect(format.parse("1764054901")?.nanoseconds == 1_764_054_901_000_000_000)
    }

    /// `json` target (a wide object took 15 s: one `set` per key, each scanning every field):
    /// setting many fields at once gives exactly what setting them one by one gives.
    @Test func settingManyFieldsAtOnceEqualsSettingThemOneByOne() {
        var rng = SystemRandomNumberGenerator()
        let names = ["a", "b", "a.b", "a.c", "a.b.c", "b.a", "c", "a.b.d", "d.e", "d"]
        let paths = names.map { FieldPath.intern("fuzzset." + $0) } + [FieldPath.intern("fuzzset")]
        for _ in 0..<2000 {
            var base = LogEvent()
            for _ in 0..<Int.random(in: 0...4, using: &rng) {
                base.set(paths.randomElement(using: &rng)!, .int(Int64.random(in: 0...9, using: &rng)))
            }
            let newFields = (0..<Int.random(in: 0...12, using: &rng)).map { _ in
                Field(paths.randomElement(using: &rng)!, .int(Int64.random(in: 10...99, using: &rng)))
            }
            var oneByOne = base
            for f in newFields { oneByOne.set(f.path, f.value) }
            var hashed = base
            let done = hashed.setManyHashed(newFields)
            #expect(done)
            #expect(hashed.fields == oneByOne.fields, "\(base.fields.map(\.path.dotted)) + \(newFields.map(\.path.dotted))")
            var public_ = base
            public_.set(contentsOf: newFields)
            #expect(public_.fields == oneByOne.fields)
        }
        // Fields that conflict already: left to the one-by-one rules.
        var broken = LogEvent()
        broken.appendField(paths[0], .int(1))
        broken.appendField(paths[2], .int(2))
        let done = broken.setManyHashed([Field(paths[1], .int(3))])
        #expect(!done)
        #expect(broken.fields.count == 2)
    }

    /// Fuzzing at scale (`config` target, `Fuzz/scale.py`): a test case's `fields:` of 40,000 keys
    /// took 19 s under the sanitizers, one `set(_:json:)` per key. `set(jsonMembers:)` gives what setting them one by
    /// one gives (objects remove what is under them first), checked on random trees over a few
    /// overlapping names.
    @Test func settingJSONMembersAtOnceEqualsSettingThemOneByOne() {
        var rng = SplitMix64(seed: 7)
        let names = ["a", "b", "a.b", "c", "a.b.c", "b.a"]
        func value(depth: Int) -> JSONValue {
            switch Int.random(in: 0..<(depth < 2 ? 5 : 3), using: &rng) {
            case 0: return .int(Int64.random(in: 0...99, using: &rng))
            case 1: return .string("s\(Int.random(in: 0...9, using: &rng))")
            case 2: return .object([])
            default:
                return .object((0..<Int.random(in: 1...3, using: &rng)).map { _ in
                    JSONMember(names.randomElement(using: &rng)!, value(depth: depth + 1))
                })
            }
        }
        for round in 0..<3000 {
            var base = LogEvent()
            for _ in 0..<Int.random(in: 0...4, using: &rng) {
                base.set(FieldPath.intern("fj." + names.randomElement(using: &rng)!), .int(Int64.random(in: 0...9, using: &rng)))
            }
            // Keys under `fj` so that the interned names stay apart from other tests'; a member
            // `fj` itself (an object) removes everything.
            // Up to 6 members (one by one inside), or up to 40 (more than 16 leaves: the tables).
            var members = (0..<Int.random(in: 0...(round % 2 == 0 ? 6 : 40), using: &rng)).map { _ in
                JSONMember("fj." + names.randomElement(using: &rng)!, value(depth: 0))
            }
            if round % 10 == 0 { members.append(JSONMember("fj", value(depth: 1))) }
            // One by one, as `set(_:json:)` was written before: an object removes its path, then
            // sets its members.
            func setOneByOne(_ e: inout LogEvent, _ path: FieldPath, _ json: JSONValue) {
                if case .object(let inner) = json, !inner.isEmpty {
                    e.remove(path)
                    for m in inner { setOneByOne(&e, path.appending(m.key), m.value) }
                } else {
                    e.set(path, e.fieldValue(json))
                }
            }
            var oneByOne = base
            for m in members { setOneByOne(&oneByOne, FieldPath.intern(m.key), m.value) }
            var atOnce = base
            atOnce.set(jsonMembers: members)
            var expected: [UInt8] = []
            var got: [UInt8] = []
            JSONWriter.write(oneByOne, into: &expected)
            JSONWriter.write(atOnce, into: &got)
            #expect(got == expected, "round \(round): \(String(decoding: got, as: UTF8.self)) vs \(String(decoding: expected, as: UTF8.self))")
            #expect(atOnce.fields.map(\.path.dotted) == oneByOne.fields.map(\.path.dotted))
            // `set(_:json:)` of an object goes the same way.
            if let first = members.first {
                var one = base
                setOneByOne(&one, FieldPath.intern(first.key), first.value)
                var viaSet = base
                viaSet.set(FieldPath.intern(first.key), json: first.value)
                var a: [UInt8] = []
                var b: [UInt8] = []
                JSONWriter.write(one, into: &a)
                JSONWriter.write(viaSet, into: &b)
                #expect(a == b, "round \(round)")
            }
        }
        // Wide (the hashed path of `set(contentsOf:)`). Its time is measured by `Fuzz/scale.py`
        // (`config`, "aliases"): 40,000 keys here would crowd the process-wide table of names
        // that other tests' input fills (`FieldPath.inputLimit`).
        let wide = (0..<2_000).map { JSONMember("fjwide.k\($0)", .int(Int64($0))) }
        var e = LogEvent()
        e.set(FieldPath.intern("fjwide.k5"), .int(-1))
        e.set(jsonMembers: wide)
        #expect(e.fields.count == 2_000)
        #expect(e.fields.first?.value == .int(5))
        #expect(e.fields.last?.path.dotted == "fjwide.k1999")
    }

    /// Fuzzing at scale (`json` target, long inputs): a JSON key `a.a.a…` of 20,000 segments
    /// interned 20,000 paths whose texts took 430 MB; names from input are bounded now.
    @Test func namesFromInputAreBoundedInLengthAndDepth() {
        let deep = Array(repeating: "fuzzdeep", count: FieldPath.inputMaxDepth + 1).joined(separator: ".")
        #expect(FieldPath.internIfRoom(deep) == nil)
        #expect(FieldPath.internIfRoom(String(repeating: "x", count: FieldPath.inputMaxBytes + 1)) == nil)
        let ok = Array(repeating: "fuzzok", count: FieldPath.inputMaxDepth).joined(separator: ".")
        #expect(FieldPath.internIfRoom(ok)?.depth == FieldPath.inputMaxDepth)
        // Names from the config are not limited.
        #expect(FieldPath.intern(deep).depth == FieldPath.inputMaxDepth + 1)
    }

    /// `json_roundtrip` found a JSON key `a.\u0300b` written as `{"a":{"b":…}}`: interning split the
    /// dotted name with String indices, and the combining mark after the dot went with the dot
    /// (one character). Names are split by bytes now.
    @Test func aCombiningMarkAfterADotStaysInTheName() {
        let path = FieldPath.intern("fuzzmark.\u{300}5e-W.3")
        #expect(Array(path.name.utf8) == Array("3".utf8))
        #expect(Array(path.parent!.name.utf8) == [0xCC, 0x80] + Array("5e-W".utf8))
        #expect(Array(path.parent!.parent!.name.utf8) == Array("fuzzmark".utf8))
        var e = LogEvent()
        e.set(path, .int(4))
        let expected = Array(#"{"fuzzmark":{""#.utf8) + [0xCC, 0x80] + Array(#"5e-W":{"3":4}}}"#.utf8)
        var written: [UInt8] = []
        JSONWriter.write(e, into: &written)
        #expect(written == expected)
        var encoder = EventEncoder()
        var encoded: [UInt8] = []
        encoder.encode(e, into: &encoded)
        #expect(encoded == expected)
    }

    /// Found reading the fix above: the intern table compared names as Swift Strings, by canonical
    /// equivalence, so `é` (U+00E9) and `e` + U+0301 were one path, written with the spelling seen
    /// first. JSON and Elasticsearch keep the two keys apart; so do paths now.
    @Test func namesThatDifferOnlyInNormalizationAreTwoPaths() {
        let composed = FieldPath.intern("fuzznorm.caf\u{E9}")
        let decomposed = FieldPath.intern("fuzznorm.cafe\u{301}")
        #expect(composed !== decomposed)
        #expect(composed.parent === decomposed.parent)
        #expect(Array(decomposed.name.utf8) == Array("cafe".utf8) + [0xCC, 0x81])
        #expect(FieldPath.intern("fuzznorm.cafe\u{301}") === decomposed)
        #expect(FieldPath.internIfRoom("fuzznorm.caf\u{E9}") === composed)
        var e = LogEvent()
        e.set(composed, .int(1))
        e.set(decomposed, .int(2))
        var written: [UInt8] = []
        JSONWriter.write(e, into: &written)
        #expect(written == Array(#"{"fuzznorm":{"caf\#u{E9}":1,"cafe\#u{301}":2}}"#.utf8))
    }
}
