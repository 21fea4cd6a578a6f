import ShipperCore

/// Decodes Docker's json-file log lines: `{"log":"GET / 200\n","stream":"stdout","time":"2024-05-01T12:00:00.123456789Z"}`.
///
/// - `log` becomes `message`, unescaped straight into the event's arena, without its trailing
///   `\n` (and a `\r` before it). A `log` without a trailing `\n` is one of Docker's 16 KiB partial
///   chunks: it is held and joined with the following chunks of the same stream up to the chunk
///   that ends in `\n` (bounded by ``LineDecoderOptions/maxLineBytes``, see there). The joined
///   event keeps the first chunk's `time`, `attrs` and offset.
/// - `time` becomes `@timestamp` with nanoseconds; without a (valid RFC 3339) `time` the event gets
///   the read time.
/// - `stream` is copied as written (normally `stdout` or `stderr`); a line without it has no `stream`.
/// - `attrs` (written when the container runs with `--log-opt labels=…`/`env=…`): each string entry
///   becomes `docker.attrs.<key>` with the dots in the key replaced by `_` (Compose labels such as
///   `com.docker.compose.project` and `com.docker.compose.project.working_dir` would otherwise
///   collide when nested); entries whose value is not a string are ignored.
/// - Other keys are ignored. Keys are matched as written (a key spelled with `\u` escapes is unknown).
///
/// A line that is not a JSON object with a string `log` (bad JSON, truncated, invalid UTF-8 in a
/// string, binary) is shipped raw with the tag `_decode_failure` and a reason such as
/// `docker: unterminated string at byte 120` in `shipper.failure.reason`.
public struct DockerJSONDecoder: LineDecoder {
    private var joiner: PartialJoiner
    /// `attrs` key bytes → `docker.attrs.<key>` path (a container writes the same keys on every line).
    private var attrPaths: [(key: [UInt8], path: FieldPath)] = []
    private static let attrPathCacheSize = 64
    /// The day of the last `time` read.
    private var days = RFC3339.DayCache()

    public init(options: LineDecoderOptions = .defaults) {
        joiner = PartialJoiner(options: options, stripNewline: true)
    }

    public var pendingOffset: Int64? { joiner.pendingOffset }
    public var stats: LineDecoderStats { joiner.stats }

    private enum Key {
        case log, stream, time, attrs, unknown

        @inline(__always)
        init(_ b: UnsafeRawBufferPointer) {
            // Keys are compared as little-endian words of their bytes.
            switch b.count {
            case 3 where Key.word(b, 3) == 0x67_6F6C: self = .log  // "log"
            case 4 where Key.word(b, 4) == 0x656D_6974: self = .time  // "time"
            case 5 where Key.word(b, 5) == 0x73_7274_7461: self = .attrs  // "attrs"
            case 6 where Key.word(b, 6) == 0x6D61_6572_7473: self = .stream  // "stream"
            default: self = .unknown
            }
        }

        @inline(__always)
        static func word(_ b: UnsafeRawBufferPointer, _ n: Int) -> UInt64 {
            var v: UInt64 = 0
            for i in 0..<n { v |= UInt64(b[i]) << (8 * UInt64(i)) }
            return v
        }
    }

    public mutating func decode(
        _ line: UnsafeRawBufferPointer, origin: LineOrigin, now: Timestamp, into output: inout [LogEvent]
    ) {
        if decodeExact(line, origin: origin, now: now, into: &output) { return }
        decodeGeneric(line, origin: origin, now: now, into: &output)
    }

    /// Appends to `arena` the unescaped string whose opening quote is at `quote`, with room for the
    /// fields written after it; returns where the string ends, or the error when it is not valid.
    @inline(__always)
    private static func unescape(
        _ line: UnsafeRawBufferPointer, quote: Int, extra: Int, into arena: inout [UInt8]
    ) -> (end: Int, failure: JSONError?) {
        var failure: JSONError?
        var end = quote
        arena.append(addingCapacity: line.count &- quote &+ extra) { span in
            span.withUnsafeMutableBufferPointer { buffer, count in
                guard let out = buffer.baseAddress else { return }
                do throws(JSONError) {
                    let r = try StringUnescaper.read(line, openingQuote: quote, into: UnsafeMutableRawPointer(out))
                    count = r.written
                    end = r.end
                } catch {
                    failure = error
                }
            }
        }
        return (end, failure)
    }

