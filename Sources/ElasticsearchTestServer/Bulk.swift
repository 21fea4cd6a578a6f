// `_bulk`: NDJSON parsing (PROTOCOL.md §2, following ES 9.x BulkRequestParser) and execution (§3–§5).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

enum BulkAction: String, Sendable {
    case index, create, update, delete
}

struct SourceFilter: Sendable {
    var fetch = true
    var includes: [String] = []
    var excludes: [String] = []

    /// Parses `_source` metadata / body values: `true`, `false`, `"a,b"`, `["a"]`, `{"includes":…,"excludes":…}`.
    init?(json: JSONValue) {
        switch json {
        case .bool(let b): fetch = b
        case .string(let s):
            if s == "true" { fetch = true } else if s == "false" { fetch = false } else { includes = SourceFilter.list(json) }
        case .array: includes = SourceFilter.list(json)
        case .object(let members):
            for m in members {
                switch m.key {
                case "includes", "include": includes = SourceFilter.list(m.value)
                case "excludes", "exclude": excludes = SourceFilter.list(m.value)
                default: return nil
                }
            }
        default: return nil
        }
    }

    init(fetch: Bool, includes: [String] = [], excludes: [String] = []) {
        self.fetch = fetch
        self.includes = includes
        self.excludes = excludes
    }

    static func list(_ json: JSONValue) -> [String] {
        switch json {
        case .string(let s): return s.split(separator: ",").map { $0.trimmingCharacters(inSet: " ") }
        case .array(let a): return a.compactMap(\.stringValue)
        default: return []
        }
    }

    func apply(_ source: JSONValue) -> JSONValue {
        if includes.isEmpty && excludes.isEmpty { return source }
        return filter(source.resolvedRaw(), prefix: "", included: includes.isEmpty) ?? .object([])
    }

    private func filter(_ value: JSONValue, prefix: String, included: Bool) -> JSONValue? {
        guard case .object(let members) = value else { return included ? value : nil }
        var out: [JSONMember] = []
        for m in members {
            let path = prefix.isEmpty ? m.key : prefix + "." + m.key
            if excludes.contains(where: { Glob.matches($0, path) }) { continue }
            let isIncluded = included || includes.contains(where: { Glob.matches($0, path) })
            let mayContain = includes.contains(where: { $0.hasPrefix(path + ".") || $0.contains("*") })
            if isIncluded {
                if case .object = m.value {
                    if let f = filter(m.value, prefix: path, included: true) { out.append(JSONMember(m.key, f)) }
                } else {
                    out.append(m)
                }
            } else if mayContain, case .object = m.value {
                if let f = filter(m.value, prefix: path, included: false), f != .object([]) { out.append(JSONMember(m.key, f)) }
            }
        }
        return .object(out)
    }
}

struct UpdateBody: Sendable {
    var doc: JSONValue?
    var upsert: JSONValue?
    var docAsUpsert = false
    var script: JSONValue?
    var scriptedUpsert = false
    var detectNoop = true
    var source: SourceFilter?
}

/// One parsed bulk action (a class: it is large and passed around a lot; each is used by one request only).
final class BulkOp: @unchecked Sendable {
    var action: BulkAction
    /// The key of the response item (`index` with `op_type:create` reports `create`).
    var reportedAs: BulkAction
    var index: String?
    var id: String?
    var routing: String?
    var pipeline: String?
    var version: Int64?
    var versionType: String?
    var ifSeqNo: Int64?
    var ifPrimaryTerm: Int64?
    var requireAlias: Bool?
    var requireDataStream: Bool?
    var dynamicTemplates: [String: String] = [:]
    var source: SourceFilter?
    var retryOnConflict = 0
    /// index/create: the source line exactly as sent (without a trailing `\r`), a slice of the
    /// request body (copied only when the document is stored).
    var sourceBytes: ArraySlice<UInt8> = []
    var parsedSource: Result<JSONValue, JSONParseError>?
    /// index/create: `JSONValidator` found `sourceBytes` to be one JSON object `JSONParser`
    /// accepts; the tree is built only when something needs it (see ``document``).
    var sourceValidated = false
    var update: UpdateBody?
    var line: Int

    init(action: BulkAction, reportedAs: BulkAction, index: String?, id: String? = nil, line: Int) {
        self.action = action
        self.reportedAs = reportedAs
        self.index = index
        self.id = id
        self.line = line
    }

    var isCreate: Bool { reportedAs == .create }

    /// The parsed source of an index/create: parsed now if only validated so far.
    var document: Result<JSONValue, JSONParseError>? {
        if parsedSource == nil && sourceValidated {
            do throws(JSONParseError) {
                parsedSource = .success(try sourceBytes.withUnsafeBufferPointer { b throws(JSONParseError) in try JSONParser.parse(b, from: 0, to: b.count) })
            } catch {
                parsedSource = .failure(error)
            }
        }
        return parsedSource
    }
}

struct BulkRequestOptions: Sendable {
    var defaultIndex: String?
    var pipeline: String?
    var requireAlias = false
    var requireDataStream = false
    var refresh = false
    var source: SourceFilter?
    /// ES 8.x leniencies (unknown actions skipped, extra action keys and trailing data ignored).
    var lenient8x = false
    /// REST compatibility with 7 (`_type` accepted).
    var allowType = false
}

