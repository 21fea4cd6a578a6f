// Micro-benchmarks of the hot stages of `shipper run`, one per stage, each reporting time, CPU,
// throughput and heap allocations per operation (one operation = one line, event, record or
// document; every benchmark works on batches of 1,000 and is scaled per item).
//
//   cd Benchmarks && swift package benchmark                      # all
//   cd Benchmarks && swift package benchmark --filter 'parse.*'   # some
//
// Inputs are generated deterministically: the Docker json-file nginx lines of `shipper bench`
// (ShipperRuntime.SampleLogs), and for the other formats rotating sets of realistic lines
// modelled on ../shared/samples and pipelines/samples. Events fed to a parser are fresh copies
// made outside the measured part, as the decoder hands them over.

import Benchmark
import BufferDisk
import Foundation
import InputFormats
import Logging
import OutputElasticsearch
import OutputFile
import ShipperCore
import ShipperRuntime
import StageParsers

let batch = 1_000

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        // CPU time is read in 10 ms steps here: too coarse for batches of a millisecond.
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        timeUnits: .nanoseconds,
        warmupIterations: 3,
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 10_000
    )

    // MARK: decode

    Benchmark("decode/docker") { benchmark in
        let input = Inputs.shared
        var decoder = DockerJSONDecoder()
        var events: [ShipperCore.LogEvent] = []
        events.reserveCapacity(batch)
        benchmark.startMeasurement()
        input.docker.withUnsafeBytes { buf in
            for i in benchmark.scaledIterations {
                let r = input.dockerLines[i]
                decoder.decode(
                    UnsafeRawBufferPointer(rebasing: buf[r]), origin: Inputs.origin(r), now: Inputs.now, into: &events)
            }
        }
        benchmark.stopMeasurement()
        blackHole(events.count)
    }

    Benchmark("decode/cri") { benchmark in
        let input = Inputs.shared
        var decoder = CRIDecoder()
        var events: [ShipperCore.LogEvent] = []
        events.reserveCapacity(batch)
        benchmark.startMeasurement()
        input.cri.withUnsafeBytes { buf in
            for i in benchmark.scaledIterations {
                let r = input.criLines[i]
                decoder.decode(
                    UnsafeRawBufferPointer(rebasing: buf[r]), origin: Inputs.origin(r), now: Inputs.now, into: &events)
            }
        }
        benchmark.stopMeasurement()
        blackHole(events.count)
    }

    // MARK: parse, one format each

    func parseBenchmark(_ name: String, _ parser: @escaping @Sendable () throws -> any LogParser, _ events: @escaping @Sendable () -> [ShipperCore.LogEvent]) {
        Benchmark("parse/\(name)") { benchmark in
            let stage = ParseStage(config: ParseStageConfig(parsers: [ParserSpec(name: name, parser: try parser())]))
            var fresh = Inputs.freshCopies(events())
            var failures = 0
            benchmark.startMeasurement()
            for i in benchmark.scaledIterations {
                stage.apply(&fresh[i])
                if fresh[i].index(of: FieldPaths.failureReason) != nil { failures += 1 }
            }
            benchmark.stopMeasurement()
            if failures > 0 { benchmark.error("\(failures) of \(batch) \(name) events did not parse") }
            blackHole(fresh)
        }
    }
    parseBenchmark("nginx_access combined", { try NginxAccessParser(config: NginxAccessConfig(format: "combined")) }, { Inputs.shared.nginxCombinedEvents })
    parseBenchmark("nginx_error", { try NginxErrorParser(config: try NginxErrorConfig()) }, { Inputs.shared.nginxErrorEvents })
    parseBenchmark("jetty_request", { try JettyRequestParser(config: JettyRequestConfig()) }, { Inputs.shared.jettyRequestEvents })
    parseBenchmark("jetty_server", { try JettyServerParser(config: try JettyServerConfig()) }, { Inputs.shared.jettyServerEvents })
    parseBenchmark("json", { try JSONFieldParser(config: JSONFieldConfig()) }, { Inputs.shared.jsonEvents })

    // MARK: encode

    Benchmark("encode/EventEncoder") { benchmark in
        let events = Inputs.shared.parsedNginxEvents
        var encoder = EventEncoder()
        var out: [UInt8] = []
        out.reserveCapacity(1 << 20)
        for e in events { encoder.encode(e, into: &out) }  // the layouts are planned once per process
        out.removeAll(keepingCapacity: true)
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            encoder.encode(events[i], into: &out)
            out.append(0x0A)
        }
        benchmark.stopMeasurement()
        blackHole(out.count)
    }

    Benchmark("encode/JSONWriter") { benchmark in
        let events = Inputs.shared.parsedNginxEvents
        var out: [UInt8] = []
        out.reserveCapacity(1 << 20)
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            JSONWriter.write(events[i], into: &out)
            out.append(0x0A)
        }
        benchmark.stopMeasurement()
        blackHole(out.count)
    }

    // MARK: disk buffer (fsync: never, so the disk's flush latency is not what is measured)

    Benchmark("buffer/append", closure: { benchmark in
        let buffer = BufferFixture.current!
        let records = Inputs.shared.records
        benchmark.startMeasurement()
        for start in stride(from: 0, to: records.count, by: 100) {
            try await buffer.append(Array(records[start..<start + 100]))  // the worker appends what one poll made
        }
        benchmark.stopMeasurement()
        try await BufferFixture.drain(buffer, records.count)
    }, setup: { try await BufferFixture.open() }, teardown: { try await BufferFixture.close() })

    Benchmark("buffer/read", closure: { benchmark in
        let buffer = BufferFixture.current!
        let records = Inputs.shared.records
        try await buffer.append(records)
        benchmark.startMeasurement()
        let end = try await BufferFixture.read(buffer, records.count)
        benchmark.stopMeasurement()
        try await buffer.acknowledge(reader: "es", through: end)
    }, setup: { try await BufferFixture.open() }, teardown: { try await BufferFixture.close() })

    // One acknowledgement covers the 1,000 records read (the output acknowledges once per request).
    Benchmark("buffer/acknowledge (per 1,000 records)", closure: { benchmark in
        let buffer = BufferFixture.current!
        let records = Inputs.shared.records
        try await buffer.append(records)
        let end = try await BufferFixture.read(buffer, records.count)
        benchmark.startMeasurement()
        try await buffer.acknowledge(reader: "es", through: end)
        benchmark.stopMeasurement()
    }, setup: { try await BufferFixture.open() }, teardown: { try await BufferFixture.close() })

    // MARK: bulk body and gzip

    Benchmark("bulk/build (index names, ids, NDJSON)") { benchmark in
        let input = Inputs.shared
        var built = BulkBody.build([])
        benchmark.startMeasurement()
        let items = Inputs.items(input.indexTemplate, input.documents)
        BulkBody.build(items, indices: nil, into: &built)
        benchmark.stopMeasurement()
        if built.included.count != batch { benchmark.error("built \(built.included.count) items") }
        blackHole(built.bytes.count)
    }

    Benchmark("bulk/gzip -1 (per document)") { benchmark in
        let body = Inputs.shared.bulkBody
        var out: [UInt8] = []
        out.reserveCapacity(body.count)
        benchmark.startMeasurement()
        try body.withUnsafeBytes { try Gzip.compressMember($0, level: 1, into: &out) }
        benchmark.stopMeasurement()
        blackHole(out.count)
    }
}