    /// The layout Docker's json-file driver writes, byte for byte: `{"log":"…"`, then optionally
    /// `,"stream":"stdout|stderr"` and `,"time":"…"`, then `}`. Returns false (having emitted
    /// nothing) for anything else, which the generic path then reads.
    @inline(__always)
    private mutating func decodeExact(
        _ line: UnsafeRawBufferPointer, origin: LineOrigin, now: Timestamp, into output: inout [LogEvent]
    ) -> Bool {
        let n = line.count
        guard n >= 10, let base = line.baseAddress,
            base.loadUnaligned(as: UInt64.self) == UInt64(littleEndian: 0x223A_2267_6F6C_227B)  // {"log":"
        else { return false }
        var event = joiner.newEvent()
        let (end, failure) = Self.unescape(line, quote: 7, extra: joiner.arenaCapacity(line: 0, origin: origin), into: &event.arena)
        guard failure == nil else { return false }
        var p = end
        var stream = StreamKind.none
        // ,"stream":"stdout"
        if p + 18 <= n && base.loadUnaligned(fromByteOffset: p, as: UInt64.self) == UInt64(littleEndian: 0x6D61_6572_7473_222C)
            && line[p + 8] == 0x22 && line[p + 9] == UInt8(ascii: ":") && line[p + 10] == 0x22 && line[p + 17] == 0x22
        {
            let word = Key.word(UnsafeRawBufferPointer(rebasing: line[(p + 11)..<(p + 17)]), 6)
            if word == 0x7475_6F64_7473 {
                stream = .stdout
            } else if word == 0x7272_6564_7473 {
                stream = .stderr
            } else {
                return false
            }
            p += 18
        }
        var time: Timestamp?
        // ,"time":"…"
        if p + 9 <= n && base.loadUnaligned(fromByteOffset: p, as: UInt64.self) == UInt64(littleEndian: 0x3A22_656D_6974_222C)
            && line[p + 8] == 0x22
        {
            var q = p + 9
            while q < n && line[q] != 0x22 && line[q] != 0x5C { q += 1 }
            guard q < n && line[q] == 0x22 else { return false }
            time = RFC3339.parse(UnsafeRawBufferPointer(rebasing: line[(p + 9)..<q]), cache: &days)
            p = q + 1
        }
        guard p < n && line[p] == UInt8(ascii: "}") else { return false }
        p += 1
        while p < n {
            switch line[p] {
            case 0x20, 0x09, 0x0A, 0x0D: p += 1
            default: return false
            }
        }
        let log = 0..<event.arena.count
        let isFinal = !log.isEmpty && event.arena[log.upperBound - 1] == 0x0A
        joiner.add(&event, Chunk(message: log, timestamp: time ?? now, stream: stream, isFinal: isFinal), origin: origin, into: &output)
        return true
    }

    private mutating func decodeGeneric(
        _ line: UnsafeRawBufferPointer, origin: LineOrigin, now: Timestamp, into output: inout [LogEvent]
    ) {
        var event = joiner.newEvent()
        var scanner = JSONScanner(line)
        var log: Range<Int>?
        var stream = StreamKind.none
        var otherStream: [UInt8] = []
        var time: Timestamp?
        var extras: [Field] = []
        do throws(JSONError) {
            try scanner.expect(UInt8(ascii: "{"))
            if !scanner.consume(UInt8(ascii: "}")) {
                repeat {
                    let key = try scanner.readKey()
                    try scanner.expect(UInt8(ascii: ":"))
                    let kind = key.escaped ? Key.unknown : Key(UnsafeRawBufferPointer(rebasing: line[key.range]))
                    switch kind {
                    case .log:
                        guard scanner.peek() == 0x22 else {
                            throw JSONError("\"log\" is not a string", at: scanner.position)
                        }
                        if event.arena.isEmpty {
                            // The common case: unescape straight into a new arena sized for the
                            // message and the fields written after it.
                            let (end, failure) = Self.unescape(
                                line, quote: scanner.position, extra: joiner.arenaCapacity(line: 0, origin: origin), into: &event.arena)
                            if let failure { throw failure }
                            log = 0..<event.arena.count
                            scanner.position = end
                        } else {
                            log = try scanner.readString(into: &event.arena)
                        }
                    case .stream:
                        guard scanner.peek() == 0x22 else {
                            try scanner.skipValue()
                            continue
                        }
                        let value = try scanner.readKey()
                        let text = UnsafeRawBufferPointer(rebasing: line[value.range])
                        let word = text.count == 6 && !value.escaped ? Key.word(text, 6) : 0
                        if word == 0x7475_6F64_7473 {  // "stdout"
                            stream = .stdout
                        } else if word == 0x7272_6564_7473 {  // "stderr"
                            stream = .stderr
                        } else {
                            stream = .other
                            otherStream = Array(text)
                        }
                    case .time:
                        guard scanner.peek() == 0x22 else {
                            try scanner.skipValue()
                            continue
                        }
                        let value = try scanner.readKey()
                        time = value.escaped ? nil : RFC3339.parse(UnsafeRawBufferPointer(rebasing: line[value.range]))
                    case .attrs:
                        guard scanner.peek() == UInt8(ascii: "{") else {
                            try scanner.skipValue()
                            continue
                        }
                        try readAttrs(&scanner, line: line, event: &event, extras: &extras)
                    case .unknown:
                        try scanner.skipValue()
                    }
                } while scanner.consume(UInt8(ascii: ","))
                try scanner.expect(UInt8(ascii: "}"))
            }
            scanner.skipWhitespace()
            guard scanner.isAtEnd else { throw JSONError("data after the JSON object", at: scanner.position) }
        } catch {
            joiner.emitFailure(line, origin: origin, now: now, reason: "docker: \(error)", into: &output)
            return
        }
        guard let log else {
            joiner.emitFailure(line, origin: origin, now: now, reason: "docker: no \"log\" string", into: &output)
            return
        }
        let isFinal = !log.isEmpty && event.arena[log.upperBound - 1] == 0x0A
        let chunk = Chunk(
            message: log, timestamp: time ?? now, stream: stream, otherStream: otherStream, extras: extras,
            isFinal: isFinal)
        joiner.add(&event, chunk, origin: origin, into: &output)
    }

