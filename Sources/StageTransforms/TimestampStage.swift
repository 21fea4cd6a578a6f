import ShipperCore

/// Options of the `timestamp` stage: parse a field into `@timestamp`.
///
/// ```yaml
/// - type: timestamp
///   field: time
///   formats: ["%d/%b/%Y:%H:%M:%S %z", rfc3339, unix_ms]   # tried in order
///   timezone: Europe/Berlin       # for formats without an offset (default UTC)
///   target: "@timestamp"          # default
///   remove_source: true           # drop `field` after a successful parse (default true)
/// ```
/// A value no format reads leaves the event as it was, with tag `_timestamp_failure`.
public struct TimestampConfig: Decodable, Sendable {
    public var field: String
    public var formats: [TimeFormat]
    public var timezone: TimeZoneRule = .utc
    public var target: String = "@timestamp"
    public var removeSource: Bool = true

    enum CodingKeys: String, CodingKey, CaseIterable {
        case field, formats, format, timezone, target
        case removeSource = "remove_source"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        field = try c.decode(String.self, forKey: .field)
        var texts = try c.decodeIfPresent([String].self, forKey: .formats) ?? []
        if let one = try c.decodeIfPresent(String.self, forKey: .format) { texts.insert(one, at: 0) }
        if texts.isEmpty { texts = ["rfc3339"] }
        formats = try texts.map { try TimeFormat($0) }
        if let tz = try c.decodeIfPresent(String.self, forKey: .timezone) {
            guard let rule = TimeZoneRule(tz) else {
                throw ConfigValueError("unknown time zone '\(tz)'; use an IANA name such as Europe/Berlin, UTC, or an offset such as +02:00")
            }
            timezone = rule
        }
        target = try c.decodeIfPresent(String.self, forKey: .target) ?? "@timestamp"
        removeSource = try c.decodeIfPresent(Bool.self, forKey: .removeSource) ?? true
    }
}

/// Parses a field into a timestamp.
public struct TimestampStage: Stage {
    let field: FieldPath
    let target: FieldPath
    let formats: [TimeFormat]
    let zone: TimeZoneRule
    let removeSource: Bool

    public init(config: TimestampConfig) {
        field = FieldPath.intern(config.field)
        target = FieldPath.intern(config.target)
        formats = config.formats
        zone = config.timezone
        removeSource = config.removeSource
    }

    public func process(_ event: consuming LogEvent, into output: inout [LogEvent]) {
        apply(&event)
        output.append(consume event)
    }

    public func apply(_ event: inout LogEvent) {
        guard let value = event[field] else { return }
        var parsed: Timestamp?
        switch value {
        case .string(let s):
            parsed = event.arena.withUnsafeBytes { arena in
                let bytes = UnsafeRawBufferPointer(rebasing: arena[s.range])
                for f in formats { if let t = f.parse(bytes, zone: zone) { return t } }
                return nil
            }
        case .int(let i):
            var text = String(i)
            parsed = text.withUTF8 { b in
                for f in formats { if let t = f.parse(UnsafeRawBufferPointer(b), zone: zone) { return t } }
                return nil
            }
        case .timestamp(let t):
            parsed = t
        default:
            parsed = nil
        }
        guard let parsed else {
            event.addTag(EventTags.timestampFailure)
            return
        }
        if removeSource && field != target { event.remove(field) }
        event.set(target, .timestamp(parsed))
    }
}
