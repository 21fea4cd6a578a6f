import Foundation

// A tiny query engine for `_search` / `_count` (enough for tests to look at what was stored).

indirect enum Query: Sendable {
    case matchAll
    case matchNone
    case term(String, JSONValue)
    case terms(String, [JSONValue])
    case match(String, String)
    case exists(String)
    case ids(Set<String>)
    case range(String, gt: JSONValue?, gte: JSONValue?, lt: JSONValue?, lte: JSONValue?)
    case prefix(String, String)
    case wildcard(String, String)
    case bool(must: [Query], filter: [Query], should: [Query], mustNot: [Query], minimumShouldMatch: Int?)
    case queryString(String)

    static func parsing(_ reason: String) -> ESError {
        ESError(status: 400, type: "parsing_exception", reason: reason, metadata: [JSONMember("line", .int(1)), JSONMember("col", .int(1))])
    }

    static func parse(_ json: JSONValue) throws(ESError) -> Query {
        guard case .object(let members) = json, members.count == 1, let q = members.first else {
            throw parsing("[_na] query malformed, must start with start_object")
        }
        func fieldAndValue(_ v: JSONValue, valueKey: String) throws(ESError) -> (String, JSONValue) {
            guard case .object(let fm) = v, let f = fm.first else { throw parsing("[\(q.key)] query malformed, no field") }
            if case .object(let inner) = f.value {
                guard let value = inner.first(where: { $0.key == valueKey || $0.key == "query" })?.value else {
                    throw parsing("[\(q.key)] query does not support [\(inner.first?.key ?? "")]")
                }
                return (f.key, value)
            }
            return (f.key, f.value)
        }
        switch q.key {
        case "match_all": return .matchAll
        case "match_none": return .matchNone
        case "term":
            let (f, v) = try fieldAndValue(q.value, valueKey: "value")
            return .term(f, v)
        case "terms":
            guard case .object(let fm) = q.value, let f = fm.first(where: { $0.key != "boost" }), case .array(let values) = f.value else {
                throw parsing("[terms] query malformed")
            }
            return .terms(f.key, values)
        case "match", "match_phrase":
            let (f, v) = try fieldAndValue(q.value, valueKey: "query")
            return .match(f, v.scalarText ?? "")
        case "exists":
            guard let f = q.value["field"]?.stringValue else { throw parsing("[exists] must be provided with a [field]") }
            return .exists(f)
        case "ids":
            guard case .array(let values)? = q.value["values"] else { throw parsing("[ids] query malformed") }
            return .ids(Set(values.compactMap(\.scalarText)))
        case "range":
            guard case .object(let fm) = q.value, let f = fm.first else { throw parsing("[range] query malformed, no field") }
            return .range(f.key, gt: f.value["gt"], gte: f.value["gte"] ?? f.value["from"], lt: f.value["lt"], lte: f.value["lte"] ?? f.value["to"])
        case "prefix":
            let (f, v) = try fieldAndValue(q.value, valueKey: "value")
            return .prefix(f, v.scalarText ?? "")
        case "wildcard":
            let (f, v) = try fieldAndValue(q.value, valueKey: "value")
            return .wildcard(f, v.scalarText ?? "")
        case "query_string", "simple_query_string":
            return .queryString(q.value["query"]?.scalarText ?? "*")
        case "bool":
            guard case .object(let parts) = q.value else { throw parsing("[bool] query malformed") }
            var must: [Query] = [], filter: [Query] = [], should: [Query] = [], mustNot: [Query] = []
            var msm: Int?
            for p in parts {
                let list: [JSONValue]
                if case .array(let a) = p.value { list = a } else { list = [p.value] }
                switch p.key {
                case "must": for x in list { must.append(try parse(x)) }
                case "filter": for x in list { filter.append(try parse(x)) }
                case "should": for x in list { should.append(try parse(x)) }
                case "must_not": for x in list { mustNot.append(try parse(x)) }
                case "minimum_should_match": msm = p.value.int64Value.map(Int.init)
                case "boost", "_name": break
                default: throw parsing("[bool] query does not support [\(p.key)]")
                }
            }
            return .bool(must: must, filter: filter, should: should, mustNot: mustNot, minimumShouldMatch: msm)
        default:
            throw parsing("unknown query [\(q.key)]")
        }
    }

    /// `q=` URL parameter: `*`, `field:value` or a bare value.
    static func fromQueryString(_ q: String) -> Query {
        let trimmed = q.trimmingCharacters(inSet: " ")
        if trimmed.isEmpty || trimmed == "*" || trimmed == "*:*" { return .matchAll }
        return .queryString(trimmed)
    }

    // MARK: Evaluation

    static func values(_ doc: JSONValue, _ path: String) -> [JSONValue] {
        var p = path
        if p.hasSuffix(".keyword") { p.removeLast(8) }
        guard let v = BulkExecutor.lookup(doc, path: p) else {
            // Also look through arrays of objects.
            if let dot = p.firstIndex(of: "."), let head = BulkExecutor.lookup(doc, path: String(p[..<dot])), case .array(let a) = head {
                let rest = String(p[p.index(after: dot)...])
                return a.flatMap { values($0, rest) }
            }
            return []
        }
        if case .array(let a) = v { return a.flatMap { x -> [JSONValue] in if case .array(let inner) = x { return inner } else { return [x] } } }
        return [v]
    }

    static func tokens(_ s: String) -> [String] {
        s.lowercased().split(whereSeparator: { !($0.isLetter || $0.isNumber) }).map(String.init)
    }

    static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        if a.semanticallyEquals(b) { return true }
        if let x = a.scalarText, let y = b.scalarText {
            if x == y { return true }
            if let dx = Double(x), let dy = Double(y) { return dx == dy }
        }
        return false
    }

    static func compare(_ a: JSONValue, _ b: JSONValue) -> Int? {
        if let x = a.doubleValue, let y = b.doubleValue { return x < y ? -1 : (x > y ? 1 : 0) }
        if let x = a.scalarText, let y = b.scalarText { return x < y ? -1 : (x > y ? 1 : 0) }
        return nil
    }

    func matches(_ doc: JSONValue, id: String) -> Bool {
        switch self {
        case .matchAll: return true
        case .matchNone: return false
        case .ids(let ids): return ids.contains(id)
        case .term(let f, let v):
            if f == "_id" { return v.scalarText == id }
            return Query.values(doc, f).contains { Query.equal($0, v) }
        case .terms(let f, let vs):
            if f == "_id" { return vs.contains { $0.scalarText == id } }
            return Query.values(doc, f).contains { x in vs.contains { Query.equal(x, $0) } }
        case .match(let f, let text):
            let wanted = Query.tokens(text)
            return Query.values(doc, f).contains { v in
                if case .string(let s) = v {
                    let have = Set(Query.tokens(s))
                    return wanted.contains { have.contains($0) } || s == text
                }
                return v.scalarText == text || Query.equal(v, .string(text))
            }
        case .exists(let f):
            return Query.values(doc, f).contains { $0 != .null }
        case .range(let f, let gt, let gte, let lt, let lte):
            return Query.values(doc, f).contains { v in
                if let gt, let c = Query.compare(v, gt), c <= 0 { return false }
                if let gte, let c = Query.compare(v, gte), c < 0 { return false }
                if let lt, let c = Query.compare(v, lt), c >= 0 { return false }
                if let lte, let c = Query.compare(v, lte), c > 0 { return false }
                return true
            }
        case .prefix(let f, let p):
            return Query.values(doc, f).contains { $0.scalarText?.hasPrefix(p) ?? false }
        case .wildcard(let f, let p):
            return Query.values(doc, f).contains { v in v.scalarText.map { Glob.matches(p.replacingOccurrences(of: "?", with: "*"), $0) } ?? false }
        case .queryString(let q):
            if q == "*" { return true }
            if let colon = q.firstIndex(of: ":") {
                let field = String(q[..<colon])
                var value = String(q[q.index(after: colon)...])
                if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
                if value == "*" { return Query.exists(field).matches(doc, id: id) }
                if field == "_id" { return value == id }
                return Query.match(field, value).matches(doc, id: id)
            }
            let wanted = Set(Query.tokens(q))
            func any(_ v: JSONValue) -> Bool {
                switch v.resolvedRaw() {
                case .object(let m): return m.contains { any($0.value) }
                case .array(let a): return a.contains { any($0) }
                case let x:
                    guard let t = x.scalarText else { return false }
                    return !wanted.isDisjoint(with: Query.tokens(t))
                }
            }
            return any(doc)
        case .bool(let must, let filter, let should, let mustNot, let msm):
            if !must.allSatisfy({ $0.matches(doc, id: id) }) { return false }
            if !filter.allSatisfy({ $0.matches(doc, id: id) }) { return false }
            if mustNot.contains(where: { $0.matches(doc, id: id) }) { return false }
            if !should.isEmpty {
                let needed = msm ?? ((must.isEmpty && filter.isEmpty) ? 1 : 0)
                if should.filter({ $0.matches(doc, id: id) }).count < needed { return false }
            }
            return true
        }
    }
}

struct SortKey: Sendable {
    var field: String
    var descending: Bool

    static func parse(_ json: JSONValue) throws(ESError) -> [SortKey] {
        var out: [SortKey] = []
        let list: [JSONValue]
        if case .array(let a) = json { list = a } else { list = [json] }
        for entry in list {
            switch entry {
            case .string(let s):
                out.append(contentsOf: fromParam(s))
            case .object(let members):
                for m in members {
                    var desc = m.key == "_score"
                    if let o = m.value.stringValue { desc = o.lowercased() == "desc" }
                    if let o = m.value["order"]?.stringValue { desc = o.lowercased() == "desc" }
                    out.append(SortKey(field: m.key, descending: desc))
                }
            default:
                throw Query.parsing("[sort] malformed")
            }
        }
        return out
    }

    static func fromParam(_ s: String) -> [SortKey] {
        s.split(separator: ",").map { part in
            let pieces = part.split(separator: ":")
            let field = String(pieces[0])
            let desc = pieces.count > 1 ? pieces[1].lowercased() == "desc" : field == "_score"
            return SortKey(field: field, descending: desc)
        }
    }
}
