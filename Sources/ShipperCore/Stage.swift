/// One step of a pipeline: takes events and emits events (zero, one or several per input).
///
/// Stages are plain values owned by one pipeline worker; they need no locking. A stage that holds
/// events back (multiline) releases them in ``flush(now:into:)``.
public protocol Stage {
    /// Processes one event, appending what results to `output`.
    mutating func process(_ event: consuming LogEvent, into output: inout [LogEvent])

    /// Like ``process(_:into:)``, appending to `spent` the events the stage is done with and did
    /// not pass on (a line joined into a held event, an event a filter dropped), so that their
    /// storage is used again (``EventPool``) instead of freed and allocated anew.
    mutating func process(_ event: consuming LogEvent, into output: inout [LogEvent], spent: inout [LogEvent])

    /// Emits held-back events: all of them when `now` is nil (end of input, shutdown), otherwise
    /// those whose wait has timed out at `now`.
    mutating func flush(now: Timestamp?, into output: inout [LogEvent])

    /// Calls `body` with the origin of every event the stage holds back. The run loop keeps a
    /// file's checkpoint before the first line of any held event, so a crash re-reads it.
    func forEachHeldOrigin(_ body: (EventOrigin) -> Void)
}

extension Stage {
    public mutating func process(_ event: consuming LogEvent, into output: inout [LogEvent], spent: inout [LogEvent]) {
        process(event, into: &output)
    }

    public mutating func flush(now: Timestamp?, into output: inout [LogEvent]) {}
    public func forEachHeldOrigin(_ body: (EventOrigin) -> Void) {}
}

/// A parser reads one text field (normally `message`) and adds structured fields to the event.
///
/// Parsers are pure: no I/O, no shared mutable state. A parser that does not recognise the text
/// returns `false` and must leave the event as it was (the parse stage then tries the next parser,
/// and tags `_parse_failure` when none matches).
public protocol LogParser: Sendable {
    /// Parses the bytes at `text` (a slice of `event.arena`) and adds fields to `event`.
    ///
    /// On success the parser sets the fields it extracted. It sets `message` itself when part of the
    /// line stays free text (an error log's message); the parse stage removes the source field when
    /// the parser consumed it completely. Returns false, with the event untouched, on no match.
    func parse(_ text: ArenaSlice, into event: inout LogEvent) -> ParseResult
}

/// What a parser did with a line.
public enum ParseResult: Sendable, Equatable {
    /// The line matched and every part of it is now in fields: the source field can go.
    case consumed
    /// The line matched; the parser kept (or set) `message` with the free-text part.
    case keptMessage
    /// The line did not match; the event is unchanged.
    case noMatch
}

extension LogEvent {
    /// Sets a field from a JSON tree: objects become dotted paths under `path`, strings go into the arena.
    /// (An object removes what is at and below `path` first.)
    public mutating func set(_ path: FieldPath, json: JSONValue) {
        switch json {
        case .object(let members) where !members.isEmpty:
            set(jsonMembers: members, under: path)
        default:
            set(path, fieldValue(json))
        }
    }

    /// Sets each member at its key (under `base`, or at the top), one after the other, as
    /// ``set(_:json:)`` would (`base`, when given, is removed first): the same fields, values and
    /// order, in time linear in the number of leaves. One by one, each `set` scans the event's
    /// fields, so a test case's `fields:` of 40,000 keys took 19 s.
    ///
    /// An object member at `p` removes what is at and below `p` before its own members are set.
    /// Done first, against the event as it is, that removal gives the same result once the sets
    /// made before it in the sequence, at or below `p`, are left out.
    public mutating func set(jsonMembers members: [JSONMember], under base: FieldPath? = nil) {
        // A few leaves (a `modify` stage's `set:`, per event): one by one, without the tables.
        if Self.leaves(members, upTo: 16) <= 16 {
            if let base { remove(base) }
            for m in members { set(base?.appending(m.key) ?? FieldPath.intern(m.key), json: m.value) }
            return
        }
        enum Step {
            case set(FieldPath, JSONValue)
            case remove(FieldPath)
        }
        var steps: [Step] = []
        func flatten(_ path: FieldPath, _ json: JSONValue) {
            if case .object(let inner) = json, !inner.isEmpty {
                steps.append(.remove(path))
                for m in inner { flatten(path.appending(m.key), m.value) }
            } else {
                steps.append(.set(path, json))
            }
        }
        if let base { steps.append(.remove(base)) }
        for m in members { flatten(base?.appending(m.key) ?? FieldPath.intern(m.key), m.value) }
        // From the end: a set is left out when a later step removes its path or an ancestor.
        var removedLater = Set<ObjectIdentifier>()
        var removals: [FieldPath] = []
        var kept: [(FieldPath, JSONValue)] = []
        for step in steps.reversed() {
            switch step {
            case .remove(let path):
                if removedLater.insert(ObjectIdentifier(path)).inserted { removals.append(path) }
            case .set(let path, let json):
                var covered = false
                var p: FieldPath? = path
                while let q = p, !covered {
                    covered = removedLater.contains(ObjectIdentifier(q))
                    p = q.parent
                }
                if !covered { kept.append((path, json)) }
            }
        }
        for path in removals { remove(path) }
        var fields: [Field] = []
        fields.reserveCapacity(kept.count)
        for (path, json) in kept.reversed() { fields.append(Field(path, fieldValue(json))) }
        set(contentsOf: fields)
    }

    /// The leaves under `members` (a non-empty object counts its own), counted up to just past `limit`.
    private static func leaves(_ members: [JSONMember], upTo limit: Int) -> Int {
        var n = 0
        for m in members {
            if case .object(let inner) = m.value, !inner.isEmpty {
                n += leaves(inner, upTo: limit - n)
            } else {
                n += 1
            }
            if n > limit { break }
        }
        return n
    }

    /// Converts a JSON tree into a field value stored in this event's arena.
    public mutating func fieldValue(_ json: JSONValue) -> FieldValue {
        switch json {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .double(let d): return .double(d)
        case .string(let s): return .string(append(string: s))
        case .array(let items):
            let elements = items.map { fieldValue($0) }
            return appendArray(elements)
        case .object(let members):
            let fields = members.map { Field(FieldPath.intern($0.key), fieldValue($0.value)) }
            return appendObject(fields)
        }
    }
}
