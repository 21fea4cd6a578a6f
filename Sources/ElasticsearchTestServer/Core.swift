import Foundation

/// A complete HTTP request as the server saw it (body already decoded).
struct IncomingRequest: Sendable {
    var method: String
    var uri: String
    var headers: [(String, String)]
    var body: [UInt8]
    var compressedSize: Int
    var contentEncoding: String?

    func header(_ name: String) -> String? {
        headers.first { $0.0.caseInsensitiveCompare(name) == .orderedSame }?.1
    }

    func headerValues(_ name: String) -> [String] {
        headers.filter { $0.0.caseInsensitiveCompare(name) == .orderedSame }.map(\.1)
    }
}

enum Outcome: Sendable {
    case respond(HTTPResult, delay: Duration, then: [DownPeriod])
    case drop(delay: Duration, then: [DownPeriod])
}

/// What a handler produced, before `filter_path` / `pretty` / HEAD processing.
struct HandlerOutput: Sendable {
    enum Reply: Sendable {
        case value(Int, JSONValue)
        case result(HTTPResult)
    }
    var reply: Reply
    var headers: [(String, String)] = []
    var delay: Duration = .zero
    var drop = false
    /// Outages to start once the response was written.
    var triggerDown: [DownPeriod] = []

    static func ok(_ v: JSONValue) -> HandlerOutput { HandlerOutput(reply: .value(200, v)) }
    static func status(_ s: Int, _ v: JSONValue) -> HandlerOutput { HandlerOutput(reply: .value(s, v)) }
    static func error(_ e: ESError) -> HandlerOutput { HandlerOutput(reply: .result(.error(e))) }
}

struct RequestContext {
    var request: IncomingRequest
    var path: String
    var params: [String: String]
    var pathParams: [String: String]
    var endpoint: Endpoint
    /// REST API compatibility version requested through vendor media types, if any.
    var compatibleWith: Int?
    var responseContentType = "application/json"

    var method: String { request.method }
    var body: [UInt8] { request.body }

    func param(_ name: String) -> String? { params[name] }

    func bool(_ name: String, default d: Bool = false) throws(ESError) -> Bool {
        guard let v = params[name] else { return d }
        switch v {
        case "", "true": return true
        case "false": return false
        default: throw ESError.illegalArgument("Failed to parse value [\(v)] as only [true] or [false] are allowed.")
        }
    }

    func int(_ name: String) throws(ESError) -> Int? {
        guard let v = params[name] else { return nil }
        guard let i = Int(v) else { throw ESError.illegalArgument("Failed to parse int parameter [\(name)] with value [\(v)]") }
        return i
    }

    /// The body parsed as a JSON object, or nil when there is no body.
    func jsonBody(required: Bool = false, source: String = "body") throws(ESError) -> JSONValue? {
        var bytes = body
        if bytes.isEmpty, let s = params["source"] { bytes = Array(s.utf8) }
        if bytes.isEmpty {
            if required { throw ESError.parseException("request body is required") }
            return nil
        }
        do {
            let v = try JSONParser.parse(bytes)
            return v
        } catch {
            throw ESError(status: 400, type: "x_content_parse_exception", reason: "[\(error.line):\(error.column)] \(error.message)")
        }
    }
}

final class ServerCore: @unchecked Sendable {
    let configuration: ElasticsearchTestServerConfiguration
    let majorVersion: Int
    private let lock = NSLock()
    private let cluster: Cluster
    private var plan: FaultPlan
    private(set) var planEpoch = 0
    private var bulkRequestsSincePlan = 0
    private var counters = FaultCounters()
    private var log: [RecordedRequest] = []
    private var downMode: DownMode?
    private var idCounter: UInt64 = 0
    private let idNode: [UInt8]
    private var totals = (bulkRequests: 0, items: 0, failedItems: 0)

