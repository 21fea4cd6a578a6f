// Fast paths of `_bulk` for what shippers send: action lines read without building a JSON tree.
// Each answers nil for anything it does not recognise exactly; the general path then runs.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

enum ActionFastPath {
    struct Action {
        var action: BulkAction
        var index: String?
        var id: String?
    }

    /// The last index name read, so consecutive actions for one index share its `String`.
    struct Names {
        var lastStart = 0
        var lastCount = -1
        var last = ""
    }

    /// `{"create":{"_index":"…","_id":"…"}}` or `{"index":{…}}`: no whitespace inside, `_index` and
    /// `_id` each at most once, in either order, both optional, values plain printable ASCII (no
    /// escapes); trailing whitespace allowed. `JSONParser.parseLeading` + `parseMetadata` give the
    /// same op for these lines.
    static func parse(_ buf: UnsafeBufferPointer<UInt8>, from: Int, to: Int, names: inout Names) -> Action? {
        guard let p = buf.baseAddress else { return nil }
        var end = to
        while end > from, p[end - 1] == 0x20 || p[end - 1] == 0x09 || p[end - 1] == 0x0D { end -= 1 }
        var i = from
        @inline(__always) func expect(_ literal: StaticString) -> Bool {
            let n = literal.utf8CodeUnitCount
            guard end - i >= n else { return false }
            let l = literal.utf8Start
            for k in 0..<n where p[i + k] != l[k] { return false }
            i += n
            return true
        }
        let action: BulkAction
        if expect(#"{"create":{"#) {
            action = .create
        } else if expect(#"{"index":{"#) {
            action = .index
        } else {
            return nil
        }
        var index: (Int, Int)?
        var id: (Int, Int)?
        if !expect("}}") {
            while true {
                let isIndex: Bool
                if expect(#""_index":""#) {
                    isIndex = true
                } else if expect(#""_id":""#) {
                    isIndex = false
                } else {
                    return nil
                }
                let start = i
                while i < end {
                    let c = p[i]
                    if c == UInt8(ascii: "\"") { break }
                    if c < 0x20 || c >= 0x7F || c == UInt8(ascii: "\\") { return nil }
                    i += 1
                }
                guard i < end else { return nil }
                if isIndex {
                    if index != nil { return nil }  // duplicate key: the parser's error
                    index = (start, i - start)
                } else {
                    if id != nil { return nil }
                    id = (start, i - start)
                }
                i += 1  // "
                if expect(",") { continue }
                guard expect("}}") else { return nil }
                break
            }
        }
        guard i == end else { return nil }
        var indexName: String?
        if let (start, count) = index {
            if count == names.lastCount && memcmp(p + start, p + names.lastStart, count) == 0 {
                indexName = names.last
            } else {
                let name = String(decoding: UnsafeBufferPointer(start: p + start, count: count), as: UTF8.self)
                names = Names(lastStart: start, lastCount: count, last: name)
                indexName = name
            }
        }
        let idString = id.map { String(decoding: UnsafeBufferPointer(start: p + $0.0, count: $0.1), as: UTF8.self) }
        return Action(action: action, index: indexName, id: idString)
    }
}

/// Writes a `_bulk` response body straight from the items, with `filter_path` applied exactly as
/// `FilterPath` applies it to the JSON tree (which `ServerCore.handle` does for other responses).
///
/// `FilterPath` keeps or drops members by their key paths and by whether a value is an object,
/// array or scalar, never by the values themselves. So each kind of item (action, with or without
/// `forced_refresh`) is filtered once, as a prototype whose scalars are numbered placeholders,
/// and written into a template; each item then fills in its values. Items of other shapes
/// (errors, updates returning `get`) are filtered as trees, one at a time: filtering an array
/// filters its elements independently, so the result is the same as for the whole response.
struct BulkResponseWriter {
    private let filter: FilterPath?
    private var itemTemplates: [Int: Template?] = [:]
    private var topTemplates: [Bool: (Template, hasMembers: Bool)] = [:]

