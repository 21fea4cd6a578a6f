import ShipperCore

/// The output stream a line was written to.
enum StreamKind: UInt8 {
    /// The format has no stream (raw lines, decode failures) or the docker line had no `stream`.
    case none = 0
    case stdout = 1
    case stderr = 2
    /// A docker `stream` value other than stdout/stderr (kept as written).
    case other = 3

    static let count = 4
}

enum StreamBytes {
    static let stdout: [UInt8] = Array("stdout".utf8)
    static let stderr: [UInt8] = Array("stderr".utf8)
}

/// ``LogEvent/streamKey`` for a source and stream: a SplitMix64 mix, so keys of the two streams of
/// one file and of different files differ.
@inline(__always)
func streamKey(source: UInt64, stream: StreamKind) -> UInt64 {
    var z = source &+ 0x9E37_79B9_7F4A_7C15 &* (UInt64(stream.rawValue) &+ 1)
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// What a decoder read from one physical line; the text is `event.arena[message]` of the event
/// passed along with it.
struct Chunk {
    var message: Range<Int>
    var timestamp: Timestamp
    var stream: StreamKind
    /// The `stream` text when `stream == .other`.
    var otherStream: [UInt8] = []
    /// Format-specific fields (pointing into `event.arena`) written after `log.offset`.
    var extras: [Field] = []
    /// False for a partial chunk (docker `log` without `\n`, CRI `P`).
    var isFinal: Bool
}

/// A partial line being joined.
private struct Pending {
    /// The message is `event.arena[messageStart...]`: chunks are appended at the end.
    var event: LogEvent
    var messageStart: Int
    var timestamp: Timestamp
    var stream: StreamKind
    var otherStream: [UInt8]
    var extras: [Field]
    var origin: LineOrigin
    var lines: Int
    /// This join continues one that was cut at the size bound.
    var continued: Bool

    init(_ event: LogEvent, _ chunk: Chunk, origin: LineOrigin, continued: Bool) {
        var event = event
        var start = chunk.message.lowerBound
        if chunk.message.upperBound != event.arena.count {
            // Keep the message at the end of the arena so later chunks extend it in place.
            start = event.arena.count
            event.arena.append(contentsOf: event.arena[chunk.message])
        }
        self.event = event
        self.messageStart = start
        self.timestamp = chunk.timestamp
        self.stream = chunk.stream
        self.otherStream = chunk.otherStream
        self.extras = chunk.extras
        self.origin = origin
        self.lines = 1
        self.continued = continued
    }

    var messageCount: Int { event.arena.count - messageStart }
}

/// Joins partial chunks per stream and builds the finished events; shared by the docker and CRI
/// decoders (and used by the raw decoder for single lines and failures).
struct PartialJoiner {
    var maxLineBytes: Int
    /// Remove one trailing `\n` from a finished message (docker keeps the newline in `log`).
    var stripNewline: Bool
    var stats = LineDecoderStats()
    /// The UTF-8 of the last `log.file.path` written (a decoder reads one file, so it rarely changes).
    private var pathText: String?
    private var pathBytes: [UInt8] = []
    private var slots: [Pending?] = Array(repeating: nil, count: StreamKind.count)

    /// ``LineDecoderOptions/extraArenaBytes`` and ``LineDecoderOptions/extraFields``.
    let extraArenaBytes: Int
    let extraFields: Int
    /// ``LineDecoderOptions/pool``.
    let pool: EventPool?

    init(maxLineBytes: Int, stripNewline: Bool, extraArenaBytes: Int = 0, extraFields: Int = 0, pool: EventPool? = nil) {
        self.maxLineBytes = maxLineBytes
        self.stripNewline = stripNewline
        self.extraArenaBytes = extraArenaBytes
        self.extraFields = extraFields
        self.pool = pool
    }

    init(options: LineDecoderOptions, stripNewline: Bool) {
        self.init(
            maxLineBytes: options.maxLineBytes, stripNewline: stripNewline, extraArenaBytes: options.extraArenaBytes,
            extraFields: options.extraFields, pool: options.pool)
    }

    /// An empty event to fill: from the pool when there is one.
    @inline(__always)
    func newEvent() -> LogEvent {
        pool?.take() ?? LogEvent()
    }

    /// Arena room for a line of `count` bytes: the line, the path and what metadata and stages add.
    @inline(__always)
    func arenaCapacity(line count: Int, origin: LineOrigin) -> Int {
        count &+ (origin.path?.utf8.count ?? 0) &+ 48 &+ extraArenaBytes
    }

    var pendingOffset: Int64? {
        var best: Int64?
        for case let p? in slots {
            if let b = best, b <= p.origin.offset { continue }
            best = p.origin.offset
        }
        return best
    }

    /// Takes one decoded physical line.
    mutating func add(_ event: inout LogEvent, _ chunk: Chunk, origin: LineOrigin, into output: inout [LogEvent]) {
        stats.lines &+= 1
        let slot = Int(chunk.stream.rawValue)
        guard var pending = slots[slot] else {
            if chunk.isFinal {
                emitSingle(&event, chunk, origin: origin, tag: nil, into: &output)
            } else {
                slots[slot] = Pending(event, chunk, origin: origin, continued: false)
                stats.linesHeld &+= 1
            }
            return
        }
        slots[slot] = nil
        let count = chunk.message.count
        if pending.messageCount > 0 && pending.messageCount &+ count > maxLineBytes {
            // The join would grow past the bound: ship what is held, start again with this chunk.
            stats.truncatedJoins &+= 1
            emit(&pending, extraTag: DecoderTags.partialTruncated, into: &output)
            if chunk.isFinal {
                emitSingle(&event, chunk, origin: origin, tag: DecoderTags.partialTruncated, into: &output)
            } else {
                slots[slot] = Pending(event, chunk, origin: origin, continued: true)
                stats.linesHeld &+= 1
            }
            return
        }
        pending.event.arena.append(contentsOf: event.arena[chunk.message])
        pending.lines &+= 1
        pending.origin.endOffset = origin.endOffset
        stats.linesHeld &+= 1
        if chunk.isFinal {
            emit(&pending, extraTag: nil, into: &output)
        } else {
            slots[slot] = pending
        }
    }

    /// Emits every held join, oldest first, tagged `_partial_incomplete`.
    mutating func flush(into output: inout [LogEvent]) {
        while true {
            var oldest: (index: Int, offset: Int64)?
            for i in slots.indices {
                guard let p = slots[i] else { continue }
                if let o = oldest, o.offset <= p.origin.offset { continue }
                oldest = (i, p.origin.offset)
            }
            guard let i = oldest?.index, var pending = slots[i] else { return }
            slots[i] = nil
            emit(&pending, extraTag: DecoderTags.partialIncomplete, into: &output)
        }
    }

    /// Ships a line that could not be decoded: its bytes as `message`, tagged `_decode_failure`.
    mutating func emitFailure(
        _ line: UnsafeRawBufferPointer, origin: LineOrigin, now: Timestamp, reason: String, into output: inout [LogEvent]
    ) {
        stats.lines &+= 1
        stats.decodeFailures &+= 1
        var event = newEvent()
        event.arena.reserveCapacity(arenaCapacity(line: line.count, origin: origin))
        let message = event.append(bytes: line).range
        finish(
            &event, message: message, timestamp: now, stream: .none, otherStream: [], extras: [], origin: origin,
            lines: 1, stripNewline: false, tags: [EventTags.decodeFailure], reason: reason, into: &output)
    }

    private mutating func emitSingle(
        _ event: inout LogEvent, _ chunk: Chunk, origin: LineOrigin, tag: String?, into output: inout [LogEvent]
    ) {
        finish(
            &event, message: chunk.message, timestamp: chunk.timestamp, stream: chunk.stream,
            otherStream: chunk.otherStream, extras: chunk.extras, origin: origin, lines: 1, stripNewline: stripNewline,
            tags: tag.map { [$0] } ?? [], into: &output)
    }

    private mutating func emit(_ p: inout Pending, extraTag: String?, into output: inout [LogEvent]) {
        stats.linesHeld &-= p.lines
        var tags: [String] = []
        if p.continued { tags.append(DecoderTags.partialTruncated) }
        if let extraTag, !tags.contains(extraTag) { tags.append(extraTag) }
        finish(
            &p.event, message: p.messageStart..<p.event.arena.count, timestamp: p.timestamp, stream: p.stream,
            otherStream: p.otherStream, extras: p.extras, origin: p.origin, lines: p.lines, stripNewline: stripNewline,
            tags: tags, into: &output)
    }

    /// Appends the first `count` bytes (at most 8) of the little-endian `word` to the arena.
    @inline(__always)
    static func appendWord(_ word: UInt64, count: Int, to arena: inout [UInt8]) -> ArenaSlice {
        let start = arena.count
        arena.append(addingCapacity: 8) { span in
            span.withUnsafeMutableBufferPointer { buffer, initialized in
                UnsafeMutableRawPointer(buffer.baseAddress!).storeBytes(of: word.littleEndian, as: UInt64.self)
                initialized = count
            }
        }
        return ArenaSlice(start: start, count: count)
    }

    /// Sets the fields of a finished event (whose `fields` are empty) and appends it to `output`.
    private mutating func finish(
        _ event: inout LogEvent, message: Range<Int>, timestamp: Timestamp, stream: StreamKind, otherStream: [UInt8],
        extras: [Field], origin: LineOrigin, lines: Int, stripNewline: Bool, tags: [String], reason: String? = nil,
        into output: inout [LogEvent]
    ) {
        var end = message.upperBound
        if stripNewline && end > message.lowerBound && event.arena[end - 1] == 0x0A { end -= 1 }
        if end > message.lowerBound && event.arena[end - 1] == 0x0D { end -= 1 }
        event.fields.reserveCapacity(5 &+ extras.count &+ (tags.isEmpty ? 0 : 2) &+ extraFields)
        // The text first, then the fields in one append (one capacity check, not one per field).
        var streamText = ArenaSlice(start: 0, count: 0)
        switch stream {
        case .none: break
        case .stdout: streamText = Self.appendWord(0x74_756F_6474_73, count: 6, to: &event.arena)  // "stdout"
        case .stderr: streamText = Self.appendWord(0x72_7265_6474_73, count: 6, to: &event.arena)  // "stderr"
        case .other: streamText = event.append(bytes: otherStream)
        }
        var pathSlice = ArenaSlice(start: 0, count: 0)
        if let path = origin.path {
            if path != pathText {
                pathText = path
                pathBytes = Array(path.utf8)
            }
            pathSlice = event.append(bytes: pathBytes)
        }
        event.fields.append(addingCapacity: 5) { fields in
            fields.append(Field(FieldPaths.timestamp, .timestamp(timestamp)))
            fields.append(Field(FieldPaths.message, .string(ArenaSlice(start: message.lowerBound, count: end - message.lowerBound))))
            if stream != .none { fields.append(Field(FieldPaths.stream, .string(streamText))) }
            if origin.path != nil {
                fields.append(Field(FieldPaths.logFilePath, .string(pathSlice)))
                fields.append(Field(FieldPaths.logOffset, .int(origin.offset)))
            }
        }
        for field in extras { event.appendField(field.path, field.value) }
        for tag in tags { event.addTag(tag) }
        if let reason { event.appendField(FieldPaths.failureReason, .string(event.append(string: reason))) }
        event.origin = EventOrigin(source: origin.source, offset: origin.offset, endOffset: origin.endOffset)
        event.streamKey = streamKey(source: origin.source, stream: stream)
        stats.events &+= 1
        stats.linesInEvents &+= lines
        // Moved into `output` (a plain append would retain its storage here and release it when
        // the caller's copy dies).
        output.append(LogEvent())
        output.withUnsafeMutableBufferPointer { swap(&$0[$0.count - 1], &event) }
    }
}

/// RFC 3339 timestamps as Docker and the CRI write them (`2019-01-01T11:11:11.123456789Z`, or with
/// an offset such as `+01:00`), kept to the nanosecond.
enum RFC3339 {
    /// Parses exactly `bytes`; nil unless all of it is a valid RFC 3339 date-time.
    /// The result has precision 9 (nanoseconds), whatever number of fraction digits was written.
    /// The day of the last date parsed (`2025-11-25`): the lines of a file mostly share it.
    struct DayCache {
        var date: (UInt64, UInt16) = (0, 0)
        var days: Int64 = .min
    }

    static func parse(_ b: UnsafeRawBufferPointer) -> Timestamp? {
        var cache = DayCache()
        return parse(b, cache: &cache)
    }

    static func parse(_ b: UnsafeRawBufferPointer, cache: inout DayCache) -> Timestamp? {
        let n = b.count
        guard n >= 20, let base = b.baseAddress else { return nil }
        @inline(__always) func two(_ i: Int) -> Int {
            // -1 unless both bytes are digits.
            let a = Int(b[i] &- 0x30)
            let c = Int(b[i + 1] &- 0x30)
            return a < 10 && c < 10 ? a &* 10 &+ c : -1
        }
        let hour = two(11), minute = two(14), second = two(17)
        guard b[10] | 0x20 == UInt8(ascii: "t"), b[13] == 0x3A, b[16] == 0x3A, hour >= 0, hour <= 23, minute >= 0,
            minute <= 59, second >= 0, second <= 60
        else { return nil }
        let date = (base.loadUnaligned(as: UInt64.self), base.loadUnaligned(fromByteOffset: 8, as: UInt16.self))
        let days: Int64
        if cache.days != .min && date == cache.date {
            days = cache.days
        } else {
            let y1 = two(0), y2 = two(2), month = two(5), day = two(8)
            guard y1 >= 0, y2 >= 0, b[4] == 0x2D, b[7] == 0x2D, month >= 1, month <= 12, day >= 1 else { return nil }
            let year = y1 &* 100 &+ y2
            guard day <= Civil.daysInMonth(year: year, month: month) else { return nil }
            days = Civil.days(year: year, month: month, day: day)
            cache = DayCache(date: date, days: days)
        }
        var i = 19
        var nanos: Int64 = 0
        if b[i] == UInt8(ascii: ".") {
            i += 1
            var digits = 0
            while i < n {
                let d = b[i] &- 0x30
                guard d < 10 else { break }
                if digits < 9 {
                    nanos = nanos &* 10 &+ Int64(d)
                    digits += 1
                }
                i += 1
            }
            guard digits > 0 else { return nil }
            while digits < 9 {
                nanos &*= 10
                digits += 1
            }
        }
        guard i < n else { return nil }
        var offset = 0
        switch b[i] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            i += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            let negative = b[i] == UInt8(ascii: "-")
            i += 1
            guard i + 2 <= n else { return nil }
            let oh = two(i)
            i += 2
            if i < n && b[i] == 0x3A { i += 1 }
            guard i + 2 <= n else { return nil }
            let om = two(i)
            i += 2
            guard oh >= 0, oh <= 23, om >= 0, om <= 59 else { return nil }
            offset = negative ? -(oh * 3600 + om * 60) : oh * 3600 + om * 60
        default:
            return nil
        }
        guard i == n else { return nil }
        let seconds = days &* 86_400 &+ Int64(hour &* 3600 &+ minute &* 60 &+ second &- offset)
        return Timestamp(nanoseconds: seconds &* 1_000_000_000 &+ nanos, precision: 9)
    }
}