// MARK: - Inputs

/// Every input, made once per process.
final class Inputs: @unchecked Sendable {
    static let shared = Inputs()
    static let now = Timestamp(nanoseconds: 1_764_058_500_000_000_000)

    static func origin(_ r: Range<Int>) -> LineOrigin {
        LineOrigin(
            path: "/var/lib/docker/containers/0123abcd/0123abcd-json.log", source: 0x5EED, offset: Int64(r.lowerBound),
            endOffset: Int64(r.upperBound + 1))
    }

    let docker: [UInt8]
    let dockerLines: [Range<Int>]
    let cri: [UInt8]
    let criLines: [Range<Int>]
    let nginxCombinedEvents: [ShipperCore.LogEvent]
    let nginxErrorEvents: [ShipperCore.LogEvent]
    let jettyRequestEvents: [ShipperCore.LogEvent]
    let jettyServerEvents: [ShipperCore.LogEvent]
    let jsonEvents: [ShipperCore.LogEvent]
    /// Decoded and parsed (`main`, then `combined`): what the encoder gets in `shipper run`.
    let parsedNginxEvents: [ShipperCore.LogEvent]
    let records: [BufferRecord]
    let documents: [OutgoingDocument]
    let indexTemplate: IndexNameTemplate
    let bulkBody: [UInt8]

