// The REST routes the test server knows, with the query parameters each accepts
// (rest-api-spec/api/*.json plus `_common.json`).

enum Endpoint: Sendable {
    case info, health, bulk
    case putTemplate, getTemplate, headTemplate, deleteTemplate, listTemplates
    case putComponentTemplate, getComponentTemplate, deleteComponentTemplate
    case putLegacyTemplate, getLegacyTemplate, headLegacyTemplate, deleteLegacyTemplate
    case createIndex, getIndex, headIndex, deleteIndex
    case count, search, refresh, stats
    case indexDoc, createDoc, getDoc, headDoc, deleteDoc
    case putAlias, getAlias
    case putDataStream, getDataStream, deleteDataStream
    case rollover
    case getMapping, putMapping
}

enum Segment: Sendable, Equatable {
    case literal(String)
    case param(String)
}

struct Route: Sendable {
    var pattern: [Segment]
    var method: String
    var endpoint: Endpoint
    var params: Set<String>
}

enum Routes {
    static let common: Set<String> = ["pretty", "human", "error_trace", "filter_path", "source"]

    static let bulkParams: Set<String> = [
        "wait_for_active_shards", "refresh", "routing", "timeout", "_source", "_source_excludes", "_source_includes", "pipeline",
        "require_alias", "require_data_stream", "list_executed_pipelines", "include_source_on_error",
    ]
    static let indexParams: Set<String> = [
        "wait_for_active_shards", "op_type", "refresh", "routing", "timeout", "version", "version_type", "if_seq_no", "if_primary_term",
        "pipeline", "require_alias", "require_data_stream", "include_source_on_error",
    ]
    static let createParams: Set<String> = [
        "wait_for_active_shards", "refresh", "routing", "timeout", "version", "version_type", "pipeline", "include_source_on_error",
        "require_alias", "require_data_stream",
    ]
    static let healthParams: Set<String> = [
        "expand_wildcards", "level", "local", "master_timeout", "timeout", "wait_for_active_shards", "wait_for_nodes",
        "wait_for_events", "wait_for_no_relocating_shards", "wait_for_no_initializing_shards", "wait_for_status",
    ]
    static let indicesOptions: Set<String> = ["ignore_unavailable", "allow_no_indices", "expand_wildcards", "ignore_throttled"]
    static let searchParams: Set<String> = indicesOptions.union([
        "q", "size", "from", "sort", "_source", "_source_includes", "_source_excludes", "track_total_hits", "rest_total_hits_as_int",
        "timeout", "typed_keys", "request_cache", "seq_no_primary_term", "version", "stored_fields", "preference", "routing",
        "search_type", "scroll", "explain", "track_scores", "terminate_after", "analyzer", "analyze_wildcard", "df", "default_operator",
        "lenient", "batched_reduce_size", "max_concurrent_shard_requests", "pre_filter_shard_size", "allow_partial_search_results",
        "ccs_minimize_roundtrips", "docvalue_fields", "stats", "suggest_field", "suggest_mode", "suggest_size", "suggest_text",
        "include_named_queries_score", "force_synthetic_source",
    ])
    static let countParams: Set<String> = indicesOptions.union([
        "min_score", "preference", "routing", "q", "analyzer", "analyze_wildcard", "default_operator", "df", "lenient", "terminate_after",
    ])
    static let getParams: Set<String> = [
        "stored_fields", "preference", "realtime", "refresh", "routing", "_source", "_source_excludes", "_source_includes", "version",
        "version_type", "force_synthetic_source",
    ]
    static let deleteDocParams: Set<String> = [
        "wait_for_active_shards", "refresh", "routing", "timeout", "if_seq_no", "if_primary_term", "version", "version_type",
    ]
    static let masterTimeout: Set<String> = ["master_timeout", "timeout"]

    static func p(_ path: String) -> [Segment] {
        path.split(separator: "/").map { s in
            s.hasPrefix("{") ? .param(String(s.dropFirst().dropLast())) : .literal(String(s))
        }
    }

