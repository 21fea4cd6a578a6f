import InputFormats
import ShipperCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The kind of a tailed source. It sets the defaults of `paths` and `format`, and where container
/// metadata comes from.
public enum SourceKind: String, Sendable, CaseIterable {
    /// Docker's json-file logs (`/var/lib/docker/containers/<id>/<id>-json.log`); metadata from the
    /// container's `config.v2.json` next to the log.
    case docker
    /// Kubernetes node logs written by the container runtime (`/var/log/containers/*.log`); metadata
    /// from the file name `<pod>_<namespace>_<container>-<id>.log`.
    case cri
    /// Any log files; no container metadata.
    case file

    /// The `paths` used when the config gives none (nil: `paths` is required).
    public var defaultPaths: [String]? {
        switch self {
        case .docker: return ["/var/lib/docker/containers/*/*-json.log"]
        case .cri: return ["/var/log/containers/*.log"]
        case .file: return nil
        }
    }

    /// The `format` used when the config gives none.
    public var defaultFormat: LogFormat {
        switch self {
        case .docker: return .docker
        case .cri: return .cri
        case .file: return .auto
        }
    }
}

/// Where reading starts in files found by the very first scan (no checkpoint file exists yet).
public enum ReadFrom: String, Sendable, CaseIterable, Decodable {
    /// Read files from their first byte.
    case beginning
    /// Skip what the files hold already; read only lines written after shipper started.
    case end

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = ReadFrom(rawValue: text) else {
            throw ConfigValueError("read_from '\(text)' is not one of: beginning, end")
        }
        self = value
    }
}

/// Selects containers by name, image or label (`include_containers:` / `exclude_containers:`).
///
/// ```yaml
/// exclude_containers:
///   name: ["shipper*", "*_shipper.*"]      # container name globs (no leading slash)
///   image: ["*/shipper:*"]                  # Config.Image globs, as the user asked for it
///   label: {com.docker.stack.namespace: monitoring}   # label key → value glob
/// ```
///
/// A container matches when at least one entry matches (any name glob, any image glob, or any
/// label whose value matches its glob). Globs are shell patterns (`*`, `?`, `[…]`). A `cri` source
/// only knows container names, so only `name` may be given there.
public struct ContainerFilter: Decodable, Sendable, Equatable {
    /// Globs matched against the container name (`Name` without its leading `/`).
    public var name: [String]
    /// Globs matched against the image the container was created from (`Config.Image`).
    public var image: [String]
    /// Label key → glob for the label's value; the label must exist.
    public var label: [String: String]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, image, label
    }

    public init(name: [String] = [], image: [String] = [], label: [String: String] = [:]) {
        self.name = name
        self.image = image
        self.label = label
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try Self.decodeGlobs(c, .name)
        image = try Self.decodeGlobs(c, .image)
        label = try c.decodeIfPresent([String: String].self, forKey: .label) ?? [:]
        if isEmpty { throw ConfigValueError("a container filter needs at least one of: name, image, label") }
        if name.contains(where: \.isEmpty) || image.contains(where: \.isEmpty) || label.keys.contains(where: \.isEmpty) {
            throw ConfigValueError("container filter globs and label keys must not be empty")
        }
    }

    private static func decodeGlobs(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> [String] {
        if let one = try? c.decodeIfPresent(String.self, forKey: key) { return [one] }
        return try c.decodeIfPresent([String].self, forKey: key) ?? []
    }

    /// True when the filter has no entry at all.
    public var isEmpty: Bool { name.isEmpty && image.isEmpty && label.isEmpty }

    /// Whether the container described by `metadata` matches at least one entry.
    public func matches(_ metadata: ContainerMetadata) -> Bool {
        if let n = metadata.name, name.contains(where: { fnmatch($0, n, 0) == 0 }) { return true }
        if let i = metadata.image, image.contains(where: { fnmatch($0, i, 0) == 0 }) { return true }
        for (key, glob) in label {
            if let v = metadata.label(key), fnmatch(glob, v, 0) == 0 { return true }
        }
        return false
    }
}

