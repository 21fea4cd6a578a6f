import InputFormats
import InputTail
import ShipperCore
import StageParsers

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Deterministic Docker json-file nginx access lines with realistic variety (addresses, paths,
/// queries, statuses, sizes, referrers, user agents, X-Forwarded-For lists, escapes).
public enum SampleLogs {
    public static func nginxDockerLines(count: Int, seed: UInt64 = 1) -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        func next() -> UInt64 { rng.next() }
        let methods = ["GET", "GET", "GET", "GET", "POST", "HEAD", "PUT"]
        let paths = [
            "/", "/index.html", "/css/site.css", "/js/app.min.js", "/news/2026/11/launch.html", "/api/stories",
            "/api/comments", "/favicon.ico", "/images/hero-1920.webp", "/feed.xml", "/search",
        ]
        let queries = ["", "", "", "?page=2", "?utm_source=mail&utm_campaign=launch", "?q=swift+log+shipper"]
        let statuses = [200, 200, 200, 200, 200, 304, 301, 404, 500, 201]
        let agents = [
            "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            "curl/8.5.0", "Go-http-client/1.1", "kube-probe/1.31",
        ]
        let referrers = ["-", "-", "https://news.example.com/", "https://www.google.com/", "https://news.example.com/news/2026/11/launch.html"]
        let forwarded = ["-", "-", "-", "198.51.100.23", "198.51.100.23, 10.0.0.2"]
        var out: [UInt8] = []
        out.reserveCapacity(count * 300)
        var seconds = 1_764_058_500
        for i in 0..<count {
            if next() % 4 == 0 { seconds += 1 }
            let r = next()
            let ip = "\(10 + r % 200).\(r >> 8 % 256).\(r >> 16 % 256).\(r >> 24 % 250 + 1)"
            let user = r % 17 == 0 ? "alice" : "-"
            let (y, m, d) = Civil.civil(fromDays: Int64(seconds / 86_400))
            let s = seconds % 86_400
            let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
            func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
            let local = "\(two(d))/\(months[m - 1])/\(y):\(two(s / 3600)):\(two(s / 60 % 60)):\(two(s % 60)) +0000"
            let req = "\(methods[Int(next() % 7)]) \(paths[Int(next() % 11)])\(queries[Int(next() % 6)]) HTTP/1.1"
            let status = statuses[Int(next() % 10)]
            let bytes = status == 304 ? 0 : Int(next() % 50_000)
            // The access line as nginx writes it, then escaped into Docker's json-file "log" string.
            let line =
                "\(ip) - \(user) [\(local)] \\\"\(req)\\\" \(status) \(bytes) \\\"\(referrers[Int(next() % 5)])\\\" \\\"\(agents[Int(next() % 6)])\\\" \\\"\(forwarded[Int(next() % 5)])\\\""
            let nanos = (i * 7919) % 1_000_000_000
            let ns = String(nanos)
            let time = "\(y)-\(two(m))-\(two(d))T\(two(s / 3600)):\(two(s / 60 % 60)):\(two(s % 60)).\(String(repeating: "0", count: 9 - ns.count))\(ns)Z"
            out.append(contentsOf: "{\"log\":\"\(line)\\n\",\"stream\":\"stdout\",\"time\":\"\(time)\"}\n".utf8)
        }
        return out
    }
}

/// The per-core speed of the hot path: Docker json-file nginx lines decoded, parsed and encoded
/// back to JSON on one thread, next to the physical limit measured on the same bytes in the same
/// run (finding the newlines with memchr, as `wc -l` does).
public enum ThroughputBenchmark {
    public struct Result: Sendable {
        public var lines: Int
        public var inputBytes: Int
        public var outputBytes: Int
        public var seconds: Double
        public var newlineScanSeconds: Double
        public var failures: Int
        /// Heap allocations in the measured loop, when the allocation counter is preloaded.
        public var allocations: Int?

        public var linesPerSecond: Double { Double(lines) / seconds }
        public var nanosecondsPerLine: Double { seconds * 1e9 / Double(lines) }

