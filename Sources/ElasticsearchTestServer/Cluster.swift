import Foundation

struct DocState {
    var source: [UInt8]
    var version: Int64
    var seqNo: Int64
}

final class IndexState {
    let name: String
    let uuid: String
    let creationDate: Int64
    var docs = DocStore()
    /// Versions of deleted documents (ES keeps tombstones for a while; we keep them forever).
    /// Keyed by the id's bytes (see ``ExactName``).
    var tombstones: ExactNameMap<Int64> = [:]
    var nextSeqNo: Int64 = 0
    var replicas = 1
    var mapping = IndexMapping()
    var settings: JSONValue = .object([])
    /// Set for data stream backing indices.
    var dataStream: String?
    var indexTotal = 0
    var noopUpdateTotal = 0
    var deleteTotal = 0

    init(name: String, uuid: String, creationDate: Int64) {
        self.name = name
        self.uuid = uuid
        self.creationDate = creationDate
    }

    func takeSeqNo() -> Int64 {
        defer { nextSeqNo += 1 }
        return nextSeqNo
    }

    var shardsJSON: JSONValue {
        .obj(["total": .int(replicas + 1), "successful": .int(1), "failed": .int(0)])
    }
}

struct IndexTemplate {
    var name: String
    var patterns: [String]
    var priority: Int
    var dataStream: Bool
    var allowAutoCreate: Bool?
    var composedOf: [String]
    /// The `template` object (settings, mappings, aliases).
    var template: JSONValue?
    var body: JSONValue
    var builtIn = false
}

struct DataStreamState {
    var name: String
    var template: String
    var backingIndices: [String]
    var generation: Int

    var writeIndex: String { backingIndices.last! }
}

/// Everything the server stores. Not thread-safe: `ServerCore` guards it with a lock.
final class Cluster {
    /// Index, alias and data stream names are compared code unit for code unit, as Elasticsearch
    /// compares them (``ExactName``): "é" precomposed and "e" + U+0301 are two indices.
    var indices: ExactNameMap<IndexState> = [:]
    /// alias name → (index → is_write_index)
    var aliases: ExactNameMap<ExactNameMap<Bool?>> = [:]
    var dataStreams: ExactNameMap<DataStreamState> = [:]
    var templates: [String: IndexTemplate] = [:]
    var componentTemplates: [String: JSONValue] = [:]
    var legacyTemplates: [String: JSONValue] = [:]
    let configuration: ElasticsearchTestServerConfiguration
    private var uuidRNG = SystemRandomNumberGenerator()

    init(configuration: ElasticsearchTestServerConfiguration) {
        self.configuration = configuration
        if configuration.builtInDataStreamTemplates { installBuiltInTemplates() }
    }

    func installBuiltInTemplates() {
        for kind in ["logs", "metrics", "synthetics"] {
            let template: JSONValue = .obj([
                "mappings": .obj([
                    "properties": .obj(["@timestamp": .obj(["type": .string("date")])])
                ])
            ])
            let body: JSONValue = .obj([
                "index_patterns": .array([.string("\(kind)-*-*")]),
                "data_stream": .object([]),
                "priority": .int(100),
                "template": template,
                "_meta": .obj(["description": .string("default \(kind) template installed by x-pack"), "managed": .bool(true)]),
            ])
            templates[kind] = IndexTemplate(
                name: kind, patterns: ["\(kind)-*-*"], priority: 100, dataStream: true, allowAutoCreate: nil, composedOf: [],
                template: template, body: body, builtIn: true)
        }
    }

