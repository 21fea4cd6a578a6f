import ShipperCore

/// Decodes the CRI log format written by containerd and CRI-O (Kubernetes `/var/log/pods/…`):
/// `2024-05-01T12:00:00.123456789Z stdout F GET / 200`.
///
/// - The time (RFC 3339, nanoseconds kept) becomes `@timestamp`, the stream `stream`, the rest after
///   the tag's space `message` (a trailing `\r` removed).
/// - Tag `P` marks a partial chunk: chunks are joined, per stream, up to the next `F` chunk of the
///   same stream (stdout and stderr chunks that interleave are kept apart). The joined event keeps
///   the first chunk's time and offset. Joins are bounded by ``LineDecoderOptions/maxLineBytes``.
/// - A line whose prefix is not `<time> <stdout|stderr> <P|F>` is shipped raw with the tag
///   `_decode_failure` and a reason in `shipper.failure.reason`. Bytes of the message are kept as
///   they are (invalid UTF-8 is replaced by U+FFFD only when the event is written as JSON).
public struct CRIDecoder: LineDecoder {
    private var joiner: PartialJoiner

    public init(options: LineDecoderOptions = .defaults) {
        joiner = PartialJoiner(options: options, stripNewline: false)
    }

    public var pendingOffset: Int64? { joiner.pendingOffset }
    public var stats: LineDecoderStats { joiner.stats }

    public mutating func decode(
        _ line: UnsafeRawBufferPointer, origin: LineOrigin, now: Timestamp, into output: inout [LogEvent]
    ) {
        let prefix: CRIPrefix
        do {
            prefix = try CRIPrefix.parseOrThrow(line)
        } catch {
            joiner.emitFailure(line, origin: origin, now: now, reason: error.reason, into: &output)
            return
        }
        var event = joiner.newEvent()
        let text = UnsafeRawBufferPointer(rebasing: line[prefix.messageStart...])
        event.arena.reserveCapacity(joiner.arenaCapacity(line: text.count, origin: origin))
        let message = event.append(bytes: text).range
        let chunk = Chunk(message: message, timestamp: prefix.timestamp, stream: prefix.stream, isFinal: !prefix.isPartial)
        joiner.add(&event, chunk, origin: origin, into: &output)
    }

    public mutating func flush(now: Timestamp, into output: inout [LogEvent]) {
        joiner.flush(into: &output)
    }
}
