import ShipperCore
import Yams

/// A component in the config: its `type:` and its options, decoded later by the component itself
/// (so each module owns its options and this module needs to know none of them).
public struct ComponentSpec: Decodable, @unchecked Sendable {
    /// The component type, e.g. `parse`, `file`, `docker`.
    public let type: String
    /// `file:line:column` of the component.
    public let location: String
    let decoder: YAMLNodeDecoder

    enum Keys: String, CodingKey { case type }

    public init(from decoder: any Decoder) throws {
        guard let d = decoder as? YAMLNodeDecoder else {
            throw ConfigValueError("components can only be read from YAML")
        }
        let c = try decoder.container(keyedBy: Keys.self)
        guard c.contains(.type) else {
            throw d.error("missing required key 'type'\(d.whereText)")
        }
        self.type = try c.decode(String.self, forKey: .type)
        self.location = d.location
        self.decoder = d
    }

    /// Decodes the component's options (every key but `type`, and `extraKeys`).
    public func decode<T: Decodable>(_ type: T.Type, extraKeys: Set<String> = []) throws -> T {
        let d = decoder.ignoring(keys: extraKeys.union(["type"])) as! YAMLNodeDecoder
        return try d.decode(T.self)
    }

    /// A decoder for the options, for factories that take `any Decoder`.
    public func optionsDecoder(extraKeys: Set<String> = []) -> any Decoder {
        decoder.ignoring(keys: extraKeys.union(["type"]))
    }

    /// Wraps an error raised while building the component with its location (the key's, when
    /// `message` starts with one of the component's keys).
    public func error(_ message: String) -> ConfigError {
        decoder.error("\(type): \(message)", at: decoder.markOfKey(beginning: message))
    }

    /// Runs `body`, turning a plain error into a ``ConfigError`` at this component.
    public func located<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let e as ConfigError {
            throw e
        } catch let e as ConfigValueError {
            throw error(e.message)
        } catch {
            throw self.error("\(error)")
        }
    }
}

/// A config section decoded later by the module it belongs to (with positions in errors).
public struct ConfigSection: Decodable, @unchecked Sendable {
    public let location: String
    let decoder: YAMLNodeDecoder

    public init(from decoder: any Decoder) throws {
        guard let d = decoder as? YAMLNodeDecoder else { throw ConfigValueError("sections can only be read from YAML") }
        self.decoder = d
        self.location = d.location
    }

    public func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoder.decode(T.self) }
}

/// shipper's own log settings.
public struct LogSettings: Decodable, Sendable {
    public enum Level: String, Decodable, Sendable, CaseIterable { case trace, debug, info, notice, warning, error, critical }
    public enum Format: String, Decodable, Sendable, CaseIterable { case logfmt, json }
    public var level: Level = .info
    public var format: Format = .logfmt

    enum CodingKeys: String, CodingKey, CaseIterable { case level, format }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        level = try c.decodeIfPresent(Level.self, forKey: .level) ?? .info
        format = try c.decodeIfPresent(Format.self, forKey: .format) ?? .logfmt
    }
}

/// A value with the name it has in the config (`sources: {containers: …}`).
public struct Named<Value: Sendable>: Sendable {
    public var name: String
    public var value: Value
}

/// A mapping whose order matters (pipelines are tried in the order written).
public struct OrderedMapping<Value: Decodable & Sendable>: Decodable, Sendable {
    public var items: [Named<Value>]

    public init(items: [Named<Value>] = []) { self.items = items }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        items = try c.allKeys.map { Named(name: $0.stringValue, value: try c.decode(Value.self, forKey: $0)) }
    }
}

/// One pipeline: which events it takes, and the stages they go through in order.
public struct PipelineSpec: Decodable, Sendable {
    /// The events this pipeline processes; absent: every event. An event goes through the first
    /// pipeline (in file order) whose `match` it satisfies; events no pipeline takes pass on unchanged.
    public var match: Condition?
    /// Stages, applied in order.
    public var stages: [ComponentSpec]
    /// Location of the pipeline in the file.
    public var location: String = ""

