import ShipperCore

extension SampleLogs {
    /// A generated Jetty container log (``SampleLogs/jettyDockerLines(count:seed:)``).
    public struct JettySample: Sendable {
        /// The Docker json-file lines, each ending in `\n`.
        public var bytes: [UInt8]
        /// Physical (Docker) lines in ``bytes``.
        public var lines: Int
        /// Log events after Java multi-line grouping (`multiline` `mode: java`): the request log
        /// lines plus the server log events, a stack trace counting as part of the event before it.
        public var events: Int
        /// Request log lines (on stdout), one event each.
        public var requestLines: Int
        /// Server log events (on stderr), with or without a stack trace.
        public var serverEvents: Int
        /// Server log events followed by a stack trace (the last one may be cut short by `count`).
        public var stackTraces: Int
    }

    /// Deterministic Docker json-file lines of a Jetty container: the request log on stdout
    /// (extended NCSA, Jetty's `CustomRequestLog` default) mixed with the server log on stderr, in
    /// both layouts `jetty_server` reads (Jetty 12 `jetty-slf4j-impl`, level padded to five
    /// characters, and Jetty 9 `StdErrLog`), where about one server event in ten carries a Java
    /// stack trace (`Caused by:`, `... N more`, a multi-line exception message) written, as a
    /// container writes it, as one Docker line per physical line.
    ///
    /// `count` is the number of Docker lines; a stack trace that would go past it is cut short
    /// (the event count stays exact). The same `seed` gives the same bytes.
    public static func jettyDockerLines(count: Int, seed: UInt64 = 1) -> JettySample {
        var generator = JettyLogGenerator(seed: seed, count: count)
        generator.generate()
        return JettySample(
            bytes: generator.out, lines: generator.lines, events: generator.requestLines + generator.serverEvents,
            requestLines: generator.requestLines, serverEvents: generator.serverEvents, stackTraces: generator.stackTraces)
    }
}

/// Builds ``SampleLogs/JettySample`` (tooling, not the hot path: Strings are fine here).
private struct JettyLogGenerator {
    let count: Int
    var random: SplitMix64
    var out: [UInt8] = []
    var lines = 0
    var requestLines = 0
    var serverEvents = 0
    var stackTraces = 0
    /// The time of the current event, in milliseconds since 1970 (UTC).
    var millis: Int64 = 1_764_058_500_000

    init(seed: UInt64, count: Int) {
        self.random = SplitMix64(seed: seed)
        self.count = max(0, count)
        out.reserveCapacity(self.count * 200)
    }

    mutating func next() -> UInt64 { random.next() }

    mutating func pick<T>(_ values: [T]) -> T { values[Int(next() % UInt64(values.count))] }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

    var full: Bool { lines >= count }

    mutating func generate() {
        while !full {
            millis += Int64(below(40))
            if below(100) < 80 {
                request()
            } else {
                server()
            }
        }
    }

    // MARK: Docker json-file framing

