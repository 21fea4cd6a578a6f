import AsyncHTTPClient
import Foundation
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle
import ShipperCore
import Testing

@testable import ShipperTelemetry

/// A logger that prints nothing (the server logs start and stop at info).
let quietLogger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

/// Runs a telemetry server on 127.0.0.1:0 in a ServiceGroup for `body`, then shuts it down gracefully.
func withTelemetryServer<T: Sendable>(
    registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
    health: HealthState = HealthState(),
    healthConfig: HealthConfig = HealthConfig(),
    _ body: @Sendable (_ port: Int) async throws -> T
) async throws -> T {
    let config = try TelemetryConfig(address: "127.0.0.1:0", health: healthConfig)
    let server = TelemetryServer(config: config, registry: registry, health: health, logger: quietLogger)
    let group = ServiceGroup(services: [server], logger: quietLogger)
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        let port = try await server.listeningPort()
        let result = try await body(port)
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
        return result
    }
}

struct Fetched: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: String
}

func fetch(_ port: Int, _ path: String, method: HTTPMethod = .GET) async throws -> Fetched {
    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
    request.method = method
    if method == .POST || method == .PUT { request.body = .bytes(ByteBuffer(string: "{}")) }
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
    let body = try await response.body.collect(upTo: 1 << 22)
    return Fetched(status: Int(response.status.code), headers: response.headers, body: String(buffer: body))
}

struct TelemetryServerTests {
    @Test func bindsToAnEphemeralPortOnLoopback() async throws {
        let port = try await withTelemetryServer { port in
            let health = try await fetch(port, "/health")
            #expect(health.status == 503)   // the pipeline has not started
            return port
        }
        #expect(port > 0 && port != 2020)
    }

    @Test func servesMetricsInPrometheusTextFormat() async throws {
        let registry = PrometheusCollectorRegistry()
        let factory = PrometheusMetricsFactory(registry: registry)
        let es = ComponentMetrics(id: "es", kind: .sink, type: "elasticsearch", factory: factory)
        let buffer = BufferMetrics(factory: factory)
        try await withTelemetryServer(registry: registry) { port in
            es.sentEvents.increment(by: 10)
            buffer.record(bytes: 512, events: 3)
            var metrics = try await fetch(port, "/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.headers.first(name: "Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
            #expect(metrics.body.contains(#"shipper_component_sent_events_total{component_id="es",component_kind="sink",component_type="elasticsearch"} 10"#))
            #expect(metrics.body.contains("shipper_buffer_bytes 512"))

            // Every scrape reads the current values.
            es.sentEvents.increment(by: 5)
            metrics = try await fetch(port, "/metrics?name[]=ignored")
            #expect(metrics.body.contains(#"component_type="elasticsearch"} 15"#))
        }
    }

    @Test func healthGoesFromOkTo503AndBackWhenAnOutputFailsAndRecovers() async throws {
        let health = HealthState()
        try await withTelemetryServer(health: health) { port in
            health.pipelineRunning(true)
            var r = try await fetch(port, "/health")
            #expect(r.status == 200)
            #expect(r.body == #"{"status":"ok"}"#)
            #expect(r.headers.first(name: "Content-Type") == "application/json")

            // A fresh failure is within the limit.
            health.outputFailing(name: "es")
            r = try await fetch(port, "/health")
            #expect(r.status == 200)

            // Failing since before the limit: unhealthy, with the reason.
            health.outputFailing(name: "es", since: .now - .seconds(61))
            r = try await fetch(port, "/health")
            #expect(r.status == 503)
            let object = try JSONSerializationCheck.parse(r.body)
            #expect(object["status"] as? String == "unhealthy")
            let reasons = try #require(object["reasons"] as? [String])
            #expect(reasons.count == 1)
            #expect(reasons[0].hasPrefix("output 'es' has been failing for 6"))
            #expect(reasons[0].hasSuffix("(limit 60s)"))

            health.outputRecovered(name: "es")
            r = try await fetch(port, "/health")
            #expect(r.status == 200)
            #expect(r.body == #"{"status":"ok"}"#)
        }
    }

    @Test func healthIs503WhileTheBufferIsOverHighWater() async throws {
        let health = HealthState()
        health.pipelineRunning(true)
        try await withTelemetryServer(health: health, healthConfig: try HealthConfig(outputFailingAfter: .seconds(60), bufferHighWater: 0.8)) { port in
            health.bufferFill(ratio: 0.5)
            #expect(try await fetch(port, "/health").status == 200)
            health.bufferFill(ratio: 0.85)
            let r = try await fetch(port, "/health")
            #expect(r.status == 503)
            #expect(r.body == #"{"status":"unhealthy","reasons":["the buffer is 85% full (high water 80%)"]}"#)
            health.bufferFill(ratio: 0.2)
            #expect(try await fetch(port, "/health").status == 200)
            health.pipelineRunning(false)
            let stopping = try await fetch(port, "/health")
            #expect(stopping.status == 503)
            #expect(stopping.body.contains("the pipeline is not running"))
        }
    }

    @Test(arguments: ["/", "/metric", "/metrics/", "/healthz", "/health/x", "/favicon.ico"])
    func unknownPathsAre404(path: String) async throws {
        try await withTelemetryServer { port in
            let r = try await fetch(port, path)
            #expect(r.status == 404)
            #expect(r.body.contains("not found"))
        }
    }

    @Test(arguments: [HTTPMethod.POST, .PUT, .DELETE, .HEAD, .PATCH])
    func otherMethodsAre405(method: HTTPMethod) async throws {
        try await withTelemetryServer { port in
            for path in ["/metrics", "/health"] {
                let r = try await fetch(port, path, method: method)
                #expect(r.status == 405, "\(method) \(path)")
                #expect(r.headers.first(name: "Allow") == "GET")
            }
        }
    }

    @Test func gracefulShutdownClosesTheListenerAndKeptAliveConnections() async throws {
        // HTTPClient.shared keeps the connection alive: shutdown must not wait for the client.
        let port = try await withTelemetryServer { port in
            let first = try await fetch(port, "/metrics")
            let second = try await fetch(port, "/metrics")
            #expect(first.status == 200 && second.status == 200)
            return port
        }
        do {
            _ = try await HealthProbe.check(address: "127.0.0.1:\(port)", timeout: .seconds(5))
            Issue.record("answered after the shutdown")
        } catch {
            #expect(HealthProbe.reason(error) == "Connection refused", "\(error)")
        }
    }

    @Test func cancellationStopsTheServer() async throws {
        let server = TelemetryServer(
            config: try TelemetryConfig(address: "127.0.0.1:0"), registry: PrometheusCollectorRegistry(), health: HealthState(),
            logger: quietLogger
        )
        let task = Task { try await server.run() }
        let port = try await server.listeningPort()
        #expect(try await HealthProbe.check(address: "127.0.0.1:\(port)").status == 503)
        task.cancel()
        try await task.value
        #expect(try await server.listeningPort() == port)   // still answers after the stop
        await #expect(throws: (any Error).self) {
            _ = try await HealthProbe.check(address: "127.0.0.1:\(port)")
        }
    }