    public mutating func flush(now: Timestamp, into output: inout [LogEvent]) {
        joiner.flush(into: &output)
    }

    private mutating func readAttrs(
        _ scanner: inout JSONScanner, line: UnsafeRawBufferPointer, event: inout LogEvent, extras: inout [Field]
    ) throws(JSONError) {
        try scanner.expect(UInt8(ascii: "{"))
        if scanner.consume(UInt8(ascii: "}")) { return }
        var index: [ObjectIdentifier: Int] = [:]
        repeat {
            let key = try scanner.readKey()
            try scanner.expect(UInt8(ascii: ":"))
            guard scanner.peek() == 0x22 else {
                try scanner.skipValue()
                continue
            }
            let value = try scanner.readString(into: &event.arena)
            let found: FieldPath?
            if key.escaped {
                var keyScanner = JSONScanner(line, position: key.range.lowerBound - 1)
                var decoded: [UInt8] = []
                let r = try keyScanner.readString(into: &decoded)
                found = decoded[r].withUnsafeBytes { attrPath($0) }
            } else {
                found = attrPath(UnsafeRawBufferPointer(rebasing: line[key.range]))
            }
            // Past the limit of field names from input, further new attrs keys are left out.
            guard let path = found else { continue }
            let field = Field(path, .string(ArenaSlice(start: value.lowerBound, count: value.count)))
            // A repeated key replaces its value. Past a few keys, found by hash: a line may hold
            // thousands of them (a scan per key made a 1 MiB line cost seconds).
            if extras.count >= 16 && index.isEmpty {
                for (i, f) in extras.enumerated() { index[ObjectIdentifier(f.path)] = i }
            }
            if !index.isEmpty {
                if let i = index[ObjectIdentifier(path)] {
                    extras[i] = field
                } else {
                    index[ObjectIdentifier(path)] = extras.count
                    extras.append(field)
                }
            } else if let i = extras.firstIndex(where: { $0.path === path }) {
                extras[i] = field
            } else {
                extras.append(field)
            }
        } while scanner.consume(UInt8(ascii: ","))
        try scanner.expect(UInt8(ascii: "}"))
    }

    private mutating func attrPath(_ key: UnsafeRawBufferPointer) -> FieldPath? {
        for entry in attrPaths where entry.key.elementsEqual(key) { return entry.path }
        // Dots become underscores byte by byte: mapping Characters missed a dot that a combining
        // mark follows (one Character), and the name was split there.
        var bytes = Array(key)
        for i in bytes.indices where bytes[i] == UInt8(ascii: ".") { bytes[i] = UInt8(ascii: "_") }
        let name = bytes.isEmpty ? "_" : String(decoding: bytes, as: UTF8.self)
        guard let path = FieldPath.internIfRoom("docker.attrs." + name) else { return nil }
        if attrPaths.count < Self.attrPathCacheSize { attrPaths.append((Array(key), path)) }
        return path
    }
}
