import ShipperConfig
import ShipperCore
import StageTransforms
import Testing

/// Builds a stage config from YAML through the real config decoder.
func decode<T: Decodable>(_ type: T.Type, _ yaml: String) throws -> T {
    let c = try ConfigLoader.parse(yaml: "outputs:\n  x:\n    type: t\n" + yaml.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n") + "\n", file: "t.yaml")
    return try c.outputs.items[0].value.decode(T.self)
}

func event(_ json: String) throws -> LogEvent {
    var e = LogEvent()
    let v = try JSONScanner.parseDocument(json)
    guard case .object(let members) = v else { return e }
    for m in members { e.set(FieldPath.intern(m.key), json: m.value) }
    return e
}

@Suite struct ModifyStageTests {
    @Test func renameCopySetRemoveAddTagsInOrder() throws {
        let stage = try ModifyStage(config: decode(ModifyConfig.self, """
            rename: {log: message, attrs: labels}
            copy: {service.name: event.dataset}
            set: {event.module: nginx, labels.site: "%{container.name}-web", n: 3, ok: true}
            remove: [stream, missing]
            add_tags: [web]
            """))
        var e = try event(#"{"log":"hi","attrs":{"a":"1","b":"2"},"service":{"name":"static"},"container":{"name":"c1"},"stream":"stdout"}"#)
        stage.apply(&e)
        #expect(JSONWriter.string(e) == #"{"service":{"name":"static"},"container":{"name":"c1"},"message":"hi","labels":{"a":"1","b":"2","site":"c1-web"},"event":{"dataset":"static","module":"nginx"},"n":3,"ok":true,"tags":["web"]}"#)
    }

    @Test func missingTemplateFieldRendersEmpty() throws {
        let stage = try ModifyStage(config: decode(ModifyConfig.self, "set: {x: \"a-%{nope}-b\"}"))
        var e = LogEvent()
        stage.apply(&e)
        #expect(e.string(FieldPath.intern("x")) == "a--b")
    }

    @Test(arguments: ["{}", "set: [1]", "set: {x: \"%{unclosed\"}", "rename: {a: [b]}", "frobnicate: 1"])
    func refusesBadOptions(yaml: String) {
        #expect(throws: (any Error).self) { try ModifyStage(config: decode(ModifyConfig.self, yaml)) }
    }
}

@Suite struct FilterStageTests {
    @Test(arguments: [
        ("drop: {url.path: {prefix: /healthz}}", #"{"url":{"path":"/healthz/live"}}"#, false),
        ("drop: {url.path: {prefix: /healthz}}", #"{"url":{"path":"/index.html"}}"#, true),
        ("keep: {http.response.status_code: {in: [500, 502]}}", #"{"http":{"response":{"status_code":502}}}"#, true),
        ("keep: {http.response.status_code: {in: [500, 502]}}", #"{"http":{"response":{"status_code":200}}}"#, false),
        ("keep: {tags: {contains: _parse}}", #"{"tags":["x","_parse_failure"]}"#, true),
        ("keep: {tags: _parse_failure}", #"{"tags":["x","_parse_failure"]}"#, true),
        ("keep: {error: {exists: true}}", #"{"error":{"type":"X"}}"#, true),
        ("keep: {error: {exists: false}}", #"{"error":{"type":"X"}}"#, false),
        ("keep: {any: [{a: 1}, {b: 2}]}", #"{"b":2}"#, true),
        ("keep: {not: {a: 1}}", #"{"a":1}"#, false),
        ("keep: {a: {not_equals: x}}", #"{}"#, true),
        ("keep: {a: {suffix: .log, contains: var}}", #"{"a":"/var/x.log"}"#, true),
        ("keep: {a: {matches: '^[0-9]+$'}}", #"{"a":"123"}"#, true),
        ("keep: {a: {matches: '^[0-9]+$'}}", #"{"a":"12a"}"#, false),
        ("keep: {a: true}", #"{"a":true}"#, true),
        ("keep: {a: [x, y]}", #"{"a":"y"}"#, true),
    ])
    func keepsOrDrops(yaml: String, json: String, kept: Bool) throws {
        var stage = FilterStage(config: try decode(FilterConfig.self, yaml))
        var out: [LogEvent] = []
        stage.process(try event(json), into: &out)
        #expect(out.count == (kept ? 1 : 0))
        #expect(stage.discarded == (kept ? 0 : 1))
        // With a spent list, a dropped event goes there (for the worker's event pool).
        var spent: [LogEvent] = []
        out.removeAll()
        stage.process(try event(json), into: &out, spent: &spent)
        #expect(out.count == (kept ? 1 : 0) && spent.count == (kept ? 0 : 1))
        #expect(stage.discarded == (kept ? 0 : 2))
        if let dropped = spent.first { #expect(JSONWriter.string(dropped) == JSONWriter.string(try event(json))) }
    }

    @Test(arguments: ["{}", "keep: {a: 1}\ndrop: {b: 1}", "keep: {a: {exists: maybe}}"])
    func refusesBadOptions(yaml: String) {
        #expect(throws: (any Error).self) { try decode(FilterConfig.self, yaml) }
    }
}

@Suite struct TimestampStageTests {
    @Test(arguments: [
        ("formats: ['%d/%b/%Y:%H:%M:%S %z']", "10/Oct/2000:13:55:36 -0700", "2000-10-10T20:55:36.000Z"),
        ("formats: [rfc3339]", "2019-04-09T15:04:05.123456789Z", "2019-04-09T15:04:05.123456789Z"),
        ("formats: [rfc3339]", "2019-04-09 15:04:05+02:00", "2019-04-09T13:04:05.000Z"),
        ("formats: ['%Y-%m-%d %H:%M:%S.%f']\ntimezone: Europe/Berlin", "2018-06-01 12:00:00.250", "2018-06-01T10:00:00.250Z"),
        ("formats: ['%Y/%m/%d %H:%M:%S']\ntimezone: '-02:00'", "2016/10/25 14:49:34", "2016-10-25T16:49:34.000Z"),
        ("formats: [unix_ms]", "1554822245123", "2019-04-09T15:04:05.123Z"),
        ("formats: [unix]", "1554822245.5", "2019-04-09T15:04:05.500Z"),
        ("formats: ['%b %e %H:%M:%S %Y']", "Jun  1 08:01:02 2021", "2021-06-01T08:01:02.000Z"),
        ("formats: ['%I:%M:%S %p %F']", "01:02:03 PM 2021-06-01", "2021-06-01T13:02:03.000Z"),
        ("formats: ['%Y-%j']", "2020-366", "2020-12-31T00:00:00.000Z"),
        ("formats: [unix_ms, rfc3339]", "2019-04-09T15:04:05Z", "2019-04-09T15:04:05.000Z"),
    ])
    func parses(yaml: String, input: String, expected: String) throws {
        let stage = TimestampStage(config: try decode(TimestampConfig.self, "field: t\n" + yaml))
        var e = LogEvent()
        e.set(FieldPath.intern("t"), string: input)
        stage.apply(&e)
        #expect(e.text(FieldPaths.timestamp) == expected)
        #expect(e[FieldPath.intern("t")] == nil)
    }

    @Test(arguments: ["2019-02-30T00:00:00Z", "yesterday", "", "2019-04-09T25:00:00Z", "99999999999999999999"])
    func unparseableValuesAreTaggedAndKept(input: String) throws {
        let stage = TimestampStage(config: try decode(TimestampConfig.self, "field: t\nformats: [rfc3339, unix]"))
        var e = LogEvent()
        e.set(FieldPath.intern("t"), string: input)
        stage.apply(&e)
        #expect(e.hasTag(EventTags.timestampFailure))
        #expect(e.string(FieldPath.intern("t")) == input)
        #expect(e[FieldPaths.timestamp] == nil)
    }

    @Test(arguments: ["field: t\nformats: ['%Q']", "field: t\ntimezone: Mars/Olympus", "formats: [rfc3339]", "field: t\nformats: ['%']"])
    func refusesBadOptions(yaml: String) {
        #expect(throws: (any Error).self) { try decode(TimestampConfig.self, yaml) }
    }
}
