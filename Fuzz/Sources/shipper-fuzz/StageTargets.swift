import ShipperConfig
import ShipperCore
import ShipperRuntime
import StageTransforms

/// The byte-level stages that take free text.
enum StageTargets {
    // MARK: multiline

    nonisolated(unsafe) static let multilineStages: [(String, MultilineStage)] = {
        do {
            return [
                ("java", try MultilineStage(config: MultilineConfig(mode: .java))),
                ("java tight", try MultilineStage(config: MultilineConfig(mode: .java, maxLines: 3, maxBytes: ByteSize(bytes: 64)))),
                ("start timestamp", try MultilineStage(config: MultilineConfig(mode: .start, start: .timestamp, maxLines: 4, maxBytes: ByteSize(bytes: 200)))),
            ]
        } catch {
            failCheck("cannot build the multiline stages: \(error)")
        }
    }()

    /// The input's lines go through one of the multiline stages (by the input's length modulo 3)
    /// as one-line events; a line starting with byte 0x02 goes to a second stream (without that byte). The clock moves 400 ms every third
    /// line and `flush(now:)` is called then (flush_timeout 1s); `flush(now: nil)` at the end.
    /// Checks: per stream, the emitted messages split at `\n` are exactly the input lines, in
    /// order (nothing lost, duplicated, reordered or altered); each event's origin spans its
    /// first to its last line; nothing is held after the final flush; ``EventCheck`` per event.
    static func multiline(_ data: UnsafeRawBufferPointer) {
        let lines = splitLines(data)
        // Per line: stream, content range.
        var streamOf: [UInt64] = []
        var content: [Range<Int>] = []
        for l in lines {
            if !l.range.isEmpty && data[l.range.lowerBound] == 0x02 {
                streamOf.append(2)
                content.append((l.range.lowerBound + 1)..<l.range.upperBound)
            } else {
                streamOf.append(1)
                content.append(l.range)
            }
        }
        do {
            let (name, base) = multilineStages[data.count % multilineStages.count]
            var stage = base
            var out: [LogEvent] = []
            var clock = Timestamp(nanoseconds: 1_764_000_000_000_000_000)
            for (k, l) in lines.enumerated() {
                var e = LogEvent()
                if k % 8 == 0 { e.set(FieldPaths.timestamp, .timestamp(clock)) }  // other fields ride along
                e.set(FieldPaths.message, string: UnsafeRawBufferPointer(rebasing: data[content[k]]))
                // Half the inputs: a container's metadata, as `shipper run` adds it before the stages.
                if data.count % 2 == 1 { e.add(ParserTargets.blocks[0]) }
                e.origin = EventOrigin(source: 7, offset: l.offset, endOffset: l.endOffset)
                e.streamKey = streamOf[k]
                stage.process(e, into: &out)
                if k % 3 == 2 {
                    clock = Timestamp(nanoseconds: clock.nanoseconds + 400_000_000)
                    stage.flush(now: clock, into: &out)
                }
            }
            stage.flush(now: nil, into: &out)
            var held = 0
            stage.forEachHeldOrigin { _ in held += 1 }
            check(held == 0, "multiline \(name): \(held) events held after flush(now: nil)")

            // Replay the emitted events against the input, per stream.
            var next: [UInt64: Int] = [1: 0, 2: 0]  // index into `lines` of the next line expected per stream
            func advance(_ stream: UInt64, from: Int) -> Int {
                var i = from
                while i < lines.count && streamOf[i] != stream { i += 1 }
                return i
            }
            for (j, e) in out.enumerated() {
                EventCheck.verify(e, "multiline \(name) event \(j)", writing: j < 8 || j == out.count - 1)
                let stream = e.streamKey
                guard stream == 1 || stream == 2 else { failCheck("multiline \(name): event \(j) has stream key \(stream)") }
                guard case .string(let m)? = e[FieldPaths.message] else { failCheck("multiline \(name): event \(j) has no message") }
                let message = Array(e.arena[m.range])
                var parts: [ArraySlice<UInt8>] = message.split(separator: 0x0A, omittingEmptySubsequences: false)
                if parts.isEmpty { parts = [[]] }
                var i = advance(stream, from: next[stream]!)
                let firstLine = i
                var lastLine = i
                for part in parts {
                    guard i < lines.count else {
                        failCheck("multiline \(name): event \(j) has more lines than stream \(stream) had: \(show(message))", input: data)
                    }
                    if !part.elementsEqual(UnsafeRawBufferPointer(rebasing: data[content[i]])) {
                        failCheck("multiline \(name): event \(j) line \(show(part)) is not input line \(i) \(show(UnsafeRawBufferPointer(rebasing: data[content[i]])))", input: data)
                    }
                    lastLine = i
                    i = advance(stream, from: i + 1)
                }
                next[stream] = i
                check(e.origin.offset == lines[firstLine].offset && e.origin.endOffset == lines[lastLine].endOffset,
                      "multiline \(name): event \(j) origin \(e.origin) is not lines \(firstLine)...\(lastLine)")
            }
            for stream: UInt64 in [1, 2] {
                let rest = advance(stream, from: next[stream]!)
                check(rest == lines.count, "multiline \(name): input line \(rest) of stream \(stream) was never emitted")
            }
        }
    }

