import ShipperCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An Elasticsearch error object (`{"type":…,"reason":…}`), with its raw JSON for the dead-letter file.
public struct ElasticsearchError: Sendable, Equatable, CustomStringConvertible {
    public var type: String
    public var reason: String
    /// The error object as Elasticsearch sent it (compact JSON), or one made up for errors found by
    /// the shipper.
    public var json: [UInt8]

    public init(type: String, reason: String, json: [UInt8]? = nil) {
        self.type = type
        self.reason = reason
        if let json {
            self.json = json
        } else {
            var out: [UInt8] = []
            JSONValue.object([JSONMember("type", .string(type)), JSONMember("reason", .string(reason))]).write(into: &out)
            self.json = out
        }
    }

    public var description: String { "\(type): \(reason)" }
}

/// What became of one bulk item.
public enum ItemOutcome: Sendable, Equatable {
    /// Stored (2xx), or already there (409 on `create`: our deterministic id exists).
    case delivered(status: Int)
    /// Back-pressure or a transient failure (429, 5xx, 401/403, or an item without a status): send again.
    case retry(status: Int, error: ElasticsearchError?)
    /// Rejected for good (other 4xx: mapping errors, invalid index names, …): dead-letter it.
    case rejected(status: Int, error: ElasticsearchError)
}

/// What to do after a `_bulk` response.
public enum BulkResponseClassification: Sendable, Equatable {
    /// The request was processed; one outcome per request item, in order.
    case items([ItemOutcome])
    /// Nothing was (reliably) applied and it may work later (429, 5xx, 408, a body that cannot be
    /// read or whose items do not line up): send the same request again after a backoff.
    case retryRequest(status: Int, reason: String)
    /// The request as a whole is too large (413) or malformed (400 from the bulk parser): split it in
    /// halves; a single document answered so is dead-lettered with `reason`.
    case split(status: Int, reason: String)
    /// Authentication, authorization or endpoint problem (401, 403, 404, 405, 406, 3xx, …): a config
    /// problem. Retried with a loud log; data is never dropped for it.
    case misconfigured(status: Int, reason: String)
}

/// Classifies `_bulk` responses (PROTOCOL.md §4–§6, §10). Pure: status and body in, decision out.
public enum BulkResponseClassifier {
    /// Whole-request 400 error types produced by the bulk body parser (PROTOCOL.md §2.1).
    static let bodyErrorTypes: Set<String> = [
        "illegal_argument_exception", "parse_exception", "x_content_parse_exception", "action_request_validation_exception",
        "json_parse_exception", "json_e_o_f_exception",
    ]

    /// - Parameters:
    ///   - status: the HTTP status.
    ///   - body: the (decompressed) response body.
    ///   - itemCount: how many items the request had.
    public static func classify(status: Int, body: [UInt8], itemCount: Int) -> BulkResponseClassification {
        switch status {
        case 200..<300:
            return classifySuccess(status: status, body: body, itemCount: itemCount)
        case 413:
            return .split(status: 413, reason: "request too large (413): over http.max_content_length")
        case 429, 408:
            return .retryRequest(status: status, reason: errorSummary(status: status, body: body))
        case 500..<600:
            return .retryRequest(status: status, reason: errorSummary(status: status, body: body))
        case 400:
            let summary = errorSummary(status: status, body: body)
            if let (type, reason) = errorTypeAndReason(body), bodyErrorTypes.contains(type),
                !reason.contains("unrecognized parameter")
            {
                return .split(status: 400, reason: summary)
            }
            return .misconfigured(status: 400, reason: summary)
        default:
            return .misconfigured(status: status, reason: errorSummary(status: status, body: body))
        }
    }

    /// The outcome of one item from its status.
    public static func outcome(status: Int, error: ElasticsearchError?) -> ItemOutcome {
        switch status {
        case 200..<300, 409:
            return .delivered(status: status)
        case 429, 500..<600, 401, 403, 408:
            return .retry(status: status, error: error)
        case 400..<500:
            return .rejected(status: status, error: error ?? ElasticsearchError(type: "http_\(status)", reason: "item failed with status \(status)"))
        default:
            return .retry(status: status, error: error)
        }
    }

