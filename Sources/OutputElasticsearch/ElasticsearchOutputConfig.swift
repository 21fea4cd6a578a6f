import ShipperCore

/// Options of the `elasticsearch` output.
///
/// ```yaml
/// outputs:
///   es:
///     type: elasticsearch
///     hosts: [https://es1:9200, https://es2:9200]   # round robin, failover, cool-down for a failing host
///     index: logs-%{service.name}-%Y.%m.%d          # or data_stream: {type: logs, dataset: nginx, namespace: prod}
///     batch: {max_bytes: 2MiB, max_events: 2000, timeout: 1s}
///     compression: gzip            # gzip | none
///     compression_level: 1
///     max_in_flight: 2
///     auth: {user: shipper, password_file: /run/secrets/es_password}   # or api_key_file: /run/secrets/es_api_key
///     tls: {ca_file: /etc/ssl/es-ca.pem, verify: true}
///     request_timeout: 30s
///     retry: {initial_backoff: 1s, max_backoff: 60s}
///     dead_letter: {path: dead-letter/es.ndjson}   # relative to the data directory
///     install_template: {name: logs-app, file: /etc/shipper/logs-app-template.json}
///     pipeline: geoip-nginx        # an ingest pipeline for every document
/// ```
///
/// Every document is sent with a `create` action and an `_id` derived from the event's origin
/// (source file fingerprint and offset), so sending it again after a crash or a timeout is
/// answered 409 and counted as delivered: one copy per event.
public struct ElasticsearchOutputConfig: Decodable, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// Elasticsearch nodes, as `http://host:port` or `https://host:port`, optionally with a path
    /// prefix (`https://proxy/es`). A single URL may be written without the list. Requests go round
    /// robin; a node that fails to answer is skipped for `host_cooldown`. Credentials do not belong
    /// in the URL (URLs appear in logs): use `auth` or `api_key`.
    public var hosts: [ElasticsearchHost]
    /// How long a node that failed (connection refused, timeout) is skipped. Default 10s.
    public var hostCooldown: ConfigDuration = .seconds(10)
    /// Index name template (when `data_stream` is not set): `%{field.path}` is a field of the event
    /// (stored with the event in the buffer), `%Y %m %d %H` the year, month, day and hour of the
    /// event's `@timestamp` in UTC, `%%` a literal `%`. The result is lowercased and made a legal index
    /// name (illegal characters become `_`, leading `_ - +` are removed, at most 255 bytes); a missing
    /// field renders as `_`. Default `shipper-%Y.%m.%d`.
    public var index: String
    /// Write to a data stream `type-dataset-namespace` instead of `index` (create only).
    public var dataStream: DataStream?
    /// How many events go into one bulk request.
    public var batch: Batch = Batch()
    /// Request body compression. Default `gzip`.
    public var compression: Compression = .gzip
    /// gzip level, 1 (fastest) to 9 (smallest). Levels 1 to 3 use ISA-L's igzip, 4 to 9 zlib.
    /// Default 1: on bulk bodies of ECS nginx events (with container metadata) igzip level 1
    /// compressed about 2 GB/s per core at ~18×, zlib level 1 300 MB/s at ~16.6× (measured here).
    public var compressionLevel: Int = 1
    /// `filter_path` sent with every bulk request to keep responses small. It must keep
    /// `items.*.status` so response items stay aligned with the request; empty sends none.
    /// Default `errors,items.*.error,items.*.status`.
    public var filterPath: String = "errors,items.*.error,items.*.status"
    /// Bulk requests in flight at once (1–64). Acknowledgements to the buffer stay in order. Default 2.
    public var maxInFlight: Int = 2
    /// Basic authentication.
    public var auth: BasicAuth?
    /// API key (`Authorization: ApiKey …`): the encoded key as Elasticsearch returns it (base64 of
    /// `id:key`), or `id:key` itself. Set exactly one of `api_key`, `api_key_file`, `api_key_env`.
    public var apiKey: SecretSource?
    /// TLS settings for `https://` hosts.
    public var tls: TLS = TLS()
    /// Time allowed for one bulk request, from sending to the end of the response. Default 30s.
    public var requestTimeout: ConfigDuration = .seconds(30)
    /// Backoff between retries: exponential with full jitter.
    public var retry: Retry = Retry()
    /// Where documents Elasticsearch rejects for good (mapping errors, …) are written.
    public var deadLetter: DeadLetter = DeadLetter()
    /// Install (overwrite) an index template at start-up: `PUT /_index_template/{name}` with the
    /// JSON of `file`.
    public var installTemplate: InstallTemplate?
    /// Check `GET /` answers before sending (retried until it does). Default true.
    public var healthCheck: Bool = true
    /// The ingest pipeline every document goes through (`?pipeline=` on each bulk request), e.g.
    /// one with a `geoip` processor. Elasticsearch answers each item 400 when the pipeline does
    /// not exist: those documents go to the dead-letter file (replay them once it exists). Unset:
    /// the index's `default_pipeline`, if any; `_none`: no pipeline, not even that one.
    public var pipeline: String?

    /// `data_stream` options: the stream is `type-dataset-namespace`. `dataset` and `namespace`
    /// may use the same `%{field}` and `%Y %m %d %H` placeholders as `index`; `-` in them becomes `_`.
    public struct DataStream: Decodable, Sendable, Equatable {
        /// `logs`, `metrics`, … Default `logs`.
        public var type: String = "logs"
        /// Default `generic`.
        public var dataset: String = "generic"
        /// Default `default`.
        public var namespace: String = "default"

        enum CodingKeys: String, CodingKey, CaseIterable { case type, dataset, namespace }

        public init(type: String = "logs", dataset: String = "generic", namespace: String = "default") {
            self.type = type
            self.dataset = dataset
            self.namespace = namespace
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            type = try c.decodeIfPresent(String.self, forKey: .type) ?? "logs"
            dataset = try c.decodeIfPresent(String.self, forKey: .dataset) ?? "generic"
            namespace = try c.decodeIfPresent(String.self, forKey: .namespace) ?? "default"
            for (key, value) in [("type", type), ("dataset", dataset), ("namespace", namespace)] where value.isEmpty {
                throw ConfigValueError("data_stream.\(key) must not be empty")
            }
        }
    }

    /// `batch` options.
    public struct Batch: Decodable, Sendable, Equatable {
        /// Largest request body before compression (documents only; action lines add ~90 bytes
        /// per event). Default 2MiB: about 2000 container log events, as Filebeat's default of
        /// 1600 events; each batch in flight holds its documents and body in memory, so this and
        /// `max_in_flight` bound the output's memory.
        public var maxBytes: ByteSize = ByteSize(bytes: 2 * 1_048_576)
        /// Most events in one request. Default 2000.
        public var maxEvents: Int = 2000
        /// How long a partly filled batch waits for more events: after sending a batch that was not
        /// full, the output waits this long before reading the next one, so at low volume there is at
        /// most one request per `timeout`. 0 sends whatever is there at once. Default 1s.
        public var timeout: ConfigDuration = .seconds(1)

        enum CodingKeys: String, CodingKey, CaseIterable {
            case maxBytes = "max_bytes"
            case maxEvents = "max_events"
            case timeout
        }

        public init(maxBytes: ByteSize = ByteSize(bytes: 2 * 1_048_576), maxEvents: Int = 2000, timeout: ConfigDuration = .seconds(1)) {
            self.maxBytes = maxBytes
            self.maxEvents = maxEvents
            self.timeout = timeout
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            self.init()
            maxBytes = try c.decodeIfPresent(ByteSize.self, forKey: .maxBytes) ?? maxBytes
            maxEvents = try c.decodeIfPresent(Int.self, forKey: .maxEvents) ?? maxEvents
            timeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .timeout) ?? timeout
            if maxBytes.bytes < 1024 { throw ConfigValueError("batch.max_bytes must be at least 1KiB, got \(maxBytes.bytes) bytes") }
            if !(1...1_000_000).contains(maxEvents) { throw ConfigValueError("batch.max_events must be 1 to 1000000, got \(maxEvents)") }
        }
    }

    /// Request body compression.
    public enum Compression: String, Decodable, Sendable, CaseIterable {
        case gzip, none
    }

    /// `retry` options.
    public struct Retry: Decodable, Sendable, Equatable {
        /// First backoff ceiling; each retry doubles it. Default 1s.
        public var initialBackoff: ConfigDuration = .seconds(1)
        /// Largest backoff ceiling. Default 60s.
        public var maxBackoff: ConfigDuration = .seconds(60)
        /// Attempts per event answered 429/5xx before it goes to the dead-letter file; 0 (default)
        /// retries without limit. Connection errors, timeouts and whole-request failures are always
        /// retried.
        public var maxAttempts: Int = 0

        enum CodingKeys: String, CodingKey, CaseIterable {
            case initialBackoff = "initial_backoff"
            case maxBackoff = "max_backoff"
            case maxAttempts = "max_attempts"
        }

        public init(initialBackoff: ConfigDuration = .seconds(1), maxBackoff: ConfigDuration = .seconds(60), maxAttempts: Int = 0) {
            self.initialBackoff = initialBackoff
            self.maxBackoff = maxBackoff
            self.maxAttempts = maxAttempts
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            self.init()
            initialBackoff = try c.decodeIfPresent(ConfigDuration.self, forKey: .initialBackoff) ?? initialBackoff
            maxBackoff = try c.decodeIfPresent(ConfigDuration.self, forKey: .maxBackoff) ?? maxBackoff
            maxAttempts = try c.decodeIfPresent(Int.self, forKey: .maxAttempts) ?? 0
            if initialBackoff.nanoseconds <= 0 { throw ConfigValueError("retry.initial_backoff must be more than 0") }
            if maxBackoff.nanoseconds < initialBackoff.nanoseconds {
                throw ConfigValueError("retry.max_backoff (\(maxBackoff)) must not be less than retry.initial_backoff (\(initialBackoff))")
            }
            if maxAttempts < 0 { throw ConfigValueError("retry.max_attempts must be 0 (no limit) or more, got \(maxAttempts)") }
        }
    }

    /// `dead_letter` options.
    public struct DeadLetter: Decodable, Sendable, Equatable {
        /// NDJSON file, absolute or relative to the data directory. Default
        /// `dead-letter/<output name>.ndjson`. Each line holds the error, the index, the `_id` and the
        /// original document; `shipper dead-letter replay FILE` sends them again.
        public var path: String?

        enum CodingKeys: String, CodingKey, CaseIterable { case path }

        public init(path: String? = nil) { self.path = path }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            path = try c.decodeIfPresent(String.self, forKey: .path)
            if path?.isEmpty == true { throw ConfigValueError("dead_letter.path must not be empty") }
        }
    }

    /// `install_template` options.
    public struct InstallTemplate: Decodable, Sendable, Equatable {
        /// Template name.
        public var name: String
        /// JSON file with the template body.
        public var file: String

        enum CodingKeys: String, CodingKey, CaseIterable { case name, file }

        public init(name: String, file: String) {
            self.name = name
            self.file = file
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            file = try c.decode(String.self, forKey: .file)
            if name.isEmpty || name.utf8.contains(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") || $0 <= 0x20 }) {
                throw ConfigValueError("install_template.name must be a template name without '/', '?' or spaces, got '\(name)'")
            }
            if file.isEmpty { throw ConfigValueError("install_template.file must not be empty") }
        }
    }

    /// `tls` options.
    public struct TLS: Decodable, Sendable, Equatable {
        /// PEM file with the CA certificate(s) to trust (default: the system trust store).
        public var caFile: String?
        /// Verify the server certificate and host name. Default true. `false` is for tests only.
        public var verify: Bool = true
        /// PEM client certificate (chain), for mutual TLS.
        public var certFile: String?
        /// PEM private key of `cert_file`.
        public var keyFile: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case caFile = "ca_file"
            case verify
            case certFile = "cert_file"
            case keyFile = "key_file"
        }

        public init(caFile: String? = nil, verify: Bool = true, certFile: String? = nil, keyFile: String? = nil) {
            self.caFile = caFile
            self.verify = verify
            self.certFile = certFile
            self.keyFile = keyFile
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            caFile = try c.decodeIfPresent(String.self, forKey: .caFile)
            verify = try c.decodeIfPresent(Bool.self, forKey: .verify) ?? true
            certFile = try c.decodeIfPresent(String.self, forKey: .certFile)
            keyFile = try c.decodeIfPresent(String.self, forKey: .keyFile)
            if (certFile == nil) != (keyFile == nil) { throw ConfigValueError("tls.cert_file and tls.key_file go together: set both or neither") }
        }
    }

    /// `auth` options (HTTP basic authentication). Set exactly one of `password`, `password_file`
    /// (Docker secrets are files; a trailing newline is ignored) and `password_env`.
    public struct BasicAuth: Decodable, Sendable, CustomStringConvertible {
        /// User name.
        public var user: String
        /// Where the password comes from.
        public var password: SecretSource

        enum CodingKeys: String, CodingKey, CaseIterable {
            case user, password
            case passwordFile = "password_file"
            case passwordEnv = "password_env"
        }

        public init(user: String, password: SecretSource) {
            self.user = user
            self.password = password
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            user = try c.decode(String.self, forKey: .user)
            if user.isEmpty || user.contains(":") { throw ConfigValueError("auth.user must be non-empty and without ':'") }
            guard
                let source = try SecretSource.decode(
                    c, inline: .password, file: .passwordFile, env: .passwordEnv, names: ("auth.password", "auth.password_file", "auth.password_env"))
            else {
                throw ConfigValueError("auth needs one of password, password_file or password_env")
            }
            password = source
        }

        public var description: String { "BasicAuth(user: \(user), password: \(password))" }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case hosts, index, batch, compression, auth, tls, retry
        case hostCooldown = "host_cooldown"
        case dataStream = "data_stream"
        case compressionLevel = "compression_level"
        case filterPath = "filter_path"
        case maxInFlight = "max_in_flight"
        case apiKey = "api_key"
        case apiKeyFile = "api_key_file"
        case apiKeyEnv = "api_key_env"
        case requestTimeout = "request_timeout"
        case deadLetter = "dead_letter"
        case installTemplate = "install_template"
        case healthCheck = "health_check"
        case pipeline
    }

    /// The default index template.
    public static let defaultIndex = "shipper-%Y.%m.%d"

    /// A config for code and tests; the YAML config goes through `init(from:)`.
    public init(hosts: [ElasticsearchHost], index: String = ElasticsearchOutputConfig.defaultIndex, dataStream: DataStream? = nil) {
        self.hosts = hosts
        self.index = index
        self.dataStream = dataStream
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let texts: [String]
        if let list = try? c.decode([String].self, forKey: .hosts) {
            texts = list
        } else {
            texts = [try c.decode(String.self, forKey: .hosts)]
        }
        if texts.isEmpty { throw ConfigValueError("hosts must list at least one URL, e.g. [http://elasticsearch:9200]") }
        hosts = try texts.map { try ElasticsearchHost(parsing: $0) }
        hostCooldown = try c.decodeIfPresent(ConfigDuration.self, forKey: .hostCooldown) ?? hostCooldown
        dataStream = try c.decodeIfPresent(DataStream.self, forKey: .dataStream)
        let indexText = try c.decodeIfPresent(String.self, forKey: .index)
        if indexText != nil && dataStream != nil {
            throw ConfigValueError("set either index or data_stream, not both (a data stream's name is type-dataset-namespace)")
        }
        index = indexText ?? Self.defaultIndex
        batch = try c.decodeIfPresent(Batch.self, forKey: .batch) ?? batch
        compression = try c.decodeIfPresent(Compression.self, forKey: .compression) ?? .gzip
        compressionLevel = try c.decodeIfPresent(Int.self, forKey: .compressionLevel) ?? 1
        if !(1...9).contains(compressionLevel) { throw ConfigValueError("compression_level must be 1 to 9, got \(compressionLevel)") }
        filterPath = try c.decodeIfPresent(String.self, forKey: .filterPath) ?? filterPath
        maxInFlight = try c.decodeIfPresent(Int.self, forKey: .maxInFlight) ?? 2
        if !(1...64).contains(maxInFlight) { throw ConfigValueError("max_in_flight must be 1 to 64, got \(maxInFlight)") }
        auth = try c.decodeIfPresent(BasicAuth.self, forKey: .auth)
        apiKey = try SecretSource.decode(c, inline: .apiKey, file: .apiKeyFile, env: .apiKeyEnv, names: ("api_key", "api_key_file", "api_key_env"))
        if auth != nil && apiKey != nil { throw ConfigValueError("set either auth or api_key, not both") }
        tls = try c.decodeIfPresent(TLS.self, forKey: .tls) ?? TLS()
        requestTimeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .requestTimeout) ?? requestTimeout
        if requestTimeout.nanoseconds < 1_000_000 { throw ConfigValueError("request_timeout must be at least 1ms") }
        retry = try c.decodeIfPresent(Retry.self, forKey: .retry) ?? Retry()
        deadLetter = try c.decodeIfPresent(DeadLetter.self, forKey: .deadLetter) ?? DeadLetter()
        installTemplate = try c.decodeIfPresent(InstallTemplate.self, forKey: .installTemplate)
        healthCheck = try c.decodeIfPresent(Bool.self, forKey: .healthCheck) ?? true
        pipeline = try c.decodeIfPresent(String.self, forKey: .pipeline)
        try validate()
    }

    /// Checks the combination of options (templates compile, `filter_path` keeps item statuses).
    public func validate() throws {
        _ = try IndexResolver(config: self)
        if let pipeline, pipeline.isEmpty || pipeline.contains(where: { $0.isWhitespace || $0.isNewline }) {
            throw ConfigValueError("pipeline '\(pipeline)': an ingest pipeline id, not empty and without spaces, e.g. geoip-nginx")
        }
        if !filterPath.isEmpty {
            let paths = filterPath.split(separator: ",").map { $0.trimmingWhitespace() }
            let keepsStatus = paths.contains { p in
                ["items.*.status", "items.**", "items.*", "items", "**", "items.*.*", "items.**.status"].contains(p)
            }
            let excludes = paths.contains { $0.hasPrefix("-") }
            if !keepsStatus || excludes {
                throw ConfigValueError(
                    "filter_path '\(filterPath)' must keep items.*.status (so response items stay aligned with the request) and must not exclude paths; e.g. errors,items.*.error,items.*.status"
                )
            }
        }
    }

    /// A summary without secrets (file paths and variable names are shown, values never).
    public var description: String {
        var parts = ["hosts: \(hosts.map(\.description))"]
        if let dataStream {
            parts.append("data_stream: \(dataStream.type)-\(dataStream.dataset)-\(dataStream.namespace)")
        } else {
            parts.append("index: \(index)")
        }
        parts.append("compression: \(compression.rawValue)")
        parts.append("max_in_flight: \(maxInFlight)")
        if let pipeline { parts.append("pipeline: \(pipeline)") }
        if let auth { parts.append("auth: \(auth)") }
        if let apiKey { parts.append("api_key: \(apiKey)") }
        return "ElasticsearchOutputConfig(" + parts.joined(separator: ", ") + ")"
    }

    public var debugDescription: String { description }
}

