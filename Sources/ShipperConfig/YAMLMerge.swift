import Yams

/// YAML merge keys (`<<`), as docker-compose files and GitLab CI use them, so that one mapping
/// can be shared and partly overridden:
///
/// ```yaml
/// outputs:
///   es_web: &es {type: elasticsearch, hosts: ["https://es:9200"], index: web}
///   es_api: {<<: *es, index: api}
/// ```
///
/// A plain `<<` key takes a mapping or a list of mappings; their pairs are put where the `<<`
/// stands, except keys the mapping gives itself (which win wherever they stand) and keys an
/// earlier merged mapping gave (the first wins), as YAML 1.1 defines it. A quoted `"<<"` is an
/// ordinary key. Yams composes `<<` as a key like any other; this resolves them before decoding.
enum YAMLMerge {
    /// `node` with every merge key resolved. `text` tells whether there can be any.
    static func resolve(_ node: Node, text: String, file: String) throws -> Node {
        guard text.contains("<<") else { return node }
        return try resolve(node, file: file)
    }

    private static func resolve(_ node: Node, file: String) throws -> Node {
        switch node {
        case .mapping(let mapping):
            // The mapping's own keys first: they win wherever they stand.
            var taken = Set<String>()
            for (key, _) in mapping where !isMergeKey(key) {
                if let name = key.string { taken.insert(name) }
            }
            var pairs: [(Node, Node)] = []
            pairs.reserveCapacity(mapping.count)
            for (key, value) in mapping {
                guard isMergeKey(key) else {
                    pairs.append((key, try resolve(value, file: file)))
                    continue
                }
                let sources: [Node]
                switch value {
                case .mapping: sources = [value]
                case .sequence(let list) where list.allSatisfy({ $0.mapping != nil }): sources = Array(list)
                default:
                    let mark = value.mark ?? key.mark
                    throw ConfigError(
                        file: file, line: mark?.line ?? 1, column: mark?.column ?? 1,
                        message: "a merge key `<<` takes a mapping or a list of mappings (`<<: *defaults`), not \(kind(value))")
                }
                for source in sources {
                    guard case .mapping(let merged) = try resolve(source, file: file) else { continue }
                    for (k, v) in merged {
                        guard let name = k.string, taken.insert(name).inserted else { continue }
                        pairs.append((k, v))
                    }
                }
            }
            return .mapping(Node.Mapping(pairs, mapping.tag, mapping.style, mapping.mark))
        case .sequence(let list):
            return .sequence(Node.Sequence(try list.map { try resolve($0, file: file) }, list.tag, list.style, list.mark))
        default:
            return node
        }
    }

    private static func isMergeKey(_ key: Node) -> Bool {
        guard case .scalar(let s) = key else { return false }
        return s.style == .plain && s.string == "<<"
    }

    private static func kind(_ node: Node) -> String {
        switch node {
        case .scalar(let s): return "'\(s.string)'"
        case .sequence: return "a list with something other than mappings in it"
        case .mapping: return "a mapping"
        case .alias: return "an alias"
        }
    }
}
