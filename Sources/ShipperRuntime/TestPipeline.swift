import InputFormats
import ShipperConfig
import ShipperCore

/// Counts for the `test-pipeline` summary.
public struct RunSummary: Sendable, Equatable {
    public var linesIn = 0
    public var eventsOut = 0
    /// Events per failure tag (`_parse_failure`, `_decode_failure`, …).
    public var failures: [String: Int] = [:]

    public init() {}

    mutating func count(_ events: [LogEvent]) {
        eventsOut += events.count
        for e in events {
            guard case .array(let tags)? = e[FieldPaths.tags] else { continue }
            for case .string(let s) in e.elements(tags) {
                let tag = e.string(s)
                if tag.hasPrefix("_") { failures[tag, default: 0] += 1 }
            }
        }
    }

    /// `lines in: 12, events out: 12, failures: none`.
    public var description: String {
        let f = failures.isEmpty ? "none" : failures.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
        return "lines in: \(linesIn), events out: \(eventsOut), failures: \(f)"
    }
}

/// Runs a config's pipelines over files, the way `shipper run` would, and hands back every event.
public struct PipelineFileRunner {
    var router: Router
    let format: LogFormat
    public private(set) var summary = RunSummary()
    /// Fields set on every decoded event before routing.
    let presetFields: JSONValue?
    /// The time given to decoders for lines without their own timestamp (fixed in tests).
    let now: () -> Timestamp

    public init(
        config: ShipperConfiguration, pipeline: String? = nil, format: LogFormat = .auto, fields: JSONValue? = nil,
        now: @escaping () -> Timestamp = { Timestamp.now() }
    ) throws {
        self.router = try Router(config: config, only: pipeline)
        self.format = format
        self.presetFields = fields
        self.now = now
    }

    /// Processes one file; `emit` receives batches of finished events.
    public mutating func run(path: String, emit: ([LogEvent]) throws -> Void) throws {
        var decoder: (any LineDecoder)?
        var batch: [LogEvent] = []
        let source = Fingerprint.ofPath(path)
        try LineReader.forEachLine(path: path) { line, offset, end in
            if decoder == nil { decoder = makeDecoder(format: format, firstLine: line) }
            decoder!.decode(line, origin: LineOrigin(path: path, source: source, offset: offset, endOffset: end), now: now(), into: &batch)
            if batch.count >= 1024 { try emit(process(&batch)) }
        }
        if decoder != nil { decoder!.flush(now: now(), into: &batch) }
        summary.linesIn += decoder?.stats.lines ?? 0
        try emit(process(&batch))
    }

    /// Processes lines given in memory (a `tests:` case).
    public mutating func run(lines: [String], emit: ([LogEvent]) throws -> Void) throws {
        var decoder: (any LineDecoder)?
        var batch: [LogEvent] = []
        var offset: Int64 = 0
        for text in lines {
            let bytes = Array(text.utf8)
            let end = offset + Int64(bytes.count) + 1
            bytes.withUnsafeBytes { line in
                if decoder == nil { decoder = makeDecoder(format: format, firstLine: line) }
                decoder!.decode(line, origin: LineOrigin(path: nil, source: 0, offset: offset, endOffset: end), now: now(), into: &batch)
            }
            offset = end
        }
        if decoder != nil { decoder!.flush(now: now(), into: &batch) }
        summary.linesIn += decoder?.stats.lines ?? 0
        try emit(process(&batch))
    }

    /// Emits everything still held (multiline) at the end of input.
    public mutating func finish(emit: ([LogEvent]) throws -> Void) throws {
        let rest = router.flush(now: nil)
        summary.count(rest)
        if !rest.isEmpty { try emit(rest) }
    }

    private mutating func process(_ batch: inout [LogEvent]) -> [LogEvent] {
        if let presetFields {
            for i in batch.indices {
                if case .object(let members) = presetFields {
                    batch[i].set(jsonMembers: members)
                }
            }
        }
        let out = router.process(batch)
        batch.removeAll(keepingCapacity: true)
        summary.count(out)
        return out
    }
}

/// A stable identity for a file given by path (the tail input uses device, inode and content).
enum Fingerprint {
    static func ofPath(_ path: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in path.utf8 {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        return h
    }
}

/// The result of a config's `tests:`.
public struct TestReport: Sendable {
    public struct Failure: Sendable {
        public var name: String
        public var location: String
        public var problems: [String]
        public var actual: [String]
    }

    public var passed: [String] = []
    public var failed: [Failure] = []

    /// A readable report: one line per test, the differences of failed ones, and a closing count.
    public var text: String {
        var out = ""
        for name in passed { out += "PASS \(name)\n" }
        for f in failed {
            out += "FAIL \(f.name) (\(f.location))\n"
            for p in f.problems { out += "  - \(p)\n" }
            if !f.actual.isEmpty {
                out += "  events produced:\n"
                for (i, a) in f.actual.enumerated() { out += "    [\(i + 1)] \(a)\n" }
            }
        }
        out += "\(passed.count) passed, \(failed.count) failed\n"
        return out
    }
}

/// Runs the `tests:` of a config.
public enum PipelineTests {
    public static func run(config: ShipperConfiguration) -> TestReport {
        var report = TestReport()
        for test in config.tests {
            var problems: [String] = []
            var actual: [LogEvent] = []
            do {
                guard let format = LogFormat(rawValue: test.format) else {
                    throw ConfigValueError("format '\(test.format)' is not one of: \(LogFormat.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                var runner = try PipelineFileRunner(
                    config: config, pipeline: test.pipeline, format: format, fields: test.fields,
                    now: { Timestamp(nanoseconds: 0) })
                try runner.run(lines: test.input) { actual.append(contentsOf: $0) }
                try runner.finish { actual.append(contentsOf: $0) }
                problems = compare(actual: actual.map { $0.jsonValue() }, expected: test.expect, absent: test.absent)
            } catch {
                problems = ["could not run: \(error)"]
            }
            if problems.isEmpty {
                report.passed.append(test.name)
            } else {
                report.failed.append(
                    TestReport.Failure(
                        name: test.name, location: test.location, problems: problems,
                        actual: actual.map { JSONWriter.string($0) }))
            }
        }
        return report
    }

    /// Differences between produced events and expectations (by dotted path; extra fields allowed).
    public static func compare(actual: [JSONValue], expected: [JSONValue], absent: [String]) -> [String] {
        var problems: [String] = []
        if actual.count != expected.count {
            problems.append("expected \(expected.count) event\(expected.count == 1 ? "" : "s"), got \(actual.count)")
        }
        for (i, (a, e)) in zip(actual, expected).enumerated() {
            for (path, want) in e.flattened() {
                guard let got = a.value(atPath: path) else {
                    problems.append("event \(i + 1): \(path): expected \(want), but the field is missing")
                    continue
                }
                if !got.sameValue(as: want) {
                    problems.append("event \(i + 1): \(path): expected \(want), got \(got)")
                }
            }
        }
        for (i, a) in actual.enumerated() {
            for path in absent where a.value(atPath: path) != nil || a.flattened().contains(where: { $0.path.hasPrefix(path + ".") }) {
                problems.append("event \(i + 1): \(path): expected no such field, got \(a.value(atPath: path) ?? .null)")
            }
        }
        return problems
    }
}
