import CompressNIO
import ElasticsearchTestServer
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A response as the test client saw it (gzip bodies are decoded; `rawBody` keeps the wire bytes).
struct TestResponse: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]
    var rawBody: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    func headerValues(_ name: String) -> [String] {
        headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1)
    }

    /// The body parsed with JSONSerialization (nil when it is not JSON).
    var json: Any? { try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]) }

    var object: [String: Any] { json as? [String: Any] ?? [:] }

    /// `items.0.index.status`-style lookup into the JSON body.
    func value(_ path: String) -> Any? { JSONPath.lookup(json, path) }

    /// Statuses of the bulk items, in order.
    var itemStatuses: [Int] {
        ((object["items"] as? [[String: Any]]) ?? []).compactMap { item in
            (item.values.first as? [String: Any])?["status"] as? Int
        }
    }
}

enum JSONPath {
    static func lookup(_ root: Any?, _ path: String) -> Any? {
        if path.isEmpty || path == "$body" { return root }
        var current = root
        for raw in splitPath(path) {
            if let dict = current as? [String: Any] {
                current = dict[raw]
            } else if let array = current as? [Any], let i = Int(raw), i >= 0, i < array.count {
                current = array[i]
            } else {
                return nil
            }
        }
        return current
    }

    /// Splits on dots, honouring `\.` escapes.
    static func splitPath(_ path: String) -> [String] {
        var parts: [String] = []
        var cur = ""
        var escaped = false
        for c in path {
            if escaped {
                cur.append(c)
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else if c == "." {
                parts.append(cur)
                cur = ""
            } else {
                cur.append(c)
            }
        }
        parts.append(cur)
        return parts
    }
}

struct TestTimeout: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out: \(what)" }
}

struct ConnectionClosedWithoutResponse: Error {}

/// Runs `body` with a deadline (the deadline only bounds a hang; it is not used to synchronise).
func withDeadline<T: Sendable>(
    _ seconds: Double = 20, _ what: String = "request", _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            throw TestTimeout(what: what)
        }
        let first = try await group.next()!
        group.cancelAll()
        return first
    }
}

/// One HTTP/1.1 connection; requests are sent one after the other (see `TestClient.withConnection`).
final class TestConnection {
    private var iterator: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator
    private let writer: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>

    init(_ inbound: NIOAsyncChannelInboundStream<HTTPClientResponsePart>, _ outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>) {
        self.iterator = inbound.makeAsyncIterator()
        self.writer = outbound
    }

    func send(
        _ method: String, _ uri: String, headers: [(String, String)] = [], body: [UInt8]? = nil, contentType: String? = nil
    ) async throws -> TestResponse {
        var h = HTTPHeaders()
        h.add(name: "Host", value: "127.0.0.1")
        var hasContentType = false
        var hasLength = false
        for (n, v) in headers {
            h.add(name: n, value: v)
            if n.lowercased() == "content-type" { hasContentType = true }
            if n.lowercased() == "content-length" || n.lowercased() == "transfer-encoding" { hasLength = true }
        }
        if let body {
            if !hasContentType, let ct = contentType { h.add(name: "Content-Type", value: ct) }
            if !hasLength { h.add(name: "Content-Length", value: String(body.count)) }
        }
        let head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: uri, headers: h)
        try await writer.write(.head(head))
        if let body, !body.isEmpty {
            try await writer.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
        }
        try await writer.write(.end(nil))
        return try await readResponse()
    }

    func readResponse() async throws -> TestResponse {
        var status = 0
        var headers: [(String, String)] = []
        var body: [UInt8] = []
        while let part = try await iterator.next() {
            switch part {
            case .head(let h):
                if h.status == .continue { continue }
                status = Int(h.status.code)
                headers = h.headers.map { ($0.name, $0.value) }
            case .body(var b):
                body.append(contentsOf: b.readBytes(length: b.readableBytes) ?? [])
            case .end:
                var decoded = body
                if headers.contains(where: { $0.0.lowercased() == "content-encoding" && $0.1.lowercased() == "gzip" }) {
                    var buf = ByteBuffer(bytes: body)
                    var out = try buf.decompress(with: .gzip())
                    decoded = out.readBytes(length: out.readableBytes) ?? []
                }
                return TestResponse(status: status, headers: headers, body: decoded, rawBody: body)
            }
        }
        throw ConnectionClosedWithoutResponse()
    }
}

