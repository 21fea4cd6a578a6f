import ElasticsearchTestServer
import Foundation
import Testing

@Suite("Endpoints, routing, headers, auth")
struct EndpointTests {
    @Test func rootReportsVersionAndProductHeader() async throws {
        try await withServer { server in
            let r = try await TestClient.send(port: server.port, "GET", "/")
            #expect(r.status == 200)
            #expect(r.header("X-elastic-product") == "Elasticsearch")
            #expect(r.header("Content-Type") == "application/json")
            #expect(r.value("version.number") as? String == "9.1.0")
            #expect(r.value("tagline") as? String == "You Know, for Search")
            #expect(r.value("version.build_flavor") as? String == "default")
            #expect(!r.text.contains("\": ") && !r.text.contains("\", \""), "compact JSON: \(r.text)")
            #expect(r.text.hasPrefix(#"{"name":"#))
        }
    }

    @Test func headRootHasNoBody() async throws {
        try await withServer { server in
            let r = try await TestClient.send(port: server.port, "HEAD", "/")
            #expect(r.status == 200)
            #expect(r.body.isEmpty)
            #expect(r.header("X-elastic-product") == "Elasticsearch")
        }
    }

    @Test func configuredVersionIsReported() async throws {
        var c = ElasticsearchTestServerConfiguration()
        c.versionNumber = "8.17.2"
        try await withServer(c) { server in
            let r = try await TestClient.send(port: server.port, "GET", "/")
            #expect(r.value("version.number") as? String == "8.17.2")
        }
    }

    @Test func clusterHealth() async throws {
        try await withServer { server in
            var r = try await TestClient.send(port: server.port, "GET", "/_cluster/health")
            #expect(r.status == 200)
            #expect(r.value("status") as? String == "green")
            #expect(r.value("number_of_nodes") as? Int == 1)
            #expect(r.value("timed_out") as? Bool == false)
            #expect(r.text.hasPrefix(#"{"cluster_name":"es-test-server","status":"green","timed_out":false"#))
            // An index with the default single replica cannot allocate it on one node: yellow.
            _ = try await TestClient.send(port: server.port, "PUT", "/with-replica")
            r = try await TestClient.send(port: server.port, "GET", "/_cluster/health")
            #expect(r.value("status") as? String == "yellow")
            #expect(r.value("unassigned_shards") as? Int == 1)
            r = try await TestClient.send(port: server.port, "GET", "/_cluster/health?wait_for_status=yellow&timeout=1s")
            #expect(r.status == 200)
            let started = ContinuousClock.now
            r = try await TestClient.send(port: server.port, "GET", "/_cluster/health?wait_for_status=green&timeout=100ms")
            #expect(r.status == 408)
            #expect(r.value("timed_out") as? Bool == true)
            #expect(ContinuousClock.now - started >= .milliseconds(90))
        }
    }

    @Test func wrongMethodIs405WithAllowHeader() async throws {
        try await withServer { server in
            var r = try await TestClient.send(port: server.port, "GET", "/idx/_bulk")
            #expect(r.status == 405)
            #expect(r.text == #"{"error":"Incorrect HTTP method for uri [/idx/_bulk] and method [GET], allowed: [POST, PUT]","status":405}"#)
            #expect(r.header("Allow") == "POST,PUT")
            r = try await TestClient.send(port: server.port, "POST", "/some-index")
            #expect(r.status == 405)
            let allow = Set((r.header("Allow") ?? "").split(separator: ",").map(String.init))
            #expect(allow == ["PUT", "GET", "HEAD", "DELETE"])
            r = try await TestClient.send(port: server.port, "DELETE", "/_cluster/health")
            #expect(r.status == 405)
            #expect(r.header("Allow") == "GET")
        }
    }

    @Test func unknownPathIs400WithoutStatusField() async throws {
        try await withServer { server in
            let r = try await TestClient.send(port: server.port, "GET", "/a/b/c/d?x=1")
            #expect(r.status == 400)
            #expect(r.text == #"{"error":"no handler found for uri [/a/b/c/d?x=1] and method [GET]"}"#)
        }
    }

    @Test func getBulkIsRoutedToGetIndex() async throws {
        // PROTOCOL.md §1: `/_bulk` also matches `/{index}`; ES routes GET to the get-index API.
        try await withServer { server in
            let r = try await TestClient.send(port: server.port, "GET", "/_bulk")
            #expect(r.status == 404)
            #expect(r.value("error.type") as? String == "index_not_found_exception")
        }
    }

