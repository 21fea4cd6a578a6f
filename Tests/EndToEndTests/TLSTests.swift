import ElasticsearchTestServer
import Foundation
import Testing

/// Issue 7 (security): TLS to Elasticsearch is verified by default. shipper runs as a process
/// against the test server serving HTTPS with a certificate from a private CA
/// (`Tests/Fixtures/tls`): without `tls.ca_file` nothing may be delivered; with it everything is;
/// `verify: false` delivers with a warning; a CA that did not sign the certificate is refused.
@Suite(.serialized) struct TLSTests {
    static let events = 300
    static let index = "tls-e2e"

    static func startServer() async throws -> ElasticsearchTestServer {
        var configuration = ElasticsearchTestServerConfiguration()
        configuration.tls = TLSFiles(certificateFile: TLSFixtures.serverCertificate, privateKeyFile: TLSFixtures.serverKey)
        return try await ElasticsearchTestServer.start(configuration: configuration)
    }

    /// A shipper data directory, `events` container lines, and a config whose output has `tls`.
    struct Setup {
        let dir: TempDir
        let config: String

        init(server: ElasticsearchTestServer, tls: String?) throws {
            dir = try TempDir()
            let containers = dir.path + "/containers"
            _ = try writeContainerLines(root: containers, tag: "tls", count: TLSTests.events)
            #expect(server.baseURL.hasPrefix("https://127.0.0.1:"))
            config = try dir.write("shipper.yaml", """
                data_dir: \(dir.path)/state
                telemetry: {address: "127.0.0.1:0"}
                drain_timeout: 1s
                sources:
                  docker:
                    type: docker
                    paths: ["\(containers)/*/*-json.log"]
                    discovery_interval: 100ms
                pipelines:
                  app:
                    stages: []
                outputs:
                  es:
                    type: elasticsearch
                    hosts: ["\(server.baseURL)"]
                    index: \(TLSTests.index)
                    batch: {max_events: 100, timeout: 100ms}
                    retry: {initial_backoff: 50ms, max_backoff: 200ms}
                    host_cooldown: 50ms
                \(tls.map { "    tls: \($0)" } ?? "")
                """)
        }

        func start() throws -> ShipperProcess {
            try ShipperProcess(arguments: ["run", "--config", config], cwd: dir.path)
        }
    }

    /// Runs shipper against the server until it has failed at least three TLS handshakes (so it
    /// retried), then stops it; nothing may have been indexed and the log must say what to do.
    func expectRefused(tls: String?) async throws {
        let server = try await Self.startServer()
        let setup = try Setup(server: server, tls: tls)
        let shipper = try setup.start()
        let retried = await server.wait(timeout: .seconds(60)) { $0.faultCounters.tlsHandshakeFailures >= 3 }
        #expect(retried, "handshake failures: \(server.faultCounters.tlsHandshakeFailures)\n\(shipper.stderr.suffix(2000))")
        let explained = await eventually(timeout: 30) { shipper.stderr.contains("certificate could not be verified") }
        #expect(explained, "\(shipper.stderr.suffix(2000))")
        #expect(shipper.stderr.contains("Set tls.ca_file"))
        #expect(shipper.process.isRunning, "shipper must keep retrying, not exit: \(shipper.stderr.suffix(2000))")
        #expect(server.totalDocumentCount == 0)
        #expect(!server.requests.contains { $0.path.hasSuffix("_bulk") }, "no request may get through an unverified TLS connection")
        shipper.signal(SIGTERM)
        #expect(await shipper.wait() == 0, "\(shipper.stderr.suffix(2000))")
        #expect(!shipper.stderr.contains("Fatal error"))
        #expect(server.totalDocumentCount == 0)
        try await server.shutdown()
    }

    /// Runs shipper until every event is indexed once; returns its log.
    func expectDelivered(tls: String?) async throws -> String {
        let server = try await Self.startServer()
        let setup = try Setup(server: server, tls: tls)
        let shipper = try setup.start()
        let delivered = await server.wait(timeout: .seconds(60)) { $0.count(index: Self.index) >= Self.events }
        #expect(delivered, "\(server.count(index: Self.index)) of \(Self.events)\n\(shipper.stderr.suffix(2000))")
        shipper.signal(SIGTERM)
        #expect(await shipper.wait() == 0, "\(shipper.stderr.suffix(2000))")
        let docs = server.documents(index: Self.index)
        #expect(docs.count == Self.events)
        let numbers = Set(docs.compactMap { d -> Int? in
            guard let r = d.sourceString.range(of: "\"message\":\"tls ") else { return nil }
            return Int(d.sourceString[r.upperBound...].prefix { $0.isNumber })
        })
        #expect(numbers == Set(0..<Self.events))
        #expect(server.faultCounters.tlsHandshakeFailures == 0)
        try await server.shutdown()
        return shipper.stderr
    }

