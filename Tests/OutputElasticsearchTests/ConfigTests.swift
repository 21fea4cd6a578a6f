import Foundation
import ShipperCore
import Testing

@testable import OutputElasticsearch

@Suite("Elasticsearch output config")
struct ConfigTests {
    static func decode(_ json: String) throws -> ElasticsearchOutputConfig {
        try JSONDecoder().decode(ElasticsearchOutputConfig.self, from: Data(json.utf8))
    }

    @Test func defaults() throws {
        let c = try Self.decode(#"{"hosts":"http://es:9200"}"#)
        #expect(c.hosts == [ElasticsearchHost(scheme: "http", host: "es", port: 9200)])
        #expect(c.index == "shipper-%Y.%m.%d")
        #expect(c.dataStream == nil)
        #expect(c.batch.maxBytes.bytes == 2 * 1_048_576)
        #expect(c.batch.maxEvents == 2000)
        #expect(c.batch.timeout == .seconds(1))
        #expect(c.compression == .gzip)
        #expect(c.compressionLevel == 1)
        #expect(c.filterPath == "errors,items.*.error,items.*.status")
        #expect(c.maxInFlight == 2)
        #expect(c.auth == nil && c.apiKey == nil)
        #expect(c.tls == .init(caFile: nil, verify: true))
        #expect(c.requestTimeout == .seconds(30))
        #expect(c.retry == .init(initialBackoff: .seconds(1), maxBackoff: .seconds(60), maxAttempts: 0))
        #expect(c.deadLetter.path == nil)
        #expect(c.installTemplate == nil)
        #expect(c.healthCheck)
        #expect(c.hostCooldown == .seconds(10))
        #expect(ElasticsearchOutput.deadLetterPath(config: c, outputName: "es", dataDirectory: "/var/lib/shipper") == "/var/lib/shipper/dead-letter/es.ndjson")
    }

    @Test func everything() throws {
        let c = try Self.decode(
            """
            {"hosts":["https://es1:9201/prefix/","http://[::1]:9200","http://es3"],"host_cooldown":"3s",
             "data_stream":{"type":"logs","dataset":"%{service.name}","namespace":"prod"},
             "batch":{"max_bytes":"1MiB","max_events":100,"timeout":"250ms"},
             "compression":"none","compression_level":6,"filter_path":"errors,items.*.status,items.*.error,items.*._id",
             "max_in_flight":4,"auth":{"user":"shipper","password_file":"/run/secrets/es"},
             "tls":{"ca_file":"/ca.pem","verify":false,"cert_file":"/c.pem","key_file":"/k.pem"},
             "request_timeout":"10s","retry":{"initial_backoff":"100ms","max_backoff":"5s","max_attempts":10},
             "dead_letter":{"path":"/data/dl.ndjson"},"install_template":{"name":"logs-app","file":"/t.json"},"health_check":false,
             "pipeline":"geoip-nginx"}
            """)
        #expect(c.hosts.map(\.baseURL) == ["https://es1:9201/prefix", "http://[::1]:9200", "http://es3:9200"])
        #expect(c.hostCooldown == .seconds(3))
        #expect(c.dataStream == .init(type: "logs", dataset: "%{service.name}", namespace: "prod"))
        #expect(c.batch == .init(maxBytes: ByteSize(bytes: 1_048_576), maxEvents: 100, timeout: .milliseconds(250)))
        #expect(c.compression == .none && c.compressionLevel == 6)
        #expect(c.maxInFlight == 4)
        #expect(c.auth?.user == "shipper")
        #expect(c.auth?.password == .file("/run/secrets/es"))
        #expect(c.tls == .init(caFile: "/ca.pem", verify: false, certFile: "/c.pem", keyFile: "/k.pem"))
        #expect(c.requestTimeout == .seconds(10))
        #expect(c.retry == .init(initialBackoff: .milliseconds(100), maxBackoff: .seconds(5), maxAttempts: 10))
        #expect(ElasticsearchOutput.deadLetterPath(config: c, outputName: "es", dataDirectory: "/x") == "/data/dl.ndjson")
        #expect(c.installTemplate == .init(name: "logs-app", file: "/t.json"))
        #expect(!c.healthCheck)
        #expect(c.pipeline == "geoip-nginx")
        #expect("\(c)".contains("pipeline: geoip-nginx"))
    }

    /// The query of every bulk request: the pipeline (percent-encoded) and the filter_path, each when set.
    @Test func bulkQuery() throws {
        #expect(ElasticsearchOutput.bulkQuery(try Self.decode(#"{"hosts":"http://es"}"#)) == "?filter_path=errors,items.*.error,items.*.status")
        #expect(ElasticsearchOutput.bulkQuery(try Self.decode(#"{"hosts":"http://es","filter_path":""}"#)) == "")
        #expect(
            ElasticsearchOutput.bulkQuery(try Self.decode(#"{"hosts":"http://es","pipeline":"geo&ip=1/é","filter_path":""}"#))
                == "?pipeline=geo%26ip%3D1%2F%C3%A9")
        #expect(
            ElasticsearchOutput.bulkQuery(try Self.decode(#"{"hosts":"http://es","pipeline":"geoip"}"#))
                == "?pipeline=geoip&filter_path=errors,items.*.error,items.*.status")
    }

    @Test func apiKeySources() throws {
        #expect(try Self.decode(#"{"hosts":"http://h","api_key":"abc"}"#).apiKey == .inline(Secret("abc")))
        #expect(try Self.decode(#"{"hosts":"http://h","api_key_file":"/k"}"#).apiKey == .file("/k"))
        #expect(try Self.decode(#"{"hosts":"http://h","api_key_env":"ES_KEY"}"#).apiKey == .environment("ES_KEY"))
    }

    static let invalid: [(String, String)] = [
        (#"{"hosts":[]}"#, "at least one URL"),
        (#"{"hosts":"ftp://es"}"#, "not an http"),
        (#"{"hosts":"es:9200"}"#, "not an http"),
        (#"{"hosts":"http://user:secret@es:9200"}"#, "not in the host URL"),
        (#"{"hosts":"http://es:99999"}"#, "bad port"),
        (#"{"hosts":"http://:9200"}"#, "no host"),
        (#"{"hosts":"http://es","index":"x","data_stream":{}}"#, "either index or data_stream"),
        (#"{"hosts":"http://es","compression":"brotli"}"#, ""),
        (#"{"hosts":"http://es","compression_level":0}"#, "compression_level"),
        (#"{"hosts":"http://es","max_in_flight":0}"#, "max_in_flight"),
        (#"{"hosts":"http://es","auth":{"user":"u"}}"#, "password"),
        (#"{"hosts":"http://es","auth":{"user":"u","password":"p","password_file":"/f"}}"#, "only one"),
        (#"{"hosts":"http://es","auth":{"user":"u:x","password":"p"}}"#, "auth.user"),
        (#"{"hosts":"http://es","auth":{"user":"u","password":"p"},"api_key":"k"}"#, "either auth or api_key"),
        (#"{"hosts":"http://es","api_key":"k","api_key_env":"E"}"#, "only one"),
        (#"{"hosts":"http://es","filter_path":"items.*.error"}"#, "items.*.status"),
        (#"{"hosts":"http://es","filter_path":"errors,items.*.status,-items.*._index"}"#, "must not exclude"),
        (#"{"hosts":"http://es","index":"logs-%q"}"#, "unknown placeholder"),
        (#"{"hosts":"http://es","index":"_logs"}"#, "must not start"),
        (#"{"hosts":"http://es","data_stream":{"dataset":""}}"#, "must not be empty"),
        (#"{"hosts":"http://es","batch":{"max_events":0}}"#, "max_events"),
        (#"{"hosts":"http://es","batch":{"max_bytes":10}}"#, "max_bytes"),
        (#"{"hosts":"http://es","retry":{"initial_backoff":"2s","max_backoff":"1s"}}"#, "max_backoff"),
        (#"{"hosts":"http://es","retry":{"initial_backoff":0}}"#, "initial_backoff"),
        (#"{"hosts":"http://es","retry":{"max_attempts":-1}}"#, "max_attempts"),
        (#"{"hosts":"http://es","tls":{"cert_file":"/c"}}"#, "go together"),
        (#"{"hosts":"http://es","request_timeout":0}"#, "request_timeout"),
        (#"{"hosts":"http://es","install_template":{"name":"a/b","file":"/t"}}"#, "install_template.name"),
        (#"{"hosts":"http://es","dead_letter":{"path":""}}"#, "dead_letter.path"),
        (#"{"index":"x"}"#, ""),
        (#"{"hosts":"http://es","pipeline":""}"#, "ingest pipeline id"),
        (#"{"hosts":"http://es","pipeline":"geo ip"}"#, "without spaces"),
    ]

    @Test(arguments: invalid)
    func invalidConfigs(_ json: String, _ message: String) {
        #expect {
            _ = try Self.decode(json)
        } throws: { error in
            message.isEmpty || "\(error)".contains(message)
        }
    }

    @Test func everyKeyIsKnownToTheYAMLDecoder() {
        let keys = Set(ElasticsearchOutputConfig.CodingKeys.allCases.map(\.stringValue))
        #expect(
            keys == [
                "hosts", "host_cooldown", "index", "data_stream", "batch", "compression", "compression_level", "filter_path",
                "max_in_flight", "auth", "api_key", "api_key_file", "api_key_env", "tls", "request_timeout", "retry", "dead_letter",
                "install_template", "health_check", "pipeline",
            ])
        #expect(ElasticsearchOutputConfig.BasicAuth.CodingKeys.allCases.count == 4)
        #expect(ElasticsearchOutputConfig.Batch.CodingKeys.allCases.map(\.stringValue) == ["max_bytes", "max_events", "timeout"])
    }

    @Test func secretsNeverShow() throws {
        let c = try Self.decode(#"{"hosts":"http://es","auth":{"user":"shipper","password":"hunter2-secret"}}"#)
        var dumped = ""
        dump(c, to: &dumped)
        for text in ["\(c)", String(reflecting: c), dumped, "\(c.auth!)", "\(c.auth!.password)"] {
            #expect(!text.contains("hunter2"), "\(text)")
        }
        #expect("\(c)".contains("shipper"))
        let k = try Self.decode(#"{"hosts":"http://es","api_key":"key-secret-123"}"#)
        var dumpedKey = ""
        dump(k, to: &dumpedKey)
        #expect(!dumpedKey.contains("key-secret-123") && !"\(k)".contains("key-secret-123"))
    }

    @Test func secretFilesAndEnvironment() throws {
        let dir = try makeTempDirectory()
        let file = dir + "/password"
        try "s3cret\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try SecretSource.file(file).resolve().value == "s3cret")
        #expect(throws: ConfigValueError.self) { try SecretSource.file(dir + "/missing").resolve() }
        setenv("OUTPUT_ES_TEST_SECRET", "from-env", 1)
        #expect(try SecretSource.environment("OUTPUT_ES_TEST_SECRET").resolve().value == "from-env")
        #expect(throws: ConfigValueError.self) { try SecretSource.environment("OUTPUT_ES_TEST_UNSET_VARIABLE").resolve() }
    }

    @Test func outputBuildChecksFiles() throws {
        let dir = try makeTempDirectory()
        var c = testConfig(port: 9)
        c.installTemplate = .init(name: "t", file: dir + "/missing.json")
        #expect(throws: ConfigValueError.self) { _ = try ElasticsearchOutput(name: "es", config: c, dataDirectory: dir, logger: LogCapture().logger()) }
        try "{not json".write(toFile: dir + "/bad.json", atomically: true, encoding: .utf8)
        c.installTemplate = .init(name: "t", file: dir + "/bad.json")
        #expect(throws: ConfigValueError.self) { _ = try ElasticsearchOutput(name: "es", config: c, dataDirectory: dir, logger: LogCapture().logger()) }
        c.installTemplate = nil
        c.tls.caFile = dir + "/missing-ca.pem"
        #expect(throws: ConfigValueError.self) { _ = try ElasticsearchOutput(name: "es", config: c, dataDirectory: dir, logger: LogCapture().logger()) }
    }

    @Test func attributeFieldsComeFromTheTemplate() async throws {
        let dir = try makeTempDirectory()
        var c = testConfig(port: 9, index: "logs-%{service.name}-%{container.name}-%Y")
        try await withOutput(c, dataDirectory: dir) { output in
            #expect(output.attributeFields.map(\.dotted) == ["service.name", "container.name"])
        }
        c.index = "static"
        try await withOutput(c, dataDirectory: dir) { output in
            #expect(output.attributeFields.isEmpty)
        }
    }
}
