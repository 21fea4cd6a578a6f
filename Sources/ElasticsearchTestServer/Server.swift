import CIsal
import CompressNIO
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// An in-process stand-in for Elasticsearch (see PROTOCOL.md). Start it with
/// `ElasticsearchTestServer.start(host:port:configuration:)`, point a client at `port` (`baseURL`), inspect
/// what was stored with `documents(index:)`, and stop it with `shutdown()`. With `configuration.tls` it
/// serves HTTPS.
public final class ElasticsearchTestServer: Sendable {
    public let host: String
    /// The bound port (stays the same across down periods).
    public let port: Int
    public let configuration: ElasticsearchTestServerConfiguration

    let core: ServerCore
    private let tlsContext: NIOSSLContext?
    private let group: any EventLoopGroup
    private let connections: ConnectionRegistry
    private let state: Mutex<State>

    private struct State: ~Copyable {
        var listener: (any Channel)?
        var isShutDown = false
        var refusing = false
        /// Set once the listener is closed (`refusing` is set before): `isDown` is then true only
        /// when connections are really refused.
        var listenerClosed = false
        var downGeneration = 0
        var scheduled: [Task<Void, Never>] = []
        /// Answers to bulk requests wait here while set (see `holdBulkAnswers()`).
        var heldAnswers: [@Sendable () -> Void]? = nil
    }

    private init(
        host: String, port: Int, configuration: ElasticsearchTestServerConfiguration, core: ServerCore, tlsContext: NIOSSLContext?,
        group: any EventLoopGroup, connections: ConnectionRegistry, listener: any Channel
    ) {
        self.host = host
        self.port = port
        self.configuration = configuration
        self.core = core
        self.tlsContext = tlsContext
        self.group = group
        self.connections = connections
        self.state = Mutex(State(listener: listener))
    }