    /// Appends one Docker json-file line holding `text` (one physical line, without its `\n`).
    mutating func docker(_ text: String, stream: StaticString) {
        out.append(contentsOf: #"{"log":""#.utf8)
        for b in text.utf8 {
            switch b {
            case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
            case 0x09: out.append(contentsOf: #"\t"#.utf8)
            case 0x0A: out.append(contentsOf: #"\n"#.utf8)
            case 0x0D: out.append(contentsOf: #"\r"#.utf8)
            case ..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                out.append(contentsOf: #"\u00"#.utf8)
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 15)])
            default: out.append(b)
            }
        }
        out.append(contentsOf: #"\n","stream":""#.utf8)
        out.append(contentsOf: UnsafeRawBufferPointer(start: stream.utf8Start, count: stream.utf8CodeUnitCount))
        // Docker's own timestamp: the event's millisecond plus a sub-millisecond part.
        let nanos = Int((millis % 1000) * 1_000_000) + (lines &* 7919) % 1_000_000
        let (date, time) = civil(millis)
        out.append(contentsOf: "\",\"time\":\"\(date)T\(time).\(pad(nanos, 9))Z\"}\n".utf8)
        lines += 1
    }

    func pad(_ v: Int, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    /// (`2026-11-25`, `08:15:02`) of a time in milliseconds.
    func civil(_ ms: Int64) -> (date: String, time: String) {
        let seconds = ms / 1000
        let (y, m, d) = Civil.civil(fromDays: seconds / 86_400)
        let s = Int(seconds % 86_400)
        return ("\(y)-\(pad(m, 2))-\(pad(d, 2))", "\(pad(s / 3600, 2)):\(pad(s / 60 % 60, 2)):\(pad(s % 60, 2))")
    }

    // MARK: Request log (stdout)

    static let methods = ["GET", "GET", "GET", "GET", "GET", "POST", "POST", "HEAD", "PUT", "DELETE"]
    static let paths = [
        "/", "/api/stories", "/api/stories/4711", "/api/comments", "/api/comments?story=4711", "/static/app.js",
        "/static/site.css", "/favicon.ico", "/health", "/api/search?q=jetty+logs&page=2", "/login", "/admin/dashboard",
    ]
    static let statuses = [200, 200, 200, 200, 200, 200, 304, 302, 404, 500, 201, 401, 403]
    static let agents = [
        "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        "curl/8.5.0", "kube-probe/1.31", "Apache-HttpClient/5.3 (Java/21.0.5)",
    ]
    static let referrers = ["-", "-", "-", "https://news.example.com/", "https://news.example.com/stories/4711", "https://www.google.com/"]
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    mutating func request() {
        let r = next()
        let client: String
        switch r % 20 {
        case 0: client = "2001:db8:85a3::8a2e:370:\(String(r >> 8 % 0xffff, radix: 16))"
        case 1: client = "127.0.0.1"
        default: client = "\(10 + r % 200).\(r >> 8 % 256).\(r >> 16 % 256).\(r >> 24 % 250 + 1)"
        }
        let user = r >> 32 % 13 == 0 ? "alice" : "-"
        let seconds = millis / 1000
        let (y, m, d) = Civil.civil(fromDays: seconds / 86_400)
        let s = Int(seconds % 86_400)
        let t = "\(pad(d, 2))/\(Self.months[m - 1])/\(y):\(pad(s / 3600, 2)):\(pad(s / 60 % 60, 2)):\(pad(s % 60, 2)) +0000"
        let status = pick(Self.statuses)
        let bytes = status == 304 ? 0 : below(80_000)
        let line = "\(client) - \(user) [\(t)] \"\(pick(Self.methods)) \(pick(Self.paths)) HTTP/1.1\" \(status) \(bytes) \"\(pick(Self.referrers))\" \"\(pick(Self.agents))\""
        docker(line, stream: "stdout")
        requestLines += 1
    }

    // MARK: Server log (stderr)

    /// The server log prefix in the Jetty 12 (`INFO :`) or Jetty 9 (`INFO:`) layout.
    mutating func header(level: String, logger: String, thread: String, message: String) -> String {
        let (date, time) = civil(millis)
        let stamp = "\(date) \(time).\(pad(Int(millis % 1000), 3))"
        if below(3) == 0 {
            // StdErrLog knows INFO, WARN and DBUG (debug); errors are logged as WARN.
            let level9 = level == "DEBUG" ? "DBUG" : level == "ERROR" ? "WARN" : level
            return "\(stamp):\(level9):\(logger):\(thread): \(message)"
        }
        let padded = level.count < 5 ? level + String(repeating: " ", count: 5 - level.count) : level
        return "\(stamp):\(padded):\(logger):\(thread): \(message)"
    }

    mutating func workerThread() -> String {
        switch below(12) {
        case 0: return "qtp1989972246-14-acceptor-0@5b1d9c1a-ServerConnector@34c9c77f{HTTP/1.1, (http/1.1)}{0.0.0.0:8080}"
        case 1: return "Scheduler-1231472283-1"
        default: return "qtp1989972246-\(15 + below(40))"
        }
    }

    mutating func server() {
        serverEvents += 1
        if below(10) == 0 {
            stackTrace()
            return
        }
        let thread = workerThread()
        let line: String
        switch below(9) {
        case 0:
            line = header(level: "INFO", logger: "oejs.Server", thread: "main", message: "Started oejs.Server@6f7da4c2{STARTING}[12.0.16,sto=0] @\(2000 + below(900))ms")
        case 1:
            line = header(
                level: "INFO", logger: "oejs.AbstractConnector", thread: "main",
                message: "Started ServerConnector@34c9c77f{HTTP/1.1, (http/1.1)}{0.0.0.0:8080}")
        case 2:
            line = header(
                level: "INFO", logger: "oejsh.ContextHandler", thread: "main",
                message: "Started oeje10w.WebAppContext@4f8e5cde{companynews,/,b=file:///var/lib/jetty/webapps/companynews/,a=AVAILABLE,h=oeje10s.SessionHandler@3a5ecce3{STARTED}}")
        case 3:
            line = header(
                level: "INFO", logger: "c.e.c.StoryService", thread: thread,
                message: "refreshed \(below(400)) stories in \(below(90))ms (cache hit ratio 0.\(below(100)))")
        case 4:
            line = header(
                level: "INFO", logger: "c.e.c.CommentController", thread: thread,
                message: "comment \(below(1_000_000)) posted on story \(below(10_000)) by user \"reader\(below(5000))\"")
        case 5:
            line = header(
                level: "WARN", logger: "c.e.c.RateLimiter", thread: thread,
                message: "client 198.51.100.\(below(255)) over limit: \(100 + below(100)) requests in 60s, path=/api/comments")
        case 6:
            line = header(level: "WARN", logger: "oeji.IdleTimeout", thread: "Scheduler-1231472283-1", message: "Idle timeout expired: 30000/30000 ms")
        case 7:
            line = header(
                level: "DEBUG", logger: "oejs.HttpChannelState", thread: thread,
                message: "onRequest HttpChannelState@\(String(next() & 0xffff_ffff, radix: 16)){idle,req=IDLE,res=OPEN,err=null}")
        default:
            line = header(level: "ERROR", logger: "c.e.c.MailNotifier", thread: thread, message: "could not reach smtp.example.com:587 [attempt \(1 + below(5))/5], will retry")
        }
        docker(line, stream: "stderr")
    }

    /// The frames of a servlet request in Jetty 12 (ee10), innermost first.
    static let servletFrames = [
        "jakarta.servlet.http.HttpServlet.service(HttpServlet.java:527)",
        "jakarta.servlet.http.HttpServlet.service(HttpServlet.java:614)",
        "org.eclipse.jetty.ee10.servlet.ServletHolder.handle(ServletHolder.java:736)",
        "org.eclipse.jetty.ee10.servlet.ServletHandler$ChainEnd.doFilter(ServletHandler.java:1614)",
    ]
    static let filterFrames = [
        "com.example.companynews.AuthFilter.doFilter(AuthFilter.java:44)",
        "org.eclipse.jetty.ee10.servlet.FilterHolder.doFilter(FilterHolder.java:205)",
        "org.eclipse.jetty.ee10.servlet.ServletHandler$Chain.doFilter(ServletHandler.java:1586)",
        "org.eclipse.jetty.ee10.servlets.CrossOriginFilter.handle(CrossOriginFilter.java:271)",
        "org.eclipse.jetty.ee10.servlets.CrossOriginFilter.doFilter(CrossOriginFilter.java:235)",
        "org.eclipse.jetty.ee10.servlet.FilterHolder.doFilter(FilterHolder.java:205)",
        "org.eclipse.jetty.ee10.servlet.ServletHandler$Chain.doFilter(ServletHandler.java:1586)",
    ]
    static let jettyFrames = [
        "org.eclipse.jetty.ee10.servlet.ServletHandler$MappedServlet.handle(ServletHandler.java:1547)",
        "org.eclipse.jetty.ee10.servlet.ServletChannel.dispatch(ServletChannel.java:824)",
        "org.eclipse.jetty.ee10.servlet.ServletChannel.handle(ServletChannel.java:436)",
        "org.eclipse.jetty.ee10.servlet.ServletHandler.handle(ServletHandler.java:464)",
        "org.eclipse.jetty.security.SecurityHandler.handle(SecurityHandler.java:575)",
        "org.eclipse.jetty.ee10.servlet.SessionHandler.handle(SessionHandler.java:717)",
        "org.eclipse.jetty.server.handler.ContextHandler.handle(ContextHandler.java:1060)",
        "org.eclipse.jetty.server.handler.gzip.GzipHandler.handle(GzipHandler.java:611)",
        "org.eclipse.jetty.server.Server.handle(Server.java:182)",
        "org.eclipse.jetty.server.internal.HttpChannelState$HandlerInvoker.run(HttpChannelState.java:662)",
        "org.eclipse.jetty.server.internal.HttpConnection.onFillable(HttpConnection.java:418)",
        "org.eclipse.jetty.io.AbstractConnection$ReadCallback.succeeded(AbstractConnection.java:322)",
        "org.eclipse.jetty.io.FillInterest.fillable(FillInterest.java:99)",
        "org.eclipse.jetty.io.SelectableChannelEndPoint$1.run(SelectableChannelEndPoint.java:53)",
        "org.eclipse.jetty.util.thread.strategy.AdaptiveExecutionStrategy.runTask(AdaptiveExecutionStrategy.java:480)",
        "org.eclipse.jetty.util.thread.strategy.AdaptiveExecutionStrategy.consumeTask(AdaptiveExecutionStrategy.java:443)",
        "org.eclipse.jetty.util.thread.strategy.AdaptiveExecutionStrategy.tryProduce(AdaptiveExecutionStrategy.java:293)",
        "org.eclipse.jetty.util.thread.strategy.AdaptiveExecutionStrategy.run(AdaptiveExecutionStrategy.java:201)",
        "org.eclipse.jetty.util.thread.ReservedThreadExecutor$ReservedThread.run(ReservedThreadExecutor.java:311)",
        "org.eclipse.jetty.util.thread.QueuedThreadPool.runJob(QueuedThreadPool.java:979)",
        "org.eclipse.jetty.util.thread.QueuedThreadPool$Runner.doRunJob(QueuedThreadPool.java:1209)",
        "org.eclipse.jetty.util.thread.QueuedThreadPool$Runner.run(QueuedThreadPool.java:1164)",
        "java.base/java.lang.Thread.run(Thread.java:1583)",
    ]

    /// The frames below the application's own: servlet, a random part of the filter chain, Jetty.
    mutating func requestFrames() -> [String] {
        Self.servletFrames + Self.filterFrames.prefix(below(Self.filterFrames.count + 1)) + Self.jettyFrames.suffix(from: below(4))
    }

    /// A WARN/ERROR server line followed by a stack trace, one Docker line per physical line.
    mutating func stackTrace() {
        stackTraces += 1
        let thread = "qtp1989972246-\(15 + below(40))"
        var trace: [String] = []
        let head: String
        switch below(4) {
        case 0:
            head = header(level: "WARN", logger: "oejs.HttpChannel", thread: thread, message: "/api/stories/\(below(10_000))")
            let outer = ["com.example.companynews.StoryCache.get(StoryCache.java:88)", "com.example.companynews.StoryService.find(StoryService.java:41)",
                         "com.example.companynews.StoryController.doGet(StoryController.java:57)"] + requestFrames()
            trace.append("java.lang.IllegalStateException: story cache not ready")
            trace += outer.map { "\tat " + $0 }
            trace.append("Caused by: java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, request timed out after 30000ms (total=10, active=10, idle=0, waiting=\(below(20)))")
            trace += [
                "com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:686)",
                "com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:179)",
                "com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:144)",
                "com.zaxxer.hikari.HikariDataSource.getConnection(HikariDataSource.java:99)",
                "com.example.companynews.StoryRepository.load(StoryRepository.java:52)",
                "com.example.companynews.StoryCache.refresh(StoryCache.java:120)",
                "com.example.companynews.StoryCache.get(StoryCache.java:84)",
            ].map { "\tat " + $0 }
            trace.append("\t... \(outer.count - 1) more")
        case 1:
            head = header(level: "WARN", logger: "oejs.HttpChannel", thread: thread, message: "/api/search?q=")
            trace.append("java.lang.NullPointerException: Cannot invoke \"String.length()\" because \"query\" is null")
            trace += (["com.example.companynews.SearchController.normalize(SearchController.java:91)",
                       "com.example.companynews.SearchController.doGet(SearchController.java:33)"] + requestFrames()).map { "\tat " + $0 }
        case 2:
            head = header(level: "WARN", logger: "oejs.Response", thread: thread, message: "writeError: status=500, message=null, response=ServletResponse@\(String(next() & 0xfff_ffff, radix: 16))")
            let outer = [
                "org.eclipse.jetty.io.ChannelEndPoint.flush(ChannelEndPoint.java:291)",
                "org.eclipse.jetty.io.WriteFlusher.flush(WriteFlusher.java:422)",
                "org.eclipse.jetty.io.WriteFlusher.write(WriteFlusher.java:277)",
                "org.eclipse.jetty.io.AbstractEndPoint.write(AbstractEndPoint.java:381)",
                "org.eclipse.jetty.server.internal.HttpConnection$SendCallback.process(HttpConnection.java:822)",
                "org.eclipse.jetty.util.IteratingCallback.processing(IteratingCallback.java:262)",
                "org.eclipse.jetty.util.IteratingCallback.iterate(IteratingCallback.java:243)",
            ] + Self.jettyFrames.suffix(from: 8 + below(6))
            trace.append("org.eclipse.jetty.io.EofException")
            trace += outer.map { "\tat " + $0 }
            trace.append("Caused by: java.io.IOException: Broken pipe")
            trace += [
                "java.base/sun.nio.ch.SocketDispatcher.write0(Native Method)",
                "java.base/sun.nio.ch.SocketDispatcher.write(SocketDispatcher.java:62)",
                "java.base/sun.nio.ch.IOUtil.writeFromNativeBuffer(IOUtil.java:137)",
                "java.base/sun.nio.ch.IOUtil.write(IOUtil.java:102)",
                "java.base/sun.nio.ch.SocketChannelImpl.write(SocketChannelImpl.java:566)",
                "org.eclipse.jetty.io.ChannelEndPoint.flush(ChannelEndPoint.java:269)",
            ].map { "\tat " + $0 }
            trace.append("\t... \(outer.count - 1) more")
        default:
            head = header(level: "ERROR", logger: "c.e.c.CommentController", thread: thread, message: "rejected comment for story \(below(10_000))")
            let outer = ["com.example.companynews.CommentController.doPost(CommentController.java:71)"] + requestFrames()
            trace.append("jakarta.servlet.ServletException: request body is not valid JSON")
            trace += outer.map { "\tat " + $0 }
            trace.append("Caused by: com.fasterxml.jackson.core.JsonParseException: Unexpected character ('}' (code 125)): was expecting double-quote to start field name")
            trace.append(" at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: \(2 + below(200))]")
            trace += [
                "com.fasterxml.jackson.core.JsonParser._constructError(JsonParser.java:2584)",
                "com.fasterxml.jackson.core.base.ParserMinimalBase._reportError(ParserMinimalBase.java:749)",
                "com.fasterxml.jackson.core.base.ParserMinimalBase._reportUnexpectedChar(ParserMinimalBase.java:673)",
                "com.fasterxml.jackson.core.json.ReaderBasedJsonParser._handleOddName(ReaderBasedJsonParser.java:1921)",
                "com.fasterxml.jackson.core.json.ReaderBasedJsonParser.nextFieldName(ReaderBasedJsonParser.java:1005)",
                "com.fasterxml.jackson.databind.deser.BeanDeserializer.vanillaDeserialize(BeanDeserializer.java:317)",
                "com.fasterxml.jackson.databind.ObjectMapper._readMapAndClose(ObjectMapper.java:4917)",
                "com.fasterxml.jackson.databind.ObjectMapper.readValue(ObjectMapper.java:3860)",
                "com.example.companynews.CommentController.doPost(CommentController.java:68)",
            ].map { "\tat " + $0 }
            trace.append("\t... \(outer.count - 1) more")
        }
        docker(head, stream: "stderr")
        for line in trace where !full {
            docker(line, stream: "stderr")
        }
    }
}