/// One Elasticsearch node URL.
public struct ElasticsearchHost: Sendable, Hashable, CustomStringConvertible {
    /// `http` or `https`.
    public var scheme: String
    public var host: String
    public var port: Int
    /// Path prefix without a trailing slash (`""` or `/es`).
    public var pathPrefix: String

    public init(scheme: String = "http", host: String, port: Int = 9200, pathPrefix: String = "") {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.pathPrefix = pathPrefix
    }

    /// Parses `http(s)://host[:port][/prefix]`. The port defaults to 9200. Error messages show the
    /// URL without its userinfo (`https://<redacted>@host`): credentials never reach a log.
    public init(parsing text: String) throws {
        let t = Self.redactingUserinfo(text.trimmingWhitespace())
        if t != text.trimmingWhitespace() {
            throw ConfigValueError("'\(t)': put credentials in auth (user, password_file) or api_key_file, not in the host URL")
        }
        let scheme: String
        var rest: Substring
        if t.hasPrefix("http://") {
            scheme = "http"
            rest = t.dropFirst(7)
        } else if t.hasPrefix("https://") {
            scheme = "https"
            rest = t.dropFirst(8)
        } else {
            throw ConfigValueError("'\(t)' is not an http:// or https:// URL")
        }
        var prefix = ""
        if let slash = rest.firstIndex(of: "/") {
            prefix = String(rest[slash...])
            rest = rest[..<slash]
        }
        if prefix.contains("?") || prefix.contains("#") { throw ConfigValueError("'\(t)': a host URL must not have a query or fragment") }
        while prefix.hasSuffix("/") { prefix.removeLast() }
        var host = String(rest)
        var port = 9200
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { throw ConfigValueError("'\(t)': unterminated IPv6 address") }
            let after = host[host.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), (1...65535).contains(p) else { throw ConfigValueError("'\(t)': bad port") }
                port = p
            } else if !after.isEmpty {
                throw ConfigValueError("'\(t)': unexpected text after the IPv6 address")
            }
            host = String(host[...close])
        } else if let colon = host.lastIndex(of: ":") {
            guard let p = Int(host[host.index(after: colon)...]), (1...65535).contains(p) else { throw ConfigValueError("'\(t)': bad port") }
            port = p
            host = String(host[..<colon])
        }
        if host.isEmpty { throw ConfigValueError("'\(t)': no host name") }
        self.init(scheme: scheme, host: host, port: port, pathPrefix: prefix)
    }

    /// `text` with everything between `://` and its last `@` replaced by `<redacted>`
    /// (`https://user:pass@host` → `https://<redacted>@host`). A password may hold `/`, `?` or `#`,
    /// so the last `@` anywhere counts, not only one in the authority.
    static func redactingUserinfo(_ text: String) -> String {
        var afterScheme = text.startIndex
        let chars = Array(text.utf8)
        if chars.count >= 3, let i = (0...(chars.count - 3)).first(where: { chars[$0] == 0x3A && chars[$0 + 1] == 0x2F && chars[$0 + 2] == 0x2F }) {
            afterScheme = text.utf8.index(text.startIndex, offsetBy: i + 3)
        }
        guard let at = text.lastIndex(of: "@"), at >= afterScheme else { return text }
        return String(text[..<afterScheme]) + "<redacted>" + String(text[at...])
    }

    /// `scheme://host:port/prefix` (no trailing slash).
    public var baseURL: String { "\(scheme)://\(host):\(port)\(pathPrefix)" }

    public var description: String { baseURL }
}

