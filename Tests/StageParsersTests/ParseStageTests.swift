import ShipperCore
import StageParsers
import Testing

@Suite struct ParseStageTests {
    static let line = #"1.2.3.4 - - [26/Aug/2021:16:49:43 +0000] "GET /a?b=c HTTP/1.1" 200 10 "-" "curl/8""#

    static func stage(keepOriginal: Bool = false) throws -> ParseStage {
        let parsers = [
            ParserSpec(name: "nginx_access", parser: try NginxAccessParser(config: NginxAccessConfig(format: "combined"))),
        ]
        return ParseStage(config: ParseStageConfig(parsers: parsers, keepOriginal: keepOriginal))
    }

    static func event(before: [(String, String)] = []) -> LogEvent {
        var e = LogEvent()
        for (path, value) in before { e.set(FieldPath.intern(path), string: value) }
        e.set(FieldPaths.message, string: line)
        e.set(FieldPaths.stream, string: "stdout")
        return e
    }

    @Test func aConsumedMessageIsRemovedAndTheRestKept() throws {
        var e = Self.event(before: [("service.name", "web")])
        try Self.stage().apply(&e)
        #expect(e[FieldPaths.message] == nil)
        #expect(e.string(FieldPath.intern("service.name")) == "web")
        #expect(e.string(FieldPaths.stream) == "stdout")
        #expect(e.string(FieldPath.intern("url.path")) == "/a")
        #expect(e.hasTag(EventTags.parseFailure) == false)
    }

    /// A parsed field that replaces an earlier conflicting one (`http` before `http.request.method`)
    /// moves the message field: it is still the one removed.
    @Test func theMessageIsRemovedAfterEarlierFieldsWentAway() throws {
        var e = Self.event(before: [("http", "a string the parser's http.* fields replace"), ("url", "x")])
        try Self.stage().apply(&e)
        #expect(e[FieldPaths.message] == nil)
        #expect(e[FieldPath.intern("http")] == nil)
        #expect(e.string(FieldPath.intern("http.request.method")) == "GET")
        #expect(e.string(FieldPaths.stream) == "stdout")
        let paths = e.fields.map(\.path.dotted)
        #expect(Set(paths).count == paths.count)
    }

    @Test func keepOriginalKeepsTheLineInEventOriginal() throws {
        var e = Self.event()
        try Self.stage(keepOriginal: true).apply(&e)
        #expect(e[FieldPaths.message] == nil)
        #expect(e.string(FieldPaths.eventOriginal) == Self.line)
    }

    @Test func noMatchKeepsTheMessageAndTagsIt() throws {
        var e = LogEvent()
        e.set(FieldPaths.message, string: "not an access log line")
        try Self.stage().apply(&e)
        #expect(e.string(FieldPaths.message) == "not an access log line")
        #expect(e.hasTag(EventTags.parseFailure))
        #expect(e.string(FieldPaths.failureReason)?.contains("nginx_access") == true)
    }
}
