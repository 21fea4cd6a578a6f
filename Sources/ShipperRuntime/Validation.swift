import InputFormats
import InputTail
import ShipperConfig
import ShipperCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Options of the `file` and `docker` sources.
///
/// ```yaml
/// sources:
///   containers:
///     type: docker                  # docker: default paths and container metadata from config.v2.json
///     paths: [/var/lib/docker/containers/*/*-json.log]
///     format: docker                # auto | docker | cri | raw
///     exclude: ["*/shipper-*"]      # globs of paths to skip
///     host_name: node-1             # host.name on every event (default: the machine's host name)
/// ```
public struct FileSourceConfig: Decodable, Sendable {
    public var paths: [String]
    public var format: LogFormat
    public var exclude: [String]
    public var hostName: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case paths, format, exclude
        case hostName = "host_name"
    }

    public init(from decoder: any Decoder, docker: Bool) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        paths = try c.decodeIfPresent([String].self, forKey: .paths) ?? (docker ? ["/var/lib/docker/containers/*/*-json.log"] : [])
        if paths.isEmpty { throw ConfigValueError("'paths' must list at least one file or glob") }
        format = try c.decodeIfPresent(LogFormat.self, forKey: .format) ?? (docker ? .docker : .auto)
        exclude = try c.decodeIfPresent([String].self, forKey: .exclude) ?? []
        hostName = try c.decodeIfPresent(String.self, forKey: .hostName)
    }

    public init(from decoder: any Decoder) throws { try self.init(from: decoder, docker: false) }
}

/// Builds and checks every component of a config.
public enum RuntimeBuilder {
    public static let sourceTypes = ["docker", "file"]

    public static func sources(_ config: ShipperConfiguration) throws -> [(name: String, docker: Bool, config: FileSourceConfig)] {
        try config.sources.items.map { item in
            let spec = item.value
            guard sourceTypes.contains(spec.type) else {
                throw spec.error("unknown source type '\(spec.type)'; expected one of: \(sourceTypes.joined(separator: ", "))")
            }
            let docker = spec.type == "docker"
            let c = try spec.located { try FileSourceConfig(from: spec.optionsDecoder(), docker: docker) }
            return (item.name, docker, c)
        }
    }

    /// Builds everything without running it: the check behind `shipper validate`.
    public static func validate(_ config: ShipperConfiguration) throws {
        _ = try sources(config)
        _ = try Router(config: config)
        for o in config.outputs.items { try OutputFactory.make(o.value).close() }
        if config.pipelines.items.isEmpty && config.tests.isEmpty {
            throw ConfigError(file: config.file, line: 1, column: 1, message: "the config has no pipelines")
        }
    }
}

/// Reads every source file to its end once, runs the pipelines, and writes the outputs.
/// (Continuous tailing with checkpoints replaces this in `shipper run`.)
public enum OneShotRun {
    public static func run(_ config: ShipperConfiguration) throws -> RunSummary {
        let sources = try RuntimeBuilder.sources(config)
        var router = try Router(config: config)
        let outputs = try config.outputs.items.map { try OutputFactory.make($0.value) }
        if outputs.isEmpty {
            throw ConfigError(file: config.file, line: 1, column: 1, message: "the config has no outputs; add one under `outputs:`")
        }
        let metadata = ContainerMetadataCache()
        var summary = RunSummary()
        let host = hostName()
        for source in sources {
            for path in Glob.expand(source.config.paths, excluding: source.config.exclude) {
                let meta = source.docker ? metadata.metadata(forLogPath: path) : nil
                let hostValue = source.config.hostName ?? host
                var decoder: (any LineDecoder)?
                var batch: [LogEvent] = []
                let fingerprint = Fingerprint.ofPath(path)
                func ship() throws {
                    for i in batch.indices {
                        if source.docker { batch[i].addContainerMetadata(meta) }
                        batch[i].set(hostNamePath, string: hostValue)
                    }
                    let out = router.process(batch)
                    batch.removeAll(keepingCapacity: true)
                    summary.count(out)
                    for o in outputs { try o.write(out) }
                }
                try LineReader.forEachLine(path: path) { line, offset, end in
                    if decoder == nil { decoder = makeDecoder(format: source.config.format, firstLine: line) }
                    decoder!.decode(line, origin: LineOrigin(path: path, source: fingerprint, offset: offset, endOffset: end), into: &batch)
                    if batch.count >= 1024 { try ship() }
                }
                if decoder != nil { decoder!.flush(into: &batch) }
                summary.linesIn += decoder?.stats.lines ?? 0
                try ship()
            }
        }
        let rest = router.flush(now: nil)
        summary.count(rest)
        for o in outputs {
            try o.write(rest)
            try o.close()
        }
        return summary
    }

    static let hostNamePath = FieldPath.intern("host.name")

    static func hostName() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count) == 0 else { return "unknown" }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Shell-style path globbing.
public enum Glob {
    public static func expand(_ patterns: [String], excluding: [String] = []) -> [String] {
        var out: [String] = []
        for p in patterns {
            var g = glob_t()
            defer { globfree(&g) }
            guard glob(p, 0, nil, &g) == 0 else { continue }
            for i in 0..<Int(g.gl_pathc) {
                if let c = g.gl_pathv[i] { out.append(String(cString: c)) }
            }
        }
        return out.filter { path in !excluding.contains { fnmatch($0, path, 0) == 0 } }
    }
}
