import Foundation

/// A YAML node. Only the subset used by Elasticsearch's `rest-api-spec/test/**/*.yml` files is supported:
/// block mappings and sequences, flow `{}` / `[]` on one line, plain / single / double quoted scalars,
/// literal block scalars (`|`, `|-`), comments and `---` document separators.
indirect enum YAMLNode: CustomStringConvertible, Sendable {
    case scalar(String, quoted: Bool)
    case sequence([YAMLNode])
    case mapping([(String, YAMLNode)])

    var description: String {
        switch self {
        case .scalar(let s, let q): return q ? "'\(s)'" : s
        case .sequence(let a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .mapping(let m): return "{" + m.map { "\($0.0): \($0.1)" }.joined(separator: ", ") + "}"
        }
    }

    subscript(key: String) -> YAMLNode? {
        if case .mapping(let m) = self { return m.first { $0.0 == key }?.1 }
        return nil
    }

    var string: String? {
        if case .scalar(let s, _) = self { return s }
        return nil
    }

    /// Foundation value: plain scalars become numbers / booleans / null where YAML would type them.
    var foundation: Any {
        switch self {
        case .scalar(let s, let quoted):
            if quoted { return s }
            return YAMLNode.typed(s)
        case .sequence(let a): return a.map(\.foundation)
        case .mapping(let m):
            var d: [String: Any] = [:]
            for (k, v) in m { d[k] = v.foundation }
            return d
        }
    }

    static func typed(_ s: String) -> Any {
        switch s {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        case "null", "~", "": return NSNull()
        default: break
        }
        if let i = Int(s) { return i }
        if s.contains("."), let d = Double(s), s.first != "." { return d }
        return s
    }
}

struct YAMLError: Error, CustomStringConvertible {
    var message: String
    var line: Int
    var description: String { "YAML error at line \(line): \(message)" }
}

struct MiniYAML {
    private var lines: [String]
    private var i = 0

    /// Parses a multi-document stream.
    static func parseDocuments(_ text: String) throws -> [YAMLNode] {
        var docs: [[String]] = [[]]
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let l = String(line)
            if l.hasPrefix("---") && l.trimmingCharacters(in: .whitespaces).allSatisfy({ $0 == "-" }) {
                docs.append([])
            } else {
                docs[docs.count - 1].append(l)
            }
        }
        var out: [YAMLNode] = []
        for d in docs {
            var p = MiniYAML(lines: d)
            p.skipBlank()
            if p.i >= p.lines.count { continue }
            out.append(try p.parseNode(minIndent: 0))
        }
        return out
    }

    private init(lines: [String]) { self.lines = lines }

    private static func indent(_ l: String) -> Int { l.prefix(while: { $0 == " " }).count }

    private static func isBlank(_ l: String) -> Bool {
        let t = l.trimmingCharacters(in: .whitespaces)
        return t.isEmpty || t.hasPrefix("#")
    }

    private mutating func skipBlank() {
        while i < lines.count && MiniYAML.isBlank(lines[i]) { i += 1 }
    }

    private func err(_ m: String) -> YAMLError { YAMLError(message: m, line: i + 1) }

    private mutating func parseNode(minIndent: Int) throws -> YAMLNode {
        skipBlank()
        guard i < lines.count else { return .scalar("", quoted: false) }
        let line = lines[i]
        let ind = MiniYAML.indent(line)
        let content = String(line.dropFirst(ind))
        if content == "-" || content.hasPrefix("- ") { return try parseSequence(indent: ind) }
        if MiniYAML.keySplit(content) != nil { return try parseMapping(indent: ind) }
        i += 1
        return try MiniYAML.inlineValue(content, line: i)
    }

    private mutating func parseSequence(indent: Int) throws -> YAMLNode {
        var items: [YAMLNode] = []
        while true {
            skipBlank()
            guard i < lines.count else { break }
            let line = lines[i]
            let ind = MiniYAML.indent(line)
            let content = String(line.dropFirst(ind))
            guard ind == indent, content == "-" || content.hasPrefix("- ") else { break }
            let rest = content == "-" ? "" : String(content.dropFirst(2))
            let restTrim = rest.trimmingCharacters(in: .whitespaces)
            if restTrim.isEmpty || restTrim.hasPrefix("#") {
                i += 1
                items.append(try parseNode(minIndent: indent + 1))
            } else {
                // Re-read the rest of the line as if it started at its own column.
                let column = indent + 2 + (rest.count - rest.drop(while: { $0 == " " }).count)
                lines[i] = String(repeating: " ", count: column) + rest.drop(while: { $0 == " " })
                items.append(try parseNode(minIndent: column))
            }
        }
        return .sequence(items)
    }

    private mutating func parseMapping(indent: Int) throws -> YAMLNode {
        var members: [(String, YAMLNode)] = []
        while true {
            skipBlank()
            guard i < lines.count else { break }
            let line = lines[i]
            let ind = MiniYAML.indent(line)
            guard ind == indent else { break }
            let content = String(line.dropFirst(ind))
            guard let (key, value) = MiniYAML.keySplit(content) else { break }
            let v = value.trimmingCharacters(in: .whitespaces)
            i += 1
            if v.isEmpty || v.hasPrefix("#") {
                skipBlank()
                if i < lines.count {
                    let nextInd = MiniYAML.indent(lines[i])
                    let nextContent = lines[i].dropFirst(nextInd)
                    if nextInd > indent || (nextInd == indent && (nextContent.hasPrefix("- ") || nextContent == "-")) {
                        members.append((key, try parseNode(minIndent: indent + 1)))
                        continue
                    }
                }
                members.append((key, .scalar("", quoted: false)))
            } else if v == "|" || v == "|-" || v == "|+" || v == ">" || v == ">-" {
                members.append((key, .scalar(blockScalar(parentIndent: indent, style: v), quoted: true)))
            } else {
                members.append((key, try MiniYAML.inlineValue(v, line: i)))
            }
        }
        return .mapping(members)
    }

    private mutating func blockScalar(parentIndent: Int, style: String) -> String {
        var collected: [String] = []
        var blockIndent: Int?
        while i < lines.count {
            let l = lines[i]
            if l.trimmingCharacters(in: .whitespaces).isEmpty {
                collected.append("")
                i += 1
                continue
            }
            let ind = MiniYAML.indent(l)
            if ind <= parentIndent { break }
            if blockIndent == nil { blockIndent = ind }
            if ind < blockIndent! { break }
            collected.append(String(l.dropFirst(blockIndent!)))
            i += 1
        }
        while let last = collected.last, last.isEmpty { collected.removeLast() }
        let folded = style.hasPrefix(">")
        var text = collected.joined(separator: folded ? " " : "\n")
        if !style.hasSuffix("-") { text += "\n" }
        return text
    }

    /// `key: value` split for a block mapping line (key plain or quoted). Nil when the line is not a key.
    static func keySplit(_ content: String) -> (String, String)? {
        let chars = Array(content)
        guard let first = chars.first else { return nil }
        if first == "\"" || first == "'" {
            guard let (key, end) = quoted(chars, from: 0) else { return nil }
            var j = end
            while j < chars.count && chars[j] == " " { j += 1 }
            guard j < chars.count, chars[j] == ":", j + 1 == chars.count || chars[j + 1] == " " else { return nil }
            return (key, String(chars[(j + 1)...]))
        }
        if first == "{" || first == "[" || first == "-" && (chars.count == 1 || chars[1] == " ") || first == "#" || first == "|" {
            return nil
        }
        var j = 0
        while j < chars.count {
            if chars[j] == ":" && (j + 1 == chars.count || chars[j + 1] == " ") {
                let key = String(chars[0..<j]).trimmingCharacters(in: .whitespaces)
                return (key, String(chars[(j + 1)...]))
            }
            if chars[j] == " " && j + 1 < chars.count && chars[j + 1] == "#" { return nil }
            j += 1
        }
        return nil
    }

    static func quoted(_ c: [Character], from start: Int) -> (String, Int)? {
        let q = c[start]
        var j = start + 1
        var out = ""
        while j < c.count {
            let ch = c[j]
            if q == "'" && ch == "'" {
                if j + 1 < c.count && c[j + 1] == "'" {
                    out.append("'")
                    j += 2
                    continue
                }
                return (out, j + 1)
            }
            if q == "\"" && ch == "\\" && j + 1 < c.count {
                let e = c[j + 1]
                switch e {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "\"": out.append("\"")
                case "\\": out.append("\\")
                case "/": out.append("/")
                default: out.append("\\"); out.append(e)
                }
                j += 2
                continue
            }
            if q == "\"" && ch == "\"" { return (out, j + 1) }
            out.append(ch)
            j += 1
        }
        return nil
    }

    /// A value on the same line as its key or dash: flow collection, quoted or plain scalar.
    static func inlineValue(_ text: String, line: Int) throws -> YAMLNode {
        let chars = Array(text.trimmingCharacters(in: .whitespaces))
        guard !chars.isEmpty else { return .scalar("", quoted: false) }
        var p = 0
        if chars[0] == "{" || chars[0] == "[" || chars[0] == "\"" || chars[0] == "'" {
            let node = try flow(chars, &p, line: line)
            while p < chars.count && chars[p] == " " { p += 1 }
            if p < chars.count && chars[p] != "#" { throw YAMLError(message: "trailing characters after value: \(text)", line: line) }
            return node
        }
        return .scalar(stripComment(String(chars)), quoted: false)
    }

    static func stripComment(_ s: String) -> String {
        var out = s
        if let r = s.range(of: " #") { out = String(s[..<r.lowerBound]) }
        return out.trimmingCharacters(in: .whitespaces)
    }

    private static func flow(_ c: [Character], _ p: inout Int, line: Int) throws -> YAMLNode {
        func skip() { while p < c.count && c[p] == " " { p += 1 } }
        skip()
        guard p < c.count else { throw YAMLError(message: "unexpected end of flow value", line: line) }
        switch c[p] {
        case "{":
            p += 1
            var members: [(String, YAMLNode)] = []
            while true {
                skip()
                if p < c.count && c[p] == "}" {
                    p += 1
                    return .mapping(members)
                }
                let key: String
                if c[p] == "\"" || c[p] == "'" {
                    guard let (k, end) = quoted(c, from: p) else { throw YAMLError(message: "bad quoted key", line: line) }
                    key = k
                    p = end
                } else {
                    var k = ""
                    while p < c.count && c[p] != ":" { k.append(c[p]); p += 1 }
                    key = k.trimmingCharacters(in: .whitespaces)
                }
                skip()
                guard p < c.count, c[p] == ":" else { throw YAMLError(message: "expected ':' in flow mapping", line: line) }
                p += 1
                let value = try flowValue(c, &p, line: line, terminators: [",", "}"])
                members.append((key, value))
                skip()
                guard p < c.count else { throw YAMLError(message: "unterminated flow mapping", line: line) }
                if c[p] == "," { p += 1; continue }
                if c[p] == "}" { p += 1; return .mapping(members) }
                throw YAMLError(message: "unexpected '\(c[p])' in flow mapping", line: line)
            }
        case "[":
            p += 1
            var items: [YAMLNode] = []
            while true {
                skip()
                if p < c.count && c[p] == "]" {
                    p += 1
                    return .sequence(items)
                }
                items.append(try flowValue(c, &p, line: line, terminators: [",", "]"]))
                skip()
                guard p < c.count else { throw YAMLError(message: "unterminated flow sequence", line: line) }
                if c[p] == "," { p += 1; continue }
                if c[p] == "]" { p += 1; return .sequence(items) }
                throw YAMLError(message: "unexpected '\(c[p])' in flow sequence", line: line)
            }
        case "\"", "'":
            guard let (s, end) = quoted(c, from: p) else { throw YAMLError(message: "unterminated string", line: line) }
            p = end
            return .scalar(s, quoted: true)
        default:
            return try flowValue(c, &p, line: line, terminators: [",", "}", "]"])
        }
    }

    private static func flowValue(_ c: [Character], _ p: inout Int, line: Int, terminators: Set<Character>) throws -> YAMLNode {
        while p < c.count && c[p] == " " { p += 1 }
        guard p < c.count else { return .scalar("", quoted: false) }
        if c[p] == "{" || c[p] == "[" || c[p] == "\"" || c[p] == "'" { return try flow(c, &p, line: line) }
        var s = ""
        while p < c.count && !terminators.contains(c[p]) {
            s.append(c[p])
            p += 1
        }
        return .scalar(s.trimmingCharacters(in: .whitespaces), quoted: false)
    }
}
