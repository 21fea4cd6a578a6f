import NIOCore
import ShipperCore
import NIOPosix

/// A tiny HTTP client for `shipper health`: the container `HEALTHCHECK` and exec probes, in images
/// that have no curl.
///
/// ```swift
/// let result = try await HealthProbe.check(address: "127.0.0.1:2020")
/// print(result.body); exit(result.isHealthy ? 0 : 1)
/// ```
public enum HealthProbe {
    /// What the endpoint answered.
    public struct Result: Sendable, Equatable {
        /// The HTTP status code.
        public var status: Int
        /// The response body (for `/health`, the JSON report).
        public var body: String
        /// Whether the status is 200.
        public var isHealthy: Bool { status == 200 }
    }

    /// Errors of the probe.
    public enum ProbeError: Error, Sendable, Equatable, CustomStringConvertible {
        /// The answer was not an HTTP response.
        case malformedResponse
        /// No complete answer within the timeout.
        case timedOut

        public var description: String {
            switch self {
            case .malformedResponse: "the endpoint did not answer with HTTP"
            case .timedOut: "the endpoint did not answer in time"
            }
        }
    }

    /// GETs `path` from the telemetry endpoint at `address` (`host:port`; `0.0.0.0` and `::` mean
    /// this machine).
    /// - Throws: ``ConfigValueError`` for a bad address, connection errors, ``ProbeError``.
    public static func check(
        address: String, path: String = "/health", timeout: Duration = .seconds(5),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> Result {
        var (host, port) = try TelemetryConfig.parseAddress(address)
        if host == "0.0.0.0" { host = "127.0.0.1" }
        if host == "::" { host = "::1" }
        let nanos = timeout.components.seconds &* 1_000_000_000 &+ timeout.components.attoseconds / 1_000_000_000
        let channel = try await ClientBootstrap(group: eventLoopGroup)
            .connectTimeout(.nanoseconds(nanos))
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let deadline = channel.channel.eventLoop.scheduleTask(in: .nanoseconds(nanos)) {
            channel.channel.close(promise: nil)
        }
        defer { deadline.cancel() }
        let hostHeader = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        let bytes: [UInt8] = try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: "GET \(path) HTTP/1.1\r\nHost: \(hostHeader)\r\nConnection: close\r\n\r\n"))
            var data: [UInt8] = []
            for try await chunk in inbound {
                data.append(contentsOf: chunk.readableBytesView)
                if data.count > 4 << 20 { break }
            }
            return data
        }
        return try parse(bytes)
    }

    /// Why no answer came, in a few words: the system's text for a failed connection ("Connection
    /// refused"), else the error's own description.
    public static func reason(_ error: any Error) -> String {
        if let e = error as? NIOConnectionError, let first = e.connectionErrors.first { return reason(first.error) }
        if let e = error as? IOError { return String(cString: strerror(e.errnoCode)) }
        if let e = error as? ChannelError, case .connectTimeout = e { return "the connection timed out" }
        return "\(error)"
    }

    /// Parses `HTTP/1.x NNN …\r\n…\r\n\r\nbody` (the server always sends Content-Length and closes).
    static func parse(_ bytes: [UInt8]) throws -> Result {
        // Nothing at all: the deadline closed the connection (or the server hung up at once).
        guard !bytes.isEmpty else { throw ProbeError.timedOut }
        let prefix = Array("HTTP/1.".utf8)
        guard bytes.count >= 12, Array(bytes[0..<7]) == prefix, bytes[8] == UInt8(ascii: " ") else {
            throw ProbeError.malformedResponse
        }
        var status = 0
        for b in bytes[9..<12] {
            guard b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") else { throw ProbeError.malformedResponse }
            status = status * 10 + Int(b - UInt8(ascii: "0"))
        }
        let separator = Array("\r\n\r\n".utf8)
        var bodyStart = bytes.count
        if bytes.count >= 4 {
            for i in 0...(bytes.count - 4) where bytes[i..<(i + 4)].elementsEqual(separator) {
                bodyStart = i + 4
                break
            }
        }
        return Result(status: status, body: String(decoding: bytes[bodyStart...], as: UTF8.self))
    }
}