    // MARK: timestamp

    /// Timestamp stages built from YAML as a user writes them.
    nonisolated(unsafe) static let timestampPipelines: [Pipeline] = {
        let yaml = #"""
            pipelines:
              t1:
                stages:
                  - type: timestamp
                    field: time
                    formats: ["%d/%b/%Y:%H:%M:%S %z", rfc3339, "%Y-%m-%d %H:%M:%S,%L", "%b %e %H:%M:%S", "%a %b %d %H:%M:%S %Y", "%y%m%d %k:%M:%S", "%I:%M:%S %p %j %Y", unix, unix_ms]
                    timezone: Europe/Berlin
              t2:
                stages:
                  - type: timestamp
                    field: time
                    formats: [unix_us, unix_ns, "%s.%f", "%F %T.%N %Z", "%D %H:%M", "%B %d, %Y %l:%M %P"]
                    timezone: America/St_Johns
                    target: event.created
                    remove_source: false
            """#
        do {
            let config = try ConfigLoader.parse(yaml: yaml, file: "fuzz-timestamp.yaml")
            return try config.pipelines.items.map { item in
                guard let p = try Router(config: config, only: item.name).pipelines.first else { failCheck("no pipeline \(item.name)") }
                return p
            }
        } catch {
            failCheck("cannot build the timestamp stages: \(error)")
        }
    }()

    static let time = FieldPath.intern("time")
    static let zones: [TimeZoneRule] = ["UTC", "Europe/Berlin", "America/St_Johns", "Australia/Lord_Howe", "+05:45", "-12:00"].map { TimeZoneRule($0)! }

    /// The input as the `time` field (text, and a number when it is one) through the timestamp
    /// stages; then, split at the first `\n`, as a format string (when it compiles) and a value
    /// parsed in several zones. Checks: every timestamp produced is written as RFC 3339 that
    /// reads back (``EventCheck``); a failed parse leaves the field and tags the event.
    static func timestamp(_ data: UnsafeRawBufferPointer) {
        for var pipeline in timestampPipelines {
            var e = LogEvent()
            e.set(FieldPaths.message, string: "m".utf8)
            e.set(time, string: data)
            for out in pipeline.process([e]) {
                EventCheck.verify(out, "timestamp stage")
                if out.hasTag(EventTags.timestampFailure) {
                    check(out.contains(time), "timestamp: failed parse removed the source field")
                }
            }
            if data.count > 0, data.count <= 19, data.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                let n = Int64(String(decoding: data, as: UTF8.self))
            {
                var e = LogEvent()
                e.set(time, .int(n))
                for out in pipeline.process([e]) { EventCheck.verify(out, "timestamp stage (int)") }
            }
        }
        guard let nl = data.firstIndex(of: 0x0A),
            let text = String(validating: UnsafeRawBufferPointer(rebasing: data[..<nl]), as: UTF8.self),
            let format = try? TimeFormat(text)
        else { return }
        let value = UnsafeRawBufferPointer(rebasing: data[(nl + 1)...])
        for zone in zones {
            guard let t = format.parse(value, zone: zone) else { continue }
            var e = LogEvent()
            e.set(FieldPaths.timestamp, .timestamp(t))
            EventCheck.verify(e, "time format \(show(text.utf8))")
        }
    }
}
