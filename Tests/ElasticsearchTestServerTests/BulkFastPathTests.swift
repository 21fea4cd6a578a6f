import CIsal
@testable import ElasticsearchTestServer
import Testing

/// The bulk fast paths (``JSONValidator``, ``ActionFastPath``) may only accept what the general
/// parser accepts, with the same result; everything else must fall back to it.
@Suite("Bulk fast paths")
struct BulkFastPathTests {
    static let documents: [String] = [
        #"{"@timestamp":"2026-11-25T08:15:01.120000001Z","message":"GET / 200","http":{"request":{"method":"GET"},"response":{"status_code":200,"body":{"bytes":612}}},"url":{"path":"/"},"user_agent":{"original":"curl/8.5.0"},"tags":["a","b"],"ok":true,"none":null,"f":false,"n":-1.5e+3,"z":0}"#,
        #"{"a":"caf\u00e9 \ud83d\ude00 \" \\ \/ \b \f \n \r \t","b":"naïve — ✓ 😀","c":[[],{},[{}],{"x":[1,2,{"y":"z"}]}]}"#,
        #"  {"k":1}  "#, "{}", #"{"a":{"a":{"a":1}}}"#, #"{"a":1,"b":{"a":2}}"#, #"{"lone":"\udc00 and \ud800 high"}"#,
    ]

    static let invalid: [String] = [
        "", "   ", "{", "}", #"{"a"}"#, #"{"a":}"#, #"{"a":1,}"#, #"{"a":1 "b":2}"#, #"{"a":1}x"#, #"{"a":1}{}"#, "[1,]", "[01]", "[-]", "[1.]", "[1e]",
        "[1.5x]", "[tru]", "[truex]", "[nul]", "[nulls]", "[false_]", "[NaN]", "[-Infinity]", #"{"a":"\x"}"#, #"{"a":"\u12"}"#, #"{"a":"\u12g4"}"#,
        #"{"a":"\ud800\u0041"}"#, "{\"a\":\"tab\there\"}", #"{"a":1,"a":2}"#, #"{"a":{"b":1,"b":2}}"#, #"{"a\u0062":1,"ab":2}"#, #"{'a':1}"#, #"{a:1}"#,
        String(repeating: "[", count: 201) + String(repeating: "]", count: 201),
    ]

    static func validate(_ bytes: [UInt8]) -> JSONValidator.Kind? {
        var scratch: [UInt64] = []
        return bytes.withUnsafeBufferPointer { JSONValidator.validate($0, from: 0, to: $0.count, scratch: &scratch) }
    }

    static func parse(_ bytes: [UInt8]) -> JSONValue? { try? JSONParser.parse(bytes) }

    /// The validator's answer agrees with the parser whenever it gives one.
    static func agrees(_ bytes: [UInt8]) -> Bool {
        guard let kind = validate(bytes) else { return true }
        guard let value = parse(bytes) else { return false }
        if case .object = value { return kind == .object }
        return kind == .other
    }

    @Test func typicalDocumentsAreValidatedWithoutTheParser() {
        for doc in Self.documents {
            #expect(Self.validate(Array(doc.utf8)) == .object, "\(doc)")
            #expect(Self.parse(Array(doc.utf8)) != nil, "\(doc)")
        }
        #expect(Self.validate(Array("[1,2]".utf8)) == .other)
        #expect(Self.validate(Array(#""s""#.utf8)) == .other)
    }

    @Test func whatTheParserRejectsTheValidatorRejects() {
        for text in Self.invalid {
            let bytes = Array(text.utf8)
            #expect(Self.parse(bytes) == nil, "parser accepted \(text)")
            #expect(Self.validate(bytes) == nil, "validator accepted \(text)")
        }
        // Invalid UTF-8: a lone continuation byte, an overlong form, a surrogate, a truncated sequence.
        for bad: [UInt8] in [[0x80], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xE2, 0x82], [0xF4, 0x90, 0x80, 0x80]] {
            let bytes = Array(#"{"a":""#.utf8) + bad + Array(#""}"#.utf8)
            #expect(Self.parse(bytes) == nil)
            #expect(Self.validate(bytes) == nil)
        }
    }

