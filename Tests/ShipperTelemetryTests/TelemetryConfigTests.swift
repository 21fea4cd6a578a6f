import Foundation
import ShipperCore
import Testing

@testable import ShipperTelemetry

struct TelemetryConfigTests {
    private func decode(_ json: String) throws -> TelemetryConfig {
        try JSONDecoder().decode(TelemetryConfig.self, from: Data(json.utf8))
    }

    @Test func defaults() throws {
        let c = try decode("{}")
        #expect(c == TelemetryConfig.defaults)
        #expect(c.address == "127.0.0.1:2020")
        #expect(c.host == "127.0.0.1")
        #expect(c.port == 2020)
        #expect(c.health.outputFailingAfter == .seconds(60))
        #expect(c.health.bufferHighWater == 0.9)
    }

    @Test func everyOptionHasAKey() {
        #expect(TelemetryConfig.CodingKeys.allCases.map(\.rawValue) == ["address", "health"])
        #expect(HealthConfig.CodingKeys.allCases.map(\.rawValue) == ["output_failing_after", "buffer_high_water"])
    }

    @Test func healthOptions() throws {
        let c = try decode(#"{"address":"0.0.0.0:9000","health":{"output_failing_after":"5m","buffer_high_water":0.75}}"#)
        #expect(c.host == "0.0.0.0")
        #expect(c.port == 9000)
        #expect(c.health.outputFailingAfter == .seconds(300))
        #expect(c.health.bufferHighWater == 0.75)
        let partial = try decode(#"{"health":{"buffer_high_water":1}}"#)
        #expect(partial.health.outputFailingAfter == .seconds(60))
        #expect(partial.health.bufferHighWater == 1)
    }

    @Test(arguments: [
        ("127.0.0.1:2020", "127.0.0.1", 2020),
        ("0.0.0.0:0", "0.0.0.0", 0),
        ("localhost:65535", "localhost", 65535),
        ("[::1]:2020", "::1", 2020),
        ("[::]:9100", "::", 9100),
        (" 10.0.0.1:80 ", "10.0.0.1", 80),
    ])
    func validAddresses(text: String, host: String, port: Int) throws {
        let parsed = try TelemetryConfig.parseAddress(text)
        #expect(parsed.host == host)
        #expect(parsed.port == port)
        let c = try decode(#"{"address":"\#(text)"}"#)
        #expect(c.host == host && c.port == port)
    }

    @Test(arguments: [
        ("", "not an address"),
        ("2020", "not an address"),
        (":2020", "no host"),
        ("127.0.0.1:", "no valid port"),
        ("127.0.0.1:65536", "no valid port"),
        ("127.0.0.1:-1", "no valid port"),
        ("127.0.0.1:http", "no valid port"),
        ("::1:2020", "brackets"),
        ("[::1:2020", "not an address"),
        ("[]:2020", "not an address"),
        ("my host:2020", "no host"),
    ])
    func invalidAddresses(text: String, message: String) {
        #expect {
            _ = try TelemetryConfig.parseAddress(text)
        } throws: { error in
            "\(error)".contains(message)
        }
        #expect(throws: ConfigValueError.self) { _ = try decode(#"{"address":"\#(text)"}"#) }
    }

    @Test(arguments: [#"{"health":{"buffer_high_water":0}}"#, #"{"health":{"buffer_high_water":1.5}}"#,
                      #"{"health":{"buffer_high_water":-0.1}}"#])
    func invalidHighWater(json: String) {
        #expect {
            _ = try decode(json)
        } throws: { error in
            "\(error)".contains("buffer_high_water must be a fraction")
        }
    }

    @Test(arguments: [#"{"health":{"output_failing_after":"soon"}}"#, #"{"health":{"output_failing_after":-1}}"#,
                      #"{"address":2020}"#, #"{"health":"yes"}"#])
    func malformedValuesThrow(json: String) {
        #expect(throws: (any Error).self) { _ = try decode(json) }
    }
}
