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
}