    /// `http://host:port` or, with TLS, `https://host:port` (IPv6 hosts in brackets).
    public var baseURL: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "\(tlsContext == nil ? "http" : "https")://\(h):\(port)"
    }

    /// Binds and starts serving. `port: 0` picks a free port (see `port`).
    /// - Throws: `ElasticsearchTestServerError.tls` when `configuration.tls` files cannot be used.
    public static func start(
        host: String = "127.0.0.1", port: Int = 0, configuration: ElasticsearchTestServerConfiguration = .init()
    ) async throws -> ElasticsearchTestServer {
        let core = ServerCore(configuration: configuration)
        let tlsContext = try configuration.tls.map(makeTLSContext)
        let group = MultiThreadedEventLoopGroup.singleton
        let connections = ConnectionRegistry()
        let box = ServerBox()
        let channel = try await bind(
            host: host, port: port, core: core, tlsContext: tlsContext, connections: connections, group: group, box: box)
        guard let actualPort = channel.localAddress?.port else {
            try? await channel.close()
            throw ElasticsearchTestServerError.bindFailed("no local address")
        }
        let server = ElasticsearchTestServer(
            host: host, port: actualPort, configuration: configuration, core: core, tlsContext: tlsContext, group: group,
            connections: connections, listener: channel)
        box.set(server)
        server.scheduleDownPeriods(configuration.faultPlan)
        return server
    }

    /// A server TLS context from PEM files (TLS 1.2 and 1.3, no client certificates asked for).
    static func makeTLSContext(_ files: TLSFiles) throws -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(files.certificateFile)
        } catch {
            throw ElasticsearchTestServerError.tls("cannot read PEM certificates from \(files.certificateFile): \(error)")
        }
        if chain.isEmpty { throw ElasticsearchTestServerError.tls("no PEM certificate in \(files.certificateFile)") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: files.privateKeyFile, format: .pem)
        } catch {
            throw ElasticsearchTestServerError.tls("cannot read a PEM private key from \(files.privateKeyFile): \(error)")
        }
        let tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        do {
            return try NIOSSLContext(configuration: tls)
        } catch {
            throw ElasticsearchTestServerError.tls("the certificate and key do not make a TLS context (do they belong together?): \(error)")
        }
    }

    private static func bind(
        host: String, port: Int, core: ServerCore, tlsContext: NIOSSLContext?, connections: ConnectionRegistry, group: any EventLoopGroup,
        box: ServerBox
    ) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 512)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    connections.add(channel)
                    channel.closeFuture.whenComplete { _ in connections.remove(channel) }
                    if let tlsContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tlsContext))
                        try channel.pipeline.syncOperations.addHandler(TLSFailureHandler(core: core))
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(HTTPHandler(core: core, box: box))
                }
            }
            .bind(host: host, port: port)
            .get()
    }

    /// Stops listening and closes every connection.
    public func shutdown() async throws {
        let (listener, tasks) = state.withLock { s -> ((any Channel)?, [Task<Void, Never>]) in
            s.isShutDown = true
            s.downGeneration += 1
            s.heldAnswers = nil  // their connections close below
            let l = s.listener
            s.listener = nil
            let t = s.scheduled
            s.scheduled = []
            return (l, t)
        }
        for t in tasks { t.cancel() }
        if let listener { try? await listener.close() }
        await connections.closeAll()
    }

    // MARK: Faults

    /// The fault plan in effect.
    public var faultPlan: FaultPlan { core.faultPlan }

    /// Replaces the fault plan. Random decisions restart from the new seed; scheduled down periods of the
    /// previous plan are cancelled.
    public func setFaultPlan(_ plan: FaultPlan) {
        _ = core.setFaultPlan(plan)
        scheduleDownPeriods(plan)
    }

    public var faultCounters: FaultCounters { core.faultCounters }

    /// From now on, bulk requests are applied as they arrive but their answers wait until
    /// `releaseBulkAnswers()`: the client has requests in flight for as long as a test needs,
    /// however fast or loaded the machine is (a fixed latency gives no such guarantee).
    public func holdBulkAnswers() {
        state.withLock { s in if s.heldAnswers == nil { s.heldAnswers = [] } }
    }

    /// Sends the held answers (in the order their requests arrived) and stops holding.
    public func releaseBulkAnswers() {
        let held = state.withLock { s -> [@Sendable () -> Void] in
            defer { s.heldAnswers = nil }
            return s.heldAnswers ?? []
        }
        for answer in held { answer() }
    }

    /// Answers to bulk requests held by `holdBulkAnswers()` so far.
    public var heldBulkAnswerCount: Int { state.withLock { $0.heldAnswers?.count ?? 0 } }

    /// Keeps `answer` for `releaseBulkAnswers()` if answers are held; false if it should go now.
    func hold(_ answer: @escaping @Sendable () -> Void) -> Bool {
        state.withLock { s in
            guard s.heldAnswers != nil, !s.isShutDown else { return false }
            s.heldAnswers!.append(answer)
            return true
        }
    }

    /// True while the server is down (listener closed or answering 503).
    public var isDown: Bool {
        state.withLock { $0.refusing && $0.listenerClosed } || core.currentDownMode != nil
    }

    /// Takes the server down: `.refuseConnections` closes the listener and all connections (clients get
    /// "connection refused"), `.serviceUnavailable` answers every request 503. With a duration it comes
    /// back up by itself on the same port.
    public func goDown(_ mode: DownMode = .refuseConnections, for duration: Duration? = nil) async throws {
        let (listener, generation) = state.withLock { s -> ((any Channel)?, Int) in
            s.downGeneration += 1
            if mode == .refuseConnections {
                s.refusing = true
                let l = s.listener
                s.listener = nil
                return (l, s.downGeneration)
            }
            return (nil, s.downGeneration)
        }
        core.addCounters { $0.downPeriods += 1 }
        switch mode {
        case .refuseConnections:
            if let listener { try? await listener.close() }
            await connections.closeAll()
            state.withLock { s in if s.downGeneration == generation && s.refusing { s.listenerClosed = true } }
        case .serviceUnavailable:
            core.setDownMode(.serviceUnavailable)
        }
        if let duration {
            let task = Task { [weak self] in
                try? await Task.sleep(for: duration)
                guard let self, !Task.isCancelled else { return }
                let current = self.state.withLock { $0.downGeneration }
                if current == generation { try? await self.comeUp() }
            }
            state.withLock { $0.scheduled.append(task) }
        }
    }

    /// Ends a down period (rebinds the same port if the listener was closed).
    public func comeUp() async throws {
        core.setDownMode(nil)
        let needsBind = state.withLock { s -> Bool in
            s.downGeneration += 1
            return s.refusing && !s.isShutDown
        }
        guard needsBind else { return }
        let box = ServerBox()
        box.set(self)
        var lastError: (any Error)?
        for attempt in 0..<50 {
            do {
                let channel = try await ElasticsearchTestServer.bind(
                    host: host, port: port, core: core, tlsContext: tlsContext, connections: connections, group: group, box: box)
                let keep = state.withLock { s -> Bool in
                    if s.isShutDown { return false }
                    s.listener = channel
                    s.refusing = false
                    s.listenerClosed = false
                    return true
                }
                if !keep { try? await channel.close() }
                return
            } catch {
                lastError = error
                try? await Task.sleep(for: .milliseconds(20 * (attempt + 1)))
            }
        }
        throw lastError ?? ElasticsearchTestServerError.bindFailed("could not rebind port \(port)")
    }

    func startDownPeriod(_ period: DownPeriod) {
        let task = Task { [weak self] in
            guard let self else { return }
            try? await self.goDown(period.mode, for: period.duration)
        }
        state.withLock { $0.scheduled.append(task) }
    }

    private func scheduleDownPeriods(_ plan: FaultPlan) {
        let old = state.withLock { s -> [Task<Void, Never>] in
            let t = s.scheduled
            s.scheduled = []
            return t
        }
        for t in old { t.cancel() }
        for period in plan.downPeriods {
            guard case .afterDelay(let delay) = period.trigger else { continue }
            let task = Task { [weak self] in
                try? await Task.sleep(for: delay)
                guard !Task.isCancelled, let self else { return }
                try? await self.goDown(period.mode, for: period.duration)
            }
            state.withLock { $0.scheduled.append(task) }
        }
    }

    // MARK: Inspection

    /// Documents of an index, alias or data stream (all backing indices), in write order.
    public func documents(index: String) -> [StoredDocument] { core.documents(index: index) }

    public func document(index: String, id: String) -> StoredDocument? { core.document(index: index, id: id) }

    /// Live documents in an index, alias or data stream (0 when it does not exist).
    public func count(index: String) -> Int { core.count(index: index) }

    /// Live documents in all indices.
    public var totalDocumentCount: Int { core.totalCount }

    /// Concrete index names (data stream backing indices included).
    public var indexNames: [String] { core.indexNames }

    public var dataStreamNames: [String] { core.dataStreamNames }

    /// The dynamically or explicitly mapped type of a field (`long`, `text`, `object`, ...).
    public func mappingType(index: String, field: String) -> String? { core.mappingType(index: index, field: field) }

    /// Every request received, oldest first (bounded by `requestLogLimit`).
    public var requests: [RecordedRequest] { core.requestLog }

    public func clearRequestLog() { core.clearRequestLog() }

    /// Bulk requests processed (not failed as a whole), items in them, and items that failed.
    public var bulkTotals: (requests: Int, items: Int, failedItems: Int) { core.bulkTotals }

    /// Drops all indices, templates, data streams, the request log and the counters.
    public func reset() { core.reset() }

    /// Polls until `condition` holds or `timeout` passes; returns whether it held.
    public func wait(timeout: Duration = .seconds(10), until condition: @Sendable (ElasticsearchTestServer) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(self) { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return condition(self)
    }
}