enum BulkParser {
    static let supported: Set<String> = ["index", "create", "update", "delete"]

    private static func malformed(_ line: Int, _ text: String) -> ESError {
        .illegalArgument("Malformed action/metadata line [\(line)], \(text)")
    }

    private static func xContentParse(_ e: JSONParseError, line: Int) -> ESError {
        ESError(status: 400, type: "x_content_parse_exception", reason: "[\(e.line):\(e.column)] \(e.message)")
    }

    static let newlineError = ESError.illegalArgument("The bulk request must be terminated by a newline [\\n]")

    /// Parses a bulk body. Whole-request problems throw (400); per-document problems are left to execution.
    static func parse(_ body: [UInt8], options: BulkRequestOptions) throws(ESError) -> [BulkOp] {
        var ops: [BulkOp] = []
        var scratch: [UInt64] = []
        scratch.reserveCapacity(256)
        var names = ActionFastPath.Names()
        try body.withUnsafeBufferPointer { (buf) throws(ESError) in
            let count = buf.count
            var from = 0
            var line = 0
            func nextMarker(_ start: Int) throws(ESError) -> Int? {
                if start < count, let base = buf.baseAddress, let hit = memchr(base + start, 0x0A, count - start) {
                    return UnsafeRawPointer(hit).assumingMemoryBound(to: UInt8.self) - base
                }
                if start != count { throw newlineError }
                return nil
            }
            while true {
                guard let marker = try nextMarker(from) else { break }
                line += 1
                let actionStart = from
                from = marker + 1
                if let fast = ActionFastPath.parse(buf, from: actionStart, to: marker, names: &names) {
                    // The common action line: the general path below would build the same op.
                    let op = BulkOp(action: fast.action, reportedAs: fast.action, index: fast.index ?? options.defaultIndex, id: fast.id, line: line)
                    guard let sourceEnd = try nextMarker(from) else { break }
                    line += 1
                    var end = sourceEnd
                    if end > from && buf[end - 1] == 0x0D { end -= 1 }
                    let sourceStart = from
                    from = sourceEnd + 1
                    op.sourceBytes = body[sourceStart..<end]
                    if JSONValidator.validate(buf, from: sourceStart, to: end, scratch: &scratch) == .object {
                        op.sourceValidated = true
                    } else {
                        do throws(JSONParseError) {
                            op.parsedSource = .success(try JSONParser.parse(buf, from: sourceStart, to: end))
                        } catch {
                            op.parsedSource = .failure(error)
                        }
                    }
                    ops.append(op)
                    continue
                }
                let leading: JSONParser.Leading
                do throws(JSONParseError) {
                    leading = try JSONParser.parseLeading(buf, from: actionStart, to: marker)
                } catch {
                    throw xContentParse(error, line: line)
                }
                guard case .value(let value, let trailing) = leading else { continue }
                guard case .object(let members) = value else {
                    throw malformed(line, "expected START_OBJECT but found [\(value.tokenName)]")
                }
                guard let first = members.first else {
                    throw malformed(line, "expected FIELD_NAME but found [END_OBJECT]")
                }
                let actionName = first.key
                guard supported.contains(actionName), let action = BulkAction(rawValue: actionName) else {
                    if options.lenient8x {
                        // 8.x: deprecation warning, the action and its next line are ignored.
                        if let m = try nextMarker(from) {
                            line += 1
                            from = m + 1
                        }
                        continue
                    }
                    throw malformed(line, "expected field [create], [delete], [index] or [update] but found [\(actionName)]")
                }
                let op = BulkOp(action: action, reportedAs: action, index: options.defaultIndex, line: line)
                switch first.value {
                case .object(let meta):
                    try parseMetadata(meta, into: op, line: line, options: options)
                default:
                    throw malformed(line, "expected START_OBJECT or END_OBJECT but found [\(first.value.tokenName)]")
                }
                if !options.lenient8x {
                    if members.count > 1 { throw malformed(line, "expected END_OBJECT but found [FIELD_NAME]") }
                    switch trailing {
                    case .none: break
                    case .validValue: throw malformed(line, "unexpected data after the closing brace")
                    case .garbage(let e): throw xContentParse(e, line: line)
                    }
                }
                if action == .delete {
                    if !op.dynamicTemplates.isEmpty {
                        throw ESError.illegalArgument("Delete request in line [\(line)] does not accept dynamic_templates")
                    }
                    ops.append(op)
                    continue
                }
                guard let sourceEnd = try nextMarker(from) else { break }
                line += 1
                var end = sourceEnd
                if end > from && buf[end - 1] == 0x0D { end -= 1 }
                let sourceStart = from
                from = sourceEnd + 1
                switch action {
                case .index, .create:
                    op.sourceBytes = body[sourceStart..<end]
                    if JSONValidator.validate(buf, from: sourceStart, to: end, scratch: &scratch) == .object {
                        op.sourceValidated = true
                    } else {
                        do throws(JSONParseError) {
                            op.parsedSource = .success(try JSONParser.parse(buf, from: sourceStart, to: end))
                        } catch {
                            op.parsedSource = .failure(error)
                        }
                    }
                case .update:
                    if op.version != nil || (op.versionType != nil && op.versionType != "internal") {
                        throw ESError.illegalArgument(
                            "Update requests do not support versioning. Please use `if_seq_no` and `if_primary_term` instead")
                    }
                    if op.requireDataStream == true {
                        throw ESError.illegalArgument(
                            "Update requests do not support the `require_data_stream` flag, as data streams do not support update operations")
                    }
                    if !op.dynamicTemplates.isEmpty {
                        throw ESError.illegalArgument("Update request in line [\(line)] does not accept dynamic_templates")
                    }
                    let parsed: JSONValue
                    do throws(JSONParseError) {
                        parsed = try JSONParser.parse(buf, from: sourceStart, to: end)
                    } catch {
                        throw xContentParse(error, line: line)
                    }
                    op.update = try parseUpdateBody(parsed, line: line)
                case .delete:
                    break
                }
                ops.append(op)
            }
        }
        return ops
    }