enum TestClient {
    /// Opens a connection, runs `body` with it (within `deadline` seconds) and closes it.
    static func withConnection<T: Sendable>(
        port: Int, deadline: Double = 30, _ body: @escaping @Sendable (TestConnection) async throws -> T
    ) async throws -> T {
        try await withDeadline(deadline, "connection to \(port)") {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(5))
                .connect(host: "127.0.0.1", port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                    }
                }
            return try await channel.executeThenClose { inbound, outbound in
                try await body(TestConnection(inbound, outbound))
            }
        }
    }

    /// One request on a fresh connection.
    static func send(
        port: Int, _ method: String, _ uri: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
        contentType: String? = "application/json", deadline: Double = 30
    ) async throws -> TestResponse {
        try await withConnection(port: port, deadline: deadline) { c in
            try await c.send(method, uri, headers: headers, body: body, contentType: contentType)
        }
    }

    static func send(
        port: Int, _ method: String, _ uri: String, headers: [(String, String)] = [], text: String, contentType: String? = "application/json"
    ) async throws -> TestResponse {
        try await send(port: port, method, uri, headers: headers, body: Array(text.utf8), contentType: contentType)
    }

    static func bulk(port: Int, _ ndjson: String, headers: [(String, String)] = []) async throws -> TestResponse {
        try await bulk(port: port, "/_bulk", ndjson, headers: headers)
    }

    static func bulk(port: Int, _ uri: String, _ ndjson: String, headers: [(String, String)] = [], deadline: Double = 30) async throws -> TestResponse {
        try await send(port: port, "POST", uri, headers: headers, body: Array(ndjson.utf8), contentType: "application/x-ndjson", deadline: deadline)
    }

    static func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
        var buf = ByteBuffer(bytes: bytes)
        var out = try buf.compress(with: .gzip())
        return out.readBytes(length: out.readableBytes) ?? []
    }

    /// Sends raw bytes on a fresh connection and reads until `done` says the bytes so far are enough, the
    /// peer closes, or the deadline passes. Returns what was read and whether the peer closed.
    static func raw(port: Int, _ bytes: [UInt8], until done: @escaping @Sendable ([UInt8]) -> Bool) async throws -> (bytes: [UInt8], closed: Bool) {
        try await withDeadline(60, "raw exchange") {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
            return try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(bytes: bytes))
                var received: [UInt8] = []
                for try await var chunk in inbound {
                    received.append(contentsOf: chunk.readBytes(length: chunk.readableBytes) ?? [])
                    if done(received) { return (received, false) }
                }
                return (received, true)
            }
        }
    }

    /// Whether a TCP connection to the port is accepted right now.
    static func canConnect(port: Int) async -> Bool {
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(2))
                .connect(host: "127.0.0.1", port: port)
                .get()
            try? await channel.close()
            return true
        } catch {
            return false
        }
    }
}

extension Array where Element == UInt8 {
    func containsSubsequence(_ s: String) -> Bool {
        let needle = Array(s.utf8)
        guard needle.count <= count else { return false }
        for i in 0...(count - needle.count) where self[i..<(i + needle.count)].elementsEqual(needle) { return true }
        return false
    }
}

/// Starts a server for one test and shuts it down afterwards.
func withServer<T>(
    _ configuration: ElasticsearchTestServerConfiguration = .init(), _ body: (ElasticsearchTestServer) async throws -> T
) async throws -> T {
    let server = try await ElasticsearchTestServer.start(host: "127.0.0.1", port: 0, configuration: configuration)
    do {
        let r = try await body(server)
        try await server.shutdown()
        return r
    } catch {
        try? await server.shutdown()
        throw error
    }
}

/// Compact JSON of a Foundation value with sorted keys (for order-insensitive comparisons).
func canonical(_ value: Any?) -> String {
    guard let value, JSONSerialization.isValidJSONObject(value) || value is String || value is NSNumber else { return "\(value ?? "nil")" }
    guard let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]) else { return "\(value)" }
    return String(decoding: data, as: UTF8.self)
}
