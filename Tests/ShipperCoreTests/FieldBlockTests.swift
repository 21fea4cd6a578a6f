import Testing

@testable import ShipperCore

@Suite struct FieldBlockTests {
    static let metadata: [(FieldPath, String)] = [
        (FieldPath.intern("container.id"), "abc123"),
        (FieldPath.intern("container.name"), "web.1.x"),
        (FieldPath.intern("container.image.name"), "nginx:1.27"),
        (FieldPath.intern("service.name"), "web"),
        (FieldPath.intern("host.name"), "node-1"),
    ]

    /// The event before the block is added, as JSON fields set one by one.
    static let cases: [(String, [(String, String)], [(FieldPath, String)])] = [
        ("fresh event", [("message", "GET /"), ("stream", "stdout")], metadata),
        ("same path already there (replaced in place)", [("message", "x"), ("service.name", "old")], metadata),
        ("ancestor already there (removed)", [("host", "flat"), ("message", "x")], metadata),
        ("descendant already there (removed)", [("container.image.name.extra", "deep"), ("message", "x")], metadata),
        ("block conflicting with itself", [("message", "x")], [(FieldPath.intern("a"), "1"), (FieldPath.intern("a.b"), "2")]),
        ("empty block", [("message", "x")], []),
        ("empty values and unicode", [("message", "x")], [(FieldPath.intern("labels.é"), ""), (FieldPath.intern("labels.z"), "Grüße 🚀")]),
    ]

    @Test(arguments: cases)
    func addingTheBlockEqualsSettingEachField(name: String, before: [(String, String)], block: [(FieldPath, String)]) {
        var expected = LogEvent()
        for (path, value) in before { expected.set(FieldPath.intern(path), string: value) }
        var actual = expected
        for (path, value) in block { expected.set(path, string: value) }
        actual.add(FieldBlock(block))
        #expect(JSONWriter.string(actual) == JSONWriter.string(expected), "\(name)")
        #expect(actual.fields.map(\.path.dotted) == expected.fields.map(\.path.dotted), "\(name)")
    }

    /// Two blocks made one (the container's metadata and the host, as `shipper run` adds them):
    /// the same as adding one after the other.
    @Test(arguments: cases)
    func aCombinedBlockEqualsAddingBothInTurn(name: String, before: [(String, String)], block: [(FieldPath, String)]) {
        let second = FieldBlock([(FieldPath.intern("host.name"), "node-1"), (FieldPath.intern("cloud.region"), "eu")])
        var expected = LogEvent()
        for (path, value) in before { expected.set(FieldPath.intern(path), string: value) }
        var actual = expected
        expected.add(FieldBlock(block))
        expected.add(second)
        actual.add(FieldBlock(FieldBlock(block), second))
        #expect(JSONWriter.string(actual) == JSONWriter.string(expected), "\(name)")
        #expect(actual.fields.map(\.path.dotted) == expected.fields.map(\.path.dotted), "\(name)")
        #expect(FieldBlock(block).pairs.map { "\($0.0.dotted)=\($0.1)" } == block.map { "\($0.0.dotted)=\($0.1)" })
    }

    @Test func blocksHaveTheirOwnIdentity() {
        let a = FieldBlock(Self.metadata)
        let b = FieldBlock(Self.metadata)
        #expect(a.storage.id != b.storage.id)
        #expect(a.storage.id != 0 && b.storage.id != 0)
        var e = LogEvent()
        e.add(a)
        e.add(b)  // conflicts with a: set field by field, the mark stays a's
        #expect(e.blockMark.block == a.storage.id)
        #expect(e.blockMark.fields == Int32(Self.metadata.count))
    }
}

@Suite struct FieldLayoutTests {
    /// Fields are plain bytes (arrays and objects live in the event's `values` and `members`):
    /// copying one takes no retain and an event's fields are freed or reset without visiting them.
    @Test func fieldsHoldNoReferences() {
        #expect(_isPOD(FieldValue.self))
        #expect(_isPOD(Field.self))
    }

    @Test func arraysAndObjectsLiveInTheEvent() {
        var e = LogEvent()
        let inner = e.appendArray([.string(e.append(string: "x")), .int(2)])
        let object = e.appendObject([Field(FieldPath.intern("k"), .string(e.append(string: "v"))), Field(FieldPath.intern("n"), inner)])
        e.set(FieldPath.intern("list"), e.appendArray([inner, object, .null]))
        #expect(JSONWriter.string(e) == #"{"list":[["x",2],{"k":"v","n":["x",2]},null]}"#)
        var encoder = EventEncoder()
        var out: [UInt8] = []
        encoder.encode(e, into: &out)
        #expect(String(decoding: out, as: UTF8.self) == JSONWriter.string(e))
        // Copied into another event with everything it refers to.
        var other = LogEvent()
        other.set(FieldPath.intern("a"), string: "first")
        let copied = other.importValue(e[FieldPath.intern("list")]!, from: e)
        other.set(FieldPath.intern("copy"), copied)
        #expect(JSONWriter.string(other) == #"{"a":"first","copy":[["x",2],{"k":"v","n":["x",2]},null]}"#)
        e.reset()
        #expect(e.values.isEmpty && e.members.isEmpty && e.fields.isEmpty)
    }
}