    enum CodingKeys: String, CodingKey, CaseIterable { case match, stages }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        match = try c.decodeIfPresent(Condition.self, forKey: .match)
        stages = try c.decodeIfPresent([ComponentSpec].self, forKey: .stages) ?? []
        location = (decoder as? any ConfigDecoding)?.location ?? ""
    }
}

/// A `tests:` case: input lines, and the events the pipelines must turn them into.
public struct PipelineTestCase: Decodable, Sendable {
    /// Shown in the report.
    public var name: String
    /// Run only this pipeline (default: route as `shipper run` would).
    public var pipeline: String?
    /// How the input lines are decoded: `raw` (default), `docker`, `cri`, or `auto`.
    public var format: String
    /// Fields set on every input event before routing (e.g. `service.name`, `stream`).
    public var fields: JSONValue?
    /// The input: physical lines, as a list or a block of text.
    public var input: [String]
    /// The expected events, in order: every field given must match (by dotted path); others may exist.
    public var expect: [JSONValue]
    /// Fields that must not exist in any resulting event.
    public var absent: [String]
    public var location: String

    enum CodingKeys: String, CodingKey, CaseIterable { case name, pipeline, format, fields, input, expect, absent }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        location = (decoder as? any ConfigDecoding)?.location ?? ""
        name = try c.decode(String.self, forKey: .name)
        pipeline = try c.decodeIfPresent(String.self, forKey: .pipeline)
        format = try c.decodeIfPresent(String.self, forKey: .format) ?? "raw"
        fields = try c.decodeIfPresent(JSONValue.self, forKey: .fields)
        if let list = try? c.decode([String].self, forKey: .input) {
            input = list
        } else {
            var block = try c.decode(String.self, forKey: .input)
            if block.hasSuffix("\n") { block.removeLast() }
            input = block.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        }
        expect = try c.decodeIfPresent([JSONValue].self, forKey: .expect) ?? []
        absent = try c.decodeIfPresent([String].self, forKey: .absent) ?? []
    }
}

/// A whole shipper config file.
public struct ShipperConfiguration: Decodable, Sendable {
    /// Where events come from (`docker`, `file`), by name.
    public var sources: OrderedMapping<ComponentSpec>
    /// Pipelines by name, tried in order.
    public var pipelines: OrderedMapping<PipelineSpec>
    /// Where events go (`file`, `stdout`, `elasticsearch`), by name.
    public var outputs: OrderedMapping<ComponentSpec>
    /// The disk buffer between stages and outputs; decoded by the buffer module.
    public var buffer: ConfigSection?
    /// The /metrics and /health endpoint; decoded by the telemetry module.
    public var telemetry: ConfigSection?
    /// Where shipper keeps its state (checkpoints; the buffer unless `buffer.path` says otherwise).
    public var dataDir: String
    /// How long outputs may take to deliver what is buffered when shipper is asked to stop.
    public var drainTimeout: ConfigDuration
    /// shipper's own log: `level` (trace, debug, info, notice, warning, error, critical) and `format` (logfmt, json).
    public var log: LogSettings
    /// Test cases for `shipper test-pipeline`.
    public var tests: [PipelineTestCase]
    /// Other config files whose pipelines come first (paths relative to this file).
    public var include: [String]
    /// The file this came from.
    public var file: String = ""

    enum CodingKeys: String, CodingKey, CaseIterable {
        case include, sources, pipelines, outputs, buffer, telemetry, tests, log
        case dataDir = "data_dir"
        case drainTimeout = "drain_timeout"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sources = try c.decodeIfPresent(OrderedMapping<ComponentSpec>.self, forKey: .sources) ?? OrderedMapping()
        pipelines = try c.decodeIfPresent(OrderedMapping<PipelineSpec>.self, forKey: .pipelines) ?? OrderedMapping()
        outputs = try c.decodeIfPresent(OrderedMapping<ComponentSpec>.self, forKey: .outputs) ?? OrderedMapping()
        buffer = try c.decodeIfPresent(ConfigSection.self, forKey: .buffer)
        telemetry = try c.decodeIfPresent(ConfigSection.self, forKey: .telemetry)
        dataDir = try c.decodeIfPresent(String.self, forKey: .dataDir) ?? "/var/lib/shipper"
        drainTimeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .drainTimeout) ?? .seconds(20)
        log = try c.decodeIfPresent(LogSettings.self, forKey: .log) ?? LogSettings()
        tests = try c.decodeIfPresent([PipelineTestCase].self, forKey: .tests) ?? []
        include = try c.decodeIfPresent([String].self, forKey: .include) ?? []
    }
}

