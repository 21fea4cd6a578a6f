// libyaml, the C target inside Yams. Yams imports it for itself; SwiftPM puts the module of a
// dependency's C target on its clients' search path, so it is reachable without a product of
// its own. If a Yams release renames it, this import is the one line to change.
import CYaml

/// Checks the shape of a YAML text, on libyaml's event stream, before Yams builds nodes from it,
/// for what a config never needs and Yams cannot survive:
///
/// - a mapping or a list as a key (`? {a: b}`, `[a]: b`, or an alias of one): Yams sorts
///   duplicate keys with a comparison that calls itself twice per level, so duplicate keys
///   nested a few dozen levels deep took longer than anyone waits (found by the `config` fuzz
///   target: 2 KB of `? ? ? ?` ran for minutes);
/// - nesting deeper than ``maxDepth``: a config nests about 8 levels, Yams builds nodes and
///   the decoder walks them recursively, and libyaml's own limit is 1000 levels;
/// - aliases that expand to more than ``maxAliasExpansion`` values (a "billion laughs"
///   document): `fields:` and `expect:` of a test case take any value and would be built out in
///   full.
///
/// Text that libyaml cannot parse passes: Yams reports the same problem, with its position,
/// when it parses the text.
enum YAMLShapeCheck {
    static let maxDepth = 64
    static let maxAliasExpansion = 1_000_000

    private struct Collection {
        var isMapping: Bool
        var expectingKey: Bool
        var anchor: String?
        var firstValue: Int
    }

    static func check(_ text: String, file: String) throws {
        var bytes = Array(text.utf8)
        try bytes.withUnsafeMutableBufferPointer { buffer in
            var parser = yaml_parser_t()
            guard yaml_parser_initialize(&parser) == 1 else { return }
            defer { yaml_parser_delete(&parser) }
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)

            var open: [Collection] = []
            // For each anchor: whether it names a collection, and how many values it stands for.
            var anchors: [String: (isCollection: Bool, values: Int)] = [:]
            var values = 0
            var valuesFromAliases = 0

            func error(_ event: yaml_event_t, _ message: String) -> ConfigError {
                ConfigError(file: file, line: event.start_mark.line + 1, column: event.start_mark.column + 1, message: message)
            }
            func isKey() -> Bool { open.last.map { $0.isMapping && $0.expectingKey } ?? false }
            func nodeEnded() {
                if let last = open.indices.last, open[last].isMapping { open[last].expectingKey.toggle() }
            }

            var event = yaml_event_t()
            while true {
                guard yaml_parser_parse(&parser, &event) == 1 else { return }
                defer { yaml_event_delete(&event) }
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return
                case YAML_DOCUMENT_START_EVENT:
                    anchors = [:]
                    values = 0
                    valuesFromAliases = 0
                case YAML_SCALAR_EVENT:
                    values += 1
                    if let anchor = name(event.data.scalar.anchor) { anchors[anchor] = (false, 1) }
                    nodeEnded()
                case YAML_ALIAS_EVENT:
                    // An unknown alias is Yams's to report.
                    guard let anchor = name(event.data.alias.anchor), let target = anchors[anchor] else { return }
                    if isKey(), target.isCollection {
                        throw error(event, "this key is an alias of a mapping or a list (*\(anchor)); keys in a config are names: write the key as text")
                    }
                    values += target.values
                    valuesFromAliases += target.values
                    if valuesFromAliases > maxAliasExpansion {
                        throw error(event, "aliases expand this document to more than \(maxAliasExpansion) values; a config never needs that many (a \"billion laughs\" document?): write the values out, or alias less")
                    }
                    nodeEnded()
                case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                    let isMapping = event.type == YAML_MAPPING_START_EVENT
                    if isKey() {
                        throw error(event, "this key is a \(isMapping ? "mapping" : "list") (a `?` key, or `{…}:` / `[…]:`); keys in a config are names: write the key as text")
                    }
                    if open.count >= maxDepth {
                        throw error(event, "the YAML nests more than \(maxDepth) levels deep here; a config needs far fewer: look for a run of `[`, `{`, `-` or `?`")
                    }
                    let anchor = isMapping ? name(event.data.mapping_start.anchor) : name(event.data.sequence_start.anchor)
                    open.append(Collection(isMapping: isMapping, expectingKey: true, anchor: anchor, firstValue: values))
                    values += 1
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    guard let closed = open.popLast() else { return }
                    if let anchor = closed.anchor { anchors[anchor] = (true, values - closed.firstValue) }
                    nodeEnded()
                default:
                    break
                }
            }
        }
    }

    private static func name(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        pointer.map { String(cString: $0) }
    }
}