public enum ElasticsearchTestServerError: Error, CustomStringConvertible {
    case bindFailed(String)
    /// The TLS certificate or key cannot be used.
    case tls(String)
    public var description: String {
        switch self {
        case .bindFailed(let s): return "bind failed: \(s)"
        case .tls(let s): return "TLS: \(s)"
        }
    }
}

/// Sits right after the TLS handler: a connection whose handshake (or TLS record layer) fails is
/// counted in `tlsHandshakeFailures` and closed, as Elasticsearch does; other errors pass on.
final class TLSFailureHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let core: ServerCore
    /// Application data arrived (so the handshake had completed).
    private var handshakeDone = false

    init(core: ServerCore) { self.core = core }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Application data comes only after a completed handshake.
        handshakeDone = true
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is NIOSSLError || error is BoringSSLError {
            if !handshakeDone { core.addCounters { $0.tlsHandshakeFailures += 1 } }
            context.close(promise: nil)
            return
        }
        context.fireErrorCaught(error)
    }
}

/// Late-bound reference from connection handlers to their server (for down triggers).
final class ServerBox: Sendable {
    private let server = Mutex<ElasticsearchTestServer?>(nil)
    func set(_ s: ElasticsearchTestServer) { server.withLock { $0 = s } }
    func get() -> ElasticsearchTestServer? { server.withLock { $0 } }
}

