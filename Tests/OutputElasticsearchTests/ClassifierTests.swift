import Foundation
import ShipperCore
import Testing

@testable import OutputElasticsearch

/// Response classification: bodies from PROTOCOL.md (§3.1, §6, §10, §12) and
/// spec-examples/_global/bulk/examples/response.
@Suite("Bulk response classifier")
struct ClassifierTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var status: Int
        var body: String
        var itemCount: Int
        /// `delivered:201`, `retry:429:type`, `rejected:400:type`, or for whole-request decisions
        /// `retryRequest:503`, `split:413`, `misconfigured:401`.
        var expected: [String]
        var testDescription: String { name }
    }

    static func summary(_ c: BulkResponseClassification) -> [String] {
        switch c {
        case .items(let outcomes):
            return outcomes.map {
                switch $0 {
                case .delivered(let s): return "delivered:\(s)"
                case .retry(let s, let e): return "retry:\(s):\(e?.type ?? "-")"
                case .rejected(let s, let e): return "rejected:\(s):\(e.type)"
                }
            }
        case .retryRequest(let s, _): return ["retryRequest:\(s)"]
        case .split(let s, _): return ["split:\(s)"]
        case .misconfigured(let s, _): return ["misconfigured:\(s)"]
        }
    }

    static let cases: [Case] = [
        Case(
            name: "§3.1 full partial failure (201, 400, 409)", status: 200,
            body: #"""
                {"errors":true,"took":12,"items":[{"create":{"_index":"app","_id":"a1","_version":1,"result":"created","_shards":{"total":2,"successful":1,"failed":0},"_seq_no":3,"_primary_term":1,"status":201}},{"create":{"_index":"app","_id":"a2","status":400,"error":{"type":"document_parsing_exception","reason":"[1:44] failed to parse field [views] of type [long] in document with id 'a2'. Preview of field's value: 'many'","caused_by":{"type":"illegal_argument_exception","reason":"For input string: \"many\""}}}},{"create":{"_index":"app","_id":"a3","status":409,"error":{"type":"version_conflict_engine_exception","reason":"[a3]: version conflict, document already exists (current version [1])","index_uuid":"3zLDcCFFTASdSaKQTa93Xg","shard":"0","index":"app"}}}]}
                """#,
            itemCount: 3, expected: ["delivered:201", "rejected:400:document_parsing_exception", "delivered:409"]),
        Case(
            name: "§10 filter_path=errors,items.*.error,items.*.status", status: 200,
            body: #"""
                {"errors":true,"items":[{"create":{"status":201}},{"create":{"status":400,"error":{"type":"document_parsing_exception","reason":"…","caused_by":{"type":"illegal_argument_exception","reason":"…"}}}},{"create":{"status":409,"error":{"type":"version_conflict_engine_exception","reason":"[a3]: version conflict, document already exists (current version [1])","index_uuid":"…","shard":"0","index":"app"}}}]}
                """#,
            itemCount: 3, expected: ["delivered:201", "rejected:400:document_parsing_exception", "delivered:409"]),
        Case(
            name: "mixed 201/409/429/400/503/500/404 (filter_path shape)", status: 200,
            body: #"""
                {"errors":true,"items":[{"create":{"status":201}},{"create":{"status":409,"error":{"type":"version_conflict_engine_exception","reason":"[x]: version conflict, document already exists (current version [1])"}}},{"create":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"rejected execution of primary operation [coordinating_and_primary_bytes=1, replica_bytes=0, all_bytes=1, primary_operation_bytes=1, max_coordinating_and_primary_bytes=107374182]"}}},{"create":{"status":400,"error":{"type":"invalid_index_name_exception","reason":"Invalid index name [A], must be lowercase","index_uuid":"_na_","index":"A"}}},{"create":{"status":503,"error":{"type":"unavailable_shards_exception","reason":"[app][0] primary shard is not active Timeout: [1m], request: [BulkShardRequest [[app][0]] containing [1] requests]"}}},{"create":{"status":500,"error":{"type":"exception","reason":"boom"}}},{"create":{"status":404,"error":{"type":"index_not_found_exception","reason":"no such index [x] and [action.auto_create_index] is [false]"}}}]}
                """#,
            itemCount: 7,
            expected: [
                "delivered:201", "delivered:409", "retry:429:es_rejected_execution_exception", "rejected:400:invalid_index_name_exception",
                "retry:503:unavailable_shards_exception", "retry:500:exception", "rejected:404:index_not_found_exception",
            ]),
        Case(
            name: "item 403 security_exception is retried (a config problem must not drop data)", status: 200,
            body: #"""
                {"errors":true,"items":[{"create":{"status":403,"error":{"type":"security_exception","reason":"action [indices:data/write/bulk[s]] is unauthorized for user [u] with effective roles [r] on indices [i], this action is granted by the index privileges [create_doc,create,delete,index,write,all]"}}}]}
                """#,
            itemCount: 1, expected: ["retry:403:security_exception"]),
        // The exact all-created body is recognized byte by byte; near misses are parsed.
        Case(
            name: "all created, exact", status: 200,
            body: #"{"errors":false,"items":[{"create":{"status":201}},{"create":{"status":201}},{"create":{"status":201}}]}"#,
            itemCount: 3, expected: ["delivered:201", "delivered:201", "delivered:201"]),
        Case(
            name: "all created, one item fewer than sent", status: 200,
            body: #"{"errors":false,"items":[{"create":{"status":201}},{"create":{"status":201}}]}"#,
            itemCount: 3, expected: ["delivered:200", "delivered:200", "delivered:200"]),
        Case(
            name: "exact length, one 200 among the 201s", status: 200,
            body: #"{"errors":false,"items":[{"create":{"status":201}},{"create":{"status":200}},{"create":{"status":201}}]}"#,
            itemCount: 3, expected: ["delivered:201", "delivered:200", "delivered:201"]),
        Case(
            name: "exact length, a space instead of a comma", status: 200,
            body: #"{"errors":false,"items":[{"create":{"status":201}} {"create":{"status":201}}]}"#,
            itemCount: 2, expected: ["retryRequest:200"]),
        Case(
            name: "exact length, errors:true", status: 200,
            body: #"{"errors":true ,"items":[{"create":{"status":201}},{"create":{"status":201}}]}"#,
            itemCount: 2, expected: ["delivered:201", "delivered:201"]),
        Case(
            name: "all success with filter_path", status: 200,
            body: #"{"errors":false,"items":[{"create":{"status":201}},{"create":{"status":201}}]}"#, itemCount: 2,
            expected: ["delivered:201", "delivered:201"]),
        Case(
            name: "errors:false with items filtered away", status: 200, body: #"{"errors":false}"#, itemCount: 3,
            expected: ["delivered:200", "delivered:200", "delivered:200"]),
        Case(name: "nothing matched the filter", status: 200, body: "{}", itemCount: 2, expected: ["retryRequest:200"]),
        Case(
            name: "BulkResponseExample3: filter_path=items.*.error drops the 201, positions shift", status: 200,
            body: #"""
                {
                  "items": [
                    {
                      "update": {
                        "error": {
                          "type": "document_missing_exception",
                          "reason": "[5]: document missing",
                          "index_uuid": "aAsFqTI0Tc2W0LCWgPNrOA",
                          "shard": "0",
                          "index": "index1"
                        }
                      }
                    },
                    {
                      "update": {
                        "error": {
                          "type": "document_missing_exception",
                          "reason": "[6]: document missing",
                          "index_uuid": "aAsFqTI0Tc2W0LCWgPNrOA",
                          "shard": "0",
                          "index": "index1"
                        }
                      }
                    }
                  ]
                }
                """#,
            itemCount: 3, expected: ["retryRequest:200"]),
        Case(
            name: "after BulkResponseExample2 (pretty, took first)", status: 200,
            body: #"""
                {
                  "took": 486,
                  "errors": true,
                  "items": [
                    {
                      "update": {
                        "_index": "index1",
                        "_id": "5",
                        "status": 404,
                        "error": {
                          "type": "document_missing_exception",
                          "reason": "[5]: document missing",
                          "index_uuid": "aAsFqTI0Tc2W0LCWgPNrOA",
                          "shard": "0",
                          "index": "index1"
                        }
                      }
                    },
                    {
                      "create": {
                        "_index": "index1",
                        "_id": "7",
                        "_version": 1,
                        "result": "created",
                        "_shards": {
                          "total": 2,
                          "successful": 1,
                          "failed": 0
                        },
                        "_seq_no": 0,
                        "_primary_term": 1,
                        "status": 201
                      }
                    }
                  ]
                }
                """#,
            itemCount: 2, expected: ["rejected:404:document_missing_exception", "delivered:201"]),
        Case(
            name: "OpenSearch: took first, rejected_execution_exception", status: 200,
            body: #"""
                {"took":3,"errors":true,"items":[{"create":{"_index":"a","_id":"1","status":429,"error":{"type":"rejected_execution_exception","reason":"rejected execution"}}},{"create":{"_index":"a","_id":"2","_version":1,"result":"created","_shards":{"total":1,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1,"status":201}}]}
                """#,
            itemCount: 2, expected: ["retry:429:rejected_execution_exception", "delivered:201"]),
        Case(
            name: "item without status", status: 200, body: #"{"errors":true,"items":[{"create":{"_id":"x"}},{"create":{"status":201}}]}"#,
            itemCount: 2, expected: ["retry:0:missing_status", "delivered:201"]),
        Case(
            name: "item count mismatch", status: 200, body: #"{"errors":true,"items":[{"create":{"status":201}}]}"#, itemCount: 2,
            expected: ["retryRequest:200"]),
        Case(name: "garbage body", status: 200, body: "<html><body>Bad Gateway</body></html>", itemCount: 1, expected: ["retryRequest:200"]),
        Case(name: "empty 200 body", status: 200, body: "", itemCount: 1, expected: ["retryRequest:200"]),
        Case(
            name: "truncated body", status: 200, body: #"{"errors":false,"items":[{"create":{"status":201}},{"create":{"sta"#,
            itemCount: 2, expected: ["retryRequest:200"]),
        Case(
            name: "trailing garbage", status: 200, body: #"{"errors":false,"items":[{"create":{"status":201}}]} x"#, itemCount: 1,
            expected: ["retryRequest:200"]),
        Case(name: "413 with an empty body", status: 413, body: "", itemCount: 10, expected: ["split:413"]),
        Case(
            name: "whole-request 429", status: 429,
            body: #"{"error":{"root_cause":[{"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation"}],"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation"},"status":429}"#,
            itemCount: 5, expected: ["retryRequest:429"]),
        Case(
            name: "whole-request 503 no master", status: 503,
            body: #"{"error":{"root_cause":[{"type":"cluster_block_exception","reason":"blocked by: [SERVICE_UNAVAILABLE/2/no master];"}],"type":"cluster_block_exception","reason":"blocked by: [SERVICE_UNAVAILABLE/2/no master];"},"status":503}"#,
            itemCount: 5, expected: ["retryRequest:503"]),
        Case(name: "502 from a proxy (HTML)", status: 502, body: "<html>bad gateway</html>", itemCount: 5, expected: ["retryRequest:502"]),
        Case(
            name: "401 missing credentials", status: 401,
            body: #"{"error":{"root_cause":[{"type":"security_exception","reason":"missing authentication credentials for REST request [/_bulk]","header":{"WWW-Authenticate":["Basic realm=\"security\", charset=\"UTF-8\"","Bearer realm=\"security\"","ApiKey"]}}],"type":"security_exception","reason":"missing authentication credentials for REST request [/_bulk]","header":{"WWW-Authenticate":["Basic realm=\"security\", charset=\"UTF-8\"","Bearer realm=\"security\"","ApiKey"]}},"status":401}"#,
            itemCount: 5, expected: ["misconfigured:401"]),
        Case(
            name: "403 cluster privilege", status: 403,
            body: #"{"error":{"type":"security_exception","reason":"action [indices:data/write/bulk] is unauthorized for user [u]"},"status":403}"#,
            itemCount: 5, expected: ["misconfigured:403"]),
        Case(
            name: "400 missing trailing newline (bulk parser)", status: 400,
            body: #"{"error":{"root_cause":[{"type":"illegal_argument_exception","reason":"The bulk request must be terminated by a newline [\\n]"}],"type":"illegal_argument_exception","reason":"The bulk request must be terminated by a newline [\\n]"},"status":400}"#,
            itemCount: 5, expected: ["split:400"]),
        Case(
            name: "400 id too long (validation)", status: 400,
            body: #"{"error":{"type":"action_request_validation_exception","reason":"Validation Failed: 1: id [x] is too long, must be no longer than 512 bytes but was: 513;"},"status":400}"#,
            itemCount: 5, expected: ["split:400"]),
        Case(
            name: "400 unknown path (wrong prefix in hosts)", status: 400,
            body: #"{"error":"no handler found for uri [/wrong/_bulk] and method [POST]"}"#, itemCount: 5, expected: ["misconfigured:400"]),
        Case(
            name: "400 unrecognized parameter", status: 400,
            body: #"{"error":{"type":"illegal_argument_exception","reason":"request [/_bulk] contains unrecognized parameter: [foo]"},"status":400}"#,
            itemCount: 5, expected: ["misconfigured:400"]),
        Case(name: "404 from a proxy", status: 404, body: "not found", itemCount: 5, expected: ["misconfigured:404"]),
        Case(
            name: "406 content type", status: 406, body: #"{"error":"Content-Type header is missing","status":406}"#, itemCount: 5,
            expected: ["misconfigured:406"]),
        Case(name: "301 redirect", status: 301, body: "", itemCount: 5, expected: ["misconfigured:301"]),
        Case(name: "408 timeout", status: 408, body: "", itemCount: 5, expected: ["retryRequest:408"]),
    ]

    @Test(arguments: cases)
    func classify(_ c: Case) {
        let result = BulkResponseClassifier.classify(status: c.status, body: Array(c.body.utf8), itemCount: c.itemCount)
        #expect(Self.summary(result) == c.expected)
    }

    @Test func itemErrorsKeepTheRawJSON() {
        let error = #"{"type":"document_parsing_exception","reason":"[1:44] failed \"x\"","caused_by":{"type":"illegal_argument_exception","reason":"For input string: \"many\""}}"#
        let body = #"{"errors":true,"items":[{"create":{"status":400,"error":"# + error + "}}]}"
        guard case .items(let outcomes) = BulkResponseClassifier.classify(status: 200, body: Array(body.utf8), itemCount: 1),
            case .rejected(400, let e) = outcomes.first
        else {
            Issue.record("expected a rejected item")
            return
        }
        #expect(String(decoding: e.json, as: UTF8.self) == error)
        #expect(e.type == "document_parsing_exception")
        #expect(e.reason == #"[1:44] failed "x""#)
    }

    @Test func wholeRequestReasonsAreReadable() {
        let body = #"{"error":{"type":"cluster_block_exception","reason":"blocked by: [SERVICE_UNAVAILABLE/2/no master];"},"status":503}"#
        guard case .retryRequest(503, let reason) = BulkResponseClassifier.classify(status: 503, body: Array(body.utf8), itemCount: 1) else {
            Issue.record("expected retryRequest")
            return
        }
        #expect(reason == "HTTP 503 cluster_block_exception: blocked by: [SERVICE_UNAVAILABLE/2/no master];")
    }

    /// Random bytes never crash the classifier, and never count as delivered unless they parse.
    @Test func malformedInputsNeverTrap() {
        var rng = SplitMix64(seed: 42)
        let alphabet = Array(#"{}[]:,"\ 0123456789abcdefnulltruefalseitemsstatuserrors"#.utf8)
        for _ in 0..<3000 {
            let n = Int(rng.next() % 120)
            let bytes = (0..<n).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            _ = BulkResponseClassifier.classify(status: 200, body: bytes, itemCount: 3)
            _ = BulkResponseClassifier.classify(status: 400, body: bytes, itemCount: 3)
        }
        let deep = Array(repeating: UInt8(ascii: "["), count: 100_000)
        #expect(Self.summary(BulkResponseClassifier.classify(status: 200, body: deep, itemCount: 1)) == ["retryRequest:200"])
    }
}