        public var report: String {
            func f(_ v: Double, _ digits: Int = 0) -> String {
                var s = String(v.rounded(.toNearestOrEven))
                if digits > 0 {
                    let scale = pow(10, Double(digits))
                    s = String((v * scale).rounded() / scale)
                } else if s.hasSuffix(".0") {
                    s.removeLast(2)
                }
                return s
            }
            return """
                decode + parse + encode, one core: \(lines) docker json-file nginx lines, \(inputBytes / 1_048_576) MiB in, \(outputBytes / 1_048_576) MiB out
                  \(f(linesPerSecond)) lines/s, \(f(nanosecondsPerLine, 1)) ns/line, \(f(Double(inputBytes) / seconds / 1_048_576)) MiB/s, parse failures: \(failures)
                  physical limit (memchr newline scan of the same bytes): \(f(Double(inputBytes) / newlineScanSeconds / 1_048_576)) MiB/s
                  allocations per line: \(allocations.map { f(Double($0) / Double(lines), 2) } ?? "not counted (preload Benchmarks/malloc-count.c, see Benchmarks/bench.sh)")
                """
        }
    }

    /// The block `shipper run` adds to each event of the benchmark's container (Swarm service
    /// `bench_nginx`): its metadata and `host.name`.
    static func metadataBlock() throws -> FieldBlock {
        let id = String(repeating: "a", count: 64)
        let config = #"{"ID":"\#(id)","Name":"/bench_nginx.1.x","Config":{"Image":"nginx:1.27","Labels":{"com.docker.swarm.service.name":"bench_nginx"}}}"#
        let meta = try ContainerMetadata(configJSON: Array(config.utf8), id: id)
        return FieldBlock(meta.fieldBlock, FieldBlock([(PipelineWorker.hostNamePath, "node-1")]))
    }

    /// Runs the benchmark on `lines` generated lines, `rounds` times, and returns the fastest round.
    /// `metadata`: each event gets a container's metadata and `host.name` after decoding, as
    /// `shipper run` adds them to the events of a Docker source.
    public static func run(lines: Int, rounds: Int = 3, metadata: Bool = false) throws -> Result {
        let block = metadata ? try metadataBlock() : nil
        let input = SampleLogs.nginxDockerLines(count: lines)
        let parse = ParseStage(config: ParseStageConfig(parsers: [
            ParserSpec(name: "nginx_access", parser: try NginxAccessParser(config: try decodeNginxConfig(format: "main"))),
            ParserSpec(name: "nginx_access", parser: try NginxAccessParser(config: try decodeNginxConfig(format: "combined"))),
        ]))
        var best: Result?
        for _ in 0..<max(1, rounds) {
            // Physical limit: find every newline.
            var newlines = 0
            let scanStart = cpuTime()
            input.withUnsafeBytes { buf in
                var p = buf.baseAddress!
                let end = p + buf.count
                while let hit = memchr(p, 0x0A, end - p) {
                    newlines += 1
                    p = UnsafeRawPointer(hit) + 1
                }
            }
            let scanSeconds = cpuTime() - scanStart
            precondition(newlines == lines)

            // Room for the parsed fields, as `shipper run` gives its decoders.
            // Events are given back to the decoder's pool once encoded, as `shipper run` does.
            let pool = EventPool()
            var decoder = DockerJSONDecoder(
                options: LineDecoderOptions(extraArenaBytes: 64 + (block?.bytes.count ?? 0), extraFields: 24 + (block?.fields.count ?? 0), pool: pool))
            var events: [LogEvent] = []
            events.reserveCapacity(1024)
            var output: [UInt8] = []
            output.reserveCapacity(1 << 20)
            var outputBytes = 0
            var encoder = EventEncoder()
            var failures = 0
            var count = 0
            let now = Timestamp(nanoseconds: 0)
            let allocationsBefore = allocationCount()
            let start = cpuTime()
            input.withUnsafeBytes { buf in
                var offset = 0
                while offset < buf.count {
                    guard let hit = memchr(buf.baseAddress! + offset, 0x0A, buf.count - offset) else { break }
                    let nl = UnsafeRawPointer(hit) - buf.baseAddress!
                    let decoded = events.count
                    decoder.decode(
                        UnsafeRawBufferPointer(rebasing: buf[offset..<nl]),
                        origin: LineOrigin(source: 1, offset: Int64(offset), endOffset: Int64(nl + 1)), now: now, into: &events)
                    if let block { for i in decoded..<events.count { events[i].add(block) } }
                    offset = nl + 1
                    if events.count >= 1024 {
                        flush(&events, pool, parse, &encoder, &output, &outputBytes, &failures, &count)
                    }
                }
            }
            flush(&events, pool, parse, &encoder, &output, &outputBytes, &failures, &count)
            let seconds = cpuTime() - start
            let allocationsAfter = allocationCount()
            let r = Result(
                lines: count, inputBytes: input.count, outputBytes: outputBytes, seconds: seconds, newlineScanSeconds: scanSeconds,
                failures: failures, allocations: allocationsBefore.flatMap { b in allocationsAfter.map { $0 - b } })
            if best == nil || r.seconds < best!.seconds { best = r }
        }
        return best!
    }