    private static func parseMetadata(_ meta: [JSONMember], into op: BulkOp, line: Int, options: BulkRequestOptions) throws(ESError) {
        for m in meta {
            let key = m.key
            switch m.value {
            case .null:
                continue
            case .array:
                throw malformed(line, "expected a simple value for field [\(key)] but found [START_ARRAY]")
            case .object(let members):
                if key == "dynamic_templates" {
                    var map: [String: String] = [:]
                    for t in members {
                        guard let s = t.value.scalarText else {
                            throw ESError.illegalArgument("dynamic_templates must be a map of strings")
                        }
                        map[t.key] = s
                    }
                    op.dynamicTemplates = map
                } else if key == "_source" {
                    op.source = SourceFilter(json: m.value)
                } else {
                    throw malformed(line, "expected a simple value for field [\(key)] but found [START_OBJECT]")
                }
            case .raw:
                continue
            case .bool, .number, .string:
                let text = m.value.scalarText ?? ""
                func long() throws(ESError) -> Int64 {
                    guard let v = m.value.int64Value else { throw ESError.illegalArgument("For input string: \"\(text)\"") }
                    return v
                }
                func bool() throws(ESError) -> Bool {
                    if case .bool(let b) = m.value { return b }
                    if text == "true" { return true }
                    if text == "false" { return false }
                    throw ESError.illegalArgument("Failed to parse value [\(text)] as only [true] or [false] are allowed.")
                }
                switch key {
                case "_index": op.index = text
                case "_type":
                    if !options.allowType {
                        throw ESError.illegalArgument("Action/metadata line [\(line)] contains an unknown parameter [_type]")
                    }
                case "_id": op.id = text
                case "routing": op.routing = text
                case "op_type":
                    if op.action == .index {
                        switch text {
                        case "create": op.reportedAs = .create
                        case "index": op.reportedAs = .index
                        default: throw ESError.illegalArgument("opType must be 'create' or 'index', found: [\(text)]")
                        }
                    }
                case "version": op.version = try long()
                case "version_type":
                    guard ["internal", "external", "external_gte", "force"].contains(text) else {
                        throw ESError.illegalArgument("No version type match [\(text)]")
                    }
                    op.versionType = text
                case "if_seq_no": op.ifSeqNo = try long()
                case "if_primary_term": op.ifPrimaryTerm = try long()
                case "retry_on_conflict": op.retryOnConflict = Int(try long())
                case "pipeline": op.pipeline = text
                case "_source": op.source = SourceFilter(json: m.value)
                case "require_alias": op.requireAlias = try bool()
                case "require_data_stream": op.requireDataStream = try bool()
                case "list_executed_pipelines": _ = try bool()
                default:
                    throw ESError.illegalArgument("Action/metadata line [\(line)] contains an unknown parameter [\(key)]")
                }
            }
        }
    }

    private static func parseUpdateBody(_ value: JSONValue, line: Int) throws(ESError) -> UpdateBody {
        guard case .object(let members) = value else {
            throw ESError(status: 400, type: "x_content_parse_exception", reason: "[1:1] [UpdateRequest] Expected START_OBJECT but was: \(value.tokenName)")
        }
        var u = UpdateBody()
        for m in members {
            switch m.key {
            case "doc": u.doc = m.value
            case "upsert": u.upsert = m.value
            case "doc_as_upsert": u.docAsUpsert = m.value.boolValue ?? false
            case "script": u.script = m.value
            case "scripted_upsert": u.scriptedUpsert = m.value.boolValue ?? false
            case "detect_noop": u.detectNoop = m.value.boolValue ?? true
            case "_source": u.source = SourceFilter(json: m.value)
            default:
                throw ESError(status: 400, type: "x_content_parse_exception", reason: "[1:2] [UpdateRequest] unknown field [\(m.key)]")
            }
        }
        return u
    }