/// A secret value: its description and reflection never show it.
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The value. Only for building request headers; never log it.
    public let value: String

    public init(_ value: String) { self.value = value }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}

/// Where a secret comes from: the config itself, a file (Docker secrets) or an environment variable.
/// Files and variables are read when the output is built, so `shipper validate` does not need them.
public enum SecretSource: Sendable, Equatable, CustomStringConvertible {
    case inline(Secret)
    case file(String)
    case environment(String)

    /// Reads the secret; a file's trailing newline is dropped.
    public func resolve() throws -> Secret {
        switch self {
        case .inline(let s):
            return s
        case .file(let path):
            guard let bytes = FileIO.readFile(path) else {
                throw ConfigValueError("cannot read the secret file \(path) (does it exist, and may shipper read it?)")
            }
            var text = String(decoding: bytes, as: UTF8.self)
            while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
            if text.isEmpty { throw ConfigValueError("the secret file \(path) is empty") }
            return Secret(text)
        case .environment(let name):
            guard let value = FileIO.environment(name), !value.isEmpty else {
                throw ConfigValueError("the environment variable \(name) (a secret) is not set or empty")
            }
            return Secret(value)
        }
    }

    public var description: String {
        switch self {
        case .inline: return "<redacted>"
        case .file(let path): return "file \(path)"
        case .environment(let name): return "env \(name)"
        }
    }

    static func decode<K: CodingKey>(
        _ c: KeyedDecodingContainer<K>, inline: K, file: K, env: K, names: (String, String, String)
    ) throws -> SecretSource? {
        var found: [SecretSource] = []
        if let v = try c.decodeIfPresent(String.self, forKey: inline) {
            if v.isEmpty { throw ConfigValueError("\(names.0) must not be empty") }
            found.append(.inline(Secret(v)))
        }
        if let v = try c.decodeIfPresent(String.self, forKey: file) {
            if v.isEmpty { throw ConfigValueError("\(names.1) must not be empty") }
            found.append(.file(v))
        }
        if let v = try c.decodeIfPresent(String.self, forKey: env) {
            if v.isEmpty { throw ConfigValueError("\(names.2) must not be empty") }
            found.append(.environment(v))
        }
        if found.count > 1 { throw ConfigValueError("set only one of \(names.0), \(names.1) and \(names.2)") }
        return found.first
    }
}