final class ConnectionRegistry: Sendable {
    private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])

    func add(_ c: any Channel) { channels.withLock { $0[ObjectIdentifier(c)] = c } }
    func remove(_ c: any Channel) { channels.withLock { $0[ObjectIdentifier(c)] = nil } }

    func closeAll() async {
        let all = channels.withLock { Array($0.values) }
        for c in all { try? await c.close() }
    }
}

/// Aggregates one request, enforces the size limit, decodes gzip/deflate and hands it to the core.
final class HTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let core: ServerCore
    private let box: ServerBox
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    /// Body parts are being thrown away (413 / 417).
    private var discarding = false
    /// The response for the current request was already written (early 413 / 417).
    private var answered = false
    private var closed = false

    init(core: ServerCore, box: ServerBox) {
        self.core = core
        self.box = box
    }

    private var limit: Int {
        let planLimit = core.faultPlan.maxContentLength ?? Int.max
        return min(core.configuration.maxContentLength, planLimit)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            discarding = false
            answered = false
            let expect = h.headers["expect"].first?.lowercased()
            if let expect, expect != "100-continue" {
                write(context, head: h, .simpleError(417, "Unknown Expect header value [\(expect)]"), forceClose: true)
                discarding = true
                answered = true
                return
            }
            let length = h.headers["content-length"].first.flatMap { Int($0) }
            if let length, length > limit {
                core.addCounters { $0.tooLargeRequests += 1 }
                recordEarly(h, size: length, status: 413)
                if expect != nil {
                    // The 413 replaces the 100; the client will not send the body, so the connection is done.
                    write(context, head: h, .empty(413), forceClose: true)
                    answered = true
                }
                discarding = true
                return
            }
            if expect != nil {
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: h.version, status: .continue))), promise: nil)
            }
            body = context.channel.allocator.buffer(capacity: min(length ?? 4096, 4 * 1024 * 1024))
        case .body(var part):
            guard !discarding, let h = head else { return }
            body!.writeBuffer(&part)
            if body!.readableBytes > limit && h.headers["content-length"].isEmpty {
                // Streamed body over the limit: 413 with Connection: close.
                core.addCounters { $0.tooLargeRequests += 1 }
                recordEarly(h, size: body!.readableBytes, status: 413)
                discarding = true
                answered = true
                body = nil
                write(context, head: h, .empty(413), forceClose: true)
            }
        case .end:
            guard let h = head else { return }
            head = nil
            if discarding {
                discarding = false
                if !answered && !closed {
                    write(context, head: h, .empty(413), forceClose: false)
                }
                answered = false
                return
            }
            var raw = body ?? ByteBuffer()
            body = nil
            let compressedSize = raw.readableBytes
            let encoding = h.headers["content-encoding"].first?.lowercased().trimmingCharacters(inSet: " ")
            var decoded: [UInt8]
            do {
                decoded = try decode(&raw, encoding: encoding)
            } catch DecodeError.tooLarge {
                core.addCounters { $0.tooLargeRequests += 1 }
                recordEarly(h, size: compressedSize, status: 413)
                write(context, head: h, .empty(413), forceClose: false)
                return
            } catch {
                let e = ESError(status: 400, type: "illegal_argument_exception", reason: "failed to decode request body with content encoding [\(encoding ?? "")]: \(error)")
                recordEarly(h, size: compressedSize, status: 400)
                write(context, head: h, .error(e), forceClose: false)
                return
            }
            if decoded.count > limit {
                core.addCounters { $0.tooLargeRequests += 1 }
                recordEarly(h, size: compressedSize, status: 413)
                write(context, head: h, .empty(413), forceClose: false)
                return
            }
            let request = IncomingRequest(
                method: h.method.rawValue, uri: h.uri, headers: h.headers.map { ($0.name, $0.value) }, body: decoded,
                compressedSize: compressedSize, contentEncoding: encoding)
            decoded = []
            let isBulk = request.uri.split(separator: "?", maxSplits: 1).first?.hasSuffix("/_bulk") ?? false
            let outcome = core.handle(request)
            switch outcome {
            case .respond(let result, let delay, let downs):
                if isBulk, let server = box.get() {
                    let loop = context.eventLoop
                    let bound = NIOLoopBound((self, context), eventLoop: loop)
                    let held = server.hold { loop.execute { bound.value.0.answer(bound.value.1, head: h, result, delay: delay, downs: downs) } }
                    if held { return }
                }
                answer(context, head: h, result, delay: delay, downs: downs)
            case .drop(let delay, let downs):
                let close = {
                    context.close(promise: nil)
                    self.trigger(downs)
                }
                if delay > .zero {
                    context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(delay)) { close() }
                } else {
                    close()
                }
            }
        }
    }

    /// Writes the answer, after `delay`.
    private func answer(_ context: ChannelHandlerContext, head h: HTTPRequestHead, _ result: HTTPResult, delay: Duration, downs: [DownPeriod]) {
        if delay > .zero {
            context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(delay)) {
                self.write(context, head: h, result, forceClose: false, downs: downs)
            }
        } else {
            write(context, head: h, result, forceClose: false, downs: downs)
        }
    }

    private enum DecodeError: Error {
        case tooLarge
    }

    private func decode(_ raw: inout ByteBuffer, encoding: String?) throws -> [UInt8] {
        let max = limit == Int.max ? Int.max : limit + 1
        func run(_ algorithm: CompressionAlgorithm, _ input: ByteBuffer) throws -> ByteBuffer {
            var copy = input
            do {
                return try copy.decompress(with: algorithm, maxSize: max)
            } catch let e as CompressNIOError where e == .bufferOverflow {
                throw DecodeError.tooLarge
            }
        }
        switch encoding {
        case nil, "", "identity":
            return raw.readBytes(length: raw.readableBytes) ?? []
        case "gzip", "x-gzip":
            if raw.readableBytes == 0 { return [] }
            if let out = gunzipSized(raw, below: max) { return out }
            var out = try run(.gzip(), raw)
            return out.readBytes(length: out.readableBytes) ?? []
        case "deflate":
            if raw.readableBytes == 0 { return [] }
            var out: ByteBuffer
            do {
                out = try run(.zlib(), raw)
            } catch DecodeError.tooLarge {
                throw DecodeError.tooLarge
            } catch {
                out = try run(.deflate(), raw)
            }
            return out.readBytes(length: out.readableBytes) ?? []
        default:
            // Unknown encodings pass through undecoded (as Netty does).
            return raw.readBytes(length: raw.readableBytes) ?? []
        }
    }

    /// A gzip body decoded by ISA-L into one array of the size its trailer announces (ISIZE),
    /// where the general path (zlib) grows several buffers, joins them and copies the result. nil
    /// when that size is unusable or wrong, or the body is not one intact gzip member (the general
    /// path then decodes, with the same result, or says what is wrong).
    ///
    /// The array is ``inflated``, reused by the next body once nothing holds this one (copy on write
    /// keeps a body the request log holds): a fresh 2 MiB array per bulk request cost the server
    /// more in page faults than the decompression.
    private func gunzipSized(_ raw: ByteBuffer, below max: Int) -> [UInt8]? {
        let n = raw.readableBytes
        guard n >= 18, let isize = raw.getInteger(at: raw.readerIndex + n - 4, endianness: .little, as: UInt32.self) else { return nil }
        let size = Int(isize)
        // Deflate expands at most 1032:1; a larger claim is not a single member.
        guard size > 0, size < max, size <= n * 1032 else { return nil }
        if inflated.capacity > Self.inflatedKeptBytes { inflated = [] }
        inflated.removeAll(keepingCapacity: true)
        var whole = false
        raw.withUnsafeReadableBytes { input in
            inflated.append(addingCapacity: size) { span in
                span.withUnsafeMutableBufferPointer { out, initialized in
                    whole = shipper_gunzip_member(input.baseAddress, input.count, out.baseAddress, size) == size
                    initialized = whole ? size : 0
                }
            }
        }
        return whole ? inflated : nil
    }

    /// Decoded gzip bodies (see ``gunzipSized(_:below:)``); one larger than
    /// ``inflatedKeptBytes`` is let go at the next body.
    private var inflated: [UInt8] = []
    private static let inflatedKeptBytes = 16 << 20

    private func recordEarly(_ h: HTTPRequestHead, size: Int, status: Int) {
        let r = IncomingRequest(
            method: h.method.rawValue, uri: h.uri, headers: h.headers.map { ($0.name, $0.value) }, body: [], compressedSize: size,
            contentEncoding: h.headers["content-encoding"].first)
        core.record(r, status: status)
    }

    private func trigger(_ downs: [DownPeriod]) {
        guard !downs.isEmpty, let server = box.get() else { return }
        for d in downs { server.startDownPeriod(d) }
    }

    private func write(
        _ context: ChannelHandlerContext, head h: HTTPRequestHead, _ result: HTTPResult, forceClose: Bool, downs: [DownPeriod] = []
    ) {
        guard !closed else {
            trigger(downs)
            return
        }
        var headers = HTTPHeaders()
        if core.configuration.productHeader { headers.add(name: "X-elastic-product", value: "Elasticsearch") }
        for (n, v) in result.headers { headers.add(name: n, value: v) }
        var bodyBuffer = context.channel.allocator.buffer(bytes: result.body)
        if core.configuration.compressResponses, !result.body.isEmpty,
            h.headers["accept-encoding"].contains(where: { $0.lowercased().contains("gzip") }),
            let gz = try? bodyBuffer.compress(with: .gzip())
        {
            bodyBuffer = gz
            headers.add(name: "Content-Encoding", value: "gzip")
            headers.add(name: "Vary", value: "Accept-Encoding")
        }
        headers.add(name: "Content-Length", value: String(bodyBuffer.readableBytes))
        let close = forceClose || result.close || !h.isKeepAlive
        if close { headers.add(name: "Connection", value: "close") }
        let status = HTTPResponseStatus(statusCode: result.status)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: h.version, status: status, headers: headers))), promise: nil)
        if h.method != .HEAD && bodyBuffer.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(bodyBuffer))), promise: nil)
        }
        let done = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: done)
        let loopBoundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        done.futureResult.assumeIsolated().whenComplete { _ in
            if close { loopBoundContext.value.close(promise: nil) }
            self.trigger(downs)
        }
    }
}