    @Test func unknownQueryParameters() async throws {
        try await withServer { server in
            let body = "{\"index\":{\"_index\":\"a\"}}\n{}\n"
            var r = try await TestClient.bulk(port: server.port, "/_bulk?foo=1", body)
            #expect(r.status == 400)
            #expect(r.value("error.type") as? String == "illegal_argument_exception")
            #expect(r.value("error.reason") as? String == "request [/_bulk] contains unrecognized parameter: [foo]")
            #expect(r.value("error.root_cause.0.type") as? String == "illegal_argument_exception")
            #expect(r.value("status") as? Int == 400)
            r = try await TestClient.bulk(port: server.port, "/_bulk?zzz=1&foo=2", body)
            #expect(r.value("error.reason") as? String == "request [/_bulk] contains unrecognized parameters: [foo], [zzz]")
            r = try await TestClient.bulk(port: server.port, "/_bulk?refesh=true", body)
            #expect(r.value("error.reason") as? String == "request [/_bulk] contains unrecognized parameter: [refesh] -> did you mean [refresh]?")
            #expect(server.count(index: "a") == 0)
            // What Vector and Fluent Bit append is accepted.
            r = try await TestClient.bulk(port: server.port, "/_bulk?timeout=60s&filter_path=errors&pretty=false&human", body)
            #expect(r.status == 200)
            #expect(server.count(index: "a") == 1)
        }
    }

    @Test func contentTypeRules() async throws {
        try await withServer { server in
            let body = Array("{\"index\":{\"_index\":\"a\"}}\n{}\n".utf8)
            var r = try await TestClient.send(port: server.port, "POST", "/_bulk", body: body, contentType: nil)
            #expect(r.status == 406)
            #expect(r.text == #"{"error":"Content-Type header is missing","status":406}"#)
            r = try await TestClient.send(port: server.port, "POST", "/_bulk", body: body, contentType: "text/plain")
            #expect(r.status == 406)
            #expect(r.text == #"{"error":"Content-Type header [text/plain] is not supported","status":406}"#)
            r = try await TestClient.send(port: server.port, "POST", "/_bulk", body: body, contentType: "application/x-www-form-urlencoded")
            #expect(r.status == 406)
            r = try await TestClient.send(port: server.port, "POST", "/_bulk", body: body, contentType: "application/yaml")
            #expect(r.status == 406)
            #expect(r.text == #"{"error":"Content-Type [yaml] does not support stream parsing. Use JSON or SMILE instead","status":406}"#)
            #expect(server.count(index: "a") == 0)
            for ok in [
                "application/x-ndjson", "application/json", "application/json; charset=UTF-8",
                "application/vnd.elasticsearch+x-ndjson; compatible-with=9", "application/vnd.elasticsearch+json;compatible-with=8",
            ] {
                r = try await TestClient.send(port: server.port, "POST", "/_bulk", body: body, contentType: ok)
                #expect(r.status == 200, "\(ok)")
            }
            #expect(server.count(index: "a") == 5)
            r = try await TestClient.send(port: server.port, "POST", "/_bulk", body: body, contentType: "application/vnd.elasticsearch+x-ndjson; compatible-with=7")
            #expect(r.status == 400)
            #expect(r.value("error.type") as? String == "media_type_header_exception")
            // GET without a body needs no Content-Type.
            r = try await TestClient.send(port: server.port, "GET", "/", contentType: nil)
            #expect(r.status == 200)
        }
    }

    @Test func vendorAcceptHeaderSetsResponseContentType() async throws {
        try await withServer { server in
            let r = try await TestClient.send(
                port: server.port, "GET", "/", headers: [("Accept", "application/vnd.elasticsearch+json; compatible-with=9")])
            #expect(r.header("Content-Type") == "application/vnd.elasticsearch+json;compatible-with=9")
        }
    }