    private init() {
        let docker = SampleLogs.nginxDockerLines(count: batch)
        let dockerLines = Inputs.lines(docker)
        self.docker = docker
        self.dockerLines = dockerLines
        var decoder = DockerJSONDecoder()
        var decoded: [ShipperCore.LogEvent] = []
        docker.withUnsafeBytes { buf in
            for r in dockerLines {
                decoder.decode(UnsafeRawBufferPointer(rebasing: buf[r]), origin: Inputs.origin(r), now: Inputs.now, into: &decoded)
            }
        }
        precondition(decoded.count == batch)

        // CRI: the same nginx lines as containerd writes them.
        var cri: [UInt8] = []
        for (i, e) in decoded.enumerated() {
            let ns = String(i * 7919 % 1_000_000_000)
            cri.append(contentsOf: "2026-11-25T08:\(10 + i / 600 % 50):\(10 + i / 10 % 50).\(String(repeating: "0", count: 9 - ns.count))\(ns)Z stdout F ".utf8)
            cri.append(contentsOf: e.string(FieldPaths.message)!.utf8)
            cri.append(0x0A)
        }
        self.cri = cri
        criLines = Inputs.lines(cri)

        // nginx `combined`: the sample lines without the `main` format's trailing X-Forwarded-For.
        nginxCombinedEvents = decoded.map { e in
            var line = e.string(FieldPaths.message)!
            if let cut = line.range(of: " \"", options: .backwards) { line = String(line[..<cut.lowerBound]) }
            var event = ShipperCore.LogEvent(message: Array(line.utf8), timestamp: Inputs.now)
            event.set(FieldPaths.stream, string: "stdout")
            return event
        }
        nginxErrorEvents = Inputs.events(Inputs.rotate(Samples.nginxError))
        jettyRequestEvents = Inputs.events(Inputs.rotate(Samples.jettyRequest))
        jettyServerEvents = Inputs.events(Inputs.rotate(Samples.jettyServer))
        jsonEvents = Inputs.events(Inputs.rotate(Samples.json))

        let stage = ParseStage(config: ParseStageConfig(parsers: [
            ParserSpec(name: "nginx_access", parser: try! NginxAccessParser(config: NginxAccessConfig(format: "main"))),
            ParserSpec(name: "nginx_access", parser: try! NginxAccessParser(config: NginxAccessConfig(format: "combined"))),
        ]))
        var parsed = decoded
        for i in parsed.indices {
            parsed[i].set(FieldPath.intern("service.name"), string: "companynews_static")
            parsed[i].set(FieldPath.intern("container.name"), string: "companynews_static.1.x8d0q1b2c3d4e5f6")
            stage.apply(&parsed[i])
        }
        parsedNginxEvents = parsed

        var encoder = EventEncoder()
        var records: [BufferRecord] = []
        var documents: [OutgoingDocument] = []
        for e in parsed {
            var doc: [UInt8] = []
            encoder.encode(e, into: &doc)
            let ts: Int64
            if case .timestamp(let t)? = e[FieldPaths.timestamp] { ts = t.nanoseconds } else { ts = 0 }
            records.append(BufferRecord(source: e.origin.source, offset: e.origin.offset, timestamp: ts, document: doc))
            documents.append(
                OutgoingDocument(
                    source: e.origin.source, offset: e.origin.offset, timestamp: ts,
                    attributes: [DocumentAttribute("service.name", "companynews_static")], document: doc))
        }
        self.records = records
        self.documents = documents
        indexTemplate = try! IndexNameTemplate("logs-%{service.name}-%Y.%m.%d")
        bulkBody = BulkBody.build(Inputs.items(indexTemplate, documents)).bytes
    }

