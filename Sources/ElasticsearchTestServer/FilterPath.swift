// `filter_path` response filtering (PROTOCOL.md §10).

struct FilterPath: Sendable {
    enum Seg: Sendable, Equatable {
        case exact([UInt8])
        case any
        case glob(String)
        case doubleStar
    }

    private var includes: [[Seg]] = []
    private var excludes: [[Seg]] = []

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
            let compiled: [Seg] = segments.map { s in
                if s == "**" { return .doubleStar }
                if s == "*" { return .any }
                if s.utf8.contains(UInt8(ascii: "*")) { return .glob(s) }
                return .exact(Array(s.utf8))
            }
            if exclude { excludes.append(compiled) } else { includes.append(compiled) }
        }
    }

    var isEmpty: Bool { includes.isEmpty && excludes.isEmpty }

    /// A position in one of the paths: `path` index and the next segment to match.
    private struct State: Equatable {
        var path: Int32
        var pos: Int32
    }

    func apply(_ value: JSONValue) -> JSONValue {
        var result = value.resolvedRaw()
        if !includes.isEmpty {
            let start = (0..<includes.count).map { State(path: Int32($0), pos: 0) }
            result = include(result, start) ?? .object([])
        }
        if !excludes.isEmpty {
            let start = (0..<excludes.count).map { State(path: Int32($0), pos: 0) }
            result = exclude(result, start) ?? .object([])
        }
        return result
    }

    private enum Step {
        case full
        case partial([State])
        case none
    }

    private static func matches(_ seg: Seg, _ key: String) -> Bool {
        switch seg {
        case .any, .doubleStar: return true
        case .exact(let bytes): return key.utf8.elementsEqual(bytes)
        case .glob(let pattern): return Glob.matches(pattern, key)
        }
    }

    private static func step(_ key: String, _ states: [State], _ paths: [[Seg]]) -> Step {
        var next: [State] = []
        var work = states
        while let st = work.popLast() {
            let path = paths[Int(st.path)]
            let i = Int(st.pos)
            guard i < path.count else { continue }
            let seg = path[i]
            if seg == .doubleStar {
                if i + 1 == path.count { return .full }
                next.append(st)  // ** consumes this key
                work.append(State(path: st.path, pos: st.pos + 1))  // ** matches zero levels
                continue
            }
            if matches(seg, key) {
                if i + 1 == path.count { return .full }
                next.append(State(path: st.path, pos: st.pos + 1))
            }
        }
        return next.isEmpty ? .none : .partial(next)
    }

    private func include(_ value: JSONValue, _ states: [State]) -> JSONValue? {
        switch value {
        case .object(let members):
            var out: [JSONMember] = []
            for m in members {
                switch FilterPath.step(m.key, states, includes) {
                case .full: out.append(m)
                case .none: continue
                case .partial(let next):
                    if let v = includeInner(m.value.resolvedRaw(), next) { out.append(JSONMember(m.key, v)) }
                }
            }
            return out.isEmpty ? nil : .object(out)
        case .array:
            return includeInner(value, states)
        default:
            return nil
        }
    }

    private func includeInner(_ value: JSONValue, _ states: [State]) -> JSONValue? {
        switch value {
        case .object: return include(value, states)
        case .array(let values):
            var out: [JSONValue] = []
            for v in values {
                if let f = includeInner(v.resolvedRaw(), states) { out.append(f) }
            }
            return out.isEmpty ? nil : .array(out)
        default:
            return nil
        }
    }

    private func exclude(_ value: JSONValue, _ states: [State]) -> JSONValue? {
        switch value {
        case .object(let members):
            var out: [JSONMember] = []
            for m in members {
                switch FilterPath.step(m.key, states, excludes) {
                case .full: continue
                case .none: out.append(m)
                case .partial(let next):
                    out.append(JSONMember(m.key, exclude(m.value.resolvedRaw(), next) ?? m.value))
                }
            }
            return .object(out)
        case .array(let values):
            return .array(values.map { exclude($0.resolvedRaw(), states) ?? $0 })
        default:
            return value
        }
    }

    static func globMatch(_ pattern: String, _ text: String) -> Bool {
        if pattern == "*" { return true }
        if !pattern.utf8.contains(UInt8(ascii: "*")) { return pattern == text }
        return Glob.matches(pattern, text)
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
