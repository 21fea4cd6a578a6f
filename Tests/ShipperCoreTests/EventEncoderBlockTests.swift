import Testing

@testable import ShipperCore

/// ``EventEncoder`` writes a ``FieldBlock``'s fields (container metadata, host) as one prepared run
/// while they are as ``LogEvent/add(_:)`` put them; whatever stages did to them, the bytes are
/// those ``JSONWriter`` writes.
@Suite struct EventEncoderBlockTests {
    static let block = FieldBlock(
        FieldBlock([
            (FieldPath.intern("container.id"), String(repeating: "c", count: 64)),
            (FieldPath.intern("container.name"), "web.1.x"),
            (FieldPath.intern("container.image.name"), "nginx:1.27"),
            (FieldPath.intern("container.labels.com_docker_swarm_service_name"), "web"),
            (FieldPath.intern("service.name"), "web"),
        ]),
        FieldBlock([(FieldPath.intern("host.name"), "node-1")]))

    /// An event as `shipper run` makes one: decoded fields, the block, then a parser's fields (the
    /// parsed `message` removed).
    static func event(_ n: Int, block: FieldBlock = block, change: (inout LogEvent) -> Void = { _ in }) -> LogEvent {
        var e = LogEvent()
        e.set(FieldPaths.timestamp, .timestamp(Timestamp(nanoseconds: 1_764_000_000_000_000_000 + Int64(n) * 1_000_000)))
        e.set(FieldPaths.stream, string: "stdout")
        e.set(FieldPaths.logFilePath, string: "/var/lib/docker/containers/c/c-json.log")
        e.set(FieldPaths.logOffset, .int(Int64(n) * 100))
        e.set(FieldPaths.message, string: "GET /\(n) 200")
        e.add(block)
        e.remove(FieldPaths.message)
        e.set(FieldPath.intern("http.request.method"), string: "GET")
        e.set(FieldPath.intern("url.original"), string: "/\(n)")
        e.set(FieldPath.intern("http.response.status_code"), .int(200))
        change(&e)
        return e
    }

    static func encoded(_ e: LogEvent, _ encoder: inout EventEncoder) -> String {
        var out: [UInt8] = []
        encoder.encode(e, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @Test func eventsWithTheBlockAsAddedShareOneRun() {
        var encoder = EventEncoder()
        for n in 0..<5 {
            let e = Self.event(n)
            #expect(Self.encoded(e, &encoder) == JSONWriter.string(e))
        }
        #expect(encoder.blockRunsWritten == 5)
        #expect(encoder.planned == 1)
    }

    /// What a stage may do after the block was added, and whether the run still applies.
    static let changes: [(String, Bool, @Sendable (inout LogEvent) -> Void)] = [
        ("nothing", true, { _ in }),
        ("a block value set again", false, { $0.set(FieldPath.intern("container.name"), string: "other") }),
        ("a block value set to the same text elsewhere", false, { $0.set(FieldPath.intern("service.name"), string: "web") }),
        ("a block field removed", false, { $0.remove(FieldPath.intern("container.image.name")) }),
        ("the last block field removed", false, { $0.remove(FieldPath.intern("host.name")) }),
        ("a block root replaced by a scalar", false, { $0.set(FieldPath.intern("container"), string: "flat") }),
        ("a field added under a block root", true, { $0.set(FieldPath.intern("host.ip"), string: "10.0.0.1") }),
        ("a field added under the first block root", false, { $0.set(FieldPath.intern("container.runtime"), string: "docker") }),
        ("a field before the block removed", true, { $0.remove(FieldPaths.stream) }),
        ("a block field renamed in place", true, { e in
            e.fields[e.index(of: FieldPath.intern("container.name"))!].path = FieldPath.intern("container.hostname")
        }),
        ("a block field's text changed in place", false, { e in
            guard case .string(let s)? = e[FieldPath.intern("container.name")] else { return }
            e.arena[s.lowerBound] = UInt8(ascii: "W")
        }),
        ("the event's fields rebuilt", false, { e in
            var copy = LogEvent(fields: e.fields, arena: e.arena, origin: e.origin, streamKey: e.streamKey)
            swap(&copy, &e)
        }),
        ("a second block added", true, { $0.add(FieldBlock([(FieldPath.intern("cloud.region"), "eu-1")])) }),
    ]

    @Test(arguments: changes.indices)
    func whateverAStageDidTheBytesAreJSONWritersOnes(_ i: Int) {
        let (name, usesRun, change) = Self.changes[i]
        var encoder = EventEncoder()
        var runs = 0
        for n in 0..<3 {
            // An untouched event first, then one changed: the run made for the first must not
            // carry over wrongly to the second.
            let plain = Self.event(n)
            #expect(Self.encoded(plain, &encoder) == JSONWriter.string(plain), "\(name)")
            let before = encoder.blockRunsWritten
            let e = Self.event(n, change: change)
            #expect(Self.encoded(e, &encoder) == JSONWriter.string(e), "\(name), event \(n)")
            runs += encoder.blockRunsWritten - before
        }
        #expect(runs == (usesRun ? 3 : 0), "\(name)")
    }

    @Test func valuesThatNeedEscapingAndEmptyValues() {
        let block = FieldBlock([
            (FieldPath.intern("container.name"), "say \"hi\"\\\n\t\u{1}"),
            (FieldPath.intern("container.labels.empty"), ""),
            (FieldPath.intern("container.labels.é"), "Grüße 🚀"),
            (FieldPath.intern("host.name"), ""),
        ])
        var encoder = EventEncoder()
        for n in 0..<3 {
            let e = Self.event(n, block: block)
            #expect(Self.encoded(e, &encoder) == JSONWriter.string(e))
        }
        #expect(encoder.blockRunsWritten == 3)
    }

    /// Events of many containers in turn (more than the encoder keeps runs for), each with its own
    /// block: every event's bytes are right, runs are made again as needed.
    @Test func manyBlocksInTurn() {
        let blocks = (0..<300).map { i in
            FieldBlock([(FieldPath.intern("container.id"), "id-\(i)"), (FieldPath.intern("container.name"), "svc-\(i % 7)"), (FieldPath.intern("host.name"), "node")])
        }
        var encoder = EventEncoder()
        var wrong = 0
        for round in 0..<2 {
            for (i, b) in blocks.enumerated() {
                let e = Self.event(round * 1000 + i, block: b)
                if Self.encoded(e, &encoder) != JSONWriter.string(e) { wrong += 1 }
            }
        }
        #expect(wrong == 0)
        #expect(encoder.blockRunsWritten == 600)
    }

    @Test func aResetEventForgetsItsBlock() {
        var e = Self.event(1)
        #expect(e.blockMark.block == Self.block.storage.id)
        e.reset()
        #expect(e.blockMark == .none)
        e.set(FieldPaths.message, string: "x")
        var encoder = EventEncoder()
        #expect(Self.encoded(e, &encoder) == #"{"message":"x"}"#)
        #expect(encoder.blockRunsWritten == 0)
    }
}
