// Elasticsearch error bodies (PROTOCOL.md §3 "Failed item" and §6).

/// An Elasticsearch exception ("ErrorCause"): `type`, `reason`, type-specific metadata, `caused_by`.
struct ESError: Error, Sendable {
    var status: Int
    var type: String
    var reason: String?
    /// Type-specific keys written after `reason` (e.g. `index_uuid`, `shard`, `index`).
    var metadata: [JSONMember] = []
    /// Non-metadata headers (`header` object, e.g. WWW-Authenticate on 401s).
    var header: [JSONMember] = []
    private var cause: [ESError] = []
    /// Whether the cause is itself an Elasticsearch exception (then it, not this, is the root cause).
    var causeIsRoot = false
    /// Extra HTTP response headers for whole-request errors.
    var httpHeaders: [(String, String)] = []

    init(status: Int, type: String, reason: String?, metadata: [JSONMember] = [], causedBy: ESError? = nil, causeIsRoot: Bool = false) {
        self.status = status
        self.type = type
        self.reason = reason
        self.metadata = metadata
        if let causedBy { self.cause = [causedBy] }
        self.causeIsRoot = causeIsRoot
    }

    var causedBy: ESError? { cause.first }

    /// The `error` object of a failed bulk item, or the inner object of a whole-request error.
    func json(includeCause: Bool = true) -> JSONValue {
        var members: [JSONMember] = [JSONMember("type", .string(type))]
        members.append(JSONMember("reason", reason.map { .string($0) } ?? .null))
        members.append(contentsOf: metadata)
        if includeCause, let c = cause.first {
            members.append(JSONMember("caused_by", c.json()))
        }
        if !header.isEmpty {
            members.append(JSONMember("header", .object(header)))
        }
        return .object(members)
    }

    private var rootCauses: [ESError] {
        if causeIsRoot, let c = cause.first { return c.rootCauses }
        return [self]
    }

    /// The whole-request body `{"error":{"root_cause":[...],...},"status":N}`.
    func responseBody() -> JSONValue {
        var inner: [JSONMember] = [JSONMember("root_cause", .array(rootCauses.map { $0.json(includeCause: false) }))]
        if case .object(let rest) = json() { inner.append(contentsOf: rest) }
        return .object([JSONMember("error", .object(inner)), JSONMember("status", .int(status))])
    }

    // MARK: Common errors

    static func illegalArgument(_ reason: String, status: Int = 400) -> ESError {
        ESError(status: status, type: "illegal_argument_exception", reason: reason)
    }

    static func indexNotFound(_ index: String, reason: String? = nil) -> ESError {
        ESError(
            status: 404, type: "index_not_found_exception", reason: reason ?? "no such index [\(index)]",
            metadata: [
                JSONMember("resource.type", .string("index_or_alias")), JSONMember("resource.id", .string(index)),
                JSONMember("index_uuid", .string("_na_")), JSONMember("index", .string(index)),
            ])
    }

    static func invalidIndexName(_ index: String, _ why: String) -> ESError {
        ESError(
            status: 400, type: "invalid_index_name_exception", reason: "Invalid index name [\(index)], \(why)",
            metadata: [JSONMember("index_uuid", .string("_na_")), JSONMember("index", .string(index))])
    }

    static func versionConflict(id: String, reason: String, index: String, uuid: String) -> ESError {
        ESError(
            status: 409, type: "version_conflict_engine_exception", reason: "[\(id)]: \(reason)",
            metadata: [
                JSONMember("index_uuid", .string(uuid)), JSONMember("shard", .string("0")), JSONMember("index", .string(index)),
            ])
    }

    static func actionValidation(_ problems: [String]) -> ESError {
        var reason = "Validation Failed: "
        for (i, p) in problems.enumerated() { reason += "\(i + 1): \(p);" }
        return ESError(status: 400, type: "action_request_validation_exception", reason: reason)
    }

    static func parseException(_ reason: String, causedBy: ESError? = nil) -> ESError {
        ESError(status: 400, type: "parse_exception", reason: reason, causedBy: causedBy)
    }
}

/// A response ready to be written.
struct HTTPResult: Sendable {
    var status: Int
    var headers: [(String, String)] = []
    var body: [UInt8] = []
    /// JSON bodies get `Content-Type: application/json` (or the vendor type the client asked for).
    var isJSON = true
    /// Close the connection after writing.
    var close = false

    static func json(_ status: Int, _ value: JSONValue, headers: [(String, String)] = []) -> HTTPResult {
        HTTPResult(status: status, headers: headers, body: JSONWriter.compact(value))
    }

    static func error(_ e: ESError) -> HTTPResult {
        HTTPResult(status: e.status, headers: e.httpHeaders, body: JSONWriter.compact(e.responseBody()))
    }

    /// `{"error":"<text>","status":N}` (405, 406, 417).
    static func simpleError(_ status: Int, _ text: String, headers: [(String, String)] = []) -> HTTPResult {
        json(status, .object([JSONMember("error", .string(text)), JSONMember("status", .int(status))]), headers: headers)
    }

    static func empty(_ status: Int, close: Bool = false) -> HTTPResult {
        HTTPResult(status: status, headers: [], body: [], isJSON: false, close: close)
    }
}