    static let all: [Route] = {
        var r: [Route] = []
        func add(_ path: String, _ methods: [String], _ endpoint: Endpoint, _ params: Set<String> = []) {
            for m in methods { r.append(Route(pattern: p(path), method: m, endpoint: endpoint, params: params.union(common))) }
        }
        add("/", ["GET"], .info)
        add("/", ["HEAD"], .info)
        add("/_cluster/health", ["GET"], .health, healthParams)
        add("/_cluster/health/{index}", ["GET"], .health, healthParams)
        add("/_bulk", ["POST", "PUT"], .bulk, bulkParams)
        add("/{index}/_bulk", ["POST", "PUT"], .bulk, bulkParams)
        add("/_index_template", ["GET"], .listTemplates, ["flat_settings", "master_timeout", "local", "include_defaults"])
        add("/_index_template/{name}", ["PUT", "POST"], .putTemplate, ["create", "cause", "master_timeout"])
        add("/_index_template/{name}", ["GET"], .getTemplate, ["flat_settings", "master_timeout", "local", "include_defaults"])
        add("/_index_template/{name}", ["HEAD"], .headTemplate, ["flat_settings", "master_timeout", "local"])
        add("/_index_template/{name}", ["DELETE"], .deleteTemplate, masterTimeout)
        add("/_component_template/{name}", ["PUT", "POST"], .putComponentTemplate, ["create", "master_timeout", "cause"])
        add("/_component_template/{name}", ["GET"], .getComponentTemplate, ["flat_settings", "master_timeout", "local", "include_defaults"])
        add("/_component_template/{name}", ["DELETE"], .deleteComponentTemplate, masterTimeout)
        add("/_template/{name}", ["PUT", "POST"], .putLegacyTemplate, ["order", "create", "master_timeout", "cause"])
        add("/_template/{name}", ["GET"], .getLegacyTemplate, ["flat_settings", "master_timeout", "local"])
        add("/_template/{name}", ["HEAD"], .headLegacyTemplate, ["flat_settings", "master_timeout", "local"])
        add("/_template/{name}", ["DELETE"], .deleteLegacyTemplate, masterTimeout)
        add("/_data_stream", ["GET"], .getDataStream, ["expand_wildcards", "include_defaults", "master_timeout", "verbose"])
        add("/_data_stream/{name}", ["PUT"], .putDataStream, masterTimeout)
        add("/_data_stream/{name}", ["GET"], .getDataStream, ["expand_wildcards", "include_defaults", "master_timeout", "verbose"])
        add("/_data_stream/{name}", ["DELETE"], .deleteDataStream, ["expand_wildcards", "master_timeout"])
        add("/_count", ["GET", "POST"], .count, countParams)
        add("/_search", ["GET", "POST"], .search, searchParams)
        add("/_refresh", ["GET", "POST"], .refresh, indicesOptions)
        add("/_stats", ["GET"], .stats, Set(["level", "groups", "fields", "completion_fields", "fielddata_fields", "include_segment_file_sizes", "include_unloaded_segments", "forbid_closed_indices"]).union(indicesOptions))
        add("/_alias", ["GET"], .getAlias, indicesOptions.union(["local"]))
        add("/_alias/{name}", ["GET"], .getAlias, indicesOptions.union(["local"]))
        add("/_mapping", ["GET"], .getMapping, indicesOptions.union(["local", "master_timeout"]))
        add("/{index}", ["PUT"], .createIndex, ["wait_for_active_shards", "timeout", "master_timeout"])
        add("/{index}", ["GET"], .getIndex, indicesOptions.union(["local", "flat_settings", "include_defaults", "master_timeout", "features"]))
        add("/{index}", ["HEAD"], .headIndex, indicesOptions.union(["local", "flat_settings", "include_defaults", "master_timeout"]))
        add("/{index}", ["DELETE"], .deleteIndex, indicesOptions.union(masterTimeout))
        add("/{index}/_count", ["GET", "POST"], .count, countParams)
        add("/{index}/_search", ["GET", "POST"], .search, searchParams)
        add("/{index}/_refresh", ["GET", "POST"], .refresh, indicesOptions)
        add("/{index}/_stats", ["GET"], .stats, Set(["level", "groups", "fields", "completion_fields", "fielddata_fields", "include_segment_file_sizes", "include_unloaded_segments", "forbid_closed_indices"]).union(indicesOptions))
        add("/{index}/_stats/{metric}", ["GET"], .stats, Set(["level", "groups", "fields"]).union(indicesOptions))
        add("/{index}/_doc/{id}", ["PUT", "POST"], .indexDoc, indexParams)
        add("/{index}/_doc", ["POST"], .indexDoc, indexParams)
        add("/{index}/_doc/{id}", ["GET"], .getDoc, getParams)
        add("/{index}/_doc/{id}", ["HEAD"], .headDoc, getParams)
        add("/{index}/_doc/{id}", ["DELETE"], .deleteDoc, deleteDocParams)
        add("/{index}/_create/{id}", ["PUT", "POST"], .createDoc, createParams)
        add("/{index}/_alias/{name}", ["PUT", "POST"], .putAlias, masterTimeout)
        add("/{index}/_aliases/{name}", ["PUT", "POST"], .putAlias, masterTimeout)
        add("/{index}/_alias", ["GET"], .getAlias, indicesOptions.union(["local"]))
        add("/{index}/_rollover", ["POST"], .rollover, ["dry_run", "wait_for_active_shards", "timeout", "master_timeout", "lazy"])
        add("/{index}/_mapping", ["GET"], .getMapping, indicesOptions.union(["local", "master_timeout"]))
        add("/{index}/_mapping", ["PUT", "POST"], .putMapping, indicesOptions.union(["timeout", "master_timeout", "write_index_only"]))
        return r
    }()