    @Test func withoutCAFileTheSelfSignedServerIsRefused() async throws {
        try await expectRefused(tls: nil)
    }

    @Test func withTheCAFileEverythingIsDelivered() async throws {
        let log = try await expectDelivered(tls: "{ca_file: \"\(TLSFixtures.ca)\"}")
        #expect(!log.contains("tls.verify is false"))
    }

    @Test func verifyFalseDeliversWithAWarningAtStart() async throws {
        let log = try await expectDelivered(tls: "{verify: false}")
        let warning = log.split(separator: "\n").first { $0.contains("tls.verify is false") }
        #expect(warning?.contains("level=warning") == true, "\(log.prefix(3000))")
        // At start: before the first connection to Elasticsearch.
        if let w = log.range(of: "tls.verify is false"), let c = log.range(of: "connected to Elasticsearch") {
            #expect(w.lowerBound < c.lowerBound)
        } else {
            Issue.record("missing start-up lines:\n\(log.prefix(3000))")
        }
    }

    @Test func aCAThatDidNotSignTheCertificateIsRefused() async throws {
        try await expectRefused(tls: "{ca_file: \"\(TLSFixtures.otherCA)\"}")
    }

    /// `es-test-server --tls-cert --tls-key` serves HTTPS: `shipper run --once` with the CA
    /// delivers everything to it, then it reports the documents on SIGTERM.
    @Test func esTestServerExecutableServesHTTPS() async throws {
        let exe = URL(fileURLWithPath: Repo.shipper).deletingLastPathComponent().appendingPathComponent("es-test-server").path
        let server = try CapturedProcess(
            executable: exe,
            arguments: ["--port", "0", "--tls-cert", TLSFixtures.serverCertificate, "--tls-key", TLSFixtures.serverKey], cwd: "/")
        var port: Int?
        #expect(await eventually(timeout: 30) {
            port = server.stdout.split(separator: "\n").first.flatMap { $0.hasPrefix("listening on 127.0.0.1:") ? Int($0.split(separator: ":").last ?? "") : nil }
            return port != nil
        }, "\(server.stdout)\(server.stderr)")
        guard let port else { return }
        let dir = try TempDir()
        _ = try writeContainerLines(root: dir.path + "/containers", tag: "exe", count: 100)
        let config = try dir.write("shipper.yaml", """
            data_dir: \(dir.path)/state
            telemetry: {address: "127.0.0.1:0"}
            sources:
              docker: {type: docker, paths: ["\(dir.path)/containers/*/*-json.log"]}
            pipelines:
              app: {stages: []}
            outputs:
              es:
                type: elasticsearch
                hosts: ["https://localhost:\(port)"]
                tls: {ca_file: "\(TLSFixtures.ca)"}
                batch: {timeout: 0s}
            """)
        let r = try shipper(["run", "--config", config, "--once"], cwd: dir.path, timeout: 60)
        #expect(r.status == 0, "\(r.stderr)")
        server.signal(SIGTERM)
        #expect(await server.wait() == 0)
        #expect(server.stdout.contains("documents: 100,"), "\(server.stdout)")
    }

    @Test func anUnreadableCAFileStopsStartWithItsPath() async throws {
        let dir = try TempDir()
        let config = try dir.write("shipper.yaml", """
            data_dir: \(dir.path)/state
            telemetry: {address: "127.0.0.1:0"}
            sources:
              f: {type: file, paths: ["\(dir.path)/*.log"]}
            pipelines:
              app: {stages: []}
            outputs:
              es:
                type: elasticsearch
                hosts: ["https://127.0.0.1:9"]
                tls: {ca_file: "\(dir.path)/missing-ca.pem"}
            """)
        let r = try shipper(["run", "--config", config, "--once"], cwd: dir.path, timeout: 60)
        #expect(r.status != 0)
        #expect(r.stderr.contains("tls.ca_file \(dir.path)/missing-ca.pem"), "\(r.stderr)")
    }
}