    /// Random byte mutations of valid documents (deterministic): the validator never accepts
    /// something the parser rejects, and never disagrees about the kind.
    @Test func mutatedDocumentsNeverFoolTheValidator() {
        var rng: UInt64 = 0x5EED
        func next() -> UInt64 {
            rng &+= 0x9E37_79B9_7F4A_7C15
            var z = rng
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let alphabet = Array(#"{}[]",:\ u0123456789eE+-.tfnrlsa"#.utf8) + [0x00, 0x09, 0x0A, 0x7F, 0x80, 0xC3, 0xA9, 0xED, 0xF0, 0xFF]
        var accepted = 0
        var disagreements: [String] = []
        for round in 0..<20_000 {
            var bytes = Array(Self.documents[round % Self.documents.count].utf8)
            for _ in 0..<(1 + Int(next() % 3)) {
                let at = Int(next() % UInt64(bytes.count + 1))
                switch next() % 3 {
                case 0 where at < bytes.count: bytes[at] = alphabet[Int(next() % UInt64(alphabet.count))]
                case 1 where at < bytes.count: bytes.remove(at: at)
                default: bytes.insert(alphabet[Int(next() % UInt64(alphabet.count))], at: at)
                }
            }
            if Self.validate(bytes) != nil { accepted += 1 }
            if !Self.agrees(bytes) { disagreements.append(String(decoding: bytes, as: UTF8.self)) }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(5))")
        #expect(accepted > 1_000)  // mutations inside strings stay valid: the fast path is exercised
    }

    static func fast(_ line: String) -> ActionFastPath.Action? {
        var names = ActionFastPath.Names()
        let bytes = Array(line.utf8)
        return bytes.withUnsafeBufferPointer { ActionFastPath.parse($0, from: 0, to: $0.count, names: &names) }
    }

    @Test func actionLinesOfTheCommonShapeAreReadDirectly() throws {
        let a = try #require(Self.fast(#"{"create":{"_index":"logs-web-2026.11.25","_id":"q3VbX1"}}"#))
        #expect(a.action == .create && a.index == "logs-web-2026.11.25" && a.id == "q3VbX1")
        let b = try #require(Self.fast(#"{"index":{"_id":"7","_index":"x"}}"# + " \r"))
        #expect(b.action == .index && b.index == "x" && b.id == "7")
        let c = try #require(Self.fast(#"{"create":{}}"#))
        #expect(c.index == nil && c.id == nil)
        let d = try #require(Self.fast(#"{"create":{"_index":""}}"#))
        #expect(d.index == "" && d.id == nil)
        // Anything else goes to the general parser, which knows the errors and the other keys.
        for line in [
            #"{"create":{"_index":"a","_index":"b"}}"#, #"{"create":{"_index":"a"}} {}"#, #"{"create":{"_index":"a\"b"}}"#,
            #"{ "create":{"_index":"a"}}"#, #"{"create":{"_index":"a","routing":"r"}}"#, #"{"delete":{"_index":"a","_id":"1"}}"#,
            #"{"create":{"_index":"a"},"index":{}}"#, #"{"create":{"_index":"a"}"#, #"{"create":{"_index":1}}"#, #"{"create":{"_index":"é"}}"#,
        ] {
            #expect(Self.fast(line) == nil, "\(line)")
        }
    }

    /// Through the whole server: a bulk body mixing fast-path and general-path lines gets the same
    /// items as Elasticsearch would give (errors included).
    @Test func mixedBodyThroughTheParser() throws {
        let body = [
            #"{"create":{"_index":"logs","_id":"1"}}"#, #"{"m":"a","n":1}"#,
            #"{"create":{"_index":"logs","_id":"2"}}"#, #"{"m":"a","m":2}"#,
            #"{"create":{"_index":"logs","_id":"3"}}"#, #"[1]"#,
            #"{ "create" : { "_index" : "logs", "_id" : "4" } }"#, #"{"m":"b"}"#,
            #"{"index":{"_index":"logs","_id":"5"}}"#, "{\"bad\":\"\u{1}\"}",
        ].joined(separator: "\n") + "\n"
        let ops = try BulkParser.parse(Array(body.utf8), options: BulkRequestOptions())
        #expect(ops.count == 5)
        #expect(ops.map(\.id) == ["1", "2", "3", "4", "5"])
        #expect(ops[0].sourceValidated && ops[3].sourceValidated)
        for i in [1, 2, 4] { #expect(!ops[i].sourceValidated) }
        guard case .failure(let dup)? = ops[1].document else { Issue.record("duplicate key accepted"); return }
        #expect(dup.message.contains("Duplicate field 'm'"))
        guard case .success(.object(let members))? = ops[0].document else { Issue.record("not parsed lazily"); return }
        #expect(members.map(\.key) == ["m", "n"])
    }

    /// The response written from templates equals the tree path's (`?pretty` still builds the
    /// tree) for every kind of item and many `filter_path` forms, `took` aside.
    @Test func responseBytesMatchTheTreePath() async throws {
        let body = [
            #"{"create":{"_index":"r","_id":"1"}}"#, #"{"a":1}"#,
            #"{"create":{"_index":"r","_id":"1"}}"#, #"{"a":2}"#,
            #"{"index":{"_index":"r","_id":"2"}}"#, #"{"a":3}"#,
            #"{"index":{"_index":"r","_id":"2"}}"#, #"{"a":4}"#,
            #"{"update":{"_index":"r","_id":"2"}}"#, #"{"doc":{"a":4},"_source":true}"#,
            #"{"update":{"_index":"r","_id":"2"}}"#, #"{"doc":{"b":1}}"#,
            #"{"delete":{"_index":"r","_id":"1"}}"#, #"{"delete":{"_index":"r","_id":"404"}}"#,
            #"{"create":{"_index":"r","_id":"3"}}"#, #"{"a":"x","a":"y"}"#,
            #"{"create":{"_index":"BAD","_id":"4"}}"#, #"{"a":1}"#,
            #"{"create":{"_index":"r","_id":"5"}}"#, #"not json"#,
        ].joined(separator: "\n") + "\n"
        let filters = [
            nil, "errors,items.*.error,items.*.status", "items.*.error", "errors", "-took,-items.*._shards", "**.status", "nothing.matches",
            "items", "items.*._id,items.*.result", "-items", "items.*._shards.total,took", "items.create", "-items.*.error.type,errors",
            "items.*.*", "*.*.*.status",
        ]
        for refresh in [false, true] {
            for filter in filters {
                var query: [String] = []
                if let filter { query.append("filter_path=" + filter) }
                if refresh { query.append("refresh=true") }
                let fast = try await withServer { server in
                    try await TestClient.bulk(port: server.port, "/_bulk?" + query.joined(separator: "&"), body)
                }
                let tree = try await withServer { server in
                    try await TestClient.bulk(port: server.port, "/_bulk?" + (query + ["pretty"]).joined(separator: "&"), body)
                }
                #expect(fast.status == 200 && tree.status == 200)
                // `took` and the random index UUIDs aside.
                func normalized(_ v: JSONValue, top: Bool = true) -> JSONValue {
                    switch v {
                    case .object(let members):
                        return .object(
                            members.filter { !(top && $0.key == "took") }.map {
                                JSONMember($0.key, $0.key == "index_uuid" ? .string("U") : normalized($0.value, top: false))
                            })
                    case .array(let values): return .array(values.map { normalized($0, top: false) })
                    default: return v
                    }
                }
                let a = JSONWriter.compactString(normalized(try JSONParser.parse(fast.body)))
                let b = JSONWriter.compactString(normalized(try JSONParser.parse(tree.body)))
                #expect(a == b, "filter_path=\(filter ?? "none") refresh=\(refresh)")
                // Compact as the tree path writes it.
                #expect(fast.body == JSONWriter.compact(try JSONParser.parse(fast.body)))
            }
        }
    }

    /// ISA-L decodes one intact gzip member, exactly; anything else is left to the general decoder
    /// (-1): a damaged CRC-32, bytes after the member, a second member, too little room, a cut
    /// member, not gzip at all.
    @Test func isalDecodesExactlyOneIntactMember() throws {
        let text = Array((0..<500).map { #"{"n":\#($0),"msg":"a log line"}"# + "\n" }.joined().utf8)
        let gz = try TestClient.gzip(text)
        func gunzip(_ input: [UInt8], room: Int) -> [UInt8]? {
            var out = [UInt8](repeating: 0, count: room)
            let n = input.withUnsafeBytes { i in out.withUnsafeMutableBytes { o in shipper_gunzip_member(i.baseAddress, i.count, o.baseAddress, room) } }
            return n < 0 ? nil : Array(out[..<n])
        }
        #expect(gunzip(gz, room: text.count) == text)
        #expect(gunzip(gz, room: text.count + 100) == text)
        var crc = gz
        crc[crc.count - 8] ^= 0x01
        for (what, input, room) in [
            ("damaged CRC", crc, text.count), ("a byte after", gz + [0], text.count), ("two members", gz + gz, 2 * text.count),
            ("too little room", gz, text.count - 1), ("cut", Array(gz.dropLast(9)), text.count), ("not gzip", Array("not gzip".utf8), 100),
        ] {
            #expect(gunzip(input, room: room) == nil, "\(what)")
        }
    }

    /// gzip bodies are decoded into one array that the next body on the connection reuses: bodies
    /// in a row (the largest first, so the array is never too small) each arrive whole, and each
    /// body the request log keeps stays the one sent. A damaged CRC-32, or bytes after the member,
    /// get the general decoder's answer.
    @Test func gzipBodiesInARowKeepTheirOwnBytes() async throws {
        var config = ElasticsearchTestServerConfiguration()
        config.recordBodies = true
        try await withServer(config) { server in
            let bodies = [300, 20, 150].enumerated().map { k, count in
                (0..<count).map { #"{"create":{"_index":"r","_id":"\#(k)-\#($0)"}}"# + "\n" + #"{"k":\#(k),"n":\#($0)}"# + "\n" }.joined()
            }
            var damaged = try TestClient.gzip(Array(bodies[1].utf8))
            damaged[damaged.count - 8] ^= 0x01
            let crc = damaged
            let trailing = try TestClient.gzip(Array(bodies[1].utf8)) + [0x00]
            let statuses = try await TestClient.withConnection(port: server.port) { conn in
                var out: [Int] = []
                for b in bodies {
                    let r = try await conn.send(
                        "POST", "/_bulk?filter_path=errors", headers: [("Content-Encoding", "gzip")], body: try TestClient.gzip(Array(b.utf8)),
                        contentType: "application/x-ndjson")
                    out.append(r.status)
                }
                for bad in [crc, trailing] {
                    let r = try await conn.send(
                        "POST", "/_bulk?filter_path=errors", headers: [("Content-Encoding", "gzip")], body: bad, contentType: "application/x-ndjson")
                    out.append(r.status)
                }
                return out
            }
            // Bytes after the member are ignored, as Java's GZIPInputStream ignores what does not
            // start another member: the last body is the second one again.
            #expect(statuses == [200, 200, 200, 400, 200])
            #expect(server.count(index: "r") == 470)
            let logged = server.requests.filter { $0.status == 200 }.map { String(decoding: $0.body ?? [], as: UTF8.self) }
            let intact = logged == bodies + [bodies[1]]
            #expect(intact, "logged bodies of \(logged.map(\.utf8.count)) bytes")
        }
    }

    /// gzip bodies are decoded into a buffer of the size their trailer announces; a wrong size
    /// (too small, too large, beyond the content-length limit) still gets the general decoder's answer.
    @Test func gzipTrailerSizeIsOnlyAHint() async throws {
        var config = ElasticsearchTestServerConfiguration()
        config.maxContentLength = 4096
        try await withServer(config) { server in
            let nd = (0..<20).map { #"{"create":{"_index":"g","_id":"\#($0)"}}"# + "\n" + #"{"n":\#($0)}"# + "\n" }.joined()
            let gz = try TestClient.gzip(Array(nd.utf8))
            func send(_ body: [UInt8]) async throws -> TestResponse {
                try await TestClient.send(
                    port: server.port, "POST", "/_bulk?filter_path=errors", headers: [("Content-Encoding", "gzip")], body: body,
                    contentType: "application/x-ndjson")
            }
            var r = try await send(gz)
            #expect(r.status == 200 && r.text == #"{"errors":false}"#)
            #expect(server.count(index: "g") == 20)
            // The trailer's length no longer matches: zlib's length check fails either way.
            for size: UInt32 in [1, UInt32(nd.utf8.count) + 1, 1 << 20] {
                var bad = gz
                withUnsafeBytes(of: size.littleEndian) { bad.replaceSubrange(bad.count - 4..<bad.count, with: $0) }
                r = try await send(bad)
                #expect(r.status == 400, "ISIZE \(size): \(r.text)")
                #expect(r.text.contains("failed to decode request body"))
            }
            // Over max_content_length once decoded: 413, whatever the trailer says.
            let big = (0..<200).map { #"{"create":{"_index":"g","_id":"b\#($0)"}}"# + "\n" + #"{"n":\#($0)}"# + "\n" }.joined()
            r = try await send(try TestClient.gzip(Array(big.utf8)))
            #expect(r.status == 413)
            #expect(server.count(index: "g") == 20)
        }
    }
}