    static func classifySuccess(status: Int, body: [UInt8], itemCount: Int) -> BulkResponseClassification {
        if isAllCreated(body, itemCount: itemCount) {
            return .items(Array(repeating: .delivered(status: 201), count: itemCount))
        }
        let parsed: ParsedResponse
        do {
            parsed = try body.withUnsafeBytes { (b) throws(JSONError) -> ParsedResponse in try parse(b) }
        } catch {
            return .retryRequest(status: status, reason: "unreadable bulk response (\(error)): \(preview(body))")
        }
        guard let items = parsed.items else {
            // `filter_path` without item statuses, or nothing matched: only errors:false is conclusive.
            if parsed.errors == false { return .items(Array(repeating: .delivered(status: status), count: itemCount)) }
            return .retryRequest(status: status, reason: "bulk response without items: \(preview(body))")
        }
        guard items.count == itemCount else {
            if parsed.errors == false { return .items(Array(repeating: .delivered(status: status), count: itemCount)) }
            return .retryRequest(
                status: status, reason: "bulk response has \(items.count) items for \(itemCount) documents: \(preview(body))")
        }
        var outcomes: [ItemOutcome] = []
        outcomes.reserveCapacity(items.count)
        for item in items {
            if let s = item.status {
                outcomes.append(outcome(status: s, error: item.error))
            } else if item.error == nil, parsed.errors == false {
                outcomes.append(.delivered(status: status))
            } else {
                outcomes.append(.retry(status: 0, error: item.error ?? ElasticsearchError(type: "missing_status", reason: "bulk response item without a status")))
            }
        }
        return .items(outcomes)
    }

