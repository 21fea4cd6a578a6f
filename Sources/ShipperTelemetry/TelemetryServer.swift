import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle
import Synchronization

/// Serves `GET /metrics` (Prometheus text format) and `GET /health` (200 or 503 with JSON) as a
/// swift-service-lifecycle `Service`.
///
/// `run()` binds ``TelemetryConfig/address``, serves until graceful shutdown or cancellation, then
/// closes the listener and every open connection. List it first in the `ServiceGroup`, so it
/// shuts down last and `/health` and `/metrics` stay up while the outputs drain.
///
/// ```swift
/// let registry = Telemetry.bootstrap()
/// let health = HealthState()
/// let server = TelemetryServer(config: config.telemetry, registry: registry, health: health, logger: logger)
/// ```
///
/// Other paths answer 404, other methods 405.
public final class TelemetryServer: Service, Sendable {
    /// The options the server was made with.
    public let config: TelemetryConfig
    let registry: PrometheusCollectorRegistry
    let health: HealthState
    let logger: Logger
    let group: any EventLoopGroup

    private enum Phase {
        case notBound(waiters: [CheckedContinuation<Int, any Error>])
        case listening(port: Int)
        case stopped(port: Int?)
    }

    private let phase = Mutex(Phase.notBound(waiters: []))

    /// A server for `registry` and `health`; nothing is bound until `run()`.
    /// - Parameter eventLoopGroup: defaults to NIO's shared singleton group.
    public init(
        config: TelemetryConfig,
        registry: PrometheusCollectorRegistry,
        health: HealthState,
        logger: Logger = Logger(label: "shipper.telemetry"),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.config = config
        self.registry = registry
        self.health = health
        self.logger = logger
        self.group = eventLoopGroup
    }

    /// The port the server listens on (the real one when ``TelemetryConfig/address`` asks for
    /// port 0). Waits until `run()` has bound.
    /// - Throws: ``TelemetryServerError/notListening`` when binding failed or the server stopped
    ///   before it listened.
    public func listeningPort() async throws -> Int {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Int, any Error>) in
            let result: Result<Int, any Error>? = phase.withLock { p in
                switch p {
                case .notBound(var waiters):
                    waiters.append(c)
                    p = .notBound(waiters: waiters)
                    return nil
                case .listening(let port), .stopped(.some(let port)):
                    return .success(port)
                case .stopped(.none):
                    return .failure(TelemetryServerError.notListening)
                }
            }
            if let result { c.resume(with: result) }
        }
    }

    /// Binds, serves until graceful shutdown or task cancellation, then closes the listener and
    /// the open connections.
    /// - Throws: the bind error (address in use, unknown host).
    public func run() async throws {
        let connections = ConnectionSet()
        let registry = self.registry
        let health = self.health
        let healthConfig = config.health
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                connections.add(channel)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        TelemetryHTTPHandler(routes: TelemetryRoutes(registry: registry, health: health, config: healthConfig))
                    )
                }
            }

        let channel: any Channel
        do {
            channel = try await bootstrap.bind(host: config.host, port: config.port).get()
        } catch {
            finish(port: nil, error: error)
            logger.error(
                "telemetry: cannot listen on \(config.address): \(error); set telemetry.address to a free port (another shipper on this host?)"
            )
            throw error
        }
        let port = channel.localAddress?.port ?? config.port
        phase.withLock { p in
            if case .notBound(let waiters) = p {
                for w in waiters { w.resume(returning: port) }
            }
            p = .listening(port: port)
        }
        logger.info("telemetry: serving /metrics and /health on \(config.host):\(port)")

        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                try? await channel.closeFuture.get()
            } onGracefulShutdown: {
                channel.close(promise: nil)
            }
        } onCancel: {
            channel.close(promise: nil)
        }
        try? await channel.closeFuture.get()
        await connections.closeAll()
        finish(port: port, error: nil)
        logger.info("telemetry: stopped")
    }

    private func finish(port: Int?, error: (any Error)?) {
        phase.withLock { p in
            if case .notBound(let waiters) = p {
                for w in waiters { w.resume(throwing: error ?? TelemetryServerError.notListening) }
            }
            p = .stopped(port: port)
        }
    }
}

