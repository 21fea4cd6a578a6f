import InputFormats
import ShipperCore
import Testing

@Suite struct EventPoolTests {
    /// Lines of every kind the decoders take: docker (exact layout, generic layout with attrs,
    /// partial chunks, a decode failure), CRI (full and partial) and raw.
    static let inputs: [(LogFormat, [String])] = [
        (.docker, [
            #"{"log":"GET / 200\n","stream":"stdout","time":"2024-05-01T12:00:00.123456789Z"}"#,
            #"{"time":"2024-05-01T12:00:01Z","stream":"stderr","log":"second \"quoted\" é\n","attrs":{"tag":"web"}}"#,
            #"{"log":"part one ","stream":"stdout","time":"2024-05-01T12:00:02Z"}"#,
            #"{"log":"part two\n","stream":"stdout","time":"2024-05-01T12:00:03Z"}"#,
            #"{"log":"truncated"#,
            #"{"log":"last\n","stream":"stdout","time":"2024-05-01T12:00:04Z"}"#,
        ]),
        (.cri, [
            "2024-05-01T12:00:00.123456789Z stdout F one line",
            "2024-05-01T12:00:01Z stderr P first half ",
            "2024-05-01T12:00:02Z stderr F second half",
            "not a cri line",
        ]),
        (.raw, ["plain text", "", "another line with \u{1} control"]),
    ]

    static func json(_ events: [LogEvent]) -> [String] {
        events.map { e in
            var out: [UInt8] = []
            JSONWriter.write(e, into: &out)
            return String(decoding: out, as: UTF8.self) + " origin \(e.origin) key \(e.streamKey)"
        }
    }

    @Test(arguments: [LogFormat.docker, .cri, .raw])
    func eventsFromRecycledStorageEqualFreshOnes(format: LogFormat) {
        let lines = Self.inputs.first { $0.0 == format }!.1.map { Array($0.utf8) }
        let expected = Self.json(decodeAll(format, lines, path: "/var/log/app.log"))
        let pool = EventPool()
        let options = LineDecoderOptions(extraArenaBytes: 64, extraFields: 8, pool: pool)
        for round in 0..<4 {
            var decoder = makeDecoder(format: format, firstLine: UnsafeRawBufferPointer(start: nil, count: 0), options: options)
            var events = decodeAll(&decoder, lines, path: "/var/log/app.log")
            #expect(Self.json(events) == expected, "round \(round)")
            // Scribble on the events before giving them back: nothing of it may show later.
            for i in events.indices {
                events[i].set(FieldPath.intern("scribble.value"), string: "left over from round \(round)")
                events[i].addTag("_scribbled")
            }
            let count = events.count
            pool.recycle(&events)
            #expect(events.isEmpty)
            #expect(pool.count >= count)
        }
    }

    @Test func takesSpareEventsEmptyWithTheirCapacity() {
        let pool = EventPool(maxEvents: 4)
        #expect(pool.count == 0)
        var fresh = pool.take()
        #expect(fresh.fields.isEmpty && fresh.arena.isEmpty)
        fresh.set(FieldPaths.message, string: String(repeating: "x", count: 500))
        fresh.origin = EventOrigin(source: 7, offset: 1, endOffset: 2)
        fresh.streamKey = 9
        var events = [fresh]
        pool.recycle(&events)
        #expect(pool.count == 1)
        let again = pool.take()
        #expect(again.fields.isEmpty && again.arena.isEmpty)
        #expect(again.arena.capacity >= 500)
        #expect(again.origin == .unknown && again.streamKey == 0)
        #expect(pool.count == 0)
    }