    /// `BulkRequest.validate()`: problems of all items, numbered, in one 400.
    static func validate(_ ops: [BulkOp]) -> ESError? {
        if ops.isEmpty { return .actionValidation(["no requests added"]) }
        var problems: [String] = []
        for op in ops {
            if op.index == nil || op.index!.isEmpty { problems.append("index is missing") }
            switch op.action {
            case .index, .create:
                if op.isCreate {
                    if let vt = op.versionType, vt != "internal" {
                        problems.append("create operations only support internal versioning. use index instead")
                    } else if op.version != nil {
                        problems.append("create operations do not support explicit versions. use index instead")
                    }
                    if op.ifSeqNo != nil || op.ifPrimaryTerm != nil {
                        problems.append("create operations do not support compare and set. use index instead")
                    }
                } else {
                    if op.version != nil && (op.versionType == nil || op.versionType == "internal") {
                        problems.append(
                            "internal versioning can not be used for optimistic concurrency control. Please use `if_seq_no` and `if_primary_term` instead")
                    }
                }
            case .update:
                if op.id == nil || op.id!.isEmpty { problems.append("id is missing") }
                if op.update?.doc == nil && op.update?.script == nil { problems.append("script or doc is missing") }
                if op.update?.docAsUpsert == true && op.update?.doc == nil {
                    problems.append("doc must be specified if doc_as_upsert is enabled")
                }
            case .delete:
                if op.id == nil || op.id!.isEmpty { problems.append("id is missing") }
                if op.version != nil && (op.versionType == nil || op.versionType == "internal") {
                    problems.append(
                        "internal versioning can not be used for optimistic concurrency control. Please use `if_seq_no` and `if_primary_term` instead")
                }
            }
            if op.ifSeqNo != nil && op.version != nil && !op.isCreate {
                problems.append("compare and write operations can not use versioning")
            }
            if op.ifSeqNo != nil && (op.ifPrimaryTerm ?? 0) == 0 { problems.append("ifSeqNo is set, but primary term is [0]") }
            if op.ifSeqNo == nil, let term = op.ifPrimaryTerm, term != 0 {
                problems.append("ifSeqNo is unassigned, but primary term is [\(term)]")
            }
            if let id = op.id, id.utf8.count > 512 {
                problems.append("id [\(id)] is too long, must be no longer than 512 bytes but was: \(id.utf8.count)")
            }
        }
        return problems.isEmpty ? nil : .actionValidation(problems)
    }
}

/// What the fault plan decided for one request's items.
struct ItemFaultPlan: Sendable {
    var forced: [Int: ItemFault] = [:]
    var rejectionShare = 0.0
    var unavailableShare = 0.0
    var rng: SeededRandom?
    var mappingRules: [MappingErrorRule] = []

    mutating func decide(_ position: Int) -> ItemFault? {
        if !forced.isEmpty, let f = forced[position] { return f }
        guard rejectionShare > 0 || unavailableShare > 0, var r = rng else { return nil }
        let u = r.nextUnit()
        rng = r
        if u < rejectionShare { return .rejected }
        if u < rejectionShare + unavailableShare { return .unavailable }
        return nil
    }
}

/// One response item: a write kept as its values (written straight to bytes by
/// ``BulkResponseWriter``), or any other item as JSON.
enum BulkItemResult {
    /// `shards`: `_shards.total` as it was when the write happened (replicas + 1).
    case written(BulkAction, BulkExecutor.WriteResult, forcedRefresh: Bool, shards: Int)
    case json(JSONValue)
}

struct BulkOutcome: @unchecked Sendable {
    var items: [BulkItemResult]
    var errors: Bool
    var counters = FaultCounters()
    var applied = 0
    /// An ingest pipeline ran for some item (the response then carries `ingest_took`).
    var ingestRan = false
}

/// Runs parsed operations against the cluster (called with the cluster lock held).
struct BulkExecutor {
    let cluster: Cluster
    let options: BulkRequestOptions
    var faults: ItemFaultPlan
    var counters = FaultCounters()
    var ingestRan = false
    var idGenerator: () -> String
    /// Write targets already resolved in this request (by name, when no require_* flag is involved).
    private var targetCache: ExactNameMap<Cluster.Target> = [:]
    private var lastTarget: (name: String, target: Cluster.Target)?

    init(cluster: Cluster, options: BulkRequestOptions, faults: ItemFaultPlan, idGenerator: @escaping () -> String) {
        self.cluster = cluster
        self.options = options
        self.faults = faults
        self.idGenerator = idGenerator
        self.mappingEmulation = cluster.configuration.mappingEmulation
        self.storeSources = cluster.configuration.storeSources
    }

    private var config: ElasticsearchTestServerConfiguration { cluster.configuration }
    /// `config.mappingEmulation`, read once (copying the configuration for every document costs).
    private let mappingEmulation: Bool
    /// `config.storeSources`, read once.
    private let storeSources: Bool
    /// What a document keeps as its source when sources are not stored (one shared array).
    private static let unstoredSource: [UInt8] = Array("{}".utf8)

    mutating func run(_ ops: [BulkOp]) -> BulkOutcome {
        var items: [BulkItemResult] = []
        items.reserveCapacity(ops.count)
        var errors = false
        var applied = 0
        for (i, op) in ops.enumerated() {
            let (item, failed) = executeItem(op, position: i)
            if failed { errors = true } else { applied += 1 }
            items.append(item)
        }
        return BulkOutcome(items: items, errors: errors, counters: counters, applied: applied, ingestRan: ingestRan)
    }

