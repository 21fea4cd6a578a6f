// `filter_path` response filtering (PROTOCOL.md §10).

struct FilterPath: Sendable {
    private var includes: [[String]] = []
    private var excludes: [[String]] = []

    /// Parses `a.b,c.*,-d` (a list; empty entries ignored).
    init(_ spec: String) {
        for raw in spec.split(separator: ",", omittingEmptySubsequences: true) {
            var p = raw.trimmingCharacters(inSet: " ")
            var exclude = false
            if p.hasPrefix("-") {
                exclude = true
                p.removeFirst()
            }
            let segments = p.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            if segments.isEmpty || segments.contains(where: \.isEmpty) { continue }
            if exclude { excludes.append(segments) } else { includes.append(segments) }
        }
    }

    var isEmpty: Bool { includes.isEmpty && excludes.isEmpty }

    func apply(_ value: JSONValue) -> JSONValue {
        var result = value.resolvedRaw()
        if !includes.isEmpty {
            result = FilterPath.include(result, includes[...].map { $0[...] }) ?? .object([])
        }
        if !excludes.isEmpty {
            result = FilterPath.exclude(result, excludes.map { $0[...] }) ?? .object([])
        }
        return result
    }

    static func globMatch(_ pattern: String, _ text: String) -> Bool {
        if pattern == "*" { return true }
        if !pattern.contains("*") { return pattern == text }
        return Glob.matches(pattern, text)
    }

    private enum Step {
        case full
        case partial([ArraySlice<String>])
        case none
    }

    private static func step(_ key: String, _ paths: [ArraySlice<String>]) -> Step {
        var next: [ArraySlice<String>] = []
        var work = paths
        while let p = work.popLast() {
            guard let first = p.first else { continue }
            if first == "**" {
                let rest = p.dropFirst()
                if rest.isEmpty { return .full }
                next.append(p)  // ** consumes this key
                work.append(rest)  // ** matches zero levels
                continue
            }
            if globMatch(first, key) {
                let rest = p.dropFirst()
                if rest.isEmpty { return .full }
                next.append(rest)
            }
        }
        return next.isEmpty ? .none : .partial(next)
    }

    private static func include(_ value: JSONValue, _ paths: [ArraySlice<String>]) -> JSONValue? {
        switch value {
        case .object(let members):
            var out: [JSONMember] = []
            for m in members {
                switch step(m.key, paths) {
                case .full: out.append(m)
                case .none: continue
                case .partial(let next):
                    if let v = includeInner(m.value.resolvedRaw(), next) { out.append(JSONMember(m.key, v)) }
                }
            }
            return out.isEmpty ? nil : .object(out)
        case .array:
            return includeInner(value, paths)
        default:
            return nil
        }
    }

    private static func includeInner(_ value: JSONValue, _ paths: [ArraySlice<String>]) -> JSONValue? {
        switch value {
        case .object: return include(value, paths)
        case .array(let values):
            var out: [JSONValue] = []
            for v in values {
                if let f = includeInner(v.resolvedRaw(), paths) { out.append(f) }
            }
            return out.isEmpty ? nil : .array(out)
        default:
            return nil
        }
    }

    private static func exclude(_ value: JSONValue, _ paths: [ArraySlice<String>]) -> JSONValue? {
        switch value {
        case .object(let members):
            var out: [JSONMember] = []
            for m in members {
                switch step(m.key, paths) {
                case .full: continue
                case .none: out.append(m)
                case .partial(let next):
                    out.append(JSONMember(m.key, exclude(m.value.resolvedRaw(), next) ?? m.value))
                }
            }
            return .object(out)
        case .array(let values):
            return .array(values.map { exclude($0.resolvedRaw(), paths) ?? $0 })
        default:
            return value
        }
    }
}

/// `*`-only glob matching (used for filter_path segments, index patterns and wildcards).
enum Glob {
    static func matches(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern.utf8)
        let t = Array(text.utf8)
        var pi = 0, ti = 0
        var star = -1, mark = 0
        while ti < t.count {
            if pi < p.count && p[pi] == UInt8(ascii: "*") {
                star = pi
                mark = ti
                pi += 1
            } else if pi < p.count && p[pi] == t[ti] {
                pi += 1
                ti += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                ti = mark
            } else {
                return false
            }
        }
        while pi < p.count && p[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == p.count
    }

    /// Whether some string matches both `*`-globs.
    static func overlaps(_ a: String, _ b: String) -> Bool {
        let p = Array(a.utf8), q = Array(b.utf8)
        var memo = [Int: Bool]()
        func f(_ i: Int, _ j: Int) -> Bool {
            let key = i * (q.count + 1) + j
            if let v = memo[key] { return v }
            var r: Bool
            if i == p.count && j == q.count {
                r = true
            } else if i < p.count && p[i] == UInt8(ascii: "*") {
                r = f(i + 1, j) || (j < q.count && f(i, j + 1))
            } else if j < q.count && q[j] == UInt8(ascii: "*") {
                r = f(i, j + 1) || (i < p.count && f(i + 1, j))
            } else if i < p.count && j < q.count {
                r = p[i] == q[j] && f(i + 1, j + 1)
            } else {
                r = false
            }
            memo[key] = r
            return r
        }
        return f(0, 0)
    }
}

extension StringProtocol {
    func trimmingCharacters(inSet chars: String) -> String {
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s.removeFirst() }
        while let l = s.last, chars.contains(l) { s.removeLast() }
        return String(s)
    }
}
