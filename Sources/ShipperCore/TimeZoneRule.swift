import Foundation
import Synchronization

/// How a time without a written UTC offset is placed on the timeline: UTC, a fixed offset, or an
/// IANA zone (`Europe/Berlin`) with its daylight-saving rules.
public enum TimeZoneRule: Sendable, Equatable {
    case utc
    case fixed(seconds: Int)
    case named(NamedTimeZone)

    /// Parses `UTC`, `Z`, `+02:00`, `-0700` or an IANA name.
    public init?(_ text: String) {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.isEmpty || t == "UTC" || t == "Z" || t == "Etc/UTC" || t == "GMT" {
            self = .utc
            return
        }
        if let first = t.first, first == "+" || first == "-" {
            let digits = t.dropFirst().filter { $0 != ":" }
            guard digits.count == 4, let v = Int(digits) else { return nil }
            let seconds = (v / 100) * 3600 + (v % 100) * 60
            guard v % 100 < 60, seconds <= 18 * 3600 else { return nil }
            self = .fixed(seconds: first == "-" ? -seconds : seconds)
            return
        }
        guard let zone = NamedTimeZone(identifier: t) else { return nil }
        self = .named(zone)
    }

    /// The UTC offset in effect at a wall-clock time given as seconds since the epoch read as UTC.
    @inlinable
    public func offset(forLocalSeconds local: Int64) -> Int {
        switch self {
        case .utc: return 0
        case .fixed(let s): return s
        case .named(let zone): return zone.offset(forLocalSeconds: local)
        }
    }
}

/// An IANA time zone with a small cache of offsets per wall-clock quarter hour.
public final class NamedTimeZone: Sendable, Equatable {
    public let identifier: String
    private let zone: TimeZone
    private let cache = Mutex<[Int64: Int]>([:])

    public init?(identifier: String) {
        guard let zone = TimeZone(identifier: identifier) else { return nil }
        self.identifier = identifier
        self.zone = zone
    }

    public static func == (lhs: NamedTimeZone, rhs: NamedTimeZone) -> Bool { lhs.identifier == rhs.identifier }

    /// The offset at a wall-clock time. In the hour a clock is set back, the earlier (daylight)
    /// offset is used; in the hour skipped when it is set forward, the offset before the change.
    public func offset(forLocalSeconds local: Int64) -> Int {
        let bucket = local / 900
        if let hit = cache.withLock({ $0[bucket] }) { return hit }
        let first = zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(local)))
        var offset = zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(local - Int64(first))))
        if offset != first {
            // Near a transition: pick the offset that maps back to the same wall-clock time.
            let again = zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(local - Int64(offset))))
            if again != offset { offset = max(first, offset) }
        }
        let result = offset
        cache.withLock {
            if $0.count > 4096 { $0.removeAll(keepingCapacity: true) }
            // Only cache buckets away from a transition (both ends of the quarter agree).
            let end = zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double((bucket + 1) * 900 - Int64(result))))
            let start = zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(bucket * 900 - Int64(result))))
            if end == result && start == result { $0[bucket] = result }
        }
        return result
    }
}
