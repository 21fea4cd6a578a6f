import InputFormats
import ShipperCore

/// The line decoders, fed the input as a file's lines (split at `\n`; a last line without one
/// included), with the default options, or, for inputs of odd length, with `maxLineBytes` small
/// enough that joins of partial chunks are cut. Checks, after every line: no line lost or counted twice
/// (`lines == linesInEvents + linesHeld`), `pendingOffset` set exactly while lines are held and
/// never after the first held line; after `flush`: nothing held; each event's origin within the
/// input; every event passes ``EventCheck`` (JSON written for the first 8 and the last); for a
/// third of the inputs, decoding again with an ``EventPool`` holding the first events (scribbled
/// on) gives the same events.
enum DecoderTargets {
    static func docker(_ data: UnsafeRawBufferPointer) { run(data, format: .docker) }
    static func cri(_ data: UnsafeRawBufferPointer) { run(data, format: .cri) }
    static func auto(_ data: UnsafeRawBufferPointer) { run(data, format: .auto) }

    static let now = Timestamp(nanoseconds: 1_764_000_000_123_000_000)

    static func run(_ data: UnsafeRawBufferPointer, format: LogFormat) {
        let lines = splitLines(data)
        do {
            let maxLineBytes = data.count % 2 == 1 ? 48 : 1 << 20
            let options = LineDecoderOptions(maxLineBytes: maxLineBytes)
            let first = lines.first.map { UnsafeRawBufferPointer(rebasing: data[$0.range]) } ?? UnsafeRawBufferPointer(start: nil, count: 0)
            var decoder = makeDecoder(format: format, firstLine: first, options: options)
            var events: [LogEvent] = []
            for (k, line) in lines.enumerated() {
                let origin = LineOrigin(path: "/var/log/containers/app.log", source: 0xF00D, offset: line.offset, endOffset: line.endOffset)
                decoder.decode(UnsafeRawBufferPointer(rebasing: data[line.range]), origin: origin, now: now, into: &events)
                let s = decoder.stats
                check(s.lines == k + 1, "\(format) max \(maxLineBytes): stats.lines \(s.lines) after \(k + 1) lines")
                check(s.lines == s.linesInEvents + s.linesHeld,
                      "\(format) max \(maxLineBytes): lines \(s.lines) != in events \(s.linesInEvents) + held \(s.linesHeld) after line \(k + 1)")
                check((decoder.pendingOffset != nil) == (s.linesHeld > 0),
                      "\(format) max \(maxLineBytes): pendingOffset \(String(describing: decoder.pendingOffset)) with \(s.linesHeld) lines held")
                if let p = decoder.pendingOffset {
                    check(p >= 0 && p <= line.offset, "\(format): pendingOffset \(p) is not the offset of a line read (last at \(line.offset))")
                }
            }
            decoder.flush(now: now, into: &events)
            let s = decoder.stats
            check(s.linesHeld == 0 && decoder.pendingOffset == nil, "\(format) max \(maxLineBytes): lines still held after flush")
            check(s.linesInEvents == lines.count, "\(format) max \(maxLineBytes): \(s.linesInEvents) lines in events, \(lines.count) read")
            check(s.events == events.count, "\(format) max \(maxLineBytes): stats.events \(s.events), emitted \(events.count)")
            for (k, e) in events.enumerated() {
                check(e.origin.offset >= 0 && e.origin.offset <= e.origin.endOffset && e.origin.endOffset <= Int64(data.count),
                      "\(format) event \(k): origin \(e.origin) outside the input of \(data.count) bytes")
                EventCheck.verify(e, "\(format) max \(maxLineBytes) event \(k)", writing: k < 8 || k == events.count - 1)
            }
            // For a third of the inputs: the events given back to a pool (after a stage wrote
            // more into them), then the input decoded again from the pool's storage: the same events.
            if data.count % 3 == 0 {
                let expected = events.map(Self.text)
                for i in events.indices {
                    events[i].set(FieldPath.intern("fuzz.scribble"), string: "left over")
                    events[i].set(FieldPath.intern("fuzz.list"), events[i].appendArray([.int(1), .null]))
                }
                let pool = EventPool(maxEvents: 64)
                pool.recycle(&events)
                var pooled = options
                pooled.pool = pool
                var again = makeDecoder(format: format, firstLine: first, options: pooled)
                var second: [LogEvent] = []
                for line in lines {
                    let origin = LineOrigin(path: "/var/log/containers/app.log", source: 0xF00D, offset: line.offset, endOffset: line.endOffset)
                    again.decode(UnsafeRawBufferPointer(rebasing: data[line.range]), origin: origin, now: now, into: &second)
                }
                again.flush(now: now, into: &second)
                check(second.map(Self.text) == expected, "\(format) max \(maxLineBytes): events from pooled storage differ")
            }
        }
    }

    /// An event as JSON with its origin and stream key. (Written field by field: interpolating
    /// the `EventOrigin` struct goes through reflection, which took a tenth of the target's time.)
    static func text(_ e: LogEvent) -> String {
        JSONWriter.string(e) + " " + String(e.origin.source) + ":" + String(e.origin.offset) + "-" + String(e.origin.endOffset)
            + " " + String(e.streamKey)
    }
}