    /// Index names and ids for a batch, as the output's `IndexResolver` makes them: the name
    /// rendered from the template per document (one `String` while it repeats), the id derived
    /// from the origin.
    static func items(_ template: IndexNameTemplate, _ documents: [OutgoingDocument]) -> [BulkItem] {
        var items: [BulkItem] = []
        items.reserveCapacity(documents.count)
        var scratch: [UInt8] = []
        var lastRaw: [UInt8] = []
        var lastName = ""
        for doc in documents {
            scratch.removeAll(keepingCapacity: true)
            template.render(attributes: doc.attributes, timestamp: doc.timestamp, into: &scratch)
            if lastName.isEmpty || scratch != lastRaw {
                lastName = IndexName.sanitize(scratch)
                lastRaw = scratch
            }
            items.append(
                BulkItem(
                    index: lastName, id: DocumentID.make(doc), document: doc.document, source: doc.source, offset: doc.offset,
                    timestamp: doc.timestamp))
        }
        return items
    }

    static func lines(_ bytes: [UInt8]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var start = 0
        for (i, b) in bytes.enumerated() where b == 0x0A {
            out.append(start..<i)
            start = i + 1
        }
        return out
    }

    static func rotate(_ samples: [String]) -> [String] {
        (0..<batch).map { samples[$0 % samples.count] }
    }

    static func events(_ lines: [String]) -> [ShipperCore.LogEvent] {
        lines.map { line in
            var event = ShipperCore.LogEvent(message: Array(line.utf8), timestamp: now)
            event.set(FieldPaths.stream, string: "stderr")
            return event
        }
    }

    /// Copies whose storage is their own, so parsing them in the measured part triggers no
    /// copy-on-write (the decoder's events are unshared too).
    static func freshCopies(_ events: [ShipperCore.LogEvent]) -> [ShipperCore.LogEvent] {
        events.map { e in
            var c = e
            c.fields.reserveCapacity(e.fields.count + 24)
            c.arena.reserveCapacity(e.arena.count + 256)
            return c
        }
    }
}

/// One disk buffer per benchmark, in a temporary directory.
enum BufferFixture {
    nonisolated(unsafe) static var current: DiskBuffer?
    nonisolated(unsafe) static var directory: String?

    static func open() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("shipper-bench-\(UUID().uuidString)").path
        directory = dir
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        current = try DiskBuffer(
            config: DiskBufferConfig(path: dir, maxSize: ByteSize(bytes: 64 << 20), fsync: .never, segmentSize: ByteSize(bytes: 16 << 20)),
            readers: ["es"], logger: logger)
    }

    static func close() async throws {
        try await current?.close()
        current = nil
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
    }

    /// Reads and acknowledges `count` records as the Elasticsearch output does (batches of up to 5 MiB).
    static func drain(_ buffer: DiskBuffer, _ count: Int) async throws {
        try await buffer.acknowledge(reader: "es", through: try await read(buffer, count))
    }

    /// Reads `count` records; returns the position after the last.
    static func read(_ buffer: DiskBuffer, _ count: Int) async throws -> BufferPosition {
        var left = count
        var end = BufferPosition(segment: 0, offset: 0)
        while left > 0, let b = try await buffer.read(reader: "es", maxRecords: left, maxBytes: 5 << 20) {
            left -= b.records.count
            end = b.end
        }
        return end
    }
}

