// Public configuration types of the test server.

/// Static settings of one server instance.
public struct ElasticsearchTestServerConfiguration: Sendable {
    /// `version.number` reported by `GET /`. A major version of 8 switches the bulk parser to the 8.x
    /// leniencies (unknown actions skipped, extra keys in action lines ignored; PROTOCOL.md §2.1).
    public var versionNumber: String = "9.1.0"
    public var clusterName: String = "es-test-server"
    public var nodeName: String = "es-test-server-0"
    /// When set, every request needs `Authorization: Basic` with these credentials (or one of `apiKeys`).
    public var credentials: BasicCredentials? = nil
    /// Accepted `Authorization: ApiKey <base64(id:key)>` values, given as `"id:key"`. Only checked when
    /// `credentials` or `apiKeys` is non-empty.
    public var apiKeys: Set<String> = []
    /// `http.max_content_length`: larger (decompressed) bodies get an empty 413.
    public var maxContentLength: Int = 100 * 1024 * 1024
    /// Faults applied from the start (changeable later with `setFaultPlan`).
    public var faultPlan: FaultPlan = FaultPlan()
    /// ES 8+ ships `logs-*-*`, `metrics-*-*`, `synthetics-*-*` data stream templates (priority 100).
    public var builtInDataStreamTemplates: Bool = true
    /// `action.auto_create_index`.
    public var autoCreateIndex: Bool = true
    /// Ingest pipelines that exist (they do nothing). Any other pipeline fails its items (400).
    public var pipelines: Set<String> = []
    /// Emulate dynamic mapping: field types are inferred on first use and later documents whose values do
    /// not fit get `document_parsing_exception` items, like ES does. Off = store anything that is valid JSON.
    public var mappingEmulation: Bool = true
    /// Keep each document's source. Off (benchmarks): documents keep only their id, version and
    /// sequence number, and read back as `{}`; a million documents would otherwise hold about a
    /// gigabyte, and filling that much fresh memory cost the server more than decoding the bodies.
    public var storeSources: Bool = true
    /// `index.mapping.total_fields.limit`.
    public var totalFieldsLimit: Int = 1000
    /// Gzip responses when the client sends `Accept-Encoding: gzip` (ES `http.compression`).
    public var compressResponses: Bool = true
    /// Send `X-elastic-product: Elasticsearch` on every response.
    public var productHeader: Bool = true
    /// How many requests the request log keeps (oldest dropped first).
    public var requestLogLimit: Int = 100_000
    /// Keep the (decompressed) request bodies in the request log.
    public var recordBodies: Bool = false
    /// Serve HTTPS with this certificate instead of plain HTTP (nil: plain HTTP).
    public var tls: TLSFiles? = nil

    public init() {}
}

/// The server's TLS certificate and key, as PEM files (`Tests/Fixtures/tls/` has a test CA and a
/// certificate for 127.0.0.1, ::1 and localhost).
public struct TLSFiles: Sendable, Equatable {
    /// PEM certificate chain: the server certificate first, then any intermediates.
    public var certificateFile: String
    /// PEM private key of the server certificate.
    public var privateKeyFile: String

    public init(certificateFile: String, privateKeyFile: String) {
        self.certificateFile = certificateFile
        self.privateKeyFile = privateKeyFile
    }
}

public struct BasicCredentials: Sendable, Equatable {
    public var username: String
    public var password: String
    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }
}

/// What goes wrong, and how often. Randomness is seeded: the decisions for the k-th bulk request since
/// the plan was set depend only on `seed` and k (and the item positions), so a sequential client sees
/// the same statuses on every run.
public struct FaultPlan: Sendable, Equatable {
    public var seed: UInt64 = 0
    /// Share of bulk items answered 429 `es_rejected_execution_exception` (item-level, not applied).
    public var itemRejectionShare: Double = 0
    /// Share of bulk items answered 503 `unavailable_shards_exception` (item-level, not applied).
    public var itemUnavailableShare: Double = 0
    /// Share of bulk requests failed as a whole with `requestFailureStatus` (nothing applied).
    public var requestFailureShare: Double = 0
    /// 503 (`cluster_block_exception`), 429 (`es_rejected_execution_exception`), 500, 502 or 504.
    public var requestFailureStatus: Int = 503
    /// Documents matching one of these rules fail with a mapping error (item-level 400).
    public var mappingErrorRules: [MappingErrorRule] = []
    /// Added before answering bulk requests.
    public var latency: Duration = .zero
    /// Up to this much extra latency, uniformly distributed (seeded).
    public var latencyJitter: Duration = .zero
    /// Share of bulk requests whose connection is closed without an answer.
    public var connectionDropShare: Double = 0
    /// Whether a dropped request was applied before the connection was closed (partial application).
    public var dropAfterApplying: Bool = false
    /// Requests whose (decompressed) body is larger than this get an empty 413 (in addition to
    /// `maxContentLength`).
    public var maxContentLength: Int? = nil
    /// Scheduled outages.
    public var downPeriods: [DownPeriod] = []
    /// Exact per-request faults: the n-th bulk request after the plan was set uses `script[n]`;
    /// requests after the end of the script use the random shares above.
    public var script: [ScriptedBulkFault] = []