    // MARK: Items

    static func failureItem(_ op: BulkAction, index: String, id: String?, error: ESError) -> JSONValue {
        .object([
            JSONMember(
                op.rawValue,
                .object([
                    JSONMember("_index", .string(index)),
                    JSONMember("_id", id.map { .string($0) } ?? .null),
                    JSONMember("status", .int(error.status)),
                    JSONMember("error", error.json()),
                ]))
        ])
    }

    struct WriteResult {
        var index: IndexState
        var id: String
        var version: Int64
        var result: String
        var seqNo: Int64
        var status: Int
        var noop = false
        var get: JSONValue?
    }

    static func successBody(_ r: WriteResult, refresh: Bool, shards: Int) -> [JSONMember] {
        var m: [JSONMember] = [
            JSONMember("_index", .string(r.index.name)),
            JSONMember("_id", .string(r.id)),
            JSONMember("_version", .int(r.version)),
            JSONMember("result", .string(r.result)),
        ]
        if refresh && !r.noop { m.append(JSONMember("forced_refresh", .bool(true))) }
        m.append(
            JSONMember(
                "_shards",
                r.noop
                    ? .obj(["total": .int(0), "successful": .int(0), "failed": .int(0)])
                    : .obj(["total": .int(shards), "successful": .int(1), "failed": .int(0)])))
        m.append(JSONMember("_seq_no", .int(r.seqNo)))
        m.append(JSONMember("_primary_term", .int(1)))
        if let get = r.get { m.append(JSONMember("get", get)) }
        return m
    }

    /// Returns the response item and whether it failed.
    mutating func execute(_ op: BulkOp, position: Int) -> (JSONValue, Bool) {
        let (item, failed) = executeItem(op, position: position)
        return (BulkExecutor.json(item), failed)
    }

    /// The JSON of a response item.
    static func json(_ item: BulkItemResult) -> JSONValue {
        switch item {
        case .json(let value):
            return value
        case .written(let action, let result, let forcedRefresh, let shards):
            var body = successBody(result, refresh: forcedRefresh, shards: shards)
            body.append(JSONMember("status", .int(result.status)))
            return .object([JSONMember(action.rawValue, .object(body))])
        }
    }

    /// Like ``execute(_:position:)``, keeping a successful write as its values.
    mutating func executeItem(_ op: BulkOp, position: Int) -> (BulkItemResult, Bool) {
        let name = op.index ?? ""
        do {
            let result = try write(op, name: name, position: position)
            return (
                .written(op.reportedAs, result, forcedRefresh: options.refresh, shards: result.index.replicas + 1),
                result.status >= 400 && result.result != "not_found"
            )
        } catch let failure as ItemFailure {
            if failure.error.status == 409 { counters.conflictItems += 1 }
            return (.json(BulkExecutor.failureItem(op.reportedAs, index: failure.index, id: failure.id, error: failure.error)), true)
        } catch {
            return (.json(BulkExecutor.failureItem(op.reportedAs, index: name, id: op.id, error: .illegalArgument("\(error)"))), true)
        }
    }

    struct ItemFailure: Error {
        var index: String
        var id: String?
        var error: ESError
    }

    private func resolveTarget(_ op: BulkOp, name: String) throws(ESError) -> Cluster.Target {
        let requireAlias = op.requireAlias ?? options.requireAlias
        let requireDataStream = op.requireDataStream ?? options.requireDataStream
        if let existing = try cluster.resolveExistingWrite(name) {
            if requireAlias && cluster.aliases[name] == nil {
                throw ESError.indexNotFound(
                    name, reason: "no such index [\(name)] and [require_alias] request flag is [true] and [\(name)] is not an alias")
                    .withResourceType("index_expression")
            }
            if requireDataStream, case .index = existing {
                throw ESError.illegalArgument(
                    "only write ops to data streams are allowed when [require_data_stream] is true, but [\(name)] is not a data stream")
            }
            return existing
        }
        if requireAlias {
            throw ESError.indexNotFound(
                name, reason: "no such index [\(name)] and [require_alias] request flag is [true] and [\(name)] is not an alias")
                .withResourceType("index_expression")
        }
        if op.action == .delete { throw ESError.indexNotFound(name) }
        let template = cluster.matchingTemplate(for: name)
        if !(template?.allowAutoCreate ?? config.autoCreateIndex) {
            throw ESError.indexNotFound(name, reason: "no such index [\(name)] and [action.auto_create_index] is [false]")
        }
        if let problem = Cluster.indexNameProblem(name) { throw ESError.invalidIndexName(name, problem) }
        if let template, template.dataStream {
            let ds = cluster.createDataStream(name, template: template)
            return .dataStream(ds, cluster.indices[ds.writeIndex]!)
        }
        if requireDataStream {
            throw ESError.indexNotFound(
                name,
                reason: "the index creation request requires a data stream, but no matching index template with data stream template was found for it")
        }
        return .index(cluster.createIndex(name, body: nil, template: template))
    }