    init(filterPath: String?) {
        let f = filterPath.map(FilterPath.init)
        filter = f?.isEmpty == false ? f : nil
    }

    /// Placeholder slots.
    private enum Slot: UInt8 {
        case index = 65, id, version, result, shardsTotal, shardsSuccessful, shardsFailed, seqNo, status, errors, took
        var json: JSONValue { .string("\u{E000}" + String(UnicodeScalar(rawValue))) }
    }

    /// Literal bytes, each followed by a slot (nil after the last part).
    private struct Template {
        var parts: [(bytes: [UInt8], slot: Slot?)] = []

        /// Splits compact JSON at the placeholders (`"` U+E000 letter `"`).
        init(_ bytes: [UInt8]) {
            var literal: [UInt8] = []
            var i = 0
            while i < bytes.count {
                if bytes[i] == 0x22, i + 5 < bytes.count, bytes[i + 1] == 0xEE, bytes[i + 2] == 0x80, bytes[i + 3] == 0x80, bytes[i + 5] == 0x22,
                    let slot = Slot(rawValue: bytes[i + 4])
                {
                    parts.append((literal, slot))
                    literal = []
                    i += 6
                } else {
                    literal.append(bytes[i])
                    i += 1
                }
            }
            parts.append((literal, nil))
        }
    }

    /// The response body for `items` (in order).
    mutating func write(errors: Bool, took: Int, ingestRan: Bool, items: [BulkItemResult]) -> [UInt8] {
        var w = JSONWriter(capacity: items.count * (filter == nil ? 200 : 32) + 64)
        var contributed = 0
        for item in items {
            let before = w.bytes.count
            if contributed > 0 { w.bytes.append(UInt8(ascii: ",")) }
            if write(item, into: &w) {
                contributed += 1
            } else {
                w.bytes.removeSubrange(before...)
            }
        }
        let itemBytes = w.bytes
        w.bytes.removeAll(keepingCapacity: true)

        let (top, hasMembers) = topTemplate(ingestRan: ingestRan)
        fill(top, into: &w) { slot, w in
            switch slot {
            case .errors: w.bytes.append(contentsOf: errors ? Self.trueBytes : Self.falseBytes)
            case .took: Self.writeInt(Int64(took), into: &w.bytes)
            default: break
            }
        }
        guard contributed > 0 else { return w.bytes }
        w.bytes.removeLast()  // }
        if hasMembers { w.bytes.append(UInt8(ascii: ",")) }
        w.bytes.append(contentsOf: Self.itemsKey)
        w.bytes.append(contentsOf: itemBytes)
        w.bytes.append(contentsOf: Self.itemsEnd)
        return w.bytes
    }

