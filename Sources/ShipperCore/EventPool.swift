/// Spare events whose storage (the fields array and the arena) is used again for new events, so
/// that making an event costs no allocation once the pipeline has warmed up.
///
/// Decoders take events from the pool (``LineDecoderOptions/pool``); whoever is done with events
/// (the pipeline worker once they are encoded into the buffer, `shipper bench`) gives them back
/// with ``recycle(_:)``. One pool belongs to one thread at a time (a pipeline worker and the
/// decoders it owns): it is not synchronised. Its memory is bounded: at most ``maxEvents`` events
/// are kept, and events whose arena grew past ``maxArenaBytes`` (a 1 MiB line), or whose fields,
/// array elements or object members grew past ``maxFields`` (a JSON line with thousands of keys),
/// are freed.
public final class EventPool: @unchecked Sendable {
    private var spare: [LogEvent] = []
    /// Events kept at most.
    public let maxEvents: Int
    /// Events whose arena capacity is larger are not kept.
    public let maxArenaBytes: Int
    /// Events whose fields, `values` or `members` capacity is larger are not kept.
    public let maxFields: Int

    public init(maxEvents: Int = 1024, maxArenaBytes: Int = 16 << 10, maxFields: Int = 128) {
        self.maxEvents = max(0, maxEvents)
        self.maxArenaBytes = maxArenaBytes
        self.maxFields = maxFields
        spare.reserveCapacity(self.maxEvents)
    }

    /// Events kept now.
    public var count: Int { spare.count }

    /// An empty event: a spare one (with its capacity) when there is one, else a new one.
    @inline(__always)
    public func take() -> LogEvent {
        spare.popLast() ?? LogEvent()
    }

    /// Takes the events out of `events` (leaving it empty, capacity kept) and keeps those worth
    /// keeping, emptied.
    public func recycle(_ events: inout [LogEvent]) {
        recycle(&events) { _ in }
    }

    /// Calls `body` with each event of `events`, in order, and empties it for reuse right after,
    /// in the same pass (the event is in the cache once, not twice); then takes them like
    /// ``recycle(_:)``. When `body` throws, the events are left in `events`, those before the
    /// one it threw for already emptied.
    public func recycle(_ events: inout [LogEvent], each body: (inout LogEvent) throws -> Void) rethrows {
        let keep = min(events.count, maxEvents &- spare.count)
        try events.withUnsafeMutableBufferPointer { buffer in
            for i in buffer.indices {
                try body(&buffer[i])
                guard i < keep else { continue }
                if keeps(buffer[i]) {
                    buffer[i].reset()
                } else {
                    buffer[i] = LogEvent()
                }
            }
        }
        if spare.isEmpty && keep == events.count {
            // The usual case (the decoders used up the spares): the array itself becomes the
            // spares, and the caller gets the spares' empty storage.
            swap(&spare, &events)
        } else {
            // Moved, not copied (a copy would retain every array of every event, and the
            // removal release them again); the events past `keep` are freed.
            var moved = 0
            events.drainEvents { event in
                guard moved < keep else { return }
                spare.append(consume event)
                moved += 1
            }
        }
    }

    /// Keeps one event (emptied), when there is room and it is worth keeping.
    public func recycle(_ event: consuming LogEvent) {
        guard spare.count < maxEvents, keeps(event) else { return }
        event.reset()
        spare.append(event)
    }

    /// Whether the event's storage is small enough to keep.
    @inline(__always)
    private func keeps(_ event: borrowing LogEvent) -> Bool {
        event.arena.capacity <= maxArenaBytes && event.fields.capacity <= maxFields && event.values.capacity <= maxFields
            && event.members.capacity <= maxFields
    }
}

extension EventPool: Equatable {
    /// Pools are equal when they are the same pool.
    public static func == (lhs: EventPool, rhs: EventPool) -> Bool { lhs === rhs }
}
