import ShipperCore

/// Each physical line is one event: `message` is the line (a trailing `\r` removed, any other byte
/// kept as it is) and `@timestamp` the time it was read. Raw lines have no `stream`; nothing is
/// joined (use a multiline stage for that) and nothing fails to decode.
public struct RawDecoder: LineDecoder {
    private var joiner: PartialJoiner

    public init(options: LineDecoderOptions = .defaults) {
        var unbounded = options
        unbounded.maxLineBytes = .max
        joiner = PartialJoiner(options: unbounded, stripNewline: false)
    }

    public var pendingOffset: Int64? { nil }
    public var stats: LineDecoderStats { joiner.stats }

    public mutating func decode(
        _ line: UnsafeRawBufferPointer, origin: LineOrigin, now: Timestamp, into output: inout [LogEvent]
    ) {
        var event = joiner.newEvent()
        event.arena.reserveCapacity(joiner.arenaCapacity(line: line.count, origin: origin))
        let message = event.append(bytes: line).range
        let chunk = Chunk(message: message, timestamp: now, stream: .none, isFinal: true)
        joiner.add(&event, chunk, origin: origin, into: &output)
    }

    public mutating func flush(now: Timestamp, into output: inout [LogEvent]) {}
}