    @Test func basicAuth() async throws {
        var c = ElasticsearchTestServerConfiguration()
        c.credentials = BasicCredentials(username: "elastic", password: "changeme")
        c.apiKeys = ["key-id:key-secret"]
        try await withServer(c) { server in
            var r = try await TestClient.send(port: server.port, "GET", "/_cluster/health")
            #expect(r.status == 401)
            #expect(
                r.headerValues("WWW-Authenticate") == ["Basic realm=\"security\", charset=\"UTF-8\"", "Bearer realm=\"security\"", "ApiKey"])
            #expect(r.value("error.type") as? String == "security_exception")
            #expect(r.value("error.reason") as? String == "missing authentication credentials for REST request [/_cluster/health]")
            #expect((r.value("error.header.WWW-Authenticate") as? [String])?.count == 3)
            #expect(r.value("error.root_cause.0.header.WWW-Authenticate") != nil)
            #expect(r.value("status") as? Int == 401)

            let bad = Data("elastic:wrong".utf8).base64EncodedString()
            r = try await TestClient.send(port: server.port, "GET", "/?pretty", headers: [("Authorization", "Basic \(bad)")])
            #expect(r.status == 401)
            #expect(r.value("error.reason") as? String == "unable to authenticate user [elastic] for REST request [/?pretty]")
            #expect(r.headerValues("WWW-Authenticate").count == 3)

            let good = Data("elastic:changeme".utf8).base64EncodedString()
            r = try await TestClient.bulk(port: server.port, "{\"index\":{\"_index\":\"a\"}}\n{}\n", headers: [("Authorization", "Basic \(good)")])
            #expect(r.status == 200)
            let key = Data("key-id:key-secret".utf8).base64EncodedString()
            r = try await TestClient.send(port: server.port, "GET", "/", headers: [("Authorization", "ApiKey \(key)")])
            #expect(r.status == 200)
            r = try await TestClient.send(port: server.port, "GET", "/", headers: [("Authorization", "ApiKey AAAA")])
            #expect(r.status == 401)
            #expect(server.count(index: "a") == 1)
            #expect(server.faultCounters.unauthorizedRequests == 3)
        }
    }

    @Test func expectContinue() async throws {
        try await withServer { server in
            let body = "{\"index\":{\"_index\":\"a\"}}\n{}\n"
            let head =
                "POST /_bulk HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nContent-Length: \(body.utf8.count)\r\nExpect: 100-continue\r\n\r\n"
            // The server answers 100 before the body is sent.
            let port = server.port
            // Generous for a loaded machine (once more than 20 s there); a pass takes milliseconds.
            let result = try await withDeadline(60, "expect") {
                try await TestClient.raw(port: port, Array(head.utf8)) { got in got.containsSubsequence("\r\n\r\n") }
            }
            #expect(String(decoding: result.bytes, as: UTF8.self).hasPrefix("HTTP/1.1 100 Continue"))

            let bad = "POST /_bulk HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nContent-Length: 3\r\nExpect: something\r\n\r\n"
            let r = try await TestClient.raw(port: port, Array(bad.utf8)) { got in got.containsSubsequence("\"status\":417}") }
            #expect(String(decoding: r.bytes, as: UTF8.self).hasPrefix("HTTP/1.1 417"))
        }
    }

    @Test func expectContinueFullExchange() async throws {
        try await withServer { server in
            let body = "{\"index\":{\"_index\":\"a\"}}\n{}\n"
            let r = try await TestClient.send(
                port: server.port, "POST", "/_bulk", headers: [("Expect", "100-continue")], body: Array(body.utf8),
                contentType: "application/x-ndjson")
            #expect(r.status == 200)
            #expect(server.count(index: "a") == 1)
        }
    }

    @Test func gzipResponsesWhenAccepted() async throws {
        try await withServer { server in
            let r = try await TestClient.send(port: server.port, "GET", "/", headers: [("Accept-Encoding", "gzip")])
            #expect(r.status == 200)
            #expect(r.header("Content-Encoding") == "gzip")
            #expect(r.rawBody.prefix(2) == [0x1F, 0x8B])
            #expect(r.value("version.number") as? String == "9.1.0")
            let plain = try await TestClient.send(port: server.port, "GET", "/")
            #expect(plain.header("Content-Encoding") == nil)
        }
    }

    @Test func prettyOutput() async throws {
        try await withServer { server in
            let r = try await TestClient.send(port: server.port, "GET", "/?pretty")
            #expect(r.text.hasPrefix("{\n  \"name\" : \"es-test-server-0\","))
            #expect(r.value("version.number") as? String == "9.1.0")
        }
    }

    @Test func options() async throws {
        try await withServer { server in
            let r = try await TestClient.send(port: server.port, "OPTIONS", "/_bulk")
            #expect(r.status == 200)
            #expect(Set((r.header("Allow") ?? "").split(separator: ",")) == ["GET", "HEAD", "POST", "PUT", "DELETE"])
        }
    }

    // MARK: Templates and indices

    @Test func indexTemplates() async throws {
        try await withServer { server in
            let body = #"{"index_patterns":["app-*"],"priority":200,"template":{"settings":{"number_of_replicas":0},"mappings":{"properties":{"code":{"type":"long"}}}}}"#
            var r = try await TestClient.send(port: server.port, "PUT", "/_index_template/app", text: body)
            #expect(r.status == 200)
            #expect(r.text == #"{"acknowledged":true}"#)
            r = try await TestClient.send(port: server.port, "POST", "/_index_template/app", text: body)
            #expect(r.status == 200)
            r = try await TestClient.send(port: server.port, "PUT", "/_index_template/app?create=true", text: body)
            #expect(r.status == 400)
            #expect(r.value("error.reason") as? String == "index template [app] already exists")
            r = try await TestClient.send(port: server.port, "PUT", "/_index_template/other", text: #"{"index_patterns":["app-x*"],"priority":200}"#)
            #expect(r.status == 400)
            #expect((r.value("error.reason") as? String ?? "").contains("that have the same priority [200]"))
            r = try await TestClient.send(port: server.port, "PUT", "/_index_template/nopattern", text: #"{"priority":1}"#)
            #expect(r.status == 400)
            #expect(r.value("error.reason") as? String == "Validation Failed: 1: index patterns are missing;")
            r = try await TestClient.send(port: server.port, "PUT", "/_index_template/bad", text: #"{"index_patterns":["b-*"],"foo":1}"#)
            #expect(r.status == 400)
            #expect(r.value("error.type") as? String == "x_content_parse_exception")
            r = try await TestClient.send(port: server.port, "PUT", "/_index_template/empty")
            #expect(r.status == 400)
            #expect(r.value("error.reason") as? String == "request body is required")
            r = try await TestClient.send(port: server.port, "GET", "/_index_template/app")
            #expect(r.value("index_templates.0.name") as? String == "app")
            #expect(r.value("index_templates.0.index_template.priority") as? Int == 200)
            r = try await TestClient.send(port: server.port, "GET", "/_index_template/nothing")
            #expect(r.status == 404)

            // The template applies to auto-created indices: replicas 0 → total 1, and `code` is a long.
            r = try await TestClient.bulk(port: server.port, "{\"index\":{\"_index\":\"app-1\"}}\n{\"code\":\"abc\"}\n{\"index\":{\"_index\":\"app-1\"}}\n{\"code\":5}\n")
            #expect(r.itemStatuses == [400, 201])
            #expect(r.value("items.1.index._shards.total") as? Int == 1)
            #expect(server.mappingType(index: "app-1", field: "code") == "long")
        }
    }

    @Test func createIndex() async throws {
        try await withServer { server in
            var r = try await TestClient.send(port: server.port, "PUT", "/my-index", text: #"{"settings":{"number_of_shards":1},"mappings":{"properties":{"n":{"type":"integer"}}}}"#)
            #expect(r.status == 200)
            #expect(r.text == #"{"acknowledged":true,"shards_acknowledged":true,"index":"my-index"}"#)
            r = try await TestClient.send(port: server.port, "PUT", "/my-index")
            #expect(r.status == 400)
            #expect(r.value("error.type") as? String == "resource_already_exists_exception")
            let reason = r.value("error.reason") as? String ?? ""
            #expect(reason.hasPrefix("index [my-index/") && reason.hasSuffix("] already exists"))
            #expect(r.value("error.index") as? String == "my-index")
            r = try await TestClient.send(port: server.port, "HEAD", "/my-index")
            #expect(r.status == 200)
            r = try await TestClient.send(port: server.port, "HEAD", "/nope")
            #expect(r.status == 404)
            r = try await TestClient.send(port: server.port, "GET", "/my-index")
            #expect(r.value("my-index.mappings.properties.n.type") as? String == "integer")
            r = try await TestClient.send(port: server.port, "PUT", "/logs-foo-bar")
            #expect(r.status == 400)
            #expect((r.value("error.reason") as? String ?? "").contains("creates data streams only"))
            r = try await TestClient.send(port: server.port, "DELETE", "/my-index")
            #expect(r.status == 200)
            r = try await TestClient.send(port: server.port, "DELETE", "/my-index")
            #expect(r.status == 404)
        }
    }

    @Test(arguments: [
        ("UPPER", "must be lowercase"),
        ("a b", #"must not contain the following characters [ , ", *, ,, /, <, >, ?, \, |]"#),
        ("a*b", #"must not contain the following characters [ , ", *, ,, /, <, >, ?, \, |]"#),
        ("a#b", "must not contain '#'"),
        ("a:b", "must not contain ':'"),
        ("_under", "must not start with '_', '-', or '+'"),
        ("-dash", "must not start with '_', '-', or '+'"),
        ("+plus", "must not start with '_', '-', or '+'"),
        ("..", "must not be '.' or '..'"),
        (String(repeating: "x", count: 256), "index name is too long, (256 > 255)"),
    ])
    func invalidIndexNames(_ name: String, _ why: String) async throws {
        try await withServer { server in
            let encoded = name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? name
            let r = try await TestClient.send(port: server.port, "PUT", "/\(encoded)")
            if name.hasPrefix("_") {
                // `PUT /_under` is not the create-index API in ES either (explicit paths win); it is 405/400.
                #expect(r.status >= 400)
            } else {
                #expect(r.status == 400)
                #expect(r.value("error.type") as? String == "invalid_index_name_exception")
                #expect(r.value("error.reason") as? String == "Invalid index name [\(name)], \(why)")
                #expect(r.value("error.index_uuid") as? String == "_na_")
            }
            // Inside a bulk the same problem fails only the item.
            var line: [String: Any] = ["index": ["_index": name]]
            let action = String(decoding: try JSONSerialization.data(withJSONObject: line), as: UTF8.self)
            line = [:]
            let b = try await TestClient.bulk(port: server.port, "\(action)\n{\"f\":1}\n{\"index\":{\"_index\":\"fine\"}}\n{\"f\":1}\n")
            #expect(b.status == 200)
            #expect(b.itemStatuses == [400, 201])
            #expect(b.value("items.0.index.error.type") as? String == "invalid_index_name_exception")
            #expect(b.value("items.0.index.error.reason") as? String == "Invalid index name [\(name)], \(why)")
            #expect(b.value("items.0.index.error.index_uuid") as? String == "_na_")
            #expect(b.value("items.0.index._index") as? String == name)
            #expect(b.value("errors") as? Bool == true)
        }
    }

    @Test func countAndSearch() async throws {
        try await withServer { server in
            var nd = ""
            for i in 0..<15 { nd += "{\"index\":{\"_index\":\"s\",\"_id\":\"\(i)\"}}\n{\"n\":\(i),\"tag\":\"\(i % 2 == 0 ? "even" : "odd")\",\"msg\":\"hello world \(i)\"}\n" }
            var r = try await TestClient.bulk(port: server.port, "/_bulk?refresh=true", nd)
            #expect(r.value("errors") as? Bool == false)
            #expect(r.value("items.0.index.forced_refresh") as? Bool == true)
            r = try await TestClient.send(port: server.port, "GET", "/s/_count")
            #expect(r.text == #"{"count":15,"_shards":{"total":1,"successful":1,"skipped":0,"failed":0}}"#)
            r = try await TestClient.send(port: server.port, "POST", "/s/_count", text: #"{"query":{"term":{"tag":"even"}}}"#)
            #expect(r.value("count") as? Int == 8)
            r = try await TestClient.send(port: server.port, "GET", "/s/_search")
            #expect(r.value("hits.total.value") as? Int == 15)
            #expect(r.value("hits.total.relation") as? String == "eq")
            #expect((r.value("hits.hits") as? [Any])?.count == 10)
            #expect(r.value("hits.hits.0._id") as? String == "0")
            #expect(r.value("hits.hits.0._index") as? String == "s")
            #expect(r.value("hits.hits.0._source.msg") as? String == "hello world 0")
            r = try await TestClient.send(port: server.port, "POST", "/s/_search", text: #"{"query":{"match_all":{}},"size":3,"from":2,"sort":[{"n":"desc"}]}"#)
            #expect((r.value("hits.hits") as? [[String: Any]])?.compactMap { $0["_id"] as? String } == ["12", "11", "10"])
            #expect(r.value("hits.hits.0.sort.0") as? Int == 12)
            r = try await TestClient.send(port: server.port, "GET", "/s/_search?q=tag:odd&size=0")
            #expect(r.value("hits.total.value") as? Int == 7)
            r = try await TestClient.send(port: server.port, "POST", "/s/_search", text: #"{"query":{"bool":{"filter":[{"range":{"n":{"gte":3,"lt":6}}}],"must_not":[{"ids":{"values":["4"]}}]}}}"#)
            #expect(r.value("hits.total.value") as? Int == 2)
            r = try await TestClient.send(port: server.port, "POST", "/s/_search", text: #"{"query":{"match":{"msg":"world"}},"size":1,"_source":["n"]}"#)
            #expect(r.value("hits.total.value") as? Int == 15)
            #expect(canonical(r.value("hits.hits.0._source")) == #"{"n":0}"#)
            r = try await TestClient.send(port: server.port, "POST", "/s/_search", text: #"{"query":{"nope":{}}}"#)
            #expect(r.status == 400)
            #expect(r.value("error.type") as? String == "parsing_exception")
            r = try await TestClient.send(port: server.port, "GET", "/missing/_count")
            #expect(r.status == 404)
            #expect(r.value("error.type") as? String == "index_not_found_exception")
            #expect(r.value("error.reason") as? String == "no such index [missing]")
            r = try await TestClient.send(port: server.port, "GET", "/miss*/_count")
            #expect(r.value("count") as? Int == 0)
            r = try await TestClient.send(port: server.port, "GET", "/_search?size=1")
            #expect(r.value("hits.total.value") as? Int == 15)
        }
    }

    @Test func singleDocumentAPIs() async throws {
        try await withServer { server in
            var r = try await TestClient.send(port: server.port, "PUT", "/docs/_doc/1", text: #"{"a":1}"#)
            #expect(r.status == 201)
            #expect(r.text.hasPrefix(#"{"_index":"docs","_id":"1","_version":1,"result":"created","_shards":"#))
            r = try await TestClient.send(port: server.port, "PUT", "/docs/_doc/1", text: #"{"a":2}"#)
            #expect(r.status == 200)
            #expect(r.value("_version") as? Int == 2)
            #expect(r.value("result") as? String == "updated")
            r = try await TestClient.send(port: server.port, "PUT", "/docs/_create/1", text: #"{"a":3}"#)
            #expect(r.status == 409)
            #expect(r.value("error.type") as? String == "version_conflict_engine_exception")
            #expect(r.value("error.reason") as? String == "[1]: version conflict, document already exists (current version [2])")
            #expect(r.value("error.root_cause.0.type") as? String == "version_conflict_engine_exception")
            r = try await TestClient.send(port: server.port, "POST", "/docs/_doc", text: #"{"a":4}"#)
            #expect(r.status == 201)
            let auto = r.value("_id") as? String ?? ""
            #expect(auto.count == 20)
            r = try await TestClient.send(port: server.port, "GET", "/docs/_doc/1")
            #expect(r.text.hasPrefix(#"{"_index":"docs","_id":"1","_version":2,"_seq_no":1,"_primary_term":1,"found":true,"_source":{"a":2}"#))
            r = try await TestClient.send(port: server.port, "GET", "/docs/_doc/zzz")
            #expect(r.status == 404)
            #expect(r.value("found") as? Bool == false)
            r = try await TestClient.send(port: server.port, "HEAD", "/docs/_doc/1")
            #expect(r.status == 200)
            r = try await TestClient.send(port: server.port, "DELETE", "/docs/_doc/1")
            #expect(r.status == 200)
            #expect(r.value("result") as? String == "deleted")
            r = try await TestClient.send(port: server.port, "DELETE", "/docs/_doc/1")
            #expect(r.status == 404)
            #expect(r.value("result") as? String == "not_found")
            #expect(server.count(index: "docs") == 1)
            #expect(server.document(index: "docs", id: auto)?.sourceString == #"{"a":4}"#)
        }
    }

    @Test func requestLogRecordsMethodPathHeadersAndSizes() async throws {
        try await withServer { server in
            let nd = "{\"index\":{\"_index\":\"a\"}}\n{\"m\":\"\(String(repeating: "x", count: 500))\"}\n"
            let gz = try TestClient.gzip(Array(nd.utf8))
            let r = try await TestClient.send(
                port: server.port, "POST", "/_bulk?timeout=60s", headers: [("Content-Encoding", "gzip"), ("User-Agent", "t/1")], body: gz,
                contentType: "application/x-ndjson")
            #expect(r.status == 200)
            let log = server.requests
            #expect(log.count == 1)
            let entry = try #require(log.first)
            #expect(entry.method == "POST")
            #expect(entry.path == "/_bulk")
            #expect(entry.uri == "/_bulk?timeout=60s")
            #expect(entry.contentEncoding == "gzip")
            #expect(entry.header("user-agent") == "t/1")
            #expect(entry.bodySize == nd.utf8.count)
            #expect(entry.compressedBodySize == gz.count)
            #expect(entry.compressedBodySize < entry.bodySize)
            #expect(entry.status == 200)
            server.clearRequestLog()
            #expect(server.requests.isEmpty)
        }
    }
}