/// Reads config files.
public enum ConfigLoader {
    /// Replaces `${NAME}` and `${NAME:-default}` with environment variables. Only upper-case names
    /// (`A-Z`, `0-9`, `_`) are variables, so nginx's `${remote_addr}` stays as it is; `$${` writes `${`.
    public static func substituteEnvironment(
        _ text: String, file: String, environment: [String: String] = ProcessInfoShim.environment
    ) throws -> String {
        guard text.contains("${") else { return text }
        func isNameCharacter(_ c: Character) -> Bool { (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "_" }
        // The first `}` at or after a position searched before (nil: none after it).
        var knownClose: String.Index?
        var noClose = false
        func firstClose(from start: String.Index) -> String.Index? {
            if noClose { return nil }
            if let k = knownClose, k >= start { return k }
            knownClose = text[start...].firstIndex(of: "}")
            noClose = knownClose == nil
            return knownClose
        }
        var out = ""
        var line = 1
        var column = 1
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            if c == "$", text[i...].hasPrefix("$${") {
                out += "${"
                i = text.index(i, offsetBy: 3)
                column += 3
                continue
            }
            if c == "$", text[i...].hasPrefix("${") {
                // The name is scanned from here and a closing brace looked up once, so that a run
                // of `${` that close nowhere stays linear (each searched to the end was quadratic).
                let nameStart = text.index(i, offsetBy: 2)
                var j = nameStart
                while j < text.endIndex, isNameCharacter(text[j]) { j = text.index(after: j) }
                var close: String.Index?
                var fallback: Substring?
                if j > nameStart, j < text.endIndex {
                    if text[j] == "}" {
                        close = j
                    } else if text[j...].hasPrefix(":-") {
                        let defaultStart = text.index(j, offsetBy: 2)
                        if let k = firstClose(from: defaultStart) {
                            close = k
                            fallback = text[defaultStart..<k]
                        }
                    }
                }
                if let close {
                    let name = String(text[nameStart..<j])
                    if let value = environment[name], !value.isEmpty {
                        out += value
                    } else if let fallback {
                        out += fallback
                    } else {
                        throw ConfigError(
                            file: file, line: line, column: column,
                            message: "environment variable \(name) is not set; set it, or give a default: ${\(name):-value}")
                    }
                    column += text.distance(from: i, to: close) + 1
                    i = text.index(after: close)
                    continue
                }
            }
            out.append(c)
            if c == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
            i = text.index(after: i)
        }
        return out
    }

    /// Parses YAML text into a configuration; every problem is a ``ConfigError`` with its position.
    public static func parse(yaml text: String, file: String) throws -> ShipperConfiguration {
        let text = try substituteEnvironment(text, file: file)
        try YAMLShapeCheck.check(text, file: file)
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let e as YamlError {
            throw convert(e, file: file)
        }
        guard let node else {
            throw ConfigError(file: file, line: 1, column: 1, message: "the file is empty; a config needs at least `pipelines:`")
        }
        let merged = try YAMLMerge.resolve(node, text: text, file: file)
        var config = try YAMLNodeDecoder(node: merged, file: file).decode(ShipperConfiguration.self)
        config.file = file
        return config
    }

    /// Reads and parses a file, with the pipelines of the files it includes placed first.
    public static func load(path: String) throws -> ShipperConfiguration {
        try load(path: path, including: [])
    }

