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

    public init(options: LineDecoderOptions = .defaults) {
        joiner = PartialJoiner(maxLineBytes: options.maxLineBytes, stripNewline: true)
    }

    public var pendingOffset: Int64? { joiner.pendingOffset }
    public var stats: LineDecoderStats { joiner.stats }

    private enum Key {
        case log, stream, time, attrs, unknown

        init(_ b: UnsafeRawBufferPointer) {
            switch b.count {
            case 3 where b[0] == UInt8(ascii: "l") && b[1] == UInt8(ascii: "o") && b[2] == UInt8(ascii: "g"):
                self = .log
            case 4 where b.elementsEqual("time".utf8): self = .time
            case 5 where b.elementsEqual("attrs".utf8): self = .attrs
            case 6 where b.elementsEqual("stream".utf8): self = .stream
            default: self = .unknown
            }
        }
    }

    public mutating func decode(
        _ line: UnsafeRawBufferPointer, origin: LineOrigin, now: Timestamp, into output: inout [LogEvent]
    ) {
        var event = LogEvent()
        event.arena.reserveCapacity(line.count &+ (origin.path?.utf8.count ?? 0) &+ 16)
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
                        log = try scanner.readString(into: &event.arena)
                    case .stream:
                        guard scanner.peek() == 0x22 else {
                            try scanner.skipValue()
                            continue
                        }
                        let value = try scanner.readKey()
                        let text = UnsafeRawBufferPointer(rebasing: line[value.range])
                        if text.elementsEqual(StreamBytes.stdout) {
                            stream = .stdout
                        } else if text.elementsEqual(StreamBytes.stderr) {
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
            event: event, message: log, timestamp: time ?? now, stream: stream, otherStream: otherStream,
            extras: extras, isFinal: isFinal)
        joiner.add(chunk, origin: origin, into: &output)
    }

    public mutating func flush(now: Timestamp, into output: inout [LogEvent]) {
        joiner.flush(into: &output)
    }

    private mutating func readAttrs(
        _ scanner: inout JSONScanner, line: UnsafeRawBufferPointer, event: inout LogEvent, extras: inout [Field]
    ) throws(JSONError) {
        try scanner.expect(UInt8(ascii: "{"))
        if scanner.consume(UInt8(ascii: "}")) { return }
        repeat {
            let key = try scanner.readKey()
            try scanner.expect(UInt8(ascii: ":"))
            guard scanner.peek() == 0x22 else {
                try scanner.skipValue()
                continue
            }
            let value = try scanner.readString(into: &event.arena)
            let path: FieldPath
            if key.escaped {
                var keyScanner = JSONScanner(line, position: key.range.lowerBound - 1)
                var decoded: [UInt8] = []
                let r = try keyScanner.readString(into: &decoded)
                path = decoded[r].withUnsafeBytes { attrPath($0) }
            } else {
                path = attrPath(UnsafeRawBufferPointer(rebasing: line[key.range]))
            }
            let field = Field(path, .string(ArenaSlice(start: value.lowerBound, count: value.count)))
            if let i = extras.firstIndex(where: { $0.path === path }) {
                extras[i] = field
            } else {
                extras.append(field)
            }
        } while scanner.consume(UInt8(ascii: ","))
        try scanner.expect(UInt8(ascii: "}"))
    }

    private mutating func attrPath(_ key: UnsafeRawBufferPointer) -> FieldPath {
        for entry in attrPaths where entry.key.elementsEqual(key) { return entry.path }
        var name = String(decoding: key, as: UTF8.self)
        name = String(name.map { $0 == "." ? "_" : $0 })
        if name.isEmpty { name = "_" }
        let path = FieldPath.intern("docker.attrs." + name)
        if attrPaths.count < Self.attrPathCacheSize { attrPaths.append((Array(key), path)) }
        return path
    }
}