    enum Match {
        case found(Route, [String: String])
        case methodNotAllowed([String])
        case notFound
    }

    static func match(method: String, segments: [String]) -> Match {
        var candidates: [(route: Route, params: [String: String], rank: [Int])] = []
        for route in all where route.pattern.count == segments.count {
            var params: [String: String] = [:]
            var rank: [Int] = []
            var ok = true
            for (seg, actual) in zip(route.pattern, segments) {
                switch seg {
                case .literal(let l):
                    if l != actual { ok = false }
                    rank.append(0)
                case .param(let name):
                    params[name] = actual
                    rank.append(1)
                }
                if !ok { break }
            }
            if ok { candidates.append((route, params, rank)) }
        }
        if candidates.isEmpty { return .notFound }
        // Explicit segments win over wildcards, left to right (ES PathTrie).
        candidates.sort { $0.rank.lexicographicallyPrecedes($1.rank) }
        if let hit = candidates.first(where: { $0.route.method == method }) {
            return .found(hit.route, hit.params)
        }
        var methods: [String] = []
        for c in candidates where !methods.contains(c.route.method) { methods.append(c.route.method) }
        return .methodNotAllowed(methods)
    }
}

enum QueryString {
    static func percentDecode(_ s: Substring, plusAsSpace: Bool) -> String {
        var out: [UInt8] = []
        var bytes = Array(s.utf8)[...]
        while let b = bytes.popFirst() {
            if b == UInt8(ascii: "%"), bytes.count >= 2, let v = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16) {
                out.append(v)
                bytes = bytes.dropFirst(2)
            } else if plusAsSpace && b == UInt8(ascii: "+") {
                out.append(0x20)
            } else {
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func parse(_ query: Substring) -> [(String, String)] {
        var out: [(String, String)] = []
        for part in query.split(separator: "&", omittingEmptySubsequences: true) {
            if let eq = part.firstIndex(of: "=") {
                out.append((percentDecode(part[..<eq], plusAsSpace: true), percentDecode(part[part.index(after: eq)...], plusAsSpace: true)))
            } else {
                out.append((percentDecode(part, plusAsSpace: true), ""))
            }
        }
        return out
    }
}

/// Lucene's LevenshteinDistance as used by ES for "did you mean" suggestions: 1 - distance / max length.
func levenshteinSimilarity(_ a: String, _ b: String) -> Double {
    let x = Array(a), y = Array(b)
    if x.isEmpty && y.isEmpty { return 1 }
    var prev = Array(0...y.count)
    var cur = [Int](repeating: 0, count: y.count + 1)
    for i in 1...max(x.count, 1) where !x.isEmpty {
        cur[0] = i
        for j in stride(from: 1, through: y.count, by: 1) {
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
        }
        swap(&prev, &cur)
    }
    let d = x.isEmpty ? y.count : prev[y.count]
    return 1 - Double(d) / Double(max(x.count, y.count))
}
