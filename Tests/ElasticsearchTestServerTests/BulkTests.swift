import ElasticsearchTestServer
import Foundation
import Testing

@Suite("Bulk API")
struct BulkTests {
    @Test func responseIsCompactWithESKeyOrder() async throws {
        try await withServer { server in
            let r = try await TestClient.bulk(port: server.port, "{\"index\":{\"_index\":\"logs\",\"_id\":\"1\"}}\n{\"m\":\"a\"}\n")
            #expect(r.status == 200)
            #expect(r.text.hasPrefix(#"{"errors":false,"took":"#))
            #expect(
                r.text.hasSuffix(
                    #","items":[{"index":{"_index":"logs","_id":"1","_version":1,"result":"created","_shards":{"total":2,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1,"status":201}}]}"#
                ), "\(r.text)")
            #expect(r.header("Content-Type") == "application/json")
            #expect(r.header("X-elastic-product") == "Elasticsearch")
        }
    }

    /// The PROTOCOL.md §3.1 example: created, mapping error, duplicate create.
    @Test func protocolExampleWithPartialFailure() async throws {
        try await withServer { server in
            // `views` becomes a long first (as a mapping from a template would make it).
            _ = try await TestClient.send(port: server.port, "PUT", "/app", text: #"{"mappings":{"properties":{"views":{"type":"long"}}}}"#)
            _ = try await TestClient.bulk(port: server.port, "{\"create\":{\"_index\":\"app\",\"_id\":\"a3\"}}\n{\"message\":\"first\"}\n")
            let body = """
                {"create":{"_index":"app","_id":"a1"}}
                {"@timestamp":"2026-08-20T10:00:00Z","message":"ok"}
                {"create":{"_index":"app","_id":"a2"}}
                {"@timestamp":"2026-08-20T10:00:01Z","views":"many"}
                {"create":{"_index":"app","_id":"a3"}}
                {"@timestamp":"2026-08-20T10:00:02Z","message":"dup"}

                """
            let r = try await TestClient.bulk(port: server.port, body)
            #expect(r.status == 200)
            #expect(r.text.hasPrefix(#"{"errors":true,"took":"#))
            #expect(r.text.contains("\"errors\":true"))
            #expect(r.itemStatuses == [201, 400, 409])
            #expect(r.value("items.1.create._id") as? String == "a2")
            #expect(r.value("items.1.create.error.type") as? String == "document_parsing_exception")
            let reason = r.value("items.1.create.error.reason") as? String ?? ""
            #expect(reason.hasPrefix("[1:"))
            #expect(reason.hasSuffix("failed to parse field [views] of type [long] in document with id 'a2'. Preview of field's value: 'many'"))
            #expect(r.value("items.1.create.error.caused_by.type") as? String == "illegal_argument_exception")
            #expect(r.value("items.1.create.error.caused_by.reason") as? String == "For input string: \"many\"")
            #expect(r.value("items.2.create.error.type") as? String == "version_conflict_engine_exception")
            #expect(r.value("items.2.create.error.reason") as? String == "[a3]: version conflict, document already exists (current version [1])")
            #expect(r.value("items.2.create.error.shard") as? String == "0")
            #expect(r.value("items.2.create.error.index") as? String == "app")
            // Failed items: _index, _id, status, error — in that order; the error: type, reason, index_uuid, shard, index.
            #expect(r.text.contains(#"{"create":{"_index":"app","_id":"a3","status":409,"error":{"type":"version_conflict_engine_exception","reason":"[a3]: version conflict, document already exists (current version [1])","index_uuid":""#))
            #expect(server.document(index: "app", id: "a3")?.sourceString == #"{"message":"first"}"#)
            #expect(server.count(index: "app") == 2)

            // The same request with the filter shippers use.
            let f = try await TestClient.bulk(port: server.port, "/_bulk?filter_path=errors,items.*.error,items.*.status", body)
            #expect(f.text.hasPrefix(#"{"errors":true,"items":[{"create":{"status":409,"error":{"type":"version_conflict_engine_exception""#))
            #expect(f.itemStatuses == [409, 400, 409])
            #expect(f.value("took") == nil)
            #expect(f.value("items.0.create._index") == nil)
        }
    }

    @Test func indexOverwritesCreateConflictsDeleteReportsNotFound() async throws {
        try await withServer { server in
            var r = try await TestClient.bulk(port: server.port, """
                {"index":{"_index":"x","_id":"1"}}
                {"v":1}
                {"index":{"_index":"x","_id":"1"}}
                {"v":2}
                {"index":{"_index":"x","_id":"2","op_type":"create"}}
                {"v":3}
                {"delete":{"_index":"x","_id":"2"}}
                {"delete":{"_index":"x","_id":"nope"}}
                {"create":{"_index":"x","_id":"2"}}
                {"v":4}

                """)
            #expect(r.itemStatuses == [201, 200, 201, 200, 404, 201])
            #expect(r.value("errors") as? Bool == false, "not_found deletes are not errors")
            #expect(r.value("items.1.index.result") as? String == "updated")
            #expect(r.value("items.1.index._version") as? Int == 2)
            #expect(r.value("items.2.create.result") as? String == "created", "op_type create reports as create")
            #expect(r.value("items.3.delete.result") as? String == "deleted")
            #expect(r.value("items.4.delete.result") as? String == "not_found")
            #expect(r.value("items.5.create._version") as? Int == 3, "re-created after delete: version continues")
            let seqNos = (0..<6).compactMap { i -> Int? in
                guard let item = (r.value("items.\(i)") as? [String: Any])?.values.first as? [String: Any] else { return nil }
                return item["_seq_no"] as? Int
            }
            #expect(seqNos == [0, 1, 2, 3, 4, 5])
            #expect(server.document(index: "x", id: "1")?.sourceString == #"{"v":2}"#)
            #expect(server.document(index: "x", id: "1")?.version == 2)
            #expect(server.count(index: "x") == 2)

            r = try await TestClient.bulk(port: server.port, "{\"create\":{\"_index\":\"x\",\"_id\":\"1\"}}\n{\"v\":9}\n")
            #expect(r.itemStatuses == [409])
            #expect(r.value("errors") as? Bool == true)
            #expect(server.document(index: "x", id: "1")?.sourceString == #"{"v":2}"#, "409 leaves the document untouched")
        }
    }

    @Test func autoGeneratedIDs() async throws {
        try await withServer { server in
            var nd = ""
            for i in 0..<50 { nd += "{\"index\":{\"_index\":\"auto\"}}\n{\"i\":\(i)}\n{\"create\":{\"_index\":\"auto\"}}\n{\"i\":\(i)}\n" }
            let r = try await TestClient.bulk(port: server.port, nd)
            #expect(r.value("errors") as? Bool == false)
            let items = (r.value("items") as? [[String: Any]]) ?? []
            let ids = items.compactMap { ($0.values.first as? [String: Any])?["_id"] as? String }
            #expect(ids.count == 100)
            #expect(Set(ids).count == 100)
            #expect(ids.allSatisfy { $0.count == 20 })
            #expect(Set(server.documents(index: "auto").map(\.id)) == Set(ids))
        }
    }

    @Test func missingTrailingNewline() async throws {
        try await withServer { server in
            let r = try await TestClient.bulk(port: server.port, "{\"index\":{\"_index\":\"a\"}}\n{\"f\":1}")
            #expect(r.status == 400)
            #expect(r.value("error.type") as? String == "illegal_argument_exception")
            #expect(r.value("error.reason") as? String == "The bulk request must be terminated by a newline [\\n]")
            #expect(r.text.contains(#"terminated by a newline [\\n]"#))
            #expect(r.value("status") as? Int == 400)
            #expect(server.count(index: "a") == 0)
        }
    }

    /// PROTOCOL.md §2.1: whole-request 400s, exact reasons, nothing applied.
    @Test(arguments: [
        ("[1]", "Malformed action/metadata line [2], expected START_OBJECT but found [START_ARRAY]"),
        ("\"x\"", "Malformed action/metadata line [2], expected START_OBJECT but found [VALUE_STRING]"),
        ("{}", "Malformed action/metadata line [2], expected FIELD_NAME but found [END_OBJECT]"),
        ("{\"foo\":{}}", "Malformed action/metadata line [2], expected field [create], [delete], [index] or [update] but found [foo]"),
        ("{\"index\":1}", "Malformed action/metadata line [2], expected START_OBJECT or END_OBJECT but found [VALUE_NUMBER]"),
        ("{\"index\":{},\"x\":1}", "Malformed action/metadata line [2], expected END_OBJECT but found [FIELD_NAME]"),
        ("{\"index\":{}} {\"x\":1}", "Malformed action/metadata line [2], unexpected data after the closing brace"),
        ("{\"index\":{\"_type\":\"_doc\"}}", "Action/metadata line [2] contains an unknown parameter [_type]"),
        ("{\"index\":{\"color\":\"red\"}}", "Action/metadata line [2] contains an unknown parameter [color]"),
        ("{\"index\":{\"_id\":[\"a\"]}}", "Malformed action/metadata line [2], expected a simple value for field [_id] but found [START_ARRAY]"),
        ("{\"update\":{\"_id\":\"1\",\"version\":2}}", "Update requests do not support versioning. Please use `if_seq_no` and `if_primary_term` instead"),
        ("{\"delete\":{\"_id\":\"1\",\"dynamic_templates\":{\"a\":\"b\"}}}", "Delete request in line [2] does not accept dynamic_templates"),
        ("{\"update\":{\"_id\":\"1\",\"dynamic_templates\":{\"a\":\"b\"}}}", "Update request in line [3] does not accept dynamic_templates"),
        (
            "{\"update\":{\"_id\":\"1\",\"require_data_stream\":true}}",
            "Update requests do not support the `require_data_stream` flag, as data streams do not support update operations"
        ),
    ])
    func malformedActionLines(_ action: String, _ reason: String) async throws {
        try await withServer { server in
            // A valid first line; the broken action is on line 2 (an update's body is line 3).
            let body = "{\"delete\":{\"_index\":\"i\",\"_id\":\"0\"}}\n\(action)\n{\"doc\":{\"a\":1}}\n"
            let r = try await TestClient.bulk(port: server.port, "/i/_bulk", body)
            #expect(r.status == 400)
            #expect(r.value("error.type") as? String == "illegal_argument_exception")
            #expect(r.value("error.reason") as? String == reason)
            #expect(r.value("error.root_cause.0.reason") as? String == reason)
            #expect(server.indexNames.isEmpty, "nothing was applied")
        }
    }

    @Test func syntaxErrorsInActionLines() async throws {
        try await withServer { server in
            for bad in ["{\"index\":{}", "{\"index\":{\"_id\":}}", "garbage", "{\"index\":{}} garbage"] {
                let r = try await TestClient.bulk(port: server.port, "/i/_bulk", "\(bad)\n{}\n")
                #expect(r.status == 400, "\(bad)")
                let type = r.value("error.type") as? String
                #expect(type == "x_content_parse_exception" || type == "parse_exception", "\(bad): \(r.text)")
            }
            #expect(server.indexNames.isEmpty)
        }
    }

    @Test func validationErrors() async throws {
        try await withServer { server in
            var r = try await TestClient.send(port: server.port, "POST", "/_bulk", body: [], contentType: "application/x-ndjson")
            #expect(r.status == 400)
            #expect(r.value("error.type") as? String == "parse_exception")
            #expect(r.value("error.reason") as? String == "request body is required")
            r = try await TestClient.bulk(port: server.port, "\n")
            #expect(r.status == 400)
            #expect(r.value("error.type") as? String == "action_request_validation_exception")
            #expect(r.value("error.reason") as? String == "Validation Failed: 1: no requests added;")
            r = try await TestClient.bulk(port: server.port, "{\"index\":{}}\n{}\n{\"index\":{}}\n{}\n")
            #expect(r.value("error.reason") as? String == "Validation Failed: 1: index is missing;2: index is missing;")
            let long = String(repeating: "é", count: 300)
            r = try await TestClient.bulk(port: server.port, "{\"index\":{\"_index\":\"a\",\"_id\":\"\(long)\"}}\n{}\n")
            #expect(r.status == 400)
            #expect(r.value("error.reason") as? String == "Validation Failed: 1: id [\(long)] is too long, must be no longer than 512 bytes but was: 600;")
            r = try await TestClient.bulk(port: server.port, "{\"delete\":{\"_index\":\"a\"}}\n")
            #expect(r.value("error.reason") as? String == "Validation Failed: 1: id is missing;")
            #expect(server.indexNames.isEmpty)
        }
    }

    @Test func perItemProblemsDoNotFailTheRequest() async throws {
        try await withServer { server in
            let r = try await TestClient.bulk(port: server.port, """
                {"index":{"_index":"p","_id":""}}
                {"f":1}
                {"index":{"_index":"p","_id":"bad-json"}}
                {"f":
                {"index":{"_index":"p","_id":"not-object"}}
                [1,2]
                {"index":{"_index":"p","_id":"meta"}}
                {"_id":"x"}
                {"index":{"_index":"p","_id":"ok"}}
                {"f":2}

                """)
            #expect(r.status == 200)
            #expect(r.itemStatuses == [400, 400, 400, 400, 201])
            #expect(r.value("items.0.index.error.reason") as? String == "if _id is specified it must not be empty")
            #expect(r.value("items.1.index.error.type") as? String == "document_parsing_exception")
            #expect((r.value("items.1.index.error.reason") as? String ?? "").contains("failed to parse"))
            #expect(r.value("items.1.index._id") as? String == "bad-json")
            #expect(r.value("items.2.index.error.type") as? String == "document_parsing_exception")
            #expect(
                (r.value("items.3.index.error.reason") as? String ?? "").hasSuffix(
                    "Field [_id] is a metadata field and cannot be added inside a document. Use the index API request parameters."))
            #expect(server.count(index: "p") == 1)
        }
    }

    @Test func lineEndingsAndEmptyLines() async throws {
        try await withServer { server in
            let r = try await TestClient.bulk(port: server.port, "\n{\"index\":{\"_index\":\"c\",\"_id\":\"1\"}}\r\n{\"f\":1}\r\n\n\n{\"index\":{\"_index\":\"c\",\"_id\":\"2\"}}\n{\"f\":2}\n")
            #expect(r.status == 200)
            #expect(r.itemStatuses == [201, 201])
            #expect(server.document(index: "c", id: "1")?.sourceString == #"{"f":1}"#, "the \\r before \\n is stripped")
        }
    }

    @Test func urlIndexIsTheDefaultAndActionIndexOverrides() async throws {
        try await withServer { server in
            let r = try await TestClient.bulk(port: server.port, "/def/_bulk", "{\"index\":{}}\n{}\n{\"index\":{\"_index\":\"other\"}}\n{}\n")
            #expect(r.value("items.0.index._index") as? String == "def")
            #expect(r.value("items.1.index._index") as? String == "other")
            #expect(server.count(index: "def") == 1 && server.count(index: "other") == 1)
            #expect(server.totalDocumentCount == 2)
        }
    }

    @Test func updates() async throws {
        try await withServer { server in
            var r = try await TestClient.bulk(port: server.port, """
                {"index":{"_index":"u","_id":"1"}}
                {"a":1,"o":{"x":1}}
                {"update":{"_index":"u","_id":"1"}}
                {"doc":{"b":2,"o":{"y":2}}}
                {"update":{"_index":"u","_id":"1"}}
                {"doc":{"b":2}}
                {"update":{"_index":"u","_id":"2"}}
                {"doc":{"c":3},"doc_as_upsert":true}
                {"update":{"_index":"u","_id":"3"}}
                {"doc":{"c":3}}
                {"update":{"_index":"u","_id":"4"}}
                {"script":{"source":"ctx._source.n += 1"},"upsert":{"n":1}}

                """)
            #expect(r.itemStatuses == [201, 200, 200, 201, 404, 201])
            #expect(r.value("items.1.update.result") as? String == "updated")
            #expect(r.value("items.2.update.result") as? String == "noop")
            #expect(r.value("items.3.update.result") as? String == "created")
            #expect(r.value("items.4.update.error.type") as? String == "document_missing_exception")
            #expect(r.value("items.4.update.error.reason") as? String == "[3]: document missing")
            #expect(server.document(index: "u", id: "1")?.sourceString == #"{"a":1,"o":{"x":1,"y":2},"b":2}"#)
            #expect(server.document(index: "u", id: "4")?.sourceString == #"{"n":1}"#)
            r = try await TestClient.bulk(port: server.port, "{\"update\":{\"_index\":\"u\",\"_id\":\"1\"}}\n{\"bogus\":1}\n")
            #expect(r.status == 400, "an unknown field in an update body fails the request")
        }
    }

    @Test func gzipAndDeflateRequestBodies() async throws {
        try await withServer { server in
            var nd = ""
            for i in 0..<200 { nd += "{\"index\":{\"_index\":\"gz\"}}\n{\"i\":\(i),\"msg\":\"some repetitive log line\"}\n" }
            let gz = try TestClient.gzip(Array(nd.utf8))
            var r = try await TestClient.send(
                port: server.port, "POST", "/_bulk", headers: [("Content-Encoding", "gzip")], body: gz, contentType: "application/x-ndjson")
            #expect(r.status == 200)
            #expect(r.value("errors") as? Bool == false)
            #expect(server.count(index: "gz") == 200)

            var buf = ByteBufferHelper.bytes(Array("{\"index\":{\"_index\":\"df\"}}\n{\"a\":1}\n".utf8))
            let zlib = try ByteBufferHelper.zlib(&buf)
            r = try await TestClient.send(
                port: server.port, "POST", "/_bulk", headers: [("Content-Encoding", "deflate")], body: zlib, contentType: "application/x-ndjson")
            #expect(r.status == 200)
            #expect(server.count(index: "df") == 1)

            r = try await TestClient.send(
                port: server.port, "POST", "/_bulk", headers: [("Content-Encoding", "gzip")], body: Array("not gzip".utf8),
                contentType: "application/x-ndjson")
            #expect(r.status == 400)
            let log = server.requests
            #expect(log[0].contentEncoding == "gzip")
            #expect(log[0].compressedBodySize == gz.count)
            #expect(log[0].bodySize == nd.utf8.count)
        }
    }

    /// Without stored sources (the benchmark's `--no-sources`), documents are still counted,
    /// versioned and in conflict on create; they read back as `{}`.
    @Test func documentsWithoutStoredSources() async throws {
        var c = ElasticsearchTestServerConfiguration()
        c.storeSources = false
        try await withServer(c) { server in
            let nd = #"{"create":{"_index":"ns","_id":"a"}}"# + "\n" + #"{"m":"one"}"# + "\n"
                + #"{"index":{"_index":"ns","_id":"b"}}"# + "\n" + #"{"m":"two"}"# + "\n"
                + #"{"create":{"_index":"ns","_id":"a"}}"# + "\n" + #"{"m":"again"}"# + "\n"
            let r = try await TestClient.bulk(port: server.port, nd)
            #expect(r.status == 200)
            #expect(server.count(index: "ns") == 2)
            #expect(server.document(index: "ns", id: "a")?.sourceString == "{}")
            #expect(server.document(index: "ns", id: "b")?.version == 1)
            #expect(r.itemStatuses == [201, 201, 409])
        }
    }

    @Test func requestTooLarge() async throws {
        var c = ElasticsearchTestServerConfiguration()
        c.maxContentLength = 1000
        try await withServer(c) { server in
            var big = ""
            while big.utf8.count <= 1000 { big += "{\"index\":{\"_index\":\"big\"}}\n{\"m\":\"0123456789012345678901234567890123456789\"}\n" }
            let small = "{\"index\":{\"_index\":\"big\"}}\n{}\n"
            let bigBody = big
            // Content-Length over the limit: 413, empty body, and the connection stays usable.
            let (first, second) = try await TestClient.withConnection(port: server.port) { conn in
                let a = try await conn.send("POST", "/_bulk", body: Array(bigBody.utf8), contentType: "application/x-ndjson")
                let b = try await conn.send("POST", "/_bulk", body: Array(small.utf8), contentType: "application/x-ndjson")
                return (a, b)
            }
            #expect(first.status == 413)
            #expect(first.body.isEmpty)
            #expect(first.header("Content-Length") == "0")
            #expect(second.status == 200)
            #expect(server.count(index: "big") == 1)

            // The limit applies to the decompressed size.
            let gz = try TestClient.gzip(Array(big.utf8))
            #expect(gz.count < 1000)
            let r = try await TestClient.send(
                port: server.port, "POST", "/_bulk", headers: [("Content-Encoding", "gzip")], body: gz, contentType: "application/x-ndjson")
            #expect(r.status == 413)
            #expect(r.body.isEmpty)

            // Chunked body over the limit: 413 and Connection: close.
            var raw = "POST /_bulk HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"
            for _ in 0..<3 { raw += String(600, radix: 16) + "\r\n" + String(repeating: " ", count: 600) + "\r\n" }
            raw += "0\r\n\r\n"
            let chunked = try await TestClient.raw(port: server.port, Array(raw.utf8)) { _ in false }
            let text = String(decoding: chunked.bytes, as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 413"))
            #expect(text.lowercased().contains("connection: close"))
            #expect(chunked.closed)
            #expect(server.faultCounters.tooLargeRequests == 3)
            #expect(server.count(index: "big") == 1)
        }
    }

    @Test func filterPathForms() async throws {
        try await withServer { server in
            let body = """
                {"index":{"_index":"f","_id":"1"}}
                {"a":1}
                {"create":{"_index":"f","_id":"1"}}
                {"a":2}
                {"index":{"_index":"f","_id":"2"}}
                {"a":3}

                """
            var r = try await TestClient.bulk(port: server.port, "/_bulk?filter_path=items.*.error", body)
            // Successful items disappear: positions shift.
            #expect((r.value("items") as? [Any])?.count == 1)
            #expect(r.value("items.0.create.error.type") as? String == "version_conflict_engine_exception")
            #expect(r.text.hasPrefix(#"{"items":[{"create":{"error":{"#))

            r = try await TestClient.bulk(port: server.port, "/_bulk?filter_path=errors,items.*.error", "{\"index\":{\"_index\":\"f\"}}\n{}\n")
            #expect(r.text == #"{"errors":false}"#)

            r = try await TestClient.bulk(port: server.port, "/_bulk?filter_path=-took,-items.*._shards", "{\"index\":{\"_index\":\"f\",\"_id\":\"9\"}}\n{}\n")
            #expect(r.value("took") == nil)
            #expect(r.value("items.0.index._shards") == nil)
            #expect(r.value("items.0.index.status") as? Int == 201)
            #expect(r.value("errors") as? Bool == false)

            r = try await TestClient.bulk(port: server.port, "/_bulk?filter_path=**.status", "{\"index\":{\"_index\":\"f\",\"_id\":\"9\"}}\n{}\n")
            #expect(r.text == #"{"items":[{"index":{"status":200}}]}"#)

            r = try await TestClient.bulk(port: server.port, "/_bulk?filter_path=nothing.matches", "{\"index\":{\"_index\":\"f\"}}\n{}\n")
            #expect(r.text == "{}")

            r = try await TestClient.bulk(port: server.port, "/_bulk?filter_path=items.*.*_id,items.*.res*", "{\"index\":{\"_index\":\"f\",\"_id\":\"7\"}}\n{}\n")
            #expect(r.text == #"{"items":[{"index":{"_id":"7","result":"created"}}]}"#)

            // Error bodies are never filtered.
            r = try await TestClient.bulk(port: server.port, "/_bulk?filter_path=errors", "{\"index\":{}}\n{}")
            #expect(r.status == 400)
            #expect(r.value("error.reason") as? String == "The bulk request must be terminated by a newline [\\n]")

            r = try await TestClient.send(port: server.port, "GET", "/f/_search?filter_path=hits.hits._id")
            let hits = (r.value("hits.hits") as? [[String: Any]]) ?? []
            #expect(hits.count == 6)
            #expect(hits.allSatisfy { $0.count == 1 && $0["_id"] is String })
            #expect(hits.prefix(2).compactMap { $0["_id"] as? String } == ["1", "2"])
            #expect(r.value("took") == nil)
        }
    }

    @Test func dataStreams() async throws {
        try await withServer { server in
            // Built-in logs-*-* template: the first create makes the data stream.
            var r = try await TestClient.bulk(port: server.port, """
                {"create":{"_index":"logs-app-default","_id":"e1"}}
                {"@timestamp":"2026-08-20T10:00:00Z","message":"a"}
                {"create":{"_index":"logs-app-default","_id":"e1"}}
                {"@timestamp":"2026-08-20T10:00:00Z","message":"a"}
                {"index":{"_index":"logs-app-default"}}
                {"@timestamp":"2026-08-20T10:00:00Z","message":"b"}
                {"create":{"_index":"logs-app-default"}}
                {"message":"no timestamp"}
                {"index":{"_index":"logs-app-default","op_type":"create"}}
                {"@timestamp":"2026-08-20T10:00:01Z","message":"c"}
                {"delete":{"_index":"logs-app-default","_id":"e1"}}

                """)
            #expect(r.itemStatuses == [201, 409, 400, 400, 201, 400])
            let backing = r.value("items.0.create._index") as? String ?? ""
            #expect(backing.hasPrefix(".ds-logs-app-default-"))
            #expect(backing.hasSuffix("-000001"))
            #expect(backing.range(of: #"^\.ds-logs-app-default-\d{4}\.\d{2}\.\d{2}-000001$"#, options: .regularExpression) != nil)
            #expect(r.value("items.2.index.error.reason") as? String == "only write ops with an op_type of create are allowed in data streams")
            #expect(r.value("items.2.index._index") as? String == "logs-app-default")
            #expect(r.value("items.3.create.error.type") as? String == "document_parsing_exception")
            #expect((r.value("items.3.create.error.reason") as? String ?? "").hasSuffix("failed to parse: data stream timestamp field [@timestamp] is missing"))
            #expect(r.value("items.3.create.error.caused_by.reason") as? String == "data stream timestamp field [@timestamp] is missing")
            #expect(r.value("items.5.delete.status") as? Int == 400)
            #expect(server.count(index: "logs-app-default") == 2)
            #expect(server.dataStreamNames == ["logs-app-default"])
            #expect(server.documents(index: "logs-app-default").allSatisfy { $0.index == backing })

            r = try await TestClient.send(port: server.port, "GET", "/_data_stream/logs-app-default")
            #expect(r.value("data_streams.0.name") as? String == "logs-app-default")
            #expect(r.value("data_streams.0.indices.0.index_name") as? String == backing)
            #expect(r.value("data_streams.0.template") as? String == "logs")
            r = try await TestClient.send(port: server.port, "GET", "/logs-app-default/_count")
            #expect(r.value("count") as? Int == 2)

            // _id uniqueness holds per backing index only (PROTOCOL.md §5.2).
            r = try await TestClient.send(port: server.port, "POST", "/logs-app-default/_rollover")
            #expect(r.value("rolled_over") as? Bool == true)
            #expect((r.value("new_index") as? String ?? "").hasSuffix("-000002"))
            r = try await TestClient.bulk(port: server.port, "{\"create\":{\"_index\":\"logs-app-default\",\"_id\":\"e1\"}}\n{\"@timestamp\":\"2026-08-20T10:00:00Z\"}\n")
            #expect(r.itemStatuses == [201])
            #expect(server.count(index: "logs-app-default") == 3)
        }
    }

    @Test func userDataStreamTemplateAndRequireDataStream() async throws {
        var c = ElasticsearchTestServerConfiguration()
        c.builtInDataStreamTemplates = false
        try await withServer(c) { server in
            var r = try await TestClient.send(
                port: server.port, "PUT", "/_index_template/logs-myapp",
                text: #"{"index_patterns":["logs-myapp-*"],"data_stream":{},"priority":200,"template":{"settings":{"number_of_replicas":0},"mappings":{"properties":{"@timestamp":{"type":"date"}}}}}"#)
            #expect(r.text == #"{"acknowledged":true}"#)
            r = try await TestClient.bulk(port: server.port, """
                {"create":{"_index":"logs-myapp-prod"}}
                {"@timestamp":"2026-08-20T10:00:00.123+02:00"}
                {"create":{"_index":"logs-myapp-prod"}}
                {"@timestamp":"yesterday"}
                {"create":{"_index":"logs-other-x"}}
                {"@timestamp":"2026-08-20"}
                {"create":{"_index":"plain","require_data_stream":true}}
                {"@timestamp":"2026-08-20"}

                """)
            #expect(r.itemStatuses == [201, 400, 201, 404])
            #expect(r.value("items.0.create._shards.total") as? Int == 1)
            #expect(r.value("items.1.create.error.type") as? String == "document_parsing_exception")
            #expect(r.value("items.2.create._index") as? String == "logs-other-x", "no built-in templates: a plain index")
            r = try await TestClient.send(port: server.port, "PUT", "/_data_stream/logs-myapp-explicit")
            #expect(r.status == 200)
            r = try await TestClient.send(port: server.port, "PUT", "/_data_stream/nomatch")
            #expect(r.status == 400)
            #expect(r.value("error.reason") as? String == "no matching index template found for data stream [nomatch]")
            #expect(Set(server.dataStreamNames) == ["logs-myapp-prod", "logs-myapp-explicit"])
        }
    }

    @Test func mappingEmulation() async throws {
        var c = ElasticsearchTestServerConfiguration()
        c.totalFieldsLimit = 20
        try await withServer(c) { server in
            var r = try await TestClient.bulk(port: server.port, """
                {"index":{"_index":"m"}}
                {"n":1,"f":1.5,"b":true,"s":"text","d":"2026-01-02T03:04:05Z","o":{"x":1},"app":"web"}
                {"index":{"_index":"m"}}
                {"n":"12","f":"2.5","b":"false","s":42,"d":1700000000000}
                {"index":{"_index":"m"}}
                {"n":"twelve"}
                {"index":{"_index":"m"}}
                {"f":"x"}
                {"index":{"_index":"m"}}
                {"b":"yes"}
                {"index":{"_index":"m"}}
                {"d":"not a date"}
                {"index":{"_index":"m"}}
                {"o":"scalar"}
                {"index":{"_index":"m"}}
                {"s":{"nested":true}}
                {"index":{"_index":"m"}}
                {"app.kubernetes.io/name":"x"}
                {"index":{"_index":"m"}}
                {"n":[1,2,"three"]}

                """)
            #expect(r.itemStatuses == [201, 201, 400, 400, 400, 400, 400, 400, 400, 400])
            #expect(server.mappingType(index: "m", field: "n") == "long")
            #expect(server.mappingType(index: "m", field: "f") == "float")
            #expect(server.mappingType(index: "m", field: "b") == "boolean")
            #expect(server.mappingType(index: "m", field: "s") == "text")
            #expect(server.mappingType(index: "m", field: "d") == "date")
            #expect(server.mappingType(index: "m", field: "o") == "object")
            #expect((r.value("items.6.index.error.reason") as? String ?? "").hasSuffix(
                "object mapping for [o] tried to parse field [o] as object, but found a concrete value"))
            #expect((r.value("items.8.index.error.reason") as? String ?? "").hasSuffix(
                "Could not dynamically add mapping for field [app.kubernetes.io/name]. Existing mapping for [app] must be of type object but found [text]."))
            #expect(r.value("items.4.index.error.caused_by.reason") as? String == "Failed to parse value [yes] as only [true] or [false] are allowed.")

            // Strict mappings and the total fields limit.
            _ = try await TestClient.send(port: server.port, "PUT", "/strict", text: #"{"mappings":{"dynamic":"strict","properties":{"a":{"type":"keyword"}}}}"#)
            var many = "{"
            for i in 0..<25 { many += (i > 0 ? "," : "") + "\"k\(i)\":\(i)" }
            many += "}"
            r = try await TestClient.bulk(port: server.port, """
                {"index":{"_index":"strict"}}
                {"a":"ok"}
                {"index":{"_index":"strict"}}
                {"a":"ok","b":1}
                {"index":{"_index":"wide"}}
                \(many)

                """)
            #expect(r.itemStatuses == [201, 400, 400])
            #expect(r.value("items.1.index.error.type") as? String == "strict_dynamic_mapping_exception")
            #expect((r.value("items.1.index.error.reason") as? String ?? "").hasSuffix("mapping set to strict, dynamic introduction of [b] within [_doc] is not allowed"))
            #expect(r.value("items.2.index.error.caused_by.reason") as? String == "Limit of total fields [20] has been exceeded while adding new fields [25]")
        }
    }

    /// Dotted field names are object paths, split at every dot byte, also one that a combining
    /// mark follows (a single Swift `Character` with it).
    @Test func dottedNamesSplitAtEveryDot() async throws {
        try await withServer { server in
            let r = try await TestClient.bulk(port: server.port, """
                {"index":{"_index":"cm"}}
                {"a.\\u0300b":1}
                {"index":{"_index":"cm"}}
                {"a":"scalar"}

                """)
            #expect(r.itemStatuses == [201, 400])
            #expect(server.mappingType(index: "cm", field: "a") == "object")
            #expect(server.mappingType(index: "cm", field: "a.\u{300}b") == "long")
        }
    }

    /// Field names are compared code unit for code unit, as Elasticsearch (Java) compares them:
    /// "é" precomposed and "e" + U+0301 (equal as Swift `String`s) are two fields, not a duplicate.
    @Test func canonicallyEquivalentNamesAreDifferentFields() async throws {
        try await withServer { server in
            let r = try await TestClient.bulk(port: server.port, """
                {"index":{"_index":"nf"}}
                {"\\u00e9":1,"e\\u0301":"x"}
                {"index":{"_index":"nf"}}
                {"\\u00e9":2,"\\u00e9":3}
                {"index":{"_index":"nf"}}
                {"o":{"\\u00e9":true},"o.e\\u0301":4}

                """)
            #expect(r.itemStatuses == [201, 400, 201])
            #expect((r.value("items.1.index.error.reason") as? String ?? "").contains("Duplicate field '\u{e9}'"))
            #expect(server.mappingType(index: "nf", field: "\u{e9}") == "long")
            #expect(server.mappingType(index: "nf", field: "e\u{301}") == "text")
            #expect(server.mappingType(index: "nf", field: "o.\u{e9}") == "boolean")
            #expect(server.mappingType(index: "nf", field: "o.e\u{301}") == "long")
            // GET _mapping lists both, in Java's order (U+0065 "e" before U+00E9).
            // (Searched as bytes: String and Foundation searches follow canonical equivalence.)
            let m = try await TestClient.send(port: server.port, "GET", "/nf/_mapping")
            func at(_ s: String) -> Int? { Array(m.body).firstRange(of: Array(s.utf8))?.lowerBound }
            let decomposed = try #require(at(#""e\#u{301}":{"type":"text""#))
            let precomposed = try #require(at(#""\#u{e9}":{"type":"long"}"#))
            #expect(decomposed < precomposed)
            #expect(at(#""o":{"properties":{"e\#u{301}":{"type":"long"},"\#u{e9}":{"type":"boolean"}}}"#) != nil)
        }
    }

    /// Ids too are compared byte for byte: deleting "é" (precomposed) leaves no tombstone for
    /// "e" + U+0301, which is created at version 1 as a document of its own.
    @Test func canonicallyEquivalentIdsAreDifferentDocuments() async throws {
        try await withServer { server in
            let r = try await TestClient.bulk(port: server.port, """
                {"index":{"_index":"ni","_id":"\\u00e9"}}
                {"n":1}
                {"delete":{"_index":"ni","_id":"\\u00e9"}}
                {"create":{"_index":"ni","_id":"e\\u0301"}}
                {"n":2}
                {"create":{"_index":"ni","_id":"\\u00e9"}}
                {"n":3}

                """)
            #expect(r.itemStatuses == [201, 200, 201, 201])
            #expect(r.value("items.2.create._version") as? Int == 1)
            #expect(r.value("items.3.create._version") as? Int == 3, "re-created after delete: version continues")
            #expect(server.count(index: "ni") == 2)
        }
    }

    /// Index names too: "é" precomposed and "e" + U+0301 are two indices (Java compares code
    /// units), each with its own documents, deleted on its own, listed in Java's order.
    @Test func canonicallyEquivalentIndexNamesAreDifferentIndices() async throws {
        try await withServer { server in
            let r = try await TestClient.bulk(port: server.port, """
                {"create":{"_index":"caf\\u00e9","_id":"1"}}
                {"n":1}
                {"create":{"_index":"cafe\\u0301","_id":"1"}}
                {"n":2}
                {"create":{"_index":"cafe\\u0301","_id":"2"}}
                {"n":3}

                """)
            #expect(r.itemStatuses == [201, 201, 201], "the same _id in another index is no conflict")
            // (Compared as bytes: Swift's `==` on strings follows canonical equivalence.)
            #expect(server.indexNames.map { Array($0.utf8) } == [Array("cafe\u{301}".utf8), Array("caf\u{e9}".utf8)], "Java's order: e < é")
            #expect(server.count(index: "caf\u{e9}") == 1 && server.count(index: "cafe\u{301}") == 2)
            let deleted = try await TestClient.send(port: server.port, "DELETE", "/caf%C3%A9")
            #expect(deleted.status == 200)
            #expect(server.indexNames.map { Array($0.utf8) } == [Array("cafe\u{301}".utf8)] && server.count(index: "cafe\u{301}") == 2)
        }
    }

    @Test func mappingEmulationOff() async throws {
        var c = ElasticsearchTestServerConfiguration()
        c.mappingEmulation = false
        try await withServer(c) { server in
            let r = try await TestClient.bulk(port: server.port, "{\"index\":{\"_index\":\"m\"}}\n{\"n\":1}\n{\"index\":{\"_index\":\"m\"}}\n{\"n\":\"x\"}\n")
            #expect(r.itemStatuses == [201, 201])
        }
    }

    @Test func pipelines() async throws {
        var c = ElasticsearchTestServerConfiguration()
        c.pipelines = ["known"]
        try await withServer(c) { server in
            var r = try await TestClient.bulk(port: server.port, "/_bulk?pipeline=missing", "{\"index\":{\"_index\":\"p\"}}\n{}\n{\"index\":{\"_index\":\"p\",\"pipeline\":\"known\"}}\n{}\n")
            #expect(r.itemStatuses == [400, 201])
            #expect(r.value("items.0.index.error.reason") as? String == "pipeline with id [missing] does not exist")
            #expect(r.value("items.0.index._id") is NSNull)
            #expect(r.text.hasPrefix(#"{"errors":true,"took":"#))
            #expect(r.text.contains(#","ingest_took":0,"items":["#), "ES 8 key order: errors, took, ingest_took, items")
            r = try await TestClient.bulk(port: server.port, "/_bulk?pipeline=known", "{\"index\":{\"_index\":\"p\",\"pipeline\":\"_none\"}}\n{}\n")
            #expect(r.itemStatuses == [201])
            #expect(r.value("ingest_took") == nil)
        }
    }

    @Test func autoCreateDisabled() async throws {
        var c = ElasticsearchTestServerConfiguration()
        c.autoCreateIndex = false
        try await withServer(c) { server in
            _ = try await TestClient.send(port: server.port, "PUT", "/exists")
            let r = try await TestClient.bulk(port: server.port, "{\"index\":{\"_index\":\"nope\"}}\n{}\n{\"index\":{\"_index\":\"exists\"}}\n{}\n")
            #expect(r.itemStatuses == [404, 201])
            #expect(r.value("items.0.index.error.type") as? String == "index_not_found_exception")
            #expect(r.value("items.0.index.error.reason") as? String == "no such index [nope] and [action.auto_create_index] is [false]")
        }
    }

    @Test func elasticsearch8Leniencies() async throws {
        var c = ElasticsearchTestServerConfiguration()
        c.versionNumber = "8.15.0"
        try await withServer(c) { server in
            // Unknown actions are skipped with their next line; extra keys are ignored.
            var r = try await TestClient.bulk(port: server.port, """
                {"foo":{"_index":"a"}}
                {"x":1}
                {"index":{"_index":"a"},"extra":1}
                {"x":2}

                """)
            #expect(r.status == 200)
            #expect(r.itemStatuses == [201])
            // REST compatibility with 7 accepts `_type`.
            r = try await TestClient.send(
                port: server.port, "POST", "/_bulk", body: Array("{\"index\":{\"_index\":\"a\",\"_type\":\"_doc\"}}\n{}\n".utf8),
                contentType: "application/vnd.elasticsearch+x-ndjson; compatible-with=7")
            #expect(r.status == 200)
            r = try await TestClient.bulk(port: server.port, "{\"index\":{\"_index\":\"a\",\"_type\":\"_doc\"}}\n{}\n")
            #expect(r.status == 400)
        }
    }

    @Test func aliasesAndRequireAlias() async throws {
        try await withServer { server in
            _ = try await TestClient.send(port: server.port, "PUT", "/backing-1", text: #"{"aliases":{"write-alias":{"is_write_index":true}}}"#)
            _ = try await TestClient.send(port: server.port, "PUT", "/backing-2", text: #"{"aliases":{"write-alias":{}}}"#)
            let r = try await TestClient.bulk(port: server.port, "/_bulk?require_alias=true", """
                {"index":{"_index":"write-alias"}}
                {}
                {"index":{"_index":"not-an-alias"}}
                {}

                """)
            #expect(r.itemStatuses == [201, 404])
            #expect(r.value("items.0.index._index") as? String == "backing-1")
            #expect(
                r.value("items.1.index.error.reason") as? String
                    == "no such index [not-an-alias] and [require_alias] request flag is [true] and [not-an-alias] is not an alias")
            #expect(server.count(index: "write-alias") == 1)
        }
    }

    /// Repeated large bulk requests: every item counted, duplicates answered as conflicts. No
    /// timing is asserted (the speed is measured by Benchmarks/e2e.sh, not by tests).
    @Test func ingestThroughput() async throws {
        try await withServer { server in
            var nd = ""
            nd.reserveCapacity(3_000_000)
            for i in 0..<10_000 {
                nd += "{\"create\":{\"_index\":\"perf\",\"_id\":\"id-\(i)\"}}\n{\"@timestamp\":\"2026-08-20T10:00:00Z\",\"level\":\"info\",\"message\":\"GET /api/v1/items/\(i) 200 1234\",\"host\":{\"name\":\"web-1\"},\"n\":\(i)}\n"
            }
            let body = nd
            for batch in 0..<5 {
                let r = try await TestClient.bulk(port: server.port, "/_bulk?filter_path=errors", body)
                #expect(r.text == (batch == 0 ? #"{"errors":false}"# : #"{"errors":true}"#))
            }
            #expect(server.count(index: "perf") == 10_000)
            #expect(server.bulkTotals.items == 50_000)
        }
    }
}

import CompressNIO
import NIOCore

enum ByteBufferHelper {
    static func bytes(_ b: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: b) }
    static func zlib(_ buf: inout ByteBuffer) throws -> [UInt8] {
        var out = try buf.compress(with: .zlib())
        return out.readBytes(length: out.readableBytes) ?? []
    }
}