    func makeUUID() -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in 0..<16 { bytes[i] = UInt8.random(in: 0...255, using: &uuidRNG) }
        return Base64URL.encode(bytes)
    }

    static func nowMillis() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    // MARK: Names

    /// The `<why>` part of `Invalid index name [x], <why>`, or nil when the name is valid.
    static func indexNameProblem(_ name: String) -> String? {
        let invalid: Set<Character> = ["\\", "/", "*", "?", "\"", "<", ">", "|", " ", ","]
        if name.contains(where: { invalid.contains($0) }) {
            return "must not contain the following characters [ , \", *, ,, /, <, >, ?, \\, |]"
        }
        if name.isEmpty { return "must not be empty" }
        if name.contains("#") { return "must not contain '#'" }
        if name.contains(":") { return "must not contain ':'" }
        if let f = name.first, f == "_" || f == "-" || f == "+" { return "must not start with '_', '-', or '+'" }
        let bytes = name.utf8.count
        if bytes > 255 { return "index name is too long, (\(bytes) > 255)" }
        if name == "." || name == ".." { return "must not be '.' or '..'" }
        if name.lowercased() != name { return "must be lowercase" }
        return nil
    }

    // MARK: Templates

    func matchingTemplate(for name: String) -> IndexTemplate? {
        var best: IndexTemplate?
        for t in templates.values where t.patterns.contains(where: { Glob.matches($0, name) }) {
            if name.hasPrefix(".") && t.patterns.contains("*") { continue }
            if let b = best, b.priority > t.priority || (b.priority == t.priority && b.name < t.name) { continue }
            best = t
        }
        return best
    }

    // MARK: Resolution

    enum Target {
        case index(IndexState)
        case dataStream(DataStreamState, IndexState)
    }

    /// The concrete index a write to `name` goes to, when `name` exists (index, alias or data stream).
    func resolveExistingWrite(_ name: String) throws(ESError) -> Target? {
        if let ds = dataStreams[name], let idx = indices[ds.writeIndex] { return .dataStream(ds, idx) }
        if let idx = indices[name] { return .index(idx) }
        if let members = aliases[name] {
            let chosen: String?
            let explicit = members.filter { $0.value == true }.map(\.key)
            if explicit.count == 1 {
                chosen = explicit[0]
            } else if members.count == 1, let only = members.first, only.value != false {
                chosen = only.key
            } else {
                chosen = nil
            }
            guard let c = chosen, let idx = indices[c] else {
                throw ESError.illegalArgument(
                    "no write index is defined for alias [\(name)]. The write index may be explicitly disabled using is_write_index=false or the alias points to multiple indices without one being designated as a write index")
            }
            if let ds = idx.dataStream, let stream = dataStreams[ds] { return .dataStream(stream, idx) }
            return .index(idx)
        }
        return nil
    }

    /// Concrete indices for a read expression (`a,b*,_all`, aliases, data streams). Throws 404 for a
    /// missing concrete name.
    func resolveRead(_ expression: String?) throws(ESError) -> [IndexState] {
        let parts = (expression ?? "_all").split(separator: ",").map(String.init)
        var names: [String] = []
        var seen = Set<ExactName>()
        func add(_ n: String) {
            if seen.insert(ExactName(n)).inserted { names.append(n) }
        }
        func expand(_ n: String) -> [String] {
            if let ds = dataStreams[n] { return ds.backingIndices }
            if let members = aliases[n] { return ExactName.sorted(members.keys) }
            if indices[n] != nil { return [n] }
            return []
        }
        for part in parts {
            if part == "_all" || part == "*" {
                for n in ExactName.sorted(indices.keys) where !n.hasPrefix(".") || indices[n]?.dataStream != nil { add(n) }
                continue
            }
            if part.contains("*") {
                let all = indices.keys.filter { !$0.hasPrefix(".") || part.hasPrefix(".") } + aliases.keys + dataStreams.keys
                for n in ExactName.sorted(all) where Glob.matches(part, n) {
                    for e in expand(n) { add(e) }
                }
                continue
            }
            let found = expand(part)
            if found.isEmpty { throw ESError.indexNotFound(part) }
            for e in found { add(e) }
        }
        return names.compactMap { indices[$0] }
    }

    // MARK: Creation

    /// Creates an index, applying the matching (non-data-stream) template and an explicit body.
    @discardableResult
    func createIndex(_ name: String, body: JSONValue?, template: IndexTemplate?, dataStream: String? = nil) -> IndexState {
        let idx = IndexState(name: name, uuid: makeUUID(), creationDate: Cluster.nowMillis())
        idx.mapping.dateDetection = true
        var settings: [JSONMember] = []
        var aliasDefs: [JSONMember] = []
        func apply(_ t: JSONValue?) {
            guard let t else { return }
            if let m = t["mappings"] { idx.mapping.merge(m) }
            if let s = t["settings"]?.objectMembers { settings.append(contentsOf: s) }
            if let a = t["aliases"]?.objectMembers { aliasDefs.append(contentsOf: a) }
        }
        if let template {
            for c in template.composedOf { apply(componentTemplates[c]?["template"]) }
            apply(template.template)
        }
        apply(body)
        idx.settings = .object(settings)
        idx.replicas = Cluster.replicas(from: .object(settings)) ?? 1
        idx.dataStream = dataStream
        indices[name] = idx
        if dataStream == nil {
            for a in aliasDefs {
                let aliasName = a.key.replacingOccurrences(of: "{index}", with: name)
                aliases[aliasName, default: [:]][name] = a.value["is_write_index"]?.boolValue
            }
        }
        return idx
    }

    static func replicas(from settings: JSONValue) -> Int? {
        guard let members = settings.objectMembers else { return nil }
        for m in members {
            if m.key == "number_of_replicas" || m.key == "index.number_of_replicas" { return m.value.int64Value.map(Int.init) }
            if m.key == "index", let nested = replicas(from: m.value) { return nested }
        }
        return nil
    }

    static func backingIndexName(_ stream: String, generation: Int, millis: Int64) -> String {
        let date = Date(timeIntervalSince1970: Double(millis) / 1000)
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "UTC")!
        let c = cal.dateComponents([.year, .month, .day], from: date)
        let gen = String(generation)
        let padded = String(repeating: "0", count: max(0, 6 - gen.count)) + gen
        return String(format: ".ds-%@-%04d.%02d.%02d-%@", stream, c.year!, c.month!, c.day!, padded)
    }

    @discardableResult
    func createDataStream(_ name: String, template: IndexTemplate) -> DataStreamState {
        let backing = Cluster.backingIndexName(name, generation: 1, millis: Cluster.nowMillis())
        let idx = createIndex(backing, body: nil, template: template, dataStream: name)
        if idx.mapping.fields["@timestamp"] == nil { idx.mapping.addField("@timestamp", .date) }
        let ds = DataStreamState(name: name, template: template.name, backingIndices: [backing], generation: 1)
        dataStreams[name] = ds
        return ds
    }

    func rollover(_ name: String) -> (old: String, new: String)? {
        guard var ds = dataStreams[name], let template = templates[ds.template] ?? matchingTemplate(for: name) else { return nil }
        let old = ds.writeIndex
        ds.generation += 1
        let backing = Cluster.backingIndexName(name, generation: ds.generation, millis: Cluster.nowMillis())
        let idx = createIndex(backing, body: nil, template: template, dataStream: name)
        if let prev = indices[old] {
            // Dynamic mappings carry over through the template in ES; keep what the previous generation learned.
            for path in prev.mapping.order where idx.mapping.fields[path] == nil {
                idx.mapping.addField(path, prev.mapping.fields[path]!)
            }
        }
        ds.backingIndices.append(backing)
        dataStreams[name] = ds
        return (old, backing)
    }

    func deleteIndex(_ name: String) {
        indices[name] = nil
        for (alias, var members) in aliases {
            members[name] = nil
            aliases[alias] = members.isEmpty ? nil : members
        }
    }
}

enum Base64URL {
    private static let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var i = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out.append(table[Int(n >> 18 & 63)])
            out.append(table[Int(n >> 12 & 63)])
            out.append(table[Int(n >> 6 & 63)])
            out.append(table[Int(n & 63)])
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let n = UInt32(bytes[i]) << 16
            out.append(table[Int(n >> 18 & 63)])
            out.append(table[Int(n >> 12 & 63)])
        } else if rest == 2 {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out.append(table[Int(n >> 18 & 63)])
            out.append(table[Int(n >> 12 & 63)])
            out.append(table[Int(n >> 6 & 63)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// SplitMix64: small, fast, seedable.
struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    /// A generator for the `k`-th stream derived from `seed`.
    init(seed: UInt64, stream: UInt64) {
        var s = SeededRandom(seed: seed ^ 0x9E37_79B9_7F4A_7C15)
        for _ in 0..<2 { _ = s.next() }
        state = s.next() &+ stream &* 0xD1B5_4A32_D192_ED03
        _ = next()
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}