    init(configuration: ElasticsearchTestServerConfiguration) {
        self.configuration = configuration
        self.majorVersion = Int(configuration.versionNumber.split(separator: ".").first ?? "9") ?? 9
        self.cluster = Cluster(configuration: configuration)
        self.plan = configuration.faultPlan
        var rng = SystemRandomNumberGenerator()
        self.idNode = (0..<6).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    // MARK: Public state access

    var faultPlan: FaultPlan { locked { plan } }

    func setFaultPlan(_ newPlan: FaultPlan) -> Int {
        locked {
            plan = newPlan
            planEpoch += 1
            bulkRequestsSincePlan = 0
            return planEpoch
        }
    }

    var faultCounters: FaultCounters { locked { counters } }

    func addCounters(_ f: (inout FaultCounters) -> Void) { locked { f(&counters) } }

    var currentDownMode: DownMode? { locked { downMode } }

    func setDownMode(_ mode: DownMode?) { locked { downMode = mode } }

    var requestLog: [RecordedRequest] { locked { log } }

    func clearRequestLog() { locked { log.removeAll() } }

    func documents(index: String) -> [StoredDocument] {
        locked {
            let targets = (try? cluster.resolveRead(index)) ?? []
            var out: [StoredDocument] = []
            for idx in targets {
                for (id, d) in idx.docs.sorted(by: { $0.value.seqNo < $1.value.seqNo }) {
                    out.append(StoredDocument(index: idx.name, id: id, source: d.source, version: d.version, seqNo: d.seqNo))
                }
            }
            return out
        }
    }

    func document(index: String, id: String) -> StoredDocument? {
        locked {
            for idx in (try? cluster.resolveRead(index)) ?? [] {
                if let d = idx.docs[id] {
                    return StoredDocument(index: idx.name, id: id, source: d.source, version: d.version, seqNo: d.seqNo)
                }
            }
            return nil
        }
    }

    func count(index: String) -> Int {
        locked { ((try? cluster.resolveRead(index)) ?? []).reduce(0) { $0 + $1.docs.count } }
    }

    var totalCount: Int { locked { cluster.indices.values.reduce(0) { $0 + $1.docs.count } } }

    var indexNames: [String] { locked { ExactName.sorted(cluster.indices.keys) } }

    var dataStreamNames: [String] { locked { ExactName.sorted(cluster.dataStreams.keys) } }

    func mappingType(index: String, field: String) -> String? {
        locked { ((try? cluster.resolveRead(index)) ?? []).compactMap { $0.mapping.fields[field]?.name }.last }
    }

    var bulkTotals: (requests: Int, items: Int, failedItems: Int) { locked { (totals.bulkRequests, totals.items, totals.failedItems) } }

    func reset() {
        locked {
            cluster.indices.removeAll()
            cluster.aliases.removeAll()
            cluster.dataStreams.removeAll()
            cluster.templates.removeAll()
            cluster.componentTemplates.removeAll()
            cluster.legacyTemplates.removeAll()
            if configuration.builtInDataStreamTemplates { cluster.installBuiltInTemplates() }
            log.removeAll()
            counters = FaultCounters()
            totals = (0, 0, 0)
        }
    }

    func record(_ req: IncomingRequest, status: Int) {
        let path = String(req.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        let entry = RecordedRequest(
            method: req.method, uri: req.uri, path: path, headers: req.headers.map { (name: $0.0, value: $0.1) },
            contentEncoding: req.contentEncoding, compressedBodySize: req.compressedSize, bodySize: req.body.count,
            body: configuration.recordBodies ? req.body : nil, status: status, receivedAt: .now)
        locked {
            log.append(entry)
            if log.count > configuration.requestLogLimit + configuration.requestLogLimit / 4 {
                log.removeFirst(log.count - configuration.requestLogLimit)
            }
        }
    }

    private func generateID() -> String {
        idCounter += 1
        let ms = UInt64(Date().timeIntervalSince1970 * 1000)
        var b = [UInt8](repeating: 0, count: 15)
        for i in 0..<6 { b[i] = UInt8(truncatingIfNeeded: ms >> (8 * (5 - i))) }
        for i in 0..<3 { b[6 + i] = UInt8(truncatingIfNeeded: idCounter >> (8 * (2 - i))) }
        for i in 0..<6 { b[9 + i] = idNode[i] }
        return Base64URL.encode(b)
    }

    // MARK: Dispatch

    func handle(_ req: IncomingRequest) -> Outcome {
        let (output, ctxType, _) = dispatch(req)
        var result: HTTPResult
        switch output.reply {
        case .result(let r):
            result = r
        case .value(let status, let value):
            var v = value
            let params = QueryString.parse(Substring(req.uri.split(separator: "?", maxSplits: 1).dropFirst().first ?? ""))
            let dict = Dictionary(params, uniquingKeysWith: { _, b in b })
            if (200..<300).contains(status), let fp = dict["filter_path"] {
                let filter = FilterPath(fp)
                if !filter.isEmpty { v = filter.apply(v) }
            }
            let pretty = dict["pretty"].map { $0 == "" || $0 == "true" } ?? false
            result = HTTPResult(status: status, body: pretty ? JSONWriter.pretty(v) : JSONWriter.compact(v))
        }
        result.headers.append(contentsOf: output.headers)
        if result.isJSON { result.headers.append(("Content-Type", ctxType)) }
        if output.drop {
            record(req, status: 0)
            return .drop(delay: output.delay, then: output.triggerDown)
        }
        record(req, status: result.status)
        return .respond(result, delay: output.delay, then: output.triggerDown)
    }

    private func dispatch(_ req: IncomingRequest) -> (HandlerOutput, String, Bool) {
        let parts = req.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let rawPath = parts.first.map(String.init) ?? "/"
        let query = parts.count > 1 ? parts[1] : ""
        let segments = rawPath.split(separator: "/", omittingEmptySubsequences: true).map {
            QueryString.percentDecode($0, plusAsSpace: false)
        }
        let params = Dictionary(QueryString.parse(query), uniquingKeysWith: { _, b in b })
        let isHead = req.method == "HEAD"

        if locked({ downMode }) == .serviceUnavailable {
            addCounters { $0.unavailableWhileDown += 1 }
            let e = ESError(status: 503, type: "cluster_block_exception", reason: "blocked by: [SERVICE_UNAVAILABLE/2/no master];")
            return (.error(e), "application/json", isHead)
        }

        if req.method == "OPTIONS" {
            var allowed: [String] = []
            for m in ["GET", "HEAD", "POST", "PUT", "DELETE"] {
                if case .found = Routes.match(method: m, segments: segments) { allowed.append(m) }
            }
            if allowed.isEmpty {
                return (.status(400, .obj(["error": .string("no handler found for uri [\(req.uri)] and method [OPTIONS]")])), "application/json", false)
            }
            return (HandlerOutput(reply: .result(.empty(200)), headers: [("Allow", allowed.joined(separator: ","))]), "application/json", false)
        }

        let route: Route
        let pathParams: [String: String]
        switch Routes.match(method: req.method, segments: segments) {
        case .notFound:
            return (.status(400, .obj(["error": .string("no handler found for uri [\(req.uri)] and method [\(req.method)]")])), "application/json", isHead)
        case .methodNotAllowed(let methods):
            let r = HTTPResult.simpleError(
                405, "Incorrect HTTP method for uri [\(req.uri)] and method [\(req.method)], allowed: [\(methods.joined(separator: ", "))]",
                headers: [("Allow", methods.joined(separator: ","))])
            return (HandlerOutput(reply: .result(r)), "application/json", isHead)
        case .found(let r, let p):
            route = r
            pathParams = p
        }

        var ctx = RequestContext(request: req, path: rawPath, params: params, pathParams: pathParams, endpoint: route.endpoint)

        // Content-Type (RestController.dispatchRequest), only when there is a body.
        if !req.body.isEmpty {
            let values = req.headerValues("Content-Type")
            guard let ct = values.first else {
                return (HandlerOutput(reply: .result(.simpleError(406, "Content-Type header is missing"))), "application/json", isHead)
            }
            switch MediaType.classify(ct) {
            case .unsupported:
                return (HandlerOutput(reply: .result(.simpleError(406, "Content-Type header [\(ct)] is not supported"))), "application/json", isHead)
            case .nonStreaming(let name):
                if route.endpoint == .bulk {
                    return (
                        HandlerOutput(
                            reply: .result(.simpleError(406, "Content-Type [\(name)] does not support stream parsing. Use JSON or SMILE instead"))),
                        "application/json", isHead
                    )
                }
            case .json(let compat):
                if let compat {
                    if compat != majorVersion && compat != majorVersion - 1 {
                        let e = ESError(
                            status: 400, type: "media_type_header_exception", reason: "Invalid media-type value on headers [Content-Type]",
                            causedBy: ESError(
                                status: 400, type: "status_exception",
                                reason:
                                    "Content-Type version must be either version \(majorVersion - 1) or \(majorVersion), but found \(compat). Content-Type=\(ct)"),
                            causeIsRoot: true)
                        return (.error(e), "application/json", isHead)
                    }
                    ctx.compatibleWith = compat
                }
            case .smile:
                break
            }
        }
        if let accept = req.header("Accept"), case .json(let compat?) = MediaType.classify(accept) {
            ctx.responseContentType = "application/vnd.elasticsearch+json;compatible-with=\(compat)"
            if ctx.compatibleWith == nil { ctx.compatibleWith = compat }
        }

        // Authentication (the security REST interceptor runs after the content-type checks).
        if let authError = authenticate(req) {
            addCounters { $0.unauthorizedRequests += 1 }
            return (.error(authError), "application/json", isHead)
        }

        // Unrecognized parameters (BaseRestHandler).
        let invalid = params.keys.filter { !route.params.contains($0) }.sorted()
        if !invalid.isEmpty {
            return (.error(unrecognized(invalid, route: route, path: rawPath)), ctx.responseContentType, isHead)
        }
        for flag in ["pretty", "human", "error_trace"] {
            do {
                _ = try ctx.bool(flag)
            } catch {
                return (.error(error), ctx.responseContentType, isHead)
            }
        }

        var out: HandlerOutput
        do {
            out = try run(&ctx)
        } catch {
            out = .error(error)
        }
        return (out, ctx.responseContentType, isHead)
    }

    private func unrecognized(_ invalid: [String], route: Route, path: String) -> ESError {
        var message = "request [\(path)] contains unrecognized \(invalid.count == 1 ? "parameter" : "parameters"): "
        for (i, key) in invalid.enumerated() {
            if i > 0 { message += ", " }
            message += "[\(key)]"
            var candidates: [(Double, String)] = []
            for p in route.params {
                let score = levenshteinSimilarity(key, p)
                if score > 0.5 { candidates.append((score, p)) }
            }
            candidates.sort { a, b in a.0 != b.0 ? a.0 > b.0 : a.1 < b.1 }
            let scored: [String] = candidates.map { $0.1 }
            if !scored.isEmpty {
                message += " -> did you mean "
                message += scored.count == 1 ? "[\(scored[0])]" : "any of [\(scored.joined(separator: ", "))]"
                message += "?"
            }
        }
        return .illegalArgument(message)
    }

    static let wwwAuthenticate = ["Basic realm=\"security\", charset=\"UTF-8\"", "Bearer realm=\"security\"", "ApiKey"]

    private func authenticate(_ req: IncomingRequest) -> ESError? {
        guard configuration.credentials != nil || !configuration.apiKeys.isEmpty else { return nil }
        func fail(_ reason: String) -> ESError {
            var e = ESError(status: 401, type: "security_exception", reason: reason)
            e.header = [JSONMember("WWW-Authenticate", .array(ServerCore.wwwAuthenticate.map { .string($0) }))]
            e.httpHeaders = ServerCore.wwwAuthenticate.map { ("WWW-Authenticate", $0) }
            return e
        }
        guard let auth = req.header("Authorization") else {
            return fail("missing authentication credentials for REST request [\(req.uri)]")
        }
        let pieces = auth.split(separator: " ", maxSplits: 1)
        let scheme = pieces.first.map { $0.lowercased() } ?? ""
        let token = pieces.count > 1 ? String(pieces[1]).trimmingCharacters(inSet: " ") : ""
        let decoded = Data(base64Encoded: token).flatMap { String(data: $0, encoding: .utf8) }
        switch scheme {
        case "basic":
            if let c = configuration.credentials, let decoded, let colon = decoded.firstIndex(of: ":") {
                let user = String(decoded[..<colon])
                let pass = String(decoded[decoded.index(after: colon)...])
                if user == c.username && pass == c.password { return nil }
                return fail("unable to authenticate user [\(user)] for REST request [\(req.uri)]")
            }
            if let decoded, let colon = decoded.firstIndex(of: ":") {
                return fail("unable to authenticate user [\(decoded[..<colon])] for REST request [\(req.uri)]")
            }
            return fail("missing authentication credentials for REST request [\(req.uri)]")
        case "apikey":
            if let decoded, configuration.apiKeys.contains(decoded) { return nil }
            return fail("unable to authenticate with provided credentials and anonymous access is not allowed for this request")
        default:
            return fail("unable to authenticate with provided credentials and anonymous access is not allowed for this request")
        }
    }

    // MARK: Handlers

    private func run(_ ctx: inout RequestContext) throws(ESError) -> HandlerOutput {
        switch ctx.endpoint {
        case .info: return locked { info() }
        case .health: return try health(ctx)
        case .bulk: return try bulkWithTriggers(ctx)
        case .putTemplate: return try putTemplate(ctx)
        case .getTemplate, .listTemplates, .headTemplate: return try getTemplate(ctx)
        case .deleteTemplate: return try deleteTemplate(ctx)
        case .putComponentTemplate: return try putComponentTemplate(ctx)
        case .getComponentTemplate: return try getComponentTemplate(ctx)
        case .deleteComponentTemplate: return try deleteComponentTemplate(ctx)
        case .putLegacyTemplate: return try putLegacyTemplate(ctx)
        case .getLegacyTemplate, .headLegacyTemplate: return try getLegacyTemplate(ctx)
        case .deleteLegacyTemplate: return try deleteLegacyTemplate(ctx)
        case .createIndex: return try createIndex(ctx)
        case .getIndex, .headIndex: return try getIndex(ctx)
        case .deleteIndex: return try deleteIndex(ctx)
        case .count: return try search(ctx, countOnly: true)
        case .search: return try search(ctx, countOnly: false)
        case .refresh: return try refresh(ctx)
        case .stats: return try stats(ctx)
        case .indexDoc, .createDoc: return try singleWrite(ctx)
        case .getDoc, .headDoc: return try getDoc(ctx)
        case .deleteDoc: return try singleWrite(ctx)
        case .putAlias: return try putAlias(ctx)
        case .getAlias: return try getAlias(ctx)
        case .putDataStream: return try putDataStream(ctx)
        case .getDataStream: return try getDataStream(ctx)
        case .deleteDataStream: return try deleteDataStream(ctx)
        case .rollover: return try rollover(ctx)
        case .getMapping: return try getMapping(ctx)
        case .putMapping: return try putMapping(ctx)
        }
    }

    private func lockedThrowing<T>(_ body: () throws(ESError) -> T) throws(ESError) -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    private func info() -> HandlerOutput {
        let v = configuration.versionNumber
        let nine = majorVersion >= 9
        return .ok(
            .obj([
                "name": .string(configuration.nodeName),
                "cluster_name": .string(configuration.clusterName),
                "cluster_uuid": .string("zk-HjQtYQGyL3NFSSu7InA"),
                "version": .obj([
                    "number": .string(v),
                    "build_flavor": .string("default"),
                    "build_type": .string("docker"),
                    "build_hash": .string("00000000"),
                    "build_date": .string("2025-07-09T22:10:13.578182715Z"),
                    "build_snapshot": .bool(false),
                    "lucene_version": .string(nine ? "10.2.2" : "9.12.0"),
                    "minimum_wire_compatibility_version": .string(nine ? "8.19.0" : "7.17.0"),
                    "minimum_index_compatibility_version": .string(nine ? "8.0.0" : "7.0.0"),
                ]),
                "tagline": .string("You Know, for Search"),
            ]))
    }

    static func parseTimeValue(_ s: String) -> Duration? {
        let units: [(String, Double)] = [("nanos", 1e-9), ("micros", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        for (u, f) in units where s.hasSuffix(u) {
            if let n = Double(s.dropLast(u.count)) { return .milliseconds(Int64(n * f * 1000)) }
        }
        if s == "-1" || s == "0" { return .zero }
        return nil
    }

    private func health(_ ctx: RequestContext) throws(ESError) -> HandlerOutput {
        let (body, status, missing) = locked { () -> (JSONValue, String, Bool) in
            var targets = Array(cluster.indices.values)
            var missing = false
            if let idx = ctx.pathParams["index"] {
                if let r = try? cluster.resolveRead(idx) { targets = r } else { targets = []; missing = true }
            }
            let primaries = targets.count
            let unassigned = targets.reduce(0) { $0 + $1.replicas }
            let status = missing ? "red" : (unassigned > 0 ? "yellow" : "green")
            let percent = primaries + unassigned == 0 ? 100.0 : Double(primaries) * 100 / Double(primaries + unassigned)
            let body: JSONValue = .obj([
                "cluster_name": .string(configuration.clusterName),
                "status": .string(status),
                "timed_out": .bool(false),
                "number_of_nodes": .int(1),
                "number_of_data_nodes": .int(1),
                "active_primary_shards": .int(primaries),
                "active_shards": .int(primaries),
                "relocating_shards": .int(0),
                "initializing_shards": .int(0),
                "unassigned_shards": .int(unassigned),
                "unassigned_primary_shards": .int(0),
                "delayed_unassigned_shards": .int(0),
                "number_of_pending_tasks": .int(0),
                "number_of_in_flight_fetch": .int(0),
                "task_max_waiting_in_queue_millis": .int(0),
                "active_shards_percent_as_number": .double(percent),
            ])
            return (body, status, missing)
        }
        if let wanted = ctx.param("wait_for_status") {
            let rank = ["red": 0, "yellow": 1, "green": 2]
            guard let w = rank[wanted] else { throw ESError.illegalArgument("unknown cluster health status [\(wanted)]") }
            if rank[status]! < w {
                let timeout = ctx.param("timeout").flatMap(ServerCore.parseTimeValue) ?? .seconds(30)
                var timedOut = body
                if case .object(var m) = timedOut, let i = m.firstIndex(where: { $0.key == "timed_out" }) {
                    m[i].value = .bool(true)
                    timedOut = .object(m)
                }
                return HandlerOutput(reply: .value(408, timedOut), delay: timeout)
            }
        }
        _ = missing
        return .ok(body)
    }

    // MARK: Bulk

    private func wholeRequestFault(_ status: Int, bodyBytes: Int) -> HandlerOutput {
        switch status {
        case 413:
            return HandlerOutput(reply: .result(.empty(413)))
        case 429:
            return .error(
                ESError(
                    status: 429, type: "es_rejected_execution_exception",
                    reason:
                        "rejected execution of coordinating operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=\(bodyBytes), coordinating_operation_bytes=\(bodyBytes), max_coordinating_and_primary_bytes=107374182]"
                ))
        case 503:
            return .error(ESError(status: 503, type: "cluster_block_exception", reason: "blocked by: [SERVICE_UNAVAILABLE/2/no master];"))
        case 401:
            var e = ESError(status: 401, type: "security_exception", reason: "missing authentication credentials for REST request [/_bulk]")
            e.header = [JSONMember("WWW-Authenticate", .array(ServerCore.wwwAuthenticate.map { .string($0) }))]
            e.httpHeaders = ServerCore.wwwAuthenticate.map { ("WWW-Authenticate", $0) }
            return .error(e)
        case 403:
            return .error(
                ESError(
                    status: 403, type: "security_exception",
                    reason:
                        "action [indices:data/write/bulk] is unauthorized for user [elastic] with effective roles [viewer], this action is granted by the cluster privileges [all]"
                ))
        default:
            return .error(ESError(status: status, type: "exception", reason: "injected failure with status [\(status)]"))
        }
    }

    private func bulkWithTriggers(_ ctx: RequestContext) throws(ESError) -> HandlerOutput {
        var downs: [DownPeriod] = []
        var out: HandlerOutput
        do {
            out = try bulk(ctx, downs: &downs)
        } catch {
            out = .error(error)
        }
        out.triggerDown = downs
        return out
    }

    private func bulk(_ ctx: RequestContext, downs downsOut: inout [DownPeriod]) throws(ESError) -> HandlerOutput {
        // Fault decisions for this request (seeded by the request's position since the plan was set).
        let (plan, position) = locked { () -> (FaultPlan, Int) in
            defer { bulkRequestsSincePlan += 1 }
            return (self.plan, bulkRequestsSincePlan)
        }
        var rng = SeededRandom(seed: plan.seed, stream: UInt64(position))
        let scripted: ScriptedBulkFault? = position < plan.script.count ? plan.script[position] : nil
        var delay = plan.latency
        var drop: Bool? = nil  // afterApplying when set
        var failStatus: Int? = nil
        var forcedItems: [Int: ItemFault] = [:]
        var random = true
        switch scripted {
        case .pass?: random = false
        case .failRequest(let s)?: failStatus = s; random = false
        case .failItems(let items)?: forcedItems = items; random = false
        case .dropConnection(let after)?: drop = after; random = false
        case .delay(let d)?: delay += d; random = false
        case nil: break
        }
        // Always draw in the same order so decisions only depend on (seed, position).
        let uFail = rng.nextUnit(), uDrop = rng.nextUnit(), uJitter = rng.nextUnit()
        if random {
            if uFail < plan.requestFailureShare { failStatus = plan.requestFailureStatus }
            if failStatus == nil && uDrop < plan.connectionDropShare { drop = plan.dropAfterApplying }
            if plan.latencyJitter > .zero { delay += plan.latencyJitter * uJitter }
        }
        if delay > .zero { addCounters { $0.delayedRequests += 1 } }
        let downs = plan.downPeriods.filter { period in
            if case .afterBulkRequests(let n) = period.trigger { return n == position + 1 }
            return false
        }
        downsOut = downs

        if let failStatus {
            addCounters {
                $0.failedRequests += 1
                if failStatus == 413 { $0.tooLargeRequests += 1 }
            }
            var out = wholeRequestFault(failStatus, bodyBytes: ctx.body.count)
            out.delay = delay
            return out
        }
        if drop == false {
            addCounters { $0.droppedConnections += 1 }
            return HandlerOutput(reply: .result(.empty(0)), delay: delay, drop: true)
        }

        let started = ContinuousClock.now
        guard !ctx.body.isEmpty else { throw ESError.parseException("request body is required") }
        var options = BulkRequestOptions()
        options.defaultIndex = ctx.pathParams["index"]
        options.pipeline = ctx.param("pipeline")
        options.requireAlias = try ctx.bool("require_alias")
        options.requireDataStream = try ctx.bool("require_data_stream")
        if let r = ctx.param("refresh") {
            switch r {
            case "", "true": options.refresh = true
            case "false", "wait_for": options.refresh = false
            default: throw ESError.illegalArgument("Unknown value for refresh: [\(r)].")
            }
        }
        _ = try ctx.bool("list_executed_pipelines")
        _ = try ctx.bool("include_source_on_error", default: true)
        if let s = ctx.param("_source") { options.source = SourceFilter(json: .string(s)) }
        if let inc = ctx.param("_source_includes") {
            var f = options.source ?? SourceFilter(fetch: true)
            f.includes = SourceFilter.list(.string(inc))
            options.source = f
        }
        if let exc = ctx.param("_source_excludes") {
            var f = options.source ?? SourceFilter(fetch: true)
            f.excludes = SourceFilter.list(.string(exc))
            options.source = f
        }
        options.lenient8x = majorVersion <= 8
        options.allowType = ctx.compatibleWith == 7
        if let vt = ctx.param("version_type") { _ = vt }

        let ops = try BulkParser.parse(ctx.body, options: options)
        if let invalid = BulkParser.validate(ops) { throw invalid }

        var itemFaults = ItemFaultPlan()
        itemFaults.forced = forcedItems
        itemFaults.mappingRules = plan.mappingErrorRules
        if random {
            itemFaults.rejectionShare = plan.itemRejectionShare
            itemFaults.unavailableShare = plan.itemUnavailableShare
            itemFaults.rng = rng
        }
        let outcome = locked { () -> BulkOutcome in
            var executor = BulkExecutor(cluster: cluster, options: options, faults: itemFaults, idGenerator: { [unowned self] in self.generateID() })
            let o = executor.run(ops)
            counters.rejectedItems += o.counters.rejectedItems
            counters.unavailableItems += o.counters.unavailableItems
            counters.mappingErrorItems += o.counters.mappingErrorItems
            counters.conflictItems += o.counters.conflictItems
            counters.internalErrorItems += o.counters.internalErrorItems
            totals.bulkRequests += 1
            totals.items += o.items.count
            totals.failedItems += o.items.count - o.applied
            return o
        }
        if drop == true {
            addCounters { $0.droppedConnections += 1 }
            return HandlerOutput(reply: .result(.empty(0)), delay: delay, drop: true)
        }
        let took = max(0, Int((ContinuousClock.now - started) / .milliseconds(1)))
        if !(ctx.param("pretty").map { $0 == "" || $0 == "true" } ?? false) {
            // The same bytes `handle` would write for the tree below (filter_path included), without the tree.
            var writer = BulkResponseWriter(filterPath: ctx.param("filter_path"))
            let bytes = writer.write(errors: outcome.errors, took: took, ingestRan: outcome.ingestRan, items: outcome.items)
            return HandlerOutput(reply: .result(HTTPResult(status: 200, body: bytes)), delay: delay)
        }
        var members: [JSONMember] = [JSONMember("errors", .bool(outcome.errors)), JSONMember("took", .int(took))]
        if outcome.ingestRan { members.append(JSONMember("ingest_took", .int(0))) }
        members.append(JSONMember("items", .array(outcome.items.map(BulkExecutor.json))))
        let body: JSONValue = .object(members)
        return HandlerOutput(reply: .value(200, body), delay: delay)
    }


    // MARK: Templates

    private func putTemplate(_ ctx: RequestContext) throws(ESError) -> HandlerOutput {
        let name = ctx.pathParams["name"]!
        guard let body = try ctx.jsonBody(required: true), case .object(let members) = body else {
            throw ESError(status: 400, type: "x_content_parse_exception", reason: "[1:1] [index_template] Expected START_OBJECT")
        }
        let allowed: Set<String> = [
            "index_patterns", "composed_of", "template", "priority", "version", "_meta", "data_stream", "allow_auto_create", "deprecated",
            "ignore_missing_component_templates",
        ]
        for m in members where !allowed.contains(m.key) {
            throw ESError(status: 400, type: "x_content_parse_exception", reason: "[1:2] [index_template] unknown field [\(m.key)]")
        }
        var patterns: [String] = []
        switch body["index_patterns"] {
        case .string(let s)?: patterns = s.split(separator: ",").map(String.init)
        case .array(let a)?: patterns = a.compactMap(\.stringValue)
        default: break
        }
        if patterns.isEmpty { throw ESError.actionValidation(["index patterns are missing"]) }
        let priority = body["priority"]?.int64Value.map(Int.init) ?? 0
        let composedOf = body["composed_of"].map { SourceFilter.list($0) } ?? []
        let create = try ctx.bool("create")
        return try lockedThrowing { () throws(ESError) -> HandlerOutput in
            if create, cluster.templates[name] != nil, cluster.templates[name]?.builtIn == false {
                throw ESError.illegalArgument("index template [\(name)] already exists")
            }
            let missing = composedOf.filter { cluster.componentTemplates[$0] == nil }
            if !missing.isEmpty {
                let ignored = Set(body["ignore_missing_component_templates"].map { SourceFilter.list($0) } ?? [])
                let reallyMissing = missing.filter { !ignored.contains($0) }
                if !reallyMissing.isEmpty {
                    throw ESError(
                        status: 400, type: "invalid_index_template_exception",
                        reason:
                            "index_template [\(name)] invalid, cause [index template [\(name)] specifies component templates \(reallyMissing.map { "[\($0)]" }.joined(separator: ", ")) that do not exist]"
                    )
                }
            }
            for other in cluster.templates.values where other.name != name && other.priority == priority {
                let overlapping = other.patterns.filter { op in patterns.contains { Glob.overlaps($0, op) } }
                if !overlapping.isEmpty {
                    throw ESError.illegalArgument(
                        "index template [\(name)] has index patterns [\(patterns.joined(separator: ", "))] matching patterns from existing templates [\(other.name)] with patterns (\(other.name) => [\(other.patterns.joined(separator: ", "))]) that have the same priority [\(priority)], multiple index templates may not match during index creation, please use a different priority"
                    )
                }
            }
            cluster.templates[name] = IndexTemplate(
                name: name, patterns: patterns, priority: priority, dataStream: body["data_stream"] != nil && body["data_stream"] != .null,
                allowAutoCreate: body["allow_auto_create"]?.boolValue, composedOf: composedOf, template: body["template"], body: body)
            return .ok(.obj(["acknowledged": .bool(true)]))
        }
    }

    private func getTemplate(_ ctx: RequestContext) throws(ESError) -> HandlerOutput {
        let name = ctx.pathParams["name"]
        return try lockedThrowing { () throws(ESError) -> HandlerOutput in
            let matching = cluster.templates.values.filter { name == nil || Glob.matches(name!, $0.name) }.sorted { $0.name < $1.name }
            if matching.isEmpty, let name {
                throw ESError(status: 404, type: "resource_not_found_exception", reason: "index template matching [\(name)] not found")
            }
            return .ok(.obj(["index_templates": .array(matching.map { .obj(["name": .string($0.name), "index_template": $0.body]) })]))
        }
    }

    private func deleteTemplate(_ ctx: RequestContext) throws(ESError) -> HandlerOutput {
        let name = ctx.pathParams["name"]!
        return try lockedThrowing { () throws(ESError) -> HandlerOutput in
            let matching = cluster.templates.keys.filter { Glob.matches(name, $0) }
            if matching.isEmpty {
                throw ESError(status: 404, type: "index_template_missing_exception", reason: "index_template [\(name)] missing")
            }
            for m in matching { cluster.templates[m] = nil }
            return .ok(.obj(["acknowledged": .bool(true)]))
        }
    }

    private func putComponentTemplate(_ ctx: RequestContext) throws(ESError) -> HandlerOutput {
        let name = ctx.pathParams["name"]!
        guard let body = try ctx.jsonBody(required: true), body["template"] != nil else {
            throw ESError.actionValidation(["a component template is required"])
        }
        let create = try ctx.bool("create")
        return try lockedThrowing { () throws(ESError) -> HandlerOutput in
            if create && cluster.componentTemplates[name] != nil {
                throw ESError.illegalArgument("component template [\(name)] already exists")
            }
            cluster.componentTemplates[name] = body
            return .ok(.obj(["acknowledged": .bool(true)]))
        }
    }

    private func getComponentTemplate(_ ctx: RequestContext) throws(ESError) -> HandlerOutput {
        let name = ctx.pathParams["name"]!
        return try lockedThrowing { () throws(ESError) -> HandlerOutput in
            let matching = cluster.componentTemplates.filter { Glob.matches(name, $0.key) }.sorted { $0.key < $1.key }
            if matching.isEmpty {
                throw ESError(status: 404, type: "resource_not_found_exception", reason: "component template matching [\(name)] not found")
            }
            return .ok(.obj(["component_templates": .array(matching.map { .obj(["name": .string($0.key), "component_template": $0.value]) })]))
        }
    }

    private func deleteComponentTemplate(_ ctx: RequestContext) throws(ESError) -> HandlerOutput {
        let name = ctx.pathParams["name"]!
        return try lockedThrowing { () throws(ESError) -> HandlerOutput in
            guard cluster.componentTemplates[name] != nil else {
                throw ESError(status: 404, type: "resource_not_found_exception", reason: "\(name)")
            }
            cluster.componentTemplates[name] = nil
            return .ok(.obj(["acknowledged": .bool(true)]))
        }
    }

    private func putLegacyTemplate(_ ctx: RequestContext) throws(ESError) -> HandlerOutput {
        let name = ctx.pathParams["name"]!
        guard let body = try ctx.jsonBody(required: true) else { throw ESError.parseException("request body is required") }
        if body["index_patterns"] == nil && body["template"] == nil { throw ESError.actionValidation(["index patterns are missing"]) }
        let create = try ctx.bool("create")
        return try lockedThrowing { () throws(ESError) -> HandlerOutput in
            if create && cluster.legacyTemplates[name] != nil {
                throw ESError.illegalArgument("index_template [\(name)] already exists")
            }
            cluster.legacyTemplates[name] = body
            return .ok(.obj(["acknowledged": .bool(true)]))
        }
    }

    private func getLegacyTemplate(_ ctx: RequestContext) throws(ESError) -> HandlerOutput {
        let name = ctx.pathParams["name"]!
        return locked {
            let matching = cluster.legacyTemplates.filter { Glob.matches(name, $0.key) }.sorted { $0.key < $1.key }
            if matching.isEmpty { return .status(404, .object([])) }
            return .ok(.object(matching.map { JSONMember($0.key, $0.value) }))
        }
    }

    private func deleteLegacyTemplate(_ ctx: RequestContext) throws(ESError) -> HandlerOutput {
        let name = ctx.pathParams["name"]!
        return try lockedThrowing { () throws(ESError) -> HandlerOutput in
            guard cluster.legacyTemplates[name] != nil else {
                throw ESError(status: 404, type: "index_template_missing_exception", reason: "index_template [\(name)] missing")
            }
            cluster.legacyTemplates[name] = nil
            return .ok(.obj(["acknowledged": .bool(true)]))
        }
    }

    // MARK: Indices

    private func createIndex(_ ctx: RequestContext) throws(ESError) -> HandlerOutput {
        let name = ctx.pathParams["index"]!
        let body = try ctx.jsonBody()
        if let body, case .object(let members) = body {
            for m in members where !["settings", "mappings", "aliases"].contains(m.key) {
                throw ESError.parseException("unknown key [\(m.key)] for create index")
            }
        }
        return try lockedThrowing { () throws(ESError) -> HandlerOutput in
            if let existing = cluster.indices[name] {
                throw ESError(
                    status: 400, type: "resource_already_exists_exception", reason: "index [\(name)/\(existing.uuid)] already exists",
                    metadata: [JSONMember("index_uuid", .string(existing.uuid)), JSONMember("index", .string(name))])
            }
            if cluster.aliases[name] != nil { throw ESError.invalidIndexName(name, "already exists as alias") }
            if cluster.dataStreams[name] != nil {
                throw ESError(
                    status: 400, type: "resource_already_exists_exception", reason: "data stream [\(name)] already exists",
                    metadata: [JSONMember("index_uuid", .string("_na_")), JSONMember("index", .string(name))])
            }
            if let problem = Cluster.indexNameProblem(name) { throw ESError.invalidIndexName(name, problem) }
            let template = cluster.matchingTemplate(for: name)
            if let template, template.dataStream {
                throw ESError.illegalArgument(
                    "cannot create index with name [\(name)], because it matches with template [\(template.name)] that creates data streams only, use create data stream api instead"
                )
            }
            cluster.createIndex(name, body: body, template: template)
            return .ok(.obj(["acknowledged": .bool(true), "shards_acknowledged": .bool(true), "index": .string(name)]))
        }
    }

    private func indexJSON(_ idx: IndexState) -> JSONValue {
        var aliasMembers: [JSONMember] = []
        for (alias, members) in cluster.aliases.sorted(by: { ExactName.precedes($0.key, $1.key) }) {
            if let w = members[idx.name] {
                aliasMembers.append(JSONMember(alias, w.map { .obj(["is_write_index": .bool($0)]) } ?? .object([])))
            }
        }
        var indexSettings: [JSONMember] = [
            JSONMember("creation_date", .string(String(idx.creationDate))),
            JSONMember("number_of_shards", .string("1")),
            JSONMember("number_of_replicas", .string(String(idx.replicas))),
            JSONMember("uuid", .string(idx.uuid)),
            JSONMember("version", .obj(["created": .string("9009000")])),
            JSONMember("provided_name", .string(idx.name)),
        ]
        if idx.dataStream != nil { indexSettings.append(JSONMember("hidden", .string("true"))) }
        var m: [JSONMember] = [
            JSONMember("aliases", .object(aliasMembers)),
            JSONMember("mappings", idx.mapping.json()),
            JSONMember("settings", .obj(["index": .object(indexSettings)])),
        ]
        if let ds = idx.dataStream { m.append(JSONMember("data_stream", .string(ds))) }
        return .object(m)
    }

    private func getIndex(_ ctx: RequestContext) throws(ESError) -> HandlerOutput {
        let expr = ctx.pathParams["index"]!
        let ignoreUnavailable = try ctx.bool("ignore_unavailable")
        return try lockedThrowing { () throws(ESError) -> HandlerOutput in
            var targets: [IndexState] = []
            do throws(ESError) {
                targets = try cluster.resolveRead(expr)
            } catch {
                if !ignoreUnavailable { throw error }
            }
            if ctx.endpoint == .headIndex && targets.isEmpty && !expr.contains("*") {
                throw ESError.indexNotFound(expr)
            }
            return .ok(.object(targets.map { JSONMember($0.name, indexJSON($0)) }))
        }
    }

    private func deleteIndex(_ ctx: RequestContext) throws(ESError) -> HandlerOutput {
        let expr = ctx.pathParams["index"]!
        return try lockedThrowing { () throws(ESError) -> HandlerOutput in
            var names: [String] = []
            for part in expr.split(separator: ",").map(String.init) {
                if part.contains("*") || part == "_all" {
                    throw ESError.illegalArgument("Wildcard expressions or all indices are not allowed")
                }
                if cluster.dataStreams[part] != nil {
                    throw ESError.illegalArgument(
                        "index [\(part)] is a data stream; use the delete data stream API instead")
                }
                guard let idx = cluster.indices[part] else { throw ESError.indexNotFound(part) }
                if let ds = idx.dataStream, let stream = cluster.dataStreams[ds], ExactName.same(stream.writeIndex, part) {
                    throw ESError.illegalArgument(
                        "index [\(part)] is the write index for data stream [\(ds)] and cannot be deleted")
                }
                names.append(part)
            }
            for n in names {
                if let ds = cluster.indices[n]?.dataStream { cluster.dataStreams[ds]?.backingIndices.removeAll { ExactName.same($0, n) } }
                cluster.deleteIndex(n)
            }
            return .ok(.obj(["acknowledged": .bool(true)]))
        }
    }

    private func shardsHeader(_ n: Int) -> JSONValue {
        .obj(["total": .int(n), "successful": .int(n), "skipped": .int(0), "failed": .int(0)])
    }

    private func search(_ ctx: RequestContext, countOnly: Bool) throws(ESError) -> HandlerOutput {
        let started = ContinuousClock.now
        let body = try ctx.jsonBody()
        var query: Query = .matchAll
        var size = 10
        var from = 0
        var sort: [SortKey] = []
        var sourceFilter: SourceFilter? = nil
        var trackTotalHits: JSONValue = .bool(false)
        var wantVersion = try ctx.bool("version")
        var wantSeqNo = try ctx.bool("seq_no_primary_term")
        if let q = ctx.param("q") { query = Query.fromQueryString(q) }
        if let s = try ctx.int("size") { size = s }
        if let f = try ctx.int("from") { from = f }
        if let s = ctx.param("sort") { sort = SortKey.fromParam(s) }
        if let s = ctx.param("_source") { sourceFilter = SourceFilter(json: .string(s)) }
        if let s = ctx.param("_source_includes") {
            sourceFilter = SourceFilter(fetch: true, includes: SourceFilter.list(.string(s)), excludes: sourceFilter?.excludes ?? [])
        }
        if let s = ctx.param("_source_excludes") {
            sourceFilter = SourceFilter(fetch: true, includes: sourceFilter?.includes ?? [], excludes: SourceFilter.list(.string(s)))
        }
        if let t = ctx.param("track_total_hits") { trackTotalHits = (Int(t).map { .int($0) }) ?? .bool(t != "false") }
        if let body {
            guard case .object(let members) = body else { throw Query.parsing("Expected [START_OBJECT] but found [\(body.tokenName)]") }
            for m in members {
                switch m.key {
                case "query": query = try Query.parse(m.value)
                case "size": size = m.value.int64Value.map(Int.init) ?? size
                case "from": from = m.value.int64Value.map(Int.init) ?? from
                case "sort": sort = try SortKey.parse(m.value)
                case "_source": sourceFilter = SourceFilter(json: m.value)
                case "track_total_hits": trackTotalHits = m.value
                case "version": wantVersion = m.value.boolValue ?? false
                case "seq_no_primary_term": wantSeqNo = m.value.boolValue ?? false
                case "post_filter":
                    let pf = try Query.parse(m.value)
                    query = .bool(must: [query], filter: [pf], should: [], mustNot: [], minimumShouldMatch: nil)
                case "aggs", "aggregations", "highlight", "timeout", "track_scores", "stored_fields", "docvalue_fields", "fields",
                    "runtime_mappings", "min_score", "terminate_after", "explain", "indices_boost", "search_after", "collapse",
                    "rescore", "suggest", "profile", "pit", "stats", "ext", "_name":
                    continue
                default:
                    throw Query.parsing("Unknown key for a \(m.value.tokenName) in [\(m.key)].")
                }
            }
        }
        if size < 0 { throw ESError.illegalArgument("[size] parameter cannot be negative, found [\(size)]") }
        if from < 0 { throw ESError.illegalArgument("[from] parameter cannot be negative, found [\(from)]") }
        let expr = ctx.pathParams["index"]
        let ignoreUnavailable = try ctx.bool("ignore_unavailable")
        let restTotalAsInt = try ctx.bool("rest_total_hits_as_int")

        struct Hit {
            var index: String
            var id: String
            var doc: DocState
            var parsed: JSONValue
        }
        let (hits, shardCount) = try lockedThrowing { () throws(ESError) -> ([Hit], Int) in
            var targets: [IndexState] = []
            do throws(ESError) {
                targets = try cluster.resolveRead(expr)
            } catch {
                if !ignoreUnavailable { throw error }
            }
            var hits: [Hit] = []
            for idx in targets {
                for (id, d) in idx.docs.sorted(by: { $0.value.seqNo < $1.value.seqNo }) {
                    let parsed = (try? JSONParser.parse(d.source)) ?? .object([])
                    if query.matches(parsed, id: id) { hits.append(Hit(index: idx.name, id: id, doc: d, parsed: parsed)) }
                }
            }
            return (hits, targets.count)
        }
        if countOnly {
            return .ok(.obj(["count": .int(hits.count), "_shards": shardsHeader(shardCount)]))
        }
        var sorted = hits
        let realSort = sort.filter { $0.field != "_score" }
        if !realSort.isEmpty {
            func key(_ h: Hit, _ k: SortKey) -> JSONValue? {
                if k.field == "_doc" { return .int(h.doc.seqNo) }
                if k.field == "_id" { return .string(h.id) }
                return Query.values(h.parsed, k.field).first
            }
            sorted.sort { a, b in
                for k in realSort {
                    let x = key(a, k), y = key(b, k)
                    switch (x, y) {
                    case (nil, nil): continue
                    case (nil, _): return false
                    case (_, nil): return true
                    case (let x?, let y?):
                        guard let c = Query.compare(x, y), c != 0 else { continue }
                        return k.descending ? c > 0 : c < 0
                    }
                }
                return false
            }
        }
        let page = sorted.dropFirst(from).prefix(size)
        let scored = realSort.isEmpty
        var hitValues: [JSONValue] = []
        for h in page {
            var m: [JSONMember] = [JSONMember("_index", .string(h.index)), JSONMember("_id", .string(h.id))]
            if wantVersion { m.append(JSONMember("_version", .int(h.doc.version))) }
            if wantSeqNo {
                m.append(JSONMember("_seq_no", .int(h.doc.seqNo)))
                m.append(JSONMember("_primary_term", .int(1)))
            }
            m.append(JSONMember("_score", scored ? .double(1.0) : .null))
            if let f = sourceFilter {
                if f.fetch { m.append(JSONMember("_source", f.apply(h.parsed))) }
            } else {
                m.append(JSONMember("_source", .raw(h.doc.source)))
            }
            if !scored {
                m.append(
                    JSONMember(
                        "sort",
                        .array(
                            realSort.map { k in
                                if k.field == "_doc" { return .int(h.doc.seqNo) }
                                if k.field == "_id" { return .string(h.id) }
                                return Query.values(h.parsed, k.field).first ?? .null
                            })))
            }
            hitValues.append(.object(m))
        }
        var hitsObj: [JSONMember] = []
        let total = hits.count
        var trackLimit: Int? = 10_000
        switch trackTotalHits {
        case .bool(true): trackLimit = nil
        case .bool(false): trackLimit = restTotalAsInt ? nil : 10_000
        case .number(let n): trackLimit = Int(n)
        default: break
        }
        if case .bool(false) = trackTotalHits, ctx.param("track_total_hits") == "false" || body?["track_total_hits"] == .bool(false) {
            // no total
        } else if restTotalAsInt {
            hitsObj.append(JSONMember("total", .int(total)))
        } else if let limit = trackLimit, total > limit {
            hitsObj.append(JSONMember("total", .obj(["value": .int(limit), "relation": .string("gte")])))
        } else {
            hitsObj.append(JSONMember("total", .obj(["value": .int(total), "relation": .string("eq")])))
        }
        hitsObj.append(JSONMember("max_score", scored && total > 0 ? .double(1.0) : .null))
        hitsObj.append(JSONMember("hits", .array(hitValues)))
        let took = Int((ContinuousClock.now - started) / .milliseconds(1))
        return .ok(
            .obj([
                "took": .int(took), "timed_out": .bool(false), "_shards": shardsHeader(shardCount), "hits": .object(hitsObj),
            ]))
    }

    private func refresh(_ ctx: RequestContext) throws(ESError) -> HandlerOutput {
        let n = try lockedThrowing { () throws(ESError) -> Int in try cluster.resolveRead(ctx.pathParams["index"]).count }
        return .ok(.obj(["_shards": .obj(["total": .int(n * 2), "successful": .int(n), "failed": .int(0)])]))
    }

    private func stats(_ ctx: RequestContext) throws(ESError) -> HandlerOutput {
        try lockedThrowing { () throws(ESError) -> HandlerOutput in
            let targets = try cluster.resolveRead(ctx.pathParams["index"])
            func block(_ list: [IndexState]) -> JSONValue {
                .obj([
                    "docs": .obj(["count": .int(list.reduce(0) { $0 + $1.docs.count }), "deleted": .int(0)]),
                    "indexing": .obj([
                        "index_total": .int(list.reduce(0) { $0 + $1.indexTotal }),
                        "index_current": .int(0),
                        "index_failed": .int(0),
                        "delete_total": .int(list.reduce(0) { $0 + $1.deleteTotal }),
                        "delete_current": .int(0),
                        "noop_update_total": .int(list.reduce(0) { $0 + $1.noopUpdateTotal }),
                    ]),
                ])
            }
            let all = block(targets)
            return .ok(
                .obj([
                    "_shards": .obj(["total": .int(targets.count), "successful": .int(targets.count), "failed": .int(0)]),
                    "_all": .obj(["primaries": all, "total": all]),
                    "indices": .object(
                        targets.map {
                            JSONMember(
                                $0.name,
                                .obj([
                                    "uuid": .string($0.uuid), "health": .string($0.replicas > 0 ? "yellow" : "green"), "status": .string("open"),
                                    "primaries": block([$0]), "total": block([$0]),
                                ]))
                        }),
                ]))
        }
    }

    // MARK: Single documents

    private func singleWrite(_ ctx: RequestContext) throws(ESError) -> HandlerOutput {
        let index = ctx.pathParams["index"]!
        let id = ctx.pathParams["id"]
        var action: BulkAction
        switch ctx.endpoint {
        case .createDoc: action = .create
        case .deleteDoc: action = .delete
        default: action = .index
        }
        let op = BulkOp(action: action, reportedAs: action, index: index, id: id, line: 1)
        if action == .index {
            if let t = ctx.param("op_type") {
                switch t {
                case "create": op.reportedAs = .create
                case "index": break
                default: throw ESError.illegalArgument("opType must be 'create' or 'index', found: [\(t)]")
                }
            } else if id == nil {
                op.reportedAs = .create
            }
        }
        func long(_ name: String) throws(ESError) -> Int64? {
            guard let v = ctx.param(name) else { return nil }
            guard let l = Int64(v) else { throw ESError.illegalArgument("Failed to parse long parameter [\(name)] with value [\(v)]") }
            return l
        }
        op.version = try long("version")
        op.versionType = ctx.param("version_type")
        op.ifSeqNo = try long("if_seq_no")
        op.ifPrimaryTerm = try long("if_primary_term")
        op.pipeline = ctx.param("pipeline")
        op.routing = ctx.param("routing")
        if ctx.params["require_alias"] != nil { op.requireAlias = try ctx.bool("require_alias") }
        if ctx.params["require_data_stream"] != nil { op.requireDataStream = try ctx.bool("require_data_stream") }
        if action != .delete {
            if ctx.body.isEmpty { throw ESError.parseException("request body is required") }
            op.sourceBytes = ctx.body[...]
            do throws(JSONParseError) {
                op.parsedSource = .success(try JSONParser.parse(ctx.body))
            } catch {
                op.parsedSource = .failure(error)
            }
        }
        if let invalid = BulkParser.validate([op]) { throw invalid }
        var options = BulkRequestOptions()
        if let r = ctx.param("refresh") { options.refresh = r == "" || r == "true" }
        let item = locked { () -> JSONValue in
            var executor = BulkExecutor(cluster: cluster, options: options, faults: ItemFaultPlan(), idGenerator: { [unowned self] in self.generateID() })
            return executor.execute(op, position: 0).0
        }
        guard let inner = item.objectMembers?.first?.value, case .object(var members) = inner else {
            throw ESError(status: 500, type: "exception", reason: "internal error")
        }
        let status = Int(members.first { $0.key == "status" }?.value.int64Value ?? 500)
        if let error = members.first(where: { $0.key == "error" })?.value {
            throw ServerCore.esError(from: error, status: status)
        }
        members.removeAll { $0.key == "status" }
        return .status(status, .object(members))
    }

    /// Rebuilds an ESError from an item `error` object (for single-document APIs).
    static func esError(from json: JSONValue, status: Int) -> ESError {
        let type = json["type"]?.stringValue ?? "exception"
        let reason = json["reason"]?.stringValue
        var metadata: [JSONMember] = []
        var cause: ESError?
        for m in json.objectMembers ?? [] {
            switch m.key {
            case "type", "reason": continue
            case "caused_by": cause = esError(from: m.value, status: status)
            default: metadata.append(m)
            }
        }
        return ESError(status: status, type: type, reason: reason, metadata: metadata, causedBy: cause)
    }

    private func getDoc(_ ctx: RequestContext) throws(ESError) -> HandlerOutput {
        let index = ctx.pathParams["index"]!
        let id = ctx.pathParams["id"]!
        var filter: SourceFilter?
        if let s = ctx.param("_source") { filter = SourceFilter(json: .string(s)) }
        if let s = ctx.param("_source_includes") { filter = SourceFilter(fetch: true, includes: SourceFilter.list(.string(s))) }
        if let s = ctx.param("_source_excludes") {
            filter = SourceFilter(fetch: true, includes: filter?.includes ?? [], excludes: SourceFilter.list(.string(s)))
        }
        return try lockedThrowing { () throws(ESError) -> HandlerOutput in
            let targets = try cluster.resolveRead(index)
            for idx in targets {
                if let d = idx.docs[id] {
                    var m: [JSONMember] = [
                        JSONMember("_index", .string(idx.name)), JSONMember("_id", .string(id)), JSONMember("_version", .int(d.version)),
                        JSONMember("_seq_no", .int(d.seqNo)), JSONMember("_primary_term", .int(1)), JSONMember("found", .bool(true)),
                    ]
                    if let filter {
                        if filter.fetch { m.append(JSONMember("_source", filter.apply(.raw(d.source)))) }
                    } else {
                        m.append(JSONMember("_source", .raw(d.source)))
                    }
                    return .ok(.object(m))
                }
            }
            return .status(
                404, .obj(["_index": .string(targets.first?.name ?? index), "_id": .string(id), "found": .bool(false)]))
        }
    }

    // MARK: Aliases, data streams, mappings

    private func putAlias(_ ctx: RequestContext) throws(ESError) -> HandlerOutput {
        let index = ctx.pathParams["index"]!
        let name = ctx.pathParams["name"]!
        let body = try ctx.jsonBody()
        return try lockedThrowing { () throws(ESError) -> HandlerOutput in
            let targets = try cluster.resolveRead(index)
            if cluster.indices[name] != nil {
                throw ESError.invalidIndexName(name, "an index or data stream exists with the same name as the alias")
            }
            for t in targets { cluster.aliases[name, default: [:]][t.name] = body?["is_write_index"]?.boolValue }
            return .ok(.obj(["acknowledged": .bool(true), "errors": .bool(false)]))
        }
    }

    private func getAlias(_ ctx: RequestContext) throws(ESError) -> HandlerOutput {
        let name = ctx.pathParams["name"]
        return try lockedThrowing { () throws(ESError) -> HandlerOutput in
            let targets = try cluster.resolveRead(ctx.pathParams["index"])
            var out: [JSONMember] = []
            var found = false
            for idx in targets {
                var aliases: [JSONMember] = []
                for (alias, members) in cluster.aliases.sorted(by: { ExactName.precedes($0.key, $1.key) }) where name == nil || Glob.matches(name!, alias) {
                    if let w = members[idx.name] {
                        found = true
                        aliases.append(JSONMember(alias, w.map { .obj(["is_write_index": .bool($0)]) } ?? .object([])))
                    }
                }
                if name == nil || !aliases.isEmpty { out.append(JSONMember(idx.name, .obj(["aliases": .object(aliases)]))) }
            }
            if let name, !found {
                return HandlerOutput(reply: .result(.simpleError(404, "alias [\(name)] missing")))
            }
            return .ok(.object(out))
        }
    }

    private func putDataStream(_ ctx: RequestContext) throws(ESError) -> HandlerOutput {
        let name = ctx.pathParams["name"]!
        return try lockedThrowing { () throws(ESError) -> HandlerOutput in
            if cluster.dataStreams[name] != nil {
                throw ESError(status: 400, type: "resource_already_exists_exception", reason: "data_stream [\(name)] already exists")
            }
            if let problem = Cluster.indexNameProblem(name) {
                throw ESError.illegalArgument("data_stream [\(name)] \(problem)")
            }
            guard let template = cluster.matchingTemplate(for: name) else {
                throw ESError.illegalArgument("no matching index template found for data stream [\(name)]")
            }
            guard template.dataStream else {
                throw ESError.illegalArgument("matching index template [\(template.name)] for data stream [\(name)] has no data stream template")
            }
            cluster.createDataStream(name, template: template)
            return .ok(.obj(["acknowledged": .bool(true)]))
        }
    }

    private func getDataStream(_ ctx: RequestContext) throws(ESError) -> HandlerOutput {
        let name = ctx.pathParams["name"] ?? "*"
        return try lockedThrowing { () throws(ESError) -> HandlerOutput in
            var list: [DataStreamState] = []
            for part in name.split(separator: ",").map(String.init) {
                if part.contains("*") || part == "_all" {
                    list.append(contentsOf: cluster.dataStreams.values.filter { Glob.matches(part == "_all" ? "*" : part, $0.name) })
                } else {
                    guard let ds = cluster.dataStreams[part] else { throw ESError.indexNotFound(part) }
                    list.append(ds)
                }
            }
            list.sort { $0.name < $1.name }
            return .ok(
                .obj([
                    "data_streams": .array(
                        list.map { ds in
                            let replicas = cluster.indices[ds.writeIndex]?.replicas ?? 1
                            return .obj([
                                "name": .string(ds.name),
                                "timestamp_field": .obj(["name": .string("@timestamp")]),
                                "indices": .array(
                                    ds.backingIndices.map {
                                        .obj(["index_name": .string($0), "index_uuid": .string(cluster.indices[$0]?.uuid ?? "_na_")])
                                    }),
                                "generation": .int(ds.generation),
                                "status": .string(replicas > 0 ? "YELLOW" : "GREEN"),
                                "template": .string(ds.template),
                                "hidden": .bool(false),
                                "system": .bool(false),
                                "allow_custom_routing": .bool(false),
                                "replicated": .bool(false),
                            ])
                        })
                ]))
        }
    }

    private func deleteDataStream(_ ctx: RequestContext) throws(ESError) -> HandlerOutput {
        let name = ctx.pathParams["name"]!
        return try lockedThrowing { () throws(ESError) -> HandlerOutput in
            let names = name.contains("*") ? cluster.dataStreams.keys.filter { Glob.matches(name, $0) } : [name]
            for n in names {
                guard let ds = cluster.dataStreams[n] else { throw ESError.indexNotFound(n) }
                for b in ds.backingIndices { cluster.deleteIndex(b) }
                cluster.dataStreams[n] = nil
            }
            return .ok(.obj(["acknowledged": .bool(true)]))
        }
    }

    private func rollover(_ ctx: RequestContext) throws(ESError) -> HandlerOutput {
        let name = ctx.pathParams["index"]!
        let dryRun = try ctx.bool("dry_run")
        return try lockedThrowing { () throws(ESError) -> HandlerOutput in
            guard cluster.dataStreams[name] != nil else {
                if cluster.indices[name] != nil {
                    throw ESError.illegalArgument("rollover target is a [concrete index] but one of [alias,data_stream] was expected")
                }
                throw ESError.illegalArgument("rollover target [\(name)] does not exist")
            }
            let old = cluster.dataStreams[name]!.writeIndex
            var new = Cluster.backingIndexName(name, generation: cluster.dataStreams[name]!.generation + 1, millis: Cluster.nowMillis())
            if !dryRun, let r = cluster.rollover(name) { new = r.new }
            return .ok(
                .obj([
                    "acknowledged": .bool(!dryRun), "shards_acknowledged": .bool(!dryRun), "old_index": .string(old), "new_index": .string(new),
                    "rolled_over": .bool(!dryRun), "dry_run": .bool(dryRun), "lazy": .bool(false), "conditions": .object([]),
                ]))
        }
    }

    private func getMapping(_ ctx: RequestContext) throws(ESError) -> HandlerOutput {
        try lockedThrowing { () throws(ESError) -> HandlerOutput in
            let targets = try cluster.resolveRead(ctx.pathParams["index"])
            return .ok(.object(targets.map { JSONMember($0.name, .obj(["mappings": $0.mapping.json()])) }))
        }
    }

    private func putMapping(_ ctx: RequestContext) throws(ESError) -> HandlerOutput {
        guard let body = try ctx.jsonBody(required: true) else { throw ESError.parseException("request body is required") }
        return try lockedThrowing { () throws(ESError) -> HandlerOutput in
            let targets = try cluster.resolveRead(ctx.pathParams["index"])
            for idx in targets {
                var m = IndexMapping()
                m.merge(body)
                for path in m.order {
                    if let existing = idx.mapping.fields[path], let new = m.fields[path], existing != new {
                        throw ESError.illegalArgument("mapper [\(path)] cannot be changed from type [\(existing.name)] to [\(new.name)]")
                    }
                }
            }
            for idx in targets { idx.mapping.merge(body) }
            return .ok(.obj(["acknowledged": .bool(true)]))
        }
    }
}

enum MediaType {
    enum Kind: Equatable {
        /// JSON / NDJSON; the `compatible-with` version of vendor types.
        case json(compatibleWith: Int?)
        case smile
        /// YAML or CBOR (parsable but not for bulk).
        case nonStreaming(String)
        case unsupported
    }

    static func classify(_ header: String) -> Kind {
        let parts = header.split(separator: ";").map { $0.trimmingCharacters(inSet: " \t").lowercased() }
        guard let type = parts.first else { return .unsupported }
        var compat: Int?
        for p in parts.dropFirst() {
            let kv = p.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(inSet: " \t\"") }
            if kv.count == 2 && kv[0] == "compatible-with" { compat = Int(kv[1]) }
        }
        switch type {
        case "application/json", "application/x-ndjson": return .json(compatibleWith: nil)
        case "application/vnd.elasticsearch+json", "application/vnd.elasticsearch+x-ndjson": return .json(compatibleWith: compat)
        case "application/smile", "application/vnd.elasticsearch+smile": return .smile
        case "application/yaml", "application/vnd.elasticsearch+yaml": return .nonStreaming("yaml")
        case "application/cbor", "application/vnd.elasticsearch+cbor": return .nonStreaming("cbor")
        default: return .unsupported
        }
    }
}