/// Options of the tailed sources (`docker`, `cri`, `file`).
///
/// ```yaml
/// sources:
///   containers:
///     type: docker
///     paths: [/var/lib/docker/containers/*/*-json.log]   # the default for docker
///     exclude: ["*/0123abcd*"]          # path globs to skip
///     format: docker                    # auto | docker | cri | raw (docker: docker, cri: cri, file: auto)
///     discovery_interval: 1s            # how often the globs are expanded again
///     read_from: beginning              # beginning | end, for the files found at the very first start
///     ignore_older: 24h                 # files not modified for longer are not opened
///     exclude_containers: {name: ["shipper*"]}
///     host_name: node-1
///     max_line_bytes: 1MiB
///     rotate_wait: 5s
///     checkpoint_interval: 1s
///     inotify: true
/// ```
public struct TailConfig: Decodable, Sendable {
    /// The kind of source (not a YAML key: it comes from the source's `type:`).
    public var kind: SourceKind
    /// Globs (glob(3): `*`, `?`, `[…]`, no `**`) of the files to tail. Default: docker
    /// `/var/lib/docker/containers/*/*-json.log`, cri `/var/log/containers/*.log`; required for `file`.
    public var paths: [String]
    /// Globs of paths not to tail, matched against the whole path (`*` also matches `/`).
    public var exclude: [String] = []
    /// The line format. Default: `docker` for docker, `cri` for cri, `auto` for file.
    public var format: LogFormat
    /// How often the globs are expanded to find new, rotated and removed files (default 1s). With
    /// `inotify`, creations and removals in the watched directories trigger a scan sooner.
    public var discoveryInterval: ConfigDuration = .seconds(1)
    /// Where reading starts in the files found when shipper starts for the very first time (no
    /// checkpoint file yet): `beginning` (default) or `end`. Files found later, and files without a
    /// checkpoint when a checkpoint file exists, are always read from the beginning.
    public var readFrom: ReadFrom = .beginning
    /// Files not modified for longer than this are not opened (nil or 0: no limit). A file that has
    /// a checkpoint is resumed whatever its age. When an ignored file is written again, it is read
    /// from the size it had when it was first ignored.
    public var ignoreOlder: ConfigDuration?
    /// Only containers matching this filter are tailed (docker, cri). Checked when a file is opened.
    public var includeContainers: ContainerFilter?
    /// Containers matching this filter are not tailed (docker, cri); wins over `include_containers`.
    public var excludeContainers: ContainerFilter?
    /// `host.name` on every event (default: the machine's host name; set by the runtime).
    public var hostName: String?
    /// The longest physical line (default 1 MiB, at least 1 KiB): a longer line is passed on in
    /// pieces of this size. The runtime also gives it to the decoders as the limit of joined lines.
    public var maxLineBytes: ByteSize = ByteSize(bytes: 1 << 20)
    /// How long a rotated (renamed) or removed file is still read after it was noticed, for writers
    /// that have not switched to the new file yet (default 5s). The file is closed once it is read
    /// to its end and this time has passed.
    public var rotateWait: ConfigDuration = .seconds(5)
    /// How often the runtime writes the checkpoint file (default 1s; also written at shutdown).
    public var checkpointInterval: ConfigDuration = .seconds(1)
    /// Watch the log directories with inotify to notice new data and new files sooner (default
    /// true). Stat polling runs either way; when inotify is unavailable it is the only mechanism.
    public var inotify: Bool = true

    enum CodingKeys: String, CodingKey, CaseIterable {
        case paths, exclude, format
        case discoveryInterval = "discovery_interval"
        case readFrom = "read_from"
        case ignoreOlder = "ignore_older"
        case includeContainers = "include_containers"
        case excludeContainers = "exclude_containers"
        case hostName = "host_name"
        case maxLineBytes = "max_line_bytes"
        case rotateWait = "rotate_wait"
        case checkpointInterval = "checkpoint_interval"
        case inotify
    }

    /// A config with every default of `kind`; `paths` is required for ``SourceKind/file``.
    public init(kind: SourceKind, paths: [String]? = nil) {
        self.kind = kind
        self.paths = paths ?? kind.defaultPaths ?? []
        self.format = kind.defaultFormat
    }