    static let trueBytes = Array("true".utf8)
    static let falseBytes = Array("false".utf8)
    static let itemsKey = Array(#""items":["#.utf8)
    static let itemsEnd = Array("]}".utf8)

    /// Writes one item; false when the filter leaves nothing of it.
    private mutating func write(_ item: BulkItemResult, into w: inout JSONWriter) -> Bool {
        guard case .written(let action, let r, let forcedRefresh, let shards) = item, r.get == nil else {
            guard let value = filtered(BulkExecutor.json(item)) else { return false }
            w.write(value)
            return true
        }
        let refreshed = forcedRefresh && !r.noop
        let key = Int(BulkResponseWriter.actionIndex(action)) * 2 + (refreshed ? 1 : 0)
        let template: Template?
        if let cached = itemTemplates[key] {
            template = cached
        } else {
            template = itemTemplate(action, refreshed: refreshed)
            itemTemplates[key] = template
        }
        guard let template else { return false }
        fill(template, into: &w) { slot, w in
            switch slot {
            case .index: w.writeString(r.index.name)
            case .id: w.writeString(r.id)
            case .version: Self.writeInt(r.version, into: &w.bytes)
            case .result: w.writeString(r.result)
            case .shardsTotal: Self.writeInt(r.noop ? 0 : Int64(shards), into: &w.bytes)
            case .shardsSuccessful: Self.writeInt(r.noop ? 0 : 1, into: &w.bytes)
            case .shardsFailed: Self.writeInt(0, into: &w.bytes)
            case .seqNo: Self.writeInt(r.seqNo, into: &w.bytes)
            case .status: Self.writeInt(Int64(r.status), into: &w.bytes)
            case .errors, .took: break
            }
        }
        return true
    }

    private static func actionIndex(_ a: BulkAction) -> UInt8 {
        switch a {
        case .index: 0
        case .create: 1
        case .update: 2
        case .delete: 3
        }
    }

    @inline(__always)
    private func fill(_ t: Template, into w: inout JSONWriter, _ value: (Slot, inout JSONWriter) -> Void) {
        for part in t.parts {
            w.bytes.append(contentsOf: part.bytes)
            if let slot = part.slot { value(slot, &w) }
        }
    }

    /// An item as it appears in the filtered response, nil when it is filtered out.
    private func filtered(_ item: JSONValue) -> JSONValue? {
        guard let filter else { return item }
        let wrapped = filter.apply(.object([JSONMember("items", .array([item]))]))
        guard case .object(let members) = wrapped, let items = members.first(where: { $0.key == "items" }),
            case .array(let values) = items.value, values.count == 1
        else { return nil }
        return values[0]
    }

    /// The members of `BulkExecutor.successBody` plus `status`, as placeholders.
    private func itemTemplate(_ action: BulkAction, refreshed: Bool) -> Template? {
        var m: [JSONMember] = [
            JSONMember("_index", Slot.index.json), JSONMember("_id", Slot.id.json), JSONMember("_version", Slot.version.json),
            JSONMember("result", Slot.result.json),
        ]
        if refreshed { m.append(JSONMember("forced_refresh", .bool(true))) }
        m.append(
            JSONMember(
                "_shards",
                .object([
                    JSONMember("total", Slot.shardsTotal.json), JSONMember("successful", Slot.shardsSuccessful.json),
                    JSONMember("failed", Slot.shardsFailed.json),
                ])))
        m.append(JSONMember("_seq_no", Slot.seqNo.json))
        m.append(JSONMember("_primary_term", .int(1)))
        m.append(JSONMember("status", Slot.status.json))
        guard let value = filtered(.object([JSONMember(action.rawValue, .object(m))])) else { return nil }
        return Template(JSONWriter.compact(value))
    }

    private mutating func topTemplate(ingestRan: Bool) -> (Template, hasMembers: Bool) {
        if let t = topTemplates[ingestRan] { return t }
        var m = [JSONMember("errors", Slot.errors.json), JSONMember("took", Slot.took.json)]
        if ingestRan { m.append(JSONMember("ingest_took", .int(0))) }
        var top = JSONValue.object(m)
        if let filter { top = filter.apply(top) }
        let hasMembers = top.objectMembers?.isEmpty == false
        let t = (Template(JSONWriter.compact(top)), hasMembers)
        topTemplates[ingestRan] = t
        return t
    }

    static func writeInt(_ value: Int64, into out: inout [UInt8]) {
        if value >= 0 && value < 10 {
            out.append(UInt8(truncatingIfNeeded: value) + 0x30)
            return
        }
        var v = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // up to 24 ASCII digits, reversed
        var n = 0
        withUnsafeMutableBytes(of: &digits) { d in
            repeat {
                d[n] = UInt8(truncatingIfNeeded: v % 10) + 0x30
                v /= 10
                n += 1
            } while v > 0
            if value < 0 { out.append(UInt8(ascii: "-")) }
            for k in stride(from: n - 1, through: 0, by: -1) { out.append(d[k]) }
        }
    }
}