    private mutating func write(_ op: BulkOp, name: String, position: Int) throws -> WriteResult {
        // Ingest pipelines run first on the coordinating node.
        if let pipeline = op.pipeline ?? options.pipeline, pipeline != "_none" {
            guard config.pipelines.contains(pipeline) else {
                throw ItemFailure(index: name, id: op.id, error: .illegalArgument("pipeline with id [\(pipeline)] does not exist"))
            }
            ingestRan = true
        }
        let target: Cluster.Target
        let cacheable = (op.requireAlias ?? options.requireAlias) == false && (op.requireDataStream ?? options.requireDataStream) == false
            && op.action != .delete
        if cacheable, let last = lastTarget, ExactName.same(last.name, name) {
            target = last.target  // consecutive items for one index share its name's String
        } else if cacheable, let cached = targetCache[name] {
            target = cached
            lastTarget = (name, cached)
        } else {
            do {
                target = try resolveTarget(op, name: name)
            } catch {
                throw ItemFailure(index: name, id: op.id, error: error)
            }
            if cacheable {
                targetCache[name] = target
                lastTarget = (name, target)
            }
        }
        let idx: IndexState
        switch target {
        case .index(let i):
            idx = i
        case .dataStream(_, let i):
            if !op.isCreate {
                throw ItemFailure(index: name, id: op.id, error: .illegalArgument("only write ops with an op_type of create are allowed in data streams"))
            }
            idx = i
        }
        if op.action == .index || op.action == .create {
            if let id = op.id, id.isEmpty {
                throw ItemFailure(index: name, id: id, error: .illegalArgument("if _id is specified it must not be empty"))
            }
            if op.id == nil { op.id = idGenerator() }
        }
        let id = op.id ?? ""
        if let fault = faults.decide(position) {
            throw ItemFailure(index: idx.name, id: id, error: injected(fault, index: idx, id: id, op: op))
        }
        do {
            switch op.action {
            case .index, .create: return try indexDoc(op, id: id, into: idx, isDataStream: idx.dataStream != nil)
            case .update: return try updateDoc(op, id: id, in: idx)
            case .delete: return try deleteDoc(op, id: id, in: idx)
            }
        } catch {
            throw ItemFailure(index: idx.name, id: id, error: error)
        }
    }

    private mutating func injected(_ fault: ItemFault, index: IndexState, id: String, op: BulkOp) -> ESError {
        switch fault {
        case .rejected:
            counters.rejectedItems += 1
            let bytes = max(op.sourceBytes.count, 1)
            return ESError(
                status: 429, type: "es_rejected_execution_exception",
                reason:
                    "rejected execution of primary operation [coordinating_and_primary_bytes=\(bytes), replica_bytes=0, all_bytes=\(bytes), primary_operation_bytes=\(bytes), max_coordinating_and_primary_bytes=107374182]")
        case .unavailable:
            counters.unavailableItems += 1
            return ESError(
                status: 503, type: "unavailable_shards_exception",
                reason:
                    "[\(index.name)][0] primary shard is not active Timeout: [1m], request: [BulkShardRequest [[\(index.name)][0]] containing [1] requests]",
                metadata: [JSONMember("index_uuid", .string(index.uuid)), JSONMember("shard", .string("0")), JSONMember("index", .string(index.name))])
        case .mappingError:
            counters.mappingErrorItems += 1
            return ESError(
                status: 400, type: "document_parsing_exception",
                reason: "[1:\(max(op.sourceBytes.count, 1))] failed to parse: injected mapping error for document with id '\(id)'")
        case .versionConflict:
            return .versionConflict(
                id: id, reason: "version conflict, document already exists (current version [1])", index: index.name, uuid: index.uuid)
        case .internalError:
            counters.internalErrorItems += 1
            return ESError(status: 500, type: "exception", reason: "injected internal error")
        }
    }

    // MARK: Operations

    private func versionCheck(_ op: BulkOp, existing: DocState?, id: String) throws(ESError) -> Int64? {
        if let seq = op.ifSeqNo {
            let term = op.ifPrimaryTerm ?? 0
            guard let existing else {
                throw ESError.versionConflict(
                    id: id, reason: "version conflict, required seqNo [\(seq)], primary term [\(term)]. but no document was found",
                    index: "", uuid: "")
            }
            if existing.seqNo != seq || term != 1 {
                throw ESError.versionConflict(
                    id: id,
                    reason:
                        "version conflict, required seqNo [\(seq)], primary term [\(term)]. current document has seqNo [\(existing.seqNo)] and primary term [1]",
                    index: "", uuid: "")
            }
        }
        if let v = op.version, let type = op.versionType, type != "internal" {
            if let existing {
                switch type {
                case "external":
                    if v <= existing.version {
                        throw ESError.versionConflict(
                            id: id, reason: "version conflict, current version [\(existing.version)] is higher or equal to the one provided [\(v)]",
                            index: "", uuid: "")
                    }
                case "external_gte":
                    if v < existing.version {
                        throw ESError.versionConflict(
                            id: id, reason: "version conflict, current version [\(existing.version)] is higher than the one provided [\(v)]",
                            index: "", uuid: "")
                    }
                default: break
                }
            }
            return v
        }
        return nil
    }