    static func load(path: String, including chain: [String]) throws -> ShipperConfiguration {
        var config = try loadOne(path: path)
        var pipelines: [Named<PipelineSpec>] = []
        for inc in config.include {
            let dir = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
            let target = inc.hasPrefix("/") ? inc : dir + "/" + inc
            if chain.contains(target) || target == path {
                throw ConfigError(file: path, line: 1, column: 1, message: "include cycle: \((chain + [path, target]).joined(separator: " → "))")
            }
            let included = try load(path: target, including: chain + [path])
            pipelines.append(contentsOf: included.pipelines.items)
        }
        for p in config.pipelines.items where pipelines.contains(where: { $0.name == p.name }) {
            throw ConfigError(file: path, line: 1, column: 1, message: "pipeline '\(p.name)' is also defined in an included file")
        }
        pipelines.append(contentsOf: config.pipelines.items)
        config.pipelines = OrderedMapping(items: pipelines)
        return config
    }

    static func loadOne(path: String) throws -> ShipperConfiguration {
        let data: [UInt8]
        switch FileManagerShim.readOrError(path) {
        case .success(let bytes): data = bytes
        case .failure(let failure):
            throw ConfigError(file: path, line: 0, column: 0, message: "cannot read the config file: \(failure)")
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            throw ConfigError(file: path, line: 1, column: 1, message: "the file is not valid UTF-8 text")
        }
        return try parse(yaml: text, file: path)
    }

    static func convert(_ e: YamlError, file: String) -> ConfigError {
        switch e {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let ctx = context.map { " (\($0.text))" } ?? ""
            return ConfigError(file: file, line: mark.line, column: mark.column, message: "invalid YAML: \(problem)\(ctx)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return ConfigError(
                file: file, line: context.mark.line, column: context.mark.column,
                message: "duplicate key\(duplicates.count > 1 ? "s" : "") \(duplicates.map { "'\($0)'" }.joined(separator: ", ")) in a mapping")
        case .reader(let problem, _, _, _):
            return ConfigError(file: file, line: 1, column: 1, message: "invalid YAML: \(problem)")
        default:
            return ConfigError(file: file, line: 1, column: 1, message: "invalid YAML: \(e)")
        }
    }
}

extension ShipperConfiguration {
    /// The top-level keys whose values differ from `running`'s, among those a reload does not
    /// apply (everything but `pipelines`, `include` and `tests`), so that a SIGHUP can say what
    /// waits for a restart. Values are compared as YAML after `${…}` substitution, not as text:
    /// moving, reformatting or reordering keys is no change.
    public func changesNeedingRestart(comparedTo running: ShipperConfiguration) -> [String] {
        func same(_ a: OrderedMapping<ComponentSpec>, _ b: OrderedMapping<ComponentSpec>) -> Bool {
            guard a.items.count == b.items.count else { return false }
            var others: [String: Node] = [:]
            for item in b.items { others[item.name] = item.value.decoder.node }
            return a.items.allSatisfy { item in others[item.name].map { Self.equivalent(item.value.decoder.node, $0) } ?? false }
        }
        func same(_ a: ConfigSection?, _ b: ConfigSection?) -> Bool {
            switch (a, b) {
            case (nil, nil): return true
            case (let a?, let b?): return Self.equivalent(a.decoder.node, b.decoder.node)
            default: return false
            }
        }
        var changed: [String] = []
        if !same(sources, running.sources) { changed.append("sources") }
        if !same(outputs, running.outputs) { changed.append("outputs") }
        if !same(buffer, running.buffer) { changed.append("buffer") }
        if !same(telemetry, running.telemetry) { changed.append("telemetry") }
        if dataDir != running.dataDir { changed.append("data_dir") }
        if drainTimeout != running.drainTimeout { changed.append("drain_timeout") }
        if log.level != running.log.level || log.format != running.log.format { changed.append("log") }
        return changed
    }

    /// Equal as configuration: mappings whatever the order of their keys, lists in order.
    static func equivalent(_ a: Node, _ b: Node) -> Bool {
        switch (a, b) {
        case (.mapping(let x), .mapping(let y)):
            guard x.count == y.count else { return false }
            var values: [String: Node] = [:]
            for (k, v) in y { values[k.string ?? ""] = v }
            return x.allSatisfy { k, v in values[k.string ?? ""].map { equivalent(v, $0) } ?? false }
        case (.sequence(let x), .sequence(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { equivalent($0, $1) }
        default:
            return a == b
        }
    }
}