    /// Decodes a `file` source.
    public init(from decoder: any Decoder) throws {
        try self.init(from: decoder, kind: .file)
    }

    /// Decodes the options of a source of the given kind.
    public init(from decoder: any Decoder, kind: SourceKind) throws {
        self.init(kind: kind)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let one = try? c.decodeIfPresent(String.self, forKey: .paths) {
            paths = [one]
        } else if let list = try c.decodeIfPresent([String].self, forKey: .paths) {
            paths = list
        }
        exclude = try c.decodeIfPresent([String].self, forKey: .exclude) ?? []
        format = try c.decodeIfPresent(LogFormat.self, forKey: .format) ?? kind.defaultFormat
        discoveryInterval = try c.decodeIfPresent(ConfigDuration.self, forKey: .discoveryInterval) ?? discoveryInterval
        readFrom = try c.decodeIfPresent(ReadFrom.self, forKey: .readFrom) ?? .beginning
        ignoreOlder = try c.decodeIfPresent(ConfigDuration.self, forKey: .ignoreOlder)
        includeContainers = try c.decodeIfPresent(ContainerFilter.self, forKey: .includeContainers)
        excludeContainers = try c.decodeIfPresent(ContainerFilter.self, forKey: .excludeContainers)
        hostName = try c.decodeIfPresent(String.self, forKey: .hostName)
        maxLineBytes = try c.decodeIfPresent(ByteSize.self, forKey: .maxLineBytes) ?? maxLineBytes
        rotateWait = try c.decodeIfPresent(ConfigDuration.self, forKey: .rotateWait) ?? rotateWait
        checkpointInterval = try c.decodeIfPresent(ConfigDuration.self, forKey: .checkpointInterval) ?? checkpointInterval
        inotify = try c.decodeIfPresent(Bool.self, forKey: .inotify) ?? true
        try validate()
    }

    /// Checks the values; throws ``ConfigValueError`` saying what is wrong and what is expected.
    public func validate() throws {
        if paths.isEmpty { throw ConfigValueError("'paths' must list at least one file or glob") }
        if paths.contains(where: \.isEmpty) || exclude.contains(where: \.isEmpty) {
            throw ConfigValueError("'paths' and 'exclude' must not contain empty globs")
        }
        if paths.contains(where: { $0.contains("**") }) {
            throw ConfigValueError("'**' is not supported in 'paths'; write one glob per directory level, e.g. /var/log/*/*.log")
        }
        if discoveryInterval.nanoseconds < 10_000_000 {
            throw ConfigValueError("'discovery_interval' must be at least 10ms, got \(discoveryInterval)")
        }
        if checkpointInterval.nanoseconds < 10_000_000 {
            throw ConfigValueError("'checkpoint_interval' must be at least 10ms, got \(checkpointInterval)")
        }
        if maxLineBytes.bytes < 1024 || maxLineBytes.bytes > 1 << 30 {
            throw ConfigValueError("'max_line_bytes' must be between 1KiB and 1GiB, got \(maxLineBytes.bytes)")
        }
        if kind == .file, includeContainers != nil || excludeContainers != nil {
            throw ConfigValueError("'include_containers' and 'exclude_containers' are only for docker and cri sources")
        }
        if kind == .cri {
            for f in [includeContainers, excludeContainers].compactMap({ $0 }) where !f.image.isEmpty || !f.label.isEmpty {
                throw ConfigValueError("a cri source knows only container names: use 'name' in container filters")
            }
        }
    }

    /// Whether a container may be tailed under `include_containers` and `exclude_containers`.
    /// Without metadata, an include filter does not match and an exclude filter does not exclude.
    public func allows(_ metadata: ContainerMetadata?) -> Bool {
        if let include = includeContainers, !include.isEmpty {
            guard let metadata, include.matches(metadata) else { return false }
        }
        if let exclude = excludeContainers, let metadata, exclude.matches(metadata) { return false }
        return true
    }
}