    /// Version conflicts get their index metadata here (versionCheck does not know the index).
    private func fixConflict(_ e: ESError, _ idx: IndexState) -> ESError {
        guard e.type == "version_conflict_engine_exception" else { return e }
        var e = e
        e.metadata = [
            JSONMember("index_uuid", .string(idx.uuid)), JSONMember("shard", .string("0")), JSONMember("index", .string(idx.name)),
        ]
        return e
    }

    /// Whether ``checkDocument`` looks at the document (else a validated source is stored as is,
    /// without building its tree).
    private func needsDocument(_ idx: IndexState) -> Bool {
        idx.dataStream != nil || !faults.mappingRules.isEmpty || mappingEmulation
    }

    private mutating func checkDocument(_ doc: JSONValue?, op: BulkOp, id: String, sourceLength: Int, idx: IndexState) throws(ESError) -> IndexMapping? {
        guard let doc else { return nil }
        if idx.dataStream != nil {
            if doc["@timestamp"] == nil {
                let reason = "data stream timestamp field [@timestamp] is missing"
                throw ESError(
                    status: 400, type: "document_parsing_exception", reason: "[1:\(max(sourceLength, 1))] failed to parse: \(reason)",
                    causedBy: .illegalArgument(reason))
            }
        }
        for rule in faults.mappingRules where BulkExecutor.matches(rule, doc) {
            counters.mappingErrorItems += 1
            throw BulkExecutor.ruleError(rule, doc: doc, id: id, sourceLength: sourceLength)
        }
        guard config.mappingEmulation else { return nil }
        var checker = MappingChecker(
            mapping: idx.mapping, id: id, sourceLength: sourceLength, totalFieldsLimit: config.totalFieldsLimit,
            requestedTemplates: op.dynamicTemplates)
        try checker.check(doc)
        if checker.added.isEmpty { return nil }
        var m = idx.mapping
        for (path, type) in checker.added { m.addField(path, type) }
        return m
    }

    static func lookup(_ doc: JSONValue, path: String) -> JSONValue? {
        guard let members = doc.objectMembers else { return nil }
        if let exact = members.first(where: { $0.key == path }) { return exact.value }
        for m in members where path.hasPrefix(m.key + ".") {
            if let v = lookup(m.value, path: String(path.dropFirst(m.key.count + 1))) { return v }
        }
        return nil
    }

    static func matches(_ rule: MappingErrorRule, _ doc: JSONValue) -> Bool {
        switch rule.condition {
        case .present(let path):
            return lookup(doc, path: path) != nil
        case .equals(let path, let text):
            guard let v = lookup(doc, path: path) else { return false }
            let expected = (try? JSONParser.parse(text)) ?? .string(text)
            return v.semanticallyEquals(expected)
        }
    }

    static func ruleError(_ rule: MappingErrorRule, doc: JSONValue, id: String, sourceLength: Int) -> ESError {
        let path: String
        switch rule.condition {
        case .present(let p), .equals(let p, _): path = p
        }
        let value = lookup(doc, path: path)?.scalarText ?? "{…}"
        return ESError(
            status: 400, type: rule.errorType,
            reason:
                "[1:\(max(sourceLength, 1))] failed to parse field [\(path)] of type [long] in document with id '\(id)'. Preview of field's value: '\(value)'",
            causedBy: .illegalArgument("For input string: \"\(value)\""))
    }

    private mutating func indexDoc(_ op: BulkOp, id: String, into idx: IndexState, isDataStream: Bool) throws(ESError) -> WriteResult {
        // A validated source is a JSON object: its tree is built only if the checks below need it.
        var doc: JSONValue? = nil
        if !op.sourceValidated || needsDocument(idx) {
            switch op.document {
            case .success(let d)?:
                doc = d
            case .failure(let e)?:
                if e.message.hasPrefix("No content to map") {
                    throw ESError(status: 400, type: "document_parsing_exception", reason: "[1:1] failed to parse, document is empty")
                }
                throw ESError(
                    status: 400, type: "document_parsing_exception", reason: "[\(e.line):\(e.column)] failed to parse: \(e.message)",
                    causedBy: ESError(status: 400, type: "json_parse_exception", reason: e.message))
            case nil:
                throw ESError(status: 400, type: "document_parsing_exception", reason: "[1:1] failed to parse, document is empty")
            }
            guard case .object? = doc else {
                throw ESError(
                    status: 400, type: "document_parsing_exception",
                    reason: "[1:1] failed to parse: Malformed content, must start with an object",
                    causedBy: ESError(status: 400, type: "document_parsing_exception", reason: "[1:1] Malformed content, must start with an object"))
            }
        }
        let key = DocStore.Key(id)
        let existing = idx.docs[key]
        if op.isCreate, let existing {
            throw fixConflict(
                .versionConflict(
                    id: id, reason: "version conflict, document already exists (current version [\(existing.version)])", index: idx.name,
                    uuid: idx.uuid), idx)
        }
        let external: Int64?
        do {
            external = try versionCheck(op, existing: existing, id: id)
        } catch {
            throw fixConflict(error, idx)
        }
        let newMapping = try checkDocument(doc, op: op, id: id, sourceLength: op.sourceBytes.count, idx: idx)
        if let newMapping { idx.mapping = newMapping }
        let tombstone = idx.tombstones.isEmpty ? nil : idx.tombstones[id]
        let version = external ?? ((existing?.version ?? tombstone ?? 0) + 1)
        let seq = idx.takeSeqNo()
        idx.docs[key] = DocState(source: storeSources ? Array(op.sourceBytes) : Self.unstoredSource, version: version, seqNo: seq)
        if tombstone != nil { idx.tombstones[id] = nil }
        idx.indexTotal += 1
        return WriteResult(
            index: idx, id: id, version: version, result: existing == nil ? "created" : "updated", seqNo: seq,
            status: existing == nil ? 201 : 200)
    }