/// Errors of ``TelemetryServer``.
public enum TelemetryServerError: Error, Sendable, Equatable {
    /// The server is not listening (its bind failed, or it stopped before binding).
    case notListening
}

/// Open connections, closed together at shutdown (keep-alive scrapers would hold them forever).
final class ConnectionSet: Sendable {
    private struct State {
        var open: [ObjectIdentifier: any Channel] = [:]
        var closed = false
    }

    private let state = Mutex(State())

    func add(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        let accepted = state.withLock { s -> Bool in
            guard !s.closed else { return false }
            s.open[id] = channel
            return true
        }
        guard accepted else {
            channel.close(promise: nil)
            return
        }
        channel.closeFuture.whenComplete { [self] _ in
            _ = state.withLock { $0.open.removeValue(forKey: id) }
        }
    }

    func closeAll() async {
        let channels = state.withLock { s -> [any Channel] in
            s.closed = true
            return Array(s.open.values)
        }
        for c in channels {
            try? await c.close()
        }
    }
}

/// A response of the telemetry endpoint (pure: built without I/O, tested directly).
struct TelemetryResponse: Sendable {
    var status: HTTPResponseStatus
    var contentType: String
    var body: [UInt8]
    var extraHeaders: [(String, String)] = []
}

/// Maps a request to its response.
struct TelemetryRoutes: Sendable {
    let registry: PrometheusCollectorRegistry
    let health: HealthState
    let config: HealthConfig

    static let prometheusContentType = "text/plain; version=0.0.4; charset=utf-8"
    static let jsonContentType = "application/json"

    func respond(method: HTTPMethod, uri: String) -> TelemetryResponse {
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? uri
        switch path {
        case "/metrics", "/health":
            guard method == .GET else {
                return TelemetryResponse(
                    status: .methodNotAllowed, contentType: Self.jsonContentType,
                    body: Array(#"{"error":"method not allowed; use GET"}"#.utf8), extraHeaders: [("Allow", "GET")]
                )
            }
            if path == "/metrics" {
                return TelemetryResponse(status: .ok, contentType: Self.prometheusContentType, body: registry.emitToBuffer())
            }
            let report = health.report(config: config)
            return TelemetryResponse(
                status: report.isHealthy ? .ok : .serviceUnavailable, contentType: Self.jsonContentType,
                body: Array(report.json.utf8)
            )
        default:
            return TelemetryResponse(
                status: .notFound, contentType: Self.jsonContentType,
                body: Array(#"{"error":"not found; try /metrics or /health"}"#.utf8)
            )
        }
    }
}

/// One HTTP/1.1 connection: answers each request once its end has arrived (bodies are ignored).
final class TelemetryHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let routes: TelemetryRoutes
    private var head: HTTPRequestHead?

    init(routes: TelemetryRoutes) { self.routes = routes }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
        case .body:
            break
        case .end:
            guard let request = head else { return }
            head = nil
            respond(context: context, request: request)
        }
    }

    private func respond(context: ChannelHandlerContext, request: HTTPRequestHead) {
        let response = routes.respond(method: request.method, uri: request.uri)
        let keepAlive = request.isKeepAlive
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: String(response.body.count))
        headers.add(name: "Cache-Control", value: "no-store")
        for (name, value) in response.extraHeaders { headers.add(name: name, value: value) }
        if !keepAlive { headers.add(name: "Connection", value: "close") }

        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: response.status, headers: headers))), promise: nil)
        // A response to HEAD has no body (the client would read it as the next response).
        if request.method != .HEAD {
            var body = context.channel.allocator.buffer(capacity: response.body.count)
            body.writeBytes(response.body)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