    private static func flush(
        _ events: inout [LogEvent], _ pool: EventPool, _ parse: ParseStage, _ encoder: inout EventEncoder, _ output: inout [UInt8], _ outputBytes: inout Int, _ failures: inout Int,
        _ count: inout Int
    ) {
        for i in events.indices { parse.apply(&events[i]) }
        events.withEachEvent { event in
            if event.index(of: FieldPaths.tags) != nil { failures += 1 }
            encoder.encode(event, into: &output)
            output.append(0x0A)
        }
        count += events.count
        outputBytes += output.count
        output.removeAll(keepingCapacity: true)
        pool.recycle(&events)
    }

    static func decodeNginxConfig(format: String) throws -> NginxAccessConfig {
        try NginxAccessConfig(from: FormatOnlyDecoder(format: format))
    }

    /// The process's heap allocation count, when Benchmarks/malloc-count.c is preloaded.
    static func allocationCount() -> Int? {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "shipper_allocation_count") else { return nil }
        typealias Counter = @convention(c) () -> UInt
        return Int(unsafeBitCast(symbol, to: Counter.self)())
    }

    /// Thread CPU time in seconds.
    public static func cpuTime() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// Decodes `{format: X}` for a parser config, without YAML.
struct FormatOnlyDecoder: Decoder {
    let format: String
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(Container<Key>(format: format))
    }
    func unkeyedContainer() throws -> any UnkeyedDecodingContainer { throw ConfigValueError("unsupported") }
    func singleValueContainer() throws -> any SingleValueDecodingContainer { throw ConfigValueError("unsupported") }

    struct Container<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let format: String
        var codingPath: [any CodingKey] { [] }
        var allKeys: [Key] { [Key(stringValue: "format")].compactMap { $0 } }
        func contains(_ key: Key) -> Bool { key.stringValue == "format" }
        func decodeNil(forKey key: Key) throws -> Bool { key.stringValue != "format" }
        func decode(_ type: String.Type, forKey key: Key) throws -> String {
            guard key.stringValue == "format" else { throw ConfigValueError("missing \(key.stringValue)") }
            return format
        }
        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            if key.stringValue == "format", let v = format as? T { return v }
            throw ConfigValueError("missing \(key.stringValue)")
        }
        func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
            key.stringValue == "format" ? format as? T : nil
        }
        func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
            key.stringValue == "format" ? format : nil
        }
        func nestedContainer<N: CodingKey>(keyedBy type: N.Type, forKey key: Key) throws -> KeyedDecodingContainer<N> {
            throw ConfigValueError("unsupported")
        }
        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { throw ConfigValueError("unsupported") }
        func superDecoder() throws -> any Decoder { FormatOnlyDecoder(format: format) }
        func superDecoder(forKey key: Key) throws -> any Decoder { FormatOnlyDecoder(format: format) }
    }
}
