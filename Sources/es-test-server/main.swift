// es-test-server: the Elasticsearch test server as a standalone process.
//
//   es-test-server --host 127.0.0.1 --port 0 [fault flags] [--user u --password p] [--tls-cert FILE --tls-key FILE]
//
// The first stdout line is `listening on HOST:PORT`; the server runs until SIGTERM or SIGINT.

import ArgumentParser
import ElasticsearchTestServer
import Foundation

struct ESTestServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "es-test-server",
        abstract: "An in-memory stand-in for Elasticsearch (bulk ingest, templates, data streams) with fault injection.")

    @Option(help: "Address to bind.") var host = "127.0.0.1"
    @Option(help: "Port to bind (0 = pick a free one; see the first stdout line).") var port = 9200
    @Option(help: "Require HTTP basic auth with this user (needs --password).") var user: String?
    @Option(help: "Password for --user.") var password: String?
    @Option(name: .customLong("api-key"), help: "Accepted API key as id:key (repeatable).") var apiKeys: [String] = []
    @Option(name: .customLong("es-version"), help: "version.number reported by GET / (8.x enables 8.x bulk parser leniencies).")
    var esVersion = "9.1.0"
    @Option(help: "http.max_content_length in bytes (decompressed).") var maxContentLength = 100 * 1024 * 1024
    @Option(name: .customLong("pipeline"), help: "An ingest pipeline that exists (repeatable); others fail their items.")
    var pipelines: [String] = []
    @Flag(help: "Do not install the built-in logs-*-*/metrics-*-*/synthetics-*-* data stream templates.") var noBuiltinTemplates = false
    @Flag(help: "Disable dynamic mapping emulation (any valid JSON object is stored).") var noMappingEmulation = false
    @Flag(help: "Keep only ids, versions and counts of documents, not their sources (they read back as {}): for benchmarks.")
    var noSources = false
    @Flag(help: "action.auto_create_index=false.") var noAutoCreate = false

    @Option(help: "Seed for all random fault decisions.") var seed: UInt64 = 0
    @Option(help: "Share (0...1) of bulk items answered 429 es_rejected_execution_exception.") var rejectShare = 0.0
    @Option(help: "Share (0...1) of bulk items answered 503 unavailable_shards_exception.") var unavailableItemShare = 0.0
    @Option(help: "Share (0...1) of bulk requests failed as a whole.") var failRequestShare = 0.0
    @Option(help: "Status of whole-request failures (503, 429, 500, ...).") var failRequestStatus = 503
    @Option(help: "Mapping error for documents where FIELD equals VALUE (FIELD=VALUE, VALUE as JSON or plain string; repeatable).")
    var mappingErrorEquals: [String] = []
    @Option(help: "Mapping error for documents that contain FIELD (dotted path; repeatable).") var mappingErrorPresent: [String] = []
    @Option(help: "Added latency for bulk requests, in milliseconds.") var latencyMs = 0
    @Option(help: "Extra random latency up to this many milliseconds.") var latencyJitterMs = 0
    @Option(help: "Share (0...1) of bulk requests whose connection is closed without an answer.") var dropShare = 0.0
    @Flag(help: "Apply dropped requests before closing the connection (partial application).") var dropAfterApply = false
    @Option(help: "Answer 413 to requests whose decoded body is larger than this many bytes.") var tooLargeBytes: Int?
    @Option(help: "Go down this many milliseconds after start.") var downAfterMs: Int?
    @Option(help: "Go down after this many bulk requests.") var downAfterRequests: Int?
    @Option(help: "Length of the down period in milliseconds.") var downForMs = 5000
    @Option(help: "refuse (close the listener) or 503.") var downMode = "refuse"
    @Flag(help: "Log each request to stderr.") var verbose = false
    @Option(name: .customLong("tls-cert"), help: "Serve HTTPS with this PEM certificate chain (needs --tls-key).") var tlsCert: String?
    @Option(name: .customLong("tls-key"), help: "PEM private key of --tls-cert.") var tlsKey: String?

    func validate() throws {
        if (user == nil) != (password == nil) { throw ValidationError("--user and --password go together") }
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        for share in [rejectShare, unavailableItemShare, failRequestShare, dropShare] where !(0...1).contains(share) {
            throw ValidationError("shares must be between 0 and 1")
        }
        if !["refuse", "503"].contains(downMode) { throw ValidationError("--down-mode must be refuse or 503") }
    }

    mutating func run() async throws {
        try await serve()
    }

    func serve() async throws {
        var config = ElasticsearchTestServerConfiguration()
        config.versionNumber = esVersion
        if let user, let password { config.credentials = BasicCredentials(username: user, password: password) }
        config.apiKeys = Set(apiKeys)
        config.maxContentLength = maxContentLength
        config.pipelines = Set(pipelines)
        config.builtInDataStreamTemplates = !noBuiltinTemplates
        config.mappingEmulation = !noMappingEmulation
        config.storeSources = !noSources
        config.autoCreateIndex = !noAutoCreate
        config.requestLogLimit = verbose ? 1000 : 10_000
        if let tlsCert, let tlsKey { config.tls = TLSFiles(certificateFile: tlsCert, privateKeyFile: tlsKey) }

        var plan = FaultPlan(seed: seed)
        plan.itemRejectionShare = rejectShare
        plan.itemUnavailableShare = unavailableItemShare
        plan.requestFailureShare = failRequestShare
        plan.requestFailureStatus = failRequestStatus
        for rule in mappingErrorEquals {
            guard let eq = rule.firstIndex(of: "=") else { throw ValidationError("--mapping-error-equals wants FIELD=VALUE") }
            plan.mappingErrorRules.append(.fieldEquals(String(rule[..<eq]), String(rule[rule.index(after: eq)...])))
        }
        for field in mappingErrorPresent { plan.mappingErrorRules.append(.fieldPresent(field)) }
        plan.latency = .milliseconds(latencyMs)
        plan.latencyJitter = .milliseconds(latencyJitterMs)
        plan.connectionDropShare = dropShare
        plan.dropAfterApplying = dropAfterApply
        plan.maxContentLength = tooLargeBytes
        let mode: DownMode = downMode == "503" ? .serviceUnavailable : .refuseConnections
        if let downAfterMs {
            plan.downPeriods.append(DownPeriod(trigger: .afterDelay(.milliseconds(downAfterMs)), duration: .milliseconds(downForMs), mode: mode))
        }
        if let downAfterRequests {
            plan.downPeriods.append(DownPeriod(trigger: .afterBulkRequests(downAfterRequests), duration: .milliseconds(downForMs), mode: mode))
        }
        config.faultPlan = plan

        let server = try await ElasticsearchTestServer.start(host: host, port: port, configuration: config)
        print("listening on \(host):\(server.port)")
        fflush(nil)

        let signals = AsyncStream<Int32> { continuation in
            for sig in [SIGTERM, SIGINT] {
                signal(sig, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                source.setEventHandler { continuation.yield(sig) }
                source.resume()
                SignalSources.keep(source)
            }
        }
        var seen = 0
        let logger: Task<Void, Never>? =
            verbose
            ? Task {
                while !Task.isCancelled {
                    let reqs = server.requests
                    for r in reqs.dropFirst(seen) {
                        FileHandle.standardError.write(
                            Data("\(r.method) \(r.uri) -> \(r.status) (\(r.compressedBodySize)/\(r.bodySize) bytes)\n".utf8))
                    }
                    seen = reqs.count
                    if reqs.count > 500 {
                        server.clearRequestLog()
                        seen = 0
                    }
                    try? await Task.sleep(for: .milliseconds(200))
                }
            } : nil
        for await sig in signals {
            FileHandle.standardError.write(Data("es-test-server: signal \(sig), shutting down (\(server.totalDocumentCount) documents)\n".utf8))
            break
        }
        // One summary line on stdout for scripts (Benchmarks/e2e.sh): what arrived, and its size.
        let bulk = server.requests.filter { $0.path.hasSuffix("_bulk") }
        print(
            "documents: \(server.totalDocumentCount), bulk requests: \(bulk.count), body bytes sent: \(bulk.reduce(0) { $0 + $1.compressedBodySize }), uncompressed: \(bulk.reduce(0) { $0 + $1.bodySize })"
        )
        fflush(nil)
        logger?.cancel()
        try await server.shutdown()
    }
}

enum SignalSources {
    nonisolated(unsafe) static var sources: [any DispatchSourceSignal] = []
    static func keep(_ s: any DispatchSourceSignal) { sources.append(s) }
}

do {
    // Parse and call serve() directly: calling run() from top-level code picks ParsableCommand's
    // synchronous default (which only prints help).
    let command = try ESTestServerCommand.parse()
    try await command.serve()
} catch {
    ESTestServerCommand.exit(withError: error)
}