/// The `<time> <stream> <tag> ` prefix of a CRI log line.
struct CRIPrefix {
    var timestamp: Timestamp
    var stream: StreamKind
    /// Tag `P`: a partial chunk, joined with the following chunks up to an `F`.
    var isPartial: Bool
    /// Where the message starts (the line's length when the line ends after the tag).
    var messageStart: Int

    /// Why a line is not CRI, for `shipper.failure.reason`.
    struct Failure: Error {
        var reason: String
    }

    static func parse(_ line: UnsafeRawBufferPointer) -> CRIPrefix? {
        try? parseOrThrow(line)
    }

    static func parseOrThrow(_ line: UnsafeRawBufferPointer) throws(Failure) -> CRIPrefix {
        let n = line.count
        var i = 0
        while i < n && line[i] != 0x20 { i += 1 }
        guard i < n else { throw Failure(reason: "cri: no space after the time") }
        guard let timestamp = RFC3339.parse(UnsafeRawBufferPointer(rebasing: line[0..<i])) else {
            throw Failure(reason: "cri: the line does not start with an RFC 3339 time")
        }
        i += 1
        let streamStart = i
        while i < n && line[i] != 0x20 { i += 1 }
        let token = UnsafeRawBufferPointer(rebasing: line[streamStart..<i])
        let stream: StreamKind
        if token.elementsEqual(StreamBytes.stdout) {
            stream = .stdout
        } else if token.elementsEqual(StreamBytes.stderr) {
            stream = .stderr
        } else {
            throw Failure(reason: "cri: stream at byte \(streamStart) is not stdout or stderr")
        }
        guard i < n else { throw Failure(reason: "cri: no tag after the stream") }
        i += 1
        let tagStart = i
        while i < n && line[i] != 0x20 { i += 1 }
        // The tag is `P` or `F`, optionally followed by more `:`-separated tags.
        let tagEnd = i
        guard tagEnd > tagStart, line[tagStart] == UInt8(ascii: "P") || line[tagStart] == UInt8(ascii: "F"),
            tagEnd == tagStart + 1 || line[tagStart + 1] == UInt8(ascii: ":")
        else { throw Failure(reason: "cri: tag at byte \(tagStart) is not P or F") }
        return CRIPrefix(
            timestamp: timestamp, stream: stream, isPartial: line[tagStart] == UInt8(ascii: "P"),
            messageStart: i < n ? i + 1 : n)
    }
}