    static let allCreatedStart = Array(#"{"errors":false,"items":["#.utf8)
    static let createdItem = Array(#"{"create":{"status":201}}"#.utf8)
    static let allCreatedEnd = Array("]}".utf8)

    /// True when `body` is exactly what Elasticsearch answers, with the default `filter_path`,
    /// when every `create` succeeded: `{"errors":false,"items":[{"create":{"status":201}},…]}`
    /// with `itemCount` items. Compared byte by byte; anything else is parsed.
    static func isAllCreated(_ body: [UInt8], itemCount: Int) -> Bool {
        let itemBytes = createdItem.count
        guard itemCount > 0,
            body.count == allCreatedStart.count + itemCount * (itemBytes + 1) - 1 + allCreatedEnd.count
        else { return false }
        return body.withUnsafeBytes { b in
            createdItem.withUnsafeBytes { item in
                guard b.starts(with: allCreatedStart), b.suffix(allCreatedEnd.count).elementsEqual(allCreatedEnd) else { return false }
                var p = allCreatedStart.count
                for k in 0..<itemCount {
                    if k > 0 {
                        guard b[p] == UInt8(ascii: ",") else { return false }
                        p += 1
                    }
                    guard memcmp(b.baseAddress! + p, item.baseAddress!, itemBytes) == 0 else { return false }
                    p += itemBytes
                }
                return true
            }
        }
    }

    struct ParsedItem {
        var status: Int?
        var error: ElasticsearchError?
    }

    struct ParsedResponse {
        var errors: Bool?
        var items: [ParsedItem]?
    }

    static func equals(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ literal: StaticString) -> Bool {
        let n = literal.utf8CodeUnitCount
        guard range.count == n else { return false }
        return UnsafeRawBufferPointer(rebasing: bytes[range]).elementsEqual(UnsafeRawBufferPointer(start: literal.utf8Start, count: n))
    }

    /// Reads `errors` and, per item, `status` and `error`; everything else is skipped.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONError) -> ParsedResponse {
        var s = JSONScanner(bytes)
        var result = ParsedResponse()
        try s.expect(UInt8(ascii: "{"))
        if !s.consume(UInt8(ascii: "}")) {
            repeat {
                let key = try s.readKey()
                try s.expect(UInt8(ascii: ":"))
                if equals(bytes, key.range, "errors") {
                    if case .bool(let b) = try s.parseValue() { result.errors = b }
                } else if equals(bytes, key.range, "items") {
                    result.items = try parseItems(&s, bytes)
                } else {
                    try s.skipValue()
                }
            } while s.consume(UInt8(ascii: ","))
            try s.expect(UInt8(ascii: "}"))
        }
        s.skipWhitespace()
        guard s.isAtEnd else { throw JSONError("unexpected data after the response object", at: s.position) }
        return result
    }

    static func parseItems(_ s: inout JSONScanner, _ bytes: UnsafeRawBufferPointer) throws(JSONError) -> [ParsedItem] {
        var items: [ParsedItem] = []
        try s.expect(UInt8(ascii: "["))
        if s.consume(UInt8(ascii: "]")) { return items }
        repeat {
            var item = ParsedItem()
            // {"create":{...}} — one key, the operation.
            try s.expect(UInt8(ascii: "{"))
            if !s.consume(UInt8(ascii: "}")) {
                repeat {
                    _ = try s.readKey()
                    try s.expect(UInt8(ascii: ":"))
                    guard s.peek() == UInt8(ascii: "{") else {
                        try s.skipValue()
                        continue
                    }
                    try s.expect(UInt8(ascii: "{"))
                    if !s.consume(UInt8(ascii: "}")) {
                        repeat {
                            let key = try s.readKey()
                            try s.expect(UInt8(ascii: ":"))
                            if equals(bytes, key.range, "status") {
                                s.skipWhitespace()
                                if case .int(let v) = try s.readNumber(), v >= 0, v < 1000 { item.status = Int(v) }
                            } else if equals(bytes, key.range, "error") {
                                s.skipWhitespace()
                                let start = s.position
                                let value = try s.parseValue()
                                let raw = Array(UnsafeRawBufferPointer(rebasing: bytes[start..<s.position]))
                                item.error = makeError(value, raw: raw)
                            } else {
                                try s.skipValue()
                            }
                        } while s.consume(UInt8(ascii: ","))
                        try s.expect(UInt8(ascii: "}"))
                    }
                } while s.consume(UInt8(ascii: ","))
                try s.expect(UInt8(ascii: "}"))
            }
            items.append(item)
        } while s.consume(UInt8(ascii: ","))
        try s.expect(UInt8(ascii: "]"))
        return items
    }

    static func makeError(_ value: JSONValue, raw: [UInt8]) -> ElasticsearchError {
        switch value {
        case .object:
            let type = value["type"]?.stringValue ?? "unknown"
            let reason = value["reason"]?.stringValue ?? ""
            return ElasticsearchError(type: type, reason: reason, json: raw)
        case .string(let s):
            return ElasticsearchError(type: "error", reason: s, json: raw)
        default:
            return ElasticsearchError(type: "unknown", reason: "\(value)", json: raw)
        }
    }

    /// `type` and `reason` of a whole-request error body (`{"error":{…},"status":N}`).
    static func errorTypeAndReason(_ body: [UInt8]) -> (String, String)? {
        guard let v = try? body.withUnsafeBytes({ (b) throws(JSONError) -> JSONValue in try JSONScanner.parseDocument(b) }) else { return nil }
        switch v["error"] {
        case .object(let m)?:
            let e = JSONValue.object(m)
            return (e["type"]?.stringValue ?? "", e["reason"]?.stringValue ?? "")
        case .string(let s)?:
            return ("", s)
        default:
            return nil
        }
    }

    /// A one-line description of a non-2xx response.
    static func errorSummary(status: Int, body: [UInt8]) -> String {
        if body.isEmpty { return "HTTP \(status) (empty body)" }
        if let (type, reason) = errorTypeAndReason(body) {
            return type.isEmpty ? "HTTP \(status): \(reason)" : "HTTP \(status) \(type): \(reason)"
        }
        return "HTTP \(status): \(preview(body))"
    }

    static func preview(_ body: [UInt8], limit: Int = 300) -> String {
        if body.isEmpty { return "(empty body)" }
        let text = String(decoding: body.prefix(limit), as: UTF8.self)
        return body.count > limit ? text + "…" : text
    }
}
