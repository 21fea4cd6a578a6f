import ShipperCore

/// Options of the telemetry endpoint: Prometheus `/metrics` and the `/health` probe.
///
/// ```yaml
/// telemetry:
///   address: 127.0.0.1:2020        # host:port to listen on; 0.0.0.0:2020 to be scraped from outside
///   health:
///     output_failing_after: 60s    # an output failing this long makes /health answer 503
///     buffer_high_water: 0.9       # a buffer this full (fraction of max_size) makes /health answer 503
/// ```
public struct TelemetryConfig: Decodable, Sendable, Equatable {
    /// Where the endpoint listens, as `host:port` (`[::1]:2020` for IPv6). Default `127.0.0.1:2020`:
    /// only local clients. In a container, use `0.0.0.0:2020` so Prometheus and the orchestrator's
    /// probes reach it. Port 0 picks a free port (tests).
    public var address: String
    /// The host part of ``address`` (without IPv6 brackets).
    public var host: String
    /// The port part of ``address``.
    public var port: Int
    /// When `/health` reports the shipper unhealthy.
    public var health: HealthConfig

    /// The defaults: `127.0.0.1:2020`, outputs failing for 60 s or a buffer 90 % full are unhealthy.
    public static let defaults = TelemetryConfig()

    enum CodingKeys: String, CodingKey, CaseIterable {
        case address, health
    }

    /// A config with the given values.
    /// - Throws: ``ConfigValueError`` when `address` is not `host:port`.
    public init(address: String, health: HealthConfig = HealthConfig()) throws {
        let (host, port) = try Self.parseAddress(address)
        self.address = address
        self.host = host
        self.port = port
        self.health = health
    }

    /// The defaults: `127.0.0.1:2020`, ``HealthConfig/init()``.
    public init() {
        self.address = "127.0.0.1:2020"
        self.host = "127.0.0.1"
        self.port = 2020
        self.health = HealthConfig()
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let address = try c.decodeIfPresent(String.self, forKey: .address) ?? Self.defaults.address
        let health = try c.decodeIfPresent(HealthConfig.self, forKey: .health) ?? HealthConfig()
        try self.init(address: address, health: health)
    }

    /// Splits `host:port` (or `[v6]:port`) into its parts.
    /// - Throws: ``ConfigValueError`` with what was expected.
    public static func parseAddress(_ text: String) throws -> (host: String, port: Int) {
        let t = text.trimmingWhitespace()
        let expected = "expected host:port, e.g. 127.0.0.1:2020, 0.0.0.0:2020 or [::1]:2020"
        guard let colon = t.lastIndex(of: ":") else {
            throw ConfigValueError("'\(text)' is not an address; \(expected)")
        }
        var host = String(t[..<colon])
        let portText = t[t.index(after: colon)...]
        if host.hasPrefix("[") {
            guard host.hasSuffix("]"), host.count > 2 else {
                throw ConfigValueError("'\(text)' is not an address; \(expected)")
            }
            host = String(host.dropFirst().dropLast())
        } else if host.contains(":") {
            throw ConfigValueError("'\(text)': write an IPv6 host in brackets; \(expected)")
        }
        guard !host.isEmpty, !host.contains(" ") else {
            throw ConfigValueError("'\(text)' has no host; \(expected)")
        }
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw ConfigValueError("'\(text)' has no valid port (0-65535); \(expected)")
        }
        return (host, port)
    }
}

/// When `/health` answers 503 instead of 200.
public struct HealthConfig: Decodable, Sendable, Equatable {
    /// An output whose sends have been failing without a success for longer than this makes the
    /// shipper unhealthy (default 60s). Shorter outages are retried quietly.
    public var outputFailingAfter: ConfigDuration
    /// A buffer filled to this fraction of its `max_size` or more makes the shipper unhealthy
    /// (default 0.9): the outputs are not keeping up and back-pressure will soon stop the reading.
    /// Between 0 (exclusive) and 1.
    public var bufferHighWater: Double

    enum CodingKeys: String, CodingKey, CaseIterable {
        case outputFailingAfter = "output_failing_after"
        case bufferHighWater = "buffer_high_water"
    }

    /// A health config.
    /// - Throws: ``ConfigValueError`` when `bufferHighWater` is not in (0, 1].
    public init(outputFailingAfter: ConfigDuration, bufferHighWater: Double) throws {
        guard bufferHighWater > 0, bufferHighWater <= 1 else {
            throw ConfigValueError("buffer_high_water must be a fraction above 0 and at most 1 (e.g. 0.9), got \(bufferHighWater)")
        }
        self.outputFailingAfter = outputFailingAfter
        self.bufferHighWater = bufferHighWater
    }

    /// The defaults: 60 s and 0.9.
    public init() {
        self.outputFailingAfter = .seconds(60)
        self.bufferHighWater = 0.9
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(
            outputFailingAfter: try c.decodeIfPresent(ConfigDuration.self, forKey: .outputFailingAfter) ?? .seconds(60),
            bufferHighWater: try c.decodeIfPresent(Double.self, forKey: .bufferHighWater) ?? 0.9
        )
    }
}