/// Realistic lines of the formats that `shipper bench` does not generate.
enum Samples {
    static let nginxError = [
        #"2026/11/25 08:15:03 [error] 29#29: *1187 open() "/usr/share/nginx/html/favicon.ico" failed (2: No such file or directory), client: 10.0.1.5, server: news.example.com, request: "GET /favicon.ico HTTP/1.1", host: "news.example.com", referrer: "https://news.example.com/""#,
        #"2026/11/25 08:15:04 [warn] 29#29: *1201 an upstream response is buffered to a temporary file /var/cache/nginx/proxy_temp/1/00/0000000001 while reading upstream, client: 198.51.100.23, server: news.example.com, request: "GET /api/stories?page=2 HTTP/1.1", upstream: "http://10.0.2.7:8080/api/stories?page=2", host: "news.example.com""#,
        #"2026/11/25 08:15:05 [error] 30#30: *1333 connect() failed (111: Connection refused) while connecting to upstream, client: 203.0.113.7, server: news.example.com, request: "POST /api/comments HTTP/1.1", upstream: "http://10.0.2.7:8080/api/comments", host: "news.example.com""#,
        #"2026/11/25 08:15:06 [notice] 1#1: signal 1 (SIGHUP) received from 412, reconfiguring"#,
        #"2026/11/25 08:15:07 [crit] 31#31: *1402 SSL_do_handshake() failed (SSL: error:0A00006C:SSL routines::bad key share) while SSL handshaking, client: 192.0.2.44, server: 0.0.0.0:443"#,
    ]
    static let jettyRequest = [
        #"10.0.1.5 - - [25/Nov/2026:08:15:01 +0000] "GET /api/stories HTTP/1.1" 200 18234"#,
        #"203.0.113.7 - alice [25/Nov/2026:08:15:02 +0000] "POST /api/comments HTTP/1.1" 201 512 "https://news.example.com/news/2026/11/launch.html" "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0""#,
        #"192.168.0.100 - - [25/Nov/2026:08:15:02 +0000] "GET / HTTP/1.1" 200 6789 "-" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36""#,
        #"10.0.1.6 - - [25/Nov/2026:08:15:03 +0000] "GET /api/stories/4711 HTTP/1.1" 404 0 "-" "Go-http-client/1.1""#,
        #"10.0.1.5 - - [25/Nov/2026:08:15:03 +0000] "HEAD /health HTTP/1.1" 200 0 "-" "kube-probe/1.31""#,
    ]
    static let jettyServer = [
        "2026-11-25 08:15:00.012:INFO:oejsh.ContextHandler:main: Started o.e.j.w.WebAppContext@5f2108b5{companynews,/,file:///var/lib/jetty/webapps/ROOT/,AVAILABLE}",
        "2026-11-25 08:15:00.101:INFO:oejs.AbstractConnector:main: Started ServerConnector@34c9c77f{HTTP/1.1,[http/1.1]}{0.0.0.0:8080}",
        "2026-11-25 08:15:01.377:WARN:oejs.HttpChannel:qtp1311544814-17: /api/comments",
        "2026-11-25 08:15:02.551:INFO :c.e.n.StoryService:qtp1311544814-19: loaded 25 stories in 12 ms",
        "2026-11-25 08:15:03.912:WARN:oejs.HttpChannel:qtp1311544814-21: /api/stories/4711\njava.lang.IllegalStateException: story 4711 not found\n\tat com.example.news.StoryService.load(StoryService.java:88)\n\tat com.example.news.StoryServlet.doGet(StoryServlet.java:41)\n\tat javax.servlet.http.HttpServlet.service(HttpServlet.java:687)\n\tat org.eclipse.jetty.servlet.ServletHolder.handle(ServletHolder.java:799)\n\tat org.eclipse.jetty.server.handler.ScopedHandler.handle(ScopedHandler.java:141)\nCaused by: java.sql.SQLException: no row\n\tat com.example.news.Db.query(Db.java:120)\n\t... 4 more",
        "2026-11-25 08:15:04.020:INFO:oejs.Server:main: jetty-9.4.56.v20240826; built: 2024-08-26T17:15:05.868Z; git: ec6782ff5ead824dabdcf47fa98f90a4aedff401; jvm 17.0.13+11",
    ]
    static let json = [
        #"{"level":"info","ts":"2026-11-25T08:15:01.120Z","logger":"api","msg":"request served","method":"GET","path":"/api/stories","status":200,"duration_ms":12.5,"user":{"id":42,"name":"alice"}}"#,
        #"{"level":"warn","ts":"2026-11-25T08:15:02.004Z","logger":"db","msg":"slow query","query":"SELECT * FROM stories WHERE id = $1","duration_ms":812.25,"rows":1}"#,
        #"{"level":"error","ts":"2026-11-25T08:15:03.377Z","logger":"api","msg":"upstream failed","error":"dial tcp 10.0.2.7:8080: connect: connection refused","retry":true,"attempt":3,"tags":["upstream","retry"]}"#,
    ]
}