    static func merge(_ base: JSONValue, _ patch: JSONValue) -> JSONValue {
        guard case .object(var members) = base.resolvedRaw(), case .object(let changes) = patch else { return patch }
        for c in changes {
            if let i = members.firstIndex(where: { $0.key == c.key }) {
                if case .object = members[i].value.resolvedRaw(), case .object = c.value {
                    members[i].value = merge(members[i].value, c.value)
                } else {
                    members[i].value = c.value
                }
            } else {
                members.append(c)
            }
        }
        return .object(members)
    }

    private func getResult(_ source: JSONValue, seqNo: Int64, filter: SourceFilter?) -> JSONValue? {
        guard let filter, filter.fetch else { return nil }
        return .obj([
            "_seq_no": .int(seqNo), "_primary_term": .int(1), "found": .bool(true), "_source": filter.apply(source),
        ])
    }

    private mutating func updateDoc(_ op: BulkOp, id: String, in idx: IndexState) throws(ESError) -> WriteResult {
        let u = op.update ?? UpdateBody()
        let filter = u.source ?? op.source ?? options.source
        let existing = idx.docs[id]
        do {
            _ = try versionCheck(op, existing: existing, id: id)
        } catch {
            throw fixConflict(error, idx)
        }
        var newDoc: JSONValue
        var created = false
        if let existing {
            if u.script != nil {
                throw ESError.illegalArgument("scripted updates are not supported by the Elasticsearch test server")
            }
            let current = (try? JSONParser.parse(existing.source)) ?? .object([])
            newDoc = BulkExecutor.merge(current, u.doc ?? .object([]))
            if u.detectNoop && newDoc.semanticallyEquals(current) {
                idx.noopUpdateTotal += 1
                return WriteResult(
                    index: idx, id: id, version: existing.version, result: "noop", seqNo: existing.seqNo, status: 200, noop: true,
                    get: getResult(current, seqNo: existing.seqNo, filter: filter))
            }
        } else {
            if u.docAsUpsert, let doc = u.doc {
                newDoc = doc
            } else if let upsert = u.upsert {
                if u.scriptedUpsert {
                    throw ESError.illegalArgument("scripted updates are not supported by the Elasticsearch test server")
                }
                newDoc = upsert
            } else {
                throw ESError(
                    status: 404, type: "document_missing_exception", reason: "[\(id)]: document missing",
                    metadata: [
                        JSONMember("index_uuid", .string(idx.uuid)), JSONMember("shard", .string("0")), JSONMember("index", .string(idx.name)),
                    ])
            }
            created = true
        }
        let bytes = JSONWriter.compact(newDoc)
        let newMapping = try checkDocument(newDoc, op: op, id: id, sourceLength: bytes.count, idx: idx)
        if let newMapping { idx.mapping = newMapping }
        let version = (existing?.version ?? idx.tombstones[id] ?? 0) + 1
        let seq = idx.takeSeqNo()
        idx.docs[id] = DocState(source: bytes, version: version, seqNo: seq)
        idx.tombstones[id] = nil
        idx.indexTotal += 1
        return WriteResult(
            index: idx, id: id, version: version, result: created ? "created" : "updated", seqNo: seq, status: created ? 201 : 200,
            get: getResult(newDoc, seqNo: seq, filter: filter))
    }

    private mutating func deleteDoc(_ op: BulkOp, id: String, in idx: IndexState) throws(ESError) -> WriteResult {
        let existing = idx.docs[id]
        let external: Int64?
        do {
            external = try versionCheck(op, existing: existing, id: id)
        } catch {
            throw fixConflict(error, idx)
        }
        let seq = idx.takeSeqNo()
        if let existing {
            let version = external ?? existing.version + 1
            idx.docs[id] = nil
            idx.tombstones[id] = version
            idx.deleteTotal += 1
            return WriteResult(index: idx, id: id, version: version, result: "deleted", seqNo: seq, status: 200)
        }
        let version = external ?? (idx.tombstones[id] ?? 0) + 1
        idx.tombstones[id] = version
        return WriteResult(index: idx, id: id, version: version, result: "not_found", seqNo: seq, status: 404)
    }
}

extension ESError {
    func withResourceType(_ type: String) -> ESError {
        var e = self
        if let i = e.metadata.firstIndex(where: { $0.key == "resource.type" }) { e.metadata[i].value = .string(type) }
        return e
    }
}