    @Test func aBindErrorIsThrownAndWakesPortWaiters() async throws {
        try await withTelemetryServer { port in
            let second = TelemetryServer(
                config: try TelemetryConfig(address: "127.0.0.1:\(port)"), registry: PrometheusCollectorRegistry(),
                health: HealthState(), logger: quietLogger
            )
            let waiter = Task { try await second.listeningPort() }
            await #expect(throws: (any Error).self) { try await second.run() }
            await #expect(throws: (any Error).self) { _ = try await waiter.value }
            await #expect(throws: TelemetryServerError.notListening) { _ = try await second.listeningPort() }
        }
    }

    @Test(arguments: [
        "GARBAGE\r\n\r\n",
        "GET /health HTTP/9.9\r\n\r\n",
        "GET /health HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
        "\u{0}\u{1}\u{2}\r\n\r\n",
        "GET " + String(repeating: "a", count: 100_000) + " HTTP/1.1\r\n\r\n",
    ])
    func malformedRequestsDoNotHurtTheServer(request: String) async throws {
        try await withTelemetryServer { port in
            let answer = try await rawExchange(port: port, request, halfClose: true)
            #expect(answer.isEmpty || answer.hasPrefix("HTTP/"), "\(answer.prefix(80))")
            #expect(!answer.contains(" 200 "), "\(answer.prefix(80))")
            #expect(try await fetch(port, "/metrics").status == 200)
        }
    }

    @Test func http10ClientsGetTheirAnswerAndAClose() async throws {
        try await withTelemetryServer { port in
            let answer = try await rawExchange(port: port, "GET /health HTTP/1.0\r\n\r\n")
            #expect(answer.hasPrefix("HTTP/1.0 503"))
            #expect(answer.lowercased().contains("connection: close"))
            #expect(answer.hasSuffix(#"{"status":"unhealthy","reasons":["the pipeline is not running"]}"#))
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        let health = HealthState()
        health.pipelineRunning(true)
        try await withTelemetryServer(health: health) { port in
            let answer = try await rawExchange(
                port: port,
                "GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            let statuses = answer.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix(3) }
            #expect(statuses == ["200", "404", "200"])
        }
    }
}

/// Sends `request` on a raw TCP connection and returns everything the server sends until it
/// closes (it does on a bad request, HTTP/1.0 or `Connection: close`). With `halfClose`, our side
/// of the connection is shut after the request, so the server closes even if it would keep it.
func rawExchange(port: Int, _ request: String, halfClose: Bool = false) async throws -> String {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .channelOption(.allowRemoteHalfClosure, value: true)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
    return try await channel.executeThenClose { inbound, outbound in
        try await outbound.write(ByteBuffer(string: request))
        if halfClose { outbound.finish() }
        var text = ""
        for try await chunk in inbound {
            text += String(buffer: chunk)
        }
        return text
    }
}
