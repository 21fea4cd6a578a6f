import ShipperCore
import StageParsers

/// shipper's JSON reader and writer.
enum JSONTargets {
    /// JSONScanner on arbitrary bytes. Checks: `parseDocument` accepts exactly what the
    /// independent RFC 8259 checker accepts (except nesting beyond `maxDepth`, which it must
    /// reject as such); `skipValue` agrees with `parseValue`; a parsed tree written back is valid
    /// JSON and reads back to the same values (non-finite numbers become null).
    static func scanner(_ data: UnsafeRawBufferPointer) {
        let strict = StrictJSON.problem(data, options: .init(rejectDuplicateKeys: false))
        var parsed: JSONValue?
        var error: JSONError?
        do throws(JSONError) {
            parsed = try JSONScanner.parseDocument(data)
        } catch let e {
            error = e
        }
        var skipper = JSONScanner(data)
        var skipped = false
        do throws(JSONError) {
            try skipper.skipValue()
            skipper.skipWhitespace()
            skipped = skipper.isAtEnd
        } catch {}
        check(skipped == (parsed != nil), "skipValue (\(skipped)) and parseDocument (\(String(describing: error))) disagree")
        if let error {
            check(error.offset >= 0 && error.offset <= data.count, "JSONError offset \(error.offset) outside \(data.count) bytes")
            if strict == nil && !error.reason.contains("nest") && !error.reason.contains("deep") {
                failCheck("JSONScanner rejects valid JSON: \(error)", input: data)
            }
        }
        guard let parsed else { return }
        if let strict { failCheck("JSONScanner accepts invalid JSON (\(strict))", input: data) }
        var out: [UInt8] = []
        parsed.write(into: &out)
        if let p = out.withUnsafeBytes({ StrictJSON.problem($0, options: .init(rejectDuplicateKeys: false)) }) {
            failCheck("JSONValue.write wrote invalid JSON (\(p)): \(show(out))")
        }
        let again: JSONValue
        do {
            again = try out.withUnsafeBytes { try JSONScanner.parseDocument($0) }
        } catch {
            failCheck("written JSON does not read back: \(error): \(show(out))")
        }
        check(canonical(again).sameValue(as: canonical(parsed)), "JSON round trip changed the value: \(show(out))")
    }

    static let parser = try! JSONFieldParser(config: JSONFieldConfig())

    /// The input parsed by the `json` parser into an event (as the parse stage does), then written
    /// by JSONWriter and EventEncoder. Checks: ``EventCheck`` (valid JSON, no duplicate keys,
    /// both writers agree), and the document read back has exactly the event's fields and values
    /// (by dotted path). Input the parser rejects is written as the message: still valid JSON.
    static func roundTrip(_ data: UnsafeRawBufferPointer) {
        var e = ParserTargets.event(message: data)
        guard case .string(let slice)? = e[FieldPaths.message] else { failCheck("no message") }
        let result = parser.parse(slice, into: &e)
        if result == .consumed, let i = e.index(of: FieldPaths.message), case .string(let s) = e.fields[i].value, s == slice {
            e.fields.remove(at: i)
        }
        EventCheck.verify(e, "json round trip (\(result))")
        if result == .noMatch { return }
        let out = EventCheck.scratch
        let doc: JSONValue
        do {
            doc = try out.withUnsafeBytes { b in
                var scanner = JSONScanner(b)
                scanner.maxDepth = 1 << 20
                let v = try scanner.parseValue()
                scanner.skipWhitespace()
                guard scanner.isAtEnd else { throw JSONError("trailing bytes", at: scanner.position) }
                return v
            }
        } catch {
            failCheck("the written event does not read back: \(error): \(show(out))")
        }
        var expected: [String: JSONValue] = [:]
        for f in e.fields {
            check(expected[f.path.dotted] == nil, "the event has \(f.path.dotted) twice")
            expected[f.path.dotted] = canonical(f.value, event: e)
        }
        var got: [String: JSONValue] = [:]
        for (path, value) in flatten(doc) {
            check(got[path] == nil, "the written event has \(path) twice: \(show(out))")
            got[path] = canonical(value)
        }
        check(Set(got.keys) == Set(expected.keys),
              "paths differ: written \(got.keys.sorted()) vs fields \(expected.keys.sorted()): \(show(out))")
        for (path, want) in expected where !got[path]!.sameValue(as: want) {
            failCheck("\(path): written \(got[path]!) but the field is \(want): \(show(out))")
        }
    }

    /// Leaves of nested objects by dotted path (an empty object is a leaf; "" keys are kept, so
    /// `{"":{"":1}}` is `.`, unlike `JSONValue.flattened`).
    static func flatten(_ v: JSONValue, prefix: String? = nil) -> [(String, JSONValue)] {
        guard case .object(let members) = v, !members.isEmpty || prefix == nil else { return [(prefix ?? "", v)] }
        var out: [(String, JSONValue)] = []
        for m in members {
            let p = prefix.map { $0 + "." + m.key } ?? m.key
            out.append(contentsOf: flatten(m.value, prefix: p))
        }
        return out
    }

    /// Objects as their flattened leaves, non-finite numbers as null (what JSON can express).
    static func canonical(_ v: JSONValue) -> JSONValue {
        switch v {
        case .object:
            return .object(flatten(v).map { JSONMember($0.0, canonical($0.1)) })
        case .array(let items):
            return .array(items.map(canonical))
        case .double(let d) where !d.isFinite:
            return .null
        default:
            return v
        }
    }

    static func canonical(_ v: FieldValue, event: LogEvent) -> JSONValue {
        let arena = event.arena
        switch v {
        case .string(let s): return .string(String(decoding: arena[s.range], as: UTF8.self))
        case .int(let i): return .int(i)
        case .double(let d): return d.isFinite ? .double(d) : .null
        case .bool(let b): return .bool(b)
        case .null: return .null
        case .timestamp(let t):
            var text: [UInt8] = []
            t.write(into: &text)
            return .string(String(decoding: text, as: UTF8.self))
        case .array(let list): return .array(event.elements(list).map { canonical($0, event: event) })
        case .object(let list):
            var members: [JSONMember] = []
            for f in event.members(list) {
                let inner = canonical(f.value, event: event)
                if case .object(let sub) = inner, !sub.isEmpty {
                    for m in sub { members.append(JSONMember(f.path.dotted + "." + m.key, m.value)) }
                } else {
                    members.append(JSONMember(f.path.dotted, inner))
                }
            }
            return .object(members)
        }
    }
}