    public init(
        seed: UInt64 = 0, itemRejectionShare: Double = 0, itemUnavailableShare: Double = 0, requestFailureShare: Double = 0,
        requestFailureStatus: Int = 503, mappingErrorRules: [MappingErrorRule] = [], latency: Duration = .zero,
        latencyJitter: Duration = .zero, connectionDropShare: Double = 0, dropAfterApplying: Bool = false,
        maxContentLength: Int? = nil, downPeriods: [DownPeriod] = [], script: [ScriptedBulkFault] = []
    ) {
        self.seed = seed
        self.itemRejectionShare = itemRejectionShare
        self.itemUnavailableShare = itemUnavailableShare
        self.requestFailureShare = requestFailureShare
        self.requestFailureStatus = requestFailureStatus
        self.mappingErrorRules = mappingErrorRules
        self.latency = latency
        self.latencyJitter = latencyJitter
        self.connectionDropShare = connectionDropShare
        self.dropAfterApplying = dropAfterApplying
        self.maxContentLength = maxContentLength
        self.downPeriods = downPeriods
        self.script = script
    }

    /// No faults.
    public static let none = FaultPlan()
}

/// A rule selecting documents that fail with a mapping error.
public struct MappingErrorRule: Sendable, Equatable {
    public enum Condition: Sendable, Equatable {
        /// The field (dotted path, e.g. `"user.id"`) exists in the document.
        case present(String)
        /// The field's value equals this JSON text (e.g. `"\"bad\""`, `"42"`, `"true"`) or, if the text is not
        /// valid JSON, this string.
        case equals(String, String)
    }
    public var condition: Condition
    /// `document_parsing_exception` (ES ≥ 8.8) or `mapper_parsing_exception` (older ES, OpenSearch).
    public var errorType: String

    public init(_ condition: Condition, errorType: String = "document_parsing_exception") {
        self.condition = condition
        self.errorType = errorType
    }

    public static func fieldPresent(_ path: String) -> MappingErrorRule { MappingErrorRule(.present(path)) }
    public static func fieldEquals(_ path: String, _ value: String) -> MappingErrorRule { MappingErrorRule(.equals(path, value)) }
}

public enum DownMode: String, Sendable, Equatable {
    /// Close the listener (and open connections): connections are refused. It reopens on the same port.
    case refuseConnections
    /// Keep accepting, answer every request 503 (`cluster_block_exception`, no master).
    case serviceUnavailable
}

public struct DownPeriod: Sendable, Equatable {
    public enum Trigger: Sendable, Equatable {
        /// This long after the plan was set.
        case afterDelay(Duration)
        /// Right after the n-th bulk request (counted since the plan was set) was answered.
        case afterBulkRequests(Int)
    }
    public var trigger: Trigger
    public var duration: Duration
    public var mode: DownMode

    public init(trigger: Trigger, duration: Duration, mode: DownMode = .refuseConnections) {
        self.trigger = trigger
        self.duration = duration
        self.mode = mode
    }
}

/// An exact fault for one bulk request.
public enum ScriptedBulkFault: Sendable, Equatable {
    /// No fault (random shares are not applied either).
    case pass
    /// Whole request answered with this status (429, 5xx, 401, 403, 413...) and an ES error body; nothing applied.
    case failRequest(status: Int)
    /// Items at these positions (0-based) fail with the given status; other items are processed normally.
    case failItems([Int: ItemFault])
    /// Close the connection without answering.
    case dropConnection(afterApplying: Bool)
    /// Answer after a delay.
    case delay(Duration)
}

public enum ItemFault: Sendable, Equatable {
    /// 429 es_rejected_execution_exception.
    case rejected
    /// 503 unavailable_shards_exception.
    case unavailable
    /// 400 document_parsing_exception.
    case mappingError
    /// 409 version_conflict_engine_exception (document already exists).
    case versionConflict
    /// 500 internal error.
    case internalError
}

/// How many faults were injected so far (plus `conflictItems`, which also counts real conflicts).
public struct FaultCounters: Sendable, Equatable {
    /// Items answered 429 (injected).
    public var rejectedItems = 0
    /// Items answered 503 (injected).
    public var unavailableItems = 0
    /// Items failed by a `MappingErrorRule` or `ItemFault.mappingError`.
    public var mappingErrorItems = 0
    /// Bulk items answered 409: injected `ItemFault.versionConflict` **and** real conflicts (a `create` of an
    /// existing `_id`, failed `if_seq_no`/external-version checks), so replays can be counted.
    public var conflictItems = 0
    public var internalErrorItems = 0
    public var failedRequests = 0
    public var droppedConnections = 0
    public var delayedRequests = 0
    public var tooLargeRequests = 0
    public var unavailableWhileDown = 0
    public var downPeriods = 0
    public var unauthorizedRequests = 0
    /// TLS connections that ended in the handshake (the client refused the certificate, or spoke
    /// plain HTTP to the HTTPS port).
    public var tlsHandshakeFailures = 0
    public init() {}
}

/// One request as the server received it.
public struct RecordedRequest: Sendable {
    public var method: String
    /// Path and query string as sent.
    public var uri: String
    public var path: String
    public var headers: [(name: String, value: String)]
    public var contentEncoding: String?
    /// Body size on the wire.
    public var compressedBodySize: Int
    /// Body size after decoding `Content-Encoding`.
    public var bodySize: Int
    /// The decoded body, when `recordBodies` is on.
    public var body: [UInt8]?
    public var status: Int
    public var receivedAt: ContinuousClock.Instant

    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// A stored document.
public struct StoredDocument: Sendable, Equatable {
    /// The concrete index (for data streams the `.ds-…` backing index).
    public var index: String
    public var id: String
    /// The `_source` bytes exactly as sent.
    public var source: [UInt8]
    public var version: Int64
    public var seqNo: Int64

    public var sourceString: String { String(decoding: source, as: UTF8.self) }
}