    /// `recycle(_:each:)` (the worker encodes each event and empties it in one pass): the body
    /// sees every event whole and in order, the pool then keeps them emptied as `recycle(_:)`
    /// does (at most `maxEvents`, none too big); a body that throws leaves the events in place.
    @Test func recyclingWithABodySeesEachEventWholeFirst() throws {
        struct Stop: Error {}
        let pool = EventPool(maxEvents: 3, maxArenaBytes: 1024)
        func made() -> [LogEvent] {
            (0..<5).map { i in
                var e = LogEvent(message: Array(String(repeating: "m", count: i == 2 ? 2000 : 10 + i).utf8))
                e.origin = EventOrigin(source: 1, offset: Int64(i), endOffset: Int64(i) + 1)
                return e
            }
        }
        var events = made()
        var seen: [String] = []
        pool.recycle(&events) { seen.append(JSONWriter.string($0) + " \($0.origin.offset)") }
        #expect(seen == made().map { JSONWriter.string($0) + " \($0.origin.offset)" })
        #expect(events.isEmpty)
        // Room for the first three; the one with a 2000-byte arena gave its place to an empty event.
        #expect(pool.count == 3)
        for _ in 0..<3 {
            let e = pool.take()
            #expect(e.fields.isEmpty && e.arena.isEmpty && e.origin == .unknown)
            #expect(e.arena.capacity < 1024)
        }

        var failing = made()
        var calls = 0
        #expect(throws: Stop.self) {
            try pool.recycle(&failing) { _ in
                calls += 1
                if calls == 2 { throw Stop() }
            }
        }
        #expect(failing.count == 5)
        #expect(failing[0].fields.isEmpty)  // emptied before the body threw for the second
        #expect(JSONWriter.string(failing[1]) == JSONWriter.string(made()[1]))
        #expect(pool.count == 0)
    }

    @Test func keepsAtMostMaxEventsAndNoHugeArenas() {
        let pool = EventPool(maxEvents: 3, maxArenaBytes: 1024)
        var events = (0..<5).map { i in LogEvent(message: Array(repeating: UInt8(ascii: "a"), count: i == 0 ? 4096 : 10)) }
        pool.recycle(&events)
        #expect(events.isEmpty)
        // Three slots: the first event (4 KiB arena) is kept as an empty new event, not with its arena.
        #expect(pool.count == 3)
        var capacities: [Int] = []
        for _ in 0..<3 { capacities.append(pool.take().arena.capacity) }
        #expect(capacities.allSatisfy { $0 <= 1024 })
        var more = (0..<2).map { _ in LogEvent(message: Array("b".utf8)) }
        pool.recycle(&more)
        pool.recycle(LogEvent(message: Array("c".utf8)))
        pool.recycle(LogEvent(message: Array("d".utf8)))
        #expect(pool.count == 3)
    }

    /// Events given back to a pool that still has spares are moved in (the path that does not
    /// swap arrays): kept with their capacity, emptied, and the caller's array left empty.
    @Test func eventsGivenBackNextToSparesKeepTheirCapacity() {
        let pool = EventPool(maxEvents: 8)
        var first = [LogEvent(message: Array(repeating: UInt8(ascii: "a"), count: 300))]
        pool.recycle(&first)
        #expect(pool.count == 1)
        var events = (0..<3).map { i in LogEvent(message: Array(repeating: UInt8(ascii: "b"), count: 600 + i)) }
        events.withEachEvent { $0.streamKey = 5 }
        #expect(events.allSatisfy { $0.streamKey == 5 }, "withEachEvent changes the events in place")
        pool.recycle(&events)
        #expect(events.isEmpty && pool.count == 4)
        var taken: [LogEvent] = []
        for _ in 0..<4 { taken.append(pool.take()) }
        #expect(taken.allSatisfy { $0.fields.isEmpty && $0.arena.isEmpty && $0.streamKey == 0 })
        #expect(taken.filter { $0.arena.capacity >= 600 }.count == 3)
    }

    /// An event whose array elements grew large (a JSON line with a huge array) is not kept.
    @Test func eventsWithLargeArraysAreNotKept() {
        let pool = EventPool(maxEvents: 4, maxFields: 16)
        var big = LogEvent(message: Array("x".utf8))
        big.set(FieldPath.intern("list"), big.appendArray(Array(repeating: FieldValue.int(1), count: 100)))
        var small = LogEvent(message: Array("y".utf8))
        small.set(FieldPath.intern("list"), small.appendArray([.int(1)]))
        var events = [big, small]
        pool.recycle(&events)
        #expect(pool.count == 2)
        let capacities = [pool.take().values.capacity, pool.take().values.capacity]
        #expect(capacities.allSatisfy { $0 <= 16 })
        #expect(capacities.contains { $0 > 0 })
        pool.recycle(big)
        #expect(pool.count == 0)
    }
}
