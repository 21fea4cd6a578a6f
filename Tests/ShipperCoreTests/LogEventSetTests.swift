import Testing

@testable import ShipperCore

/// `LogEvent.set` and the path relations it relies on.
@Suite struct LogEventSetTests {
    static let names = ["a", "a.b", "a.b.c", "a.b.d", "a.c", "b", "b.a", "c.a.b", "c", "a.bb", "ab"]
    static let paths = names.map { FieldPath.intern("settest." + $0) } + [FieldPath.intern("settest"), FieldPath.intern("settest2.a")]

    /// What `set` did before its read-only fast path: one loop that replaces the first equal
    /// field and removes every other field at, above or below the path.
    static func referenceSet(_ fields: inout [Field], _ path: FieldPath, _ value: FieldValue) {
        var i = 0
        var replaced = false
        while i < fields.count {
            let existing = fields[i].path
            let same = existing.dotted.utf8.elementsEqual(path.dotted.utf8)
            let above = path.dotted.utf8.starts(with: (existing.dotted + ".").utf8)
            let below = existing.dotted.utf8.starts(with: (path.dotted + ".").utf8)
            if same && !replaced {
                fields[i].value = value
                replaced = true
                i += 1
            } else if same || above || below {
                fields.remove(at: i)
            } else {
                i += 1
            }
        }
        if !replaced { fields.append(Field(path, value)) }
    }

    @Test func prefixAndAncestorAgreeWithTheDottedNames() {
        for a in Self.paths {
            for b in Self.paths {
                let expected = a === b || b.dotted.utf8.starts(with: (a.dotted + ".").utf8)
                #expect(a.isPrefix(of: b) == expected, "\(a) prefix of \(b)")
            }
            for depth in 1...a.depth {
                let ancestor = a.ancestor(atDepth: depth)
                #expect(ancestor.depth == depth && ancestor.isPrefix(of: a))
            }
            #expect(a.ancestor(atDepth: a.depth + 3) === a)
        }
    }

    /// Random events, including ones that already hold conflicting or repeated fields (appended
    /// without checks), then random sets: the same fields, in the same order, as the reference.
    @Test func setMatchesTheReferenceOnRandomEvents() {
        var rng = SystemRandomNumberGenerator()
        for round in 0..<5000 {
            var event = LogEvent()
            for _ in 0..<Int.random(in: 0...8, using: &rng) {
                event.appendField(Self.paths.randomElement(using: &rng)!, .int(Int64.random(in: 0...9, using: &rng)))
            }
            var reference = event.fields
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let path = Self.paths.randomElement(using: &rng)!
                let value = FieldValue.int(Int64(100 + round))
                event.set(path, value)
                Self.referenceSet(&reference, path, value)
                #expect(event.fields == reference, "set \(path) on \(reference.map(\.path.dotted))")
            }
        }
    }
}
