/// A point in time with nanosecond resolution, and how many fraction digits its source gave
/// (so that `@timestamp` keeps nanoseconds when the source has them and shows milliseconds otherwise).
public struct Timestamp: Sendable, Hashable, Comparable {
    /// Nanoseconds since 1970-01-01T00:00:00Z.
    public var nanoseconds: Int64
    /// Fraction digits written: 3, 6 or 9 (at least 3).
    public var precision: UInt8

    @inlinable
    public init(nanoseconds: Int64, precision: UInt8 = 3) {
        self.nanoseconds = nanoseconds
        self.precision = precision
    }

    public init(seconds: Int64, nanoseconds: Int64 = 0, precision: UInt8 = 3) {
        self.init(nanoseconds: seconds &* 1_000_000_000 &+ nanoseconds, precision: precision)
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    public static func == (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.nanoseconds == rhs.nanoseconds }

    public func hash(into hasher: inout Hasher) { hasher.combine(nanoseconds) }

    /// The current wall-clock time.
    public static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(nanoseconds: Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec), precision: 9)
    }

    /// RFC 3339 in UTC: `2016-10-25T12:49:33.000Z`.
    public var rfc3339: String {
        var out: [UInt8] = []
        out.reserveCapacity(30)
        write(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Writes RFC 3339 UTC text (no quotes).
    @inlinable
    public func write(into out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Self.maxTextCount) { buf in
            let n = write(to: buf.baseAddress!, at: 0)
            out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[0..<n]))
        }
    }

    /// Writes RFC 3339 UTC text (no quotes) at `start`, where the caller guaranteed
    /// ``maxTextCount`` bytes of room. Returns the position after it. Byte for byte what
    /// ``write(into:)`` appends.
    @inlinable
    public func write(to base: UnsafeMutablePointer<UInt8>, at start: Int) -> Int {
        var secs = nanoseconds / 1_000_000_000
        var nanos = nanoseconds % 1_000_000_000
        if nanos < 0 {
            nanos += 1_000_000_000
            secs -= 1
        }
        var days = secs / 86_400
        var rem = secs % 86_400
        if rem < 0 {
            rem += 86_400
            days -= 1
        }
        let (y0, m, d) = Civil.civil(fromDays: days)
        let y = max(0, min(y0, 9999))
        @inline(__always) func digit(_ v: Int) -> UInt8 { UInt8(truncatingIfNeeded: v) &+ 48 }
        let p = base + start
        p[0] = digit(y / 1000); p[1] = digit(y / 100 % 10); p[2] = digit(y / 10 % 10); p[3] = digit(y % 10)
        p[4] = 0x2D; p[5] = digit(m / 10); p[6] = digit(m % 10)
        p[7] = 0x2D; p[8] = digit(d / 10); p[9] = digit(d % 10)
        let hh = Int(rem / 3600), mm = Int(rem / 60 % 60), ss = Int(rem % 60)
        p[10] = 0x54; p[11] = digit(hh / 10); p[12] = digit(hh % 10)
        p[13] = 0x3A; p[14] = digit(mm / 10); p[15] = digit(mm % 10)
        p[16] = 0x3A; p[17] = digit(ss / 10); p[18] = digit(ss % 10)
        p[19] = 0x2E
        let digits = precision > 6 ? 9 : (precision > 3 ? 6 : 3)
        var v = Int(nanos)
        var i = 9
        while i > digits {
            v /= 10
            i -= 1
        }
        var q = 20 + digits
        while q > 20 {
            q -= 1
            p[q] = digit(v % 10)
            v /= 10
        }
        p[20 + digits] = 0x5A
        return start + 21 + digits
    }

    /// The most bytes ``write(to:at:)`` writes.
    public static let maxTextCount = 30
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Calendar arithmetic on the proleptic Gregorian calendar (Howard Hinnant's algorithms).
public enum Civil {
    /// Days since 1970-01-01 for a civil date.
    @inlinable
    public static func days(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The civil date of a day count since 1970-01-01.
    @inlinable
    public static func civil(fromDays days: Int64) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (Int(m <= 2 ? y + 1 : y), Int(m), Int(d))
    }

    @inlinable
    public static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Month number (1–12) of an English three-letter abbreviation, case-insensitive (`Jan`, `OCT`).
    @inlinable
    public static func month(abbreviation a: UInt8, _ b: UInt8, _ c: UInt8) -> Int? {
        let key = (UInt32(a | 0x20) << 16) | (UInt32(b | 0x20) << 8) | UInt32(c | 0x20)
        switch key {
        case 0x6A_616E: return 1  // jan
        case 0x66_6562: return 2  // feb
        case 0x6D_6172: return 3  // mar
        case 0x61_7072: return 4  // apr
        case 0x6D_6179: return 5  // may
        case 0x6A_756E: return 6  // jun
        case 0x6A_756C: return 7  // jul
        case 0x61_7567: return 8  // aug
        case 0x73_6570: return 9  // sep
        case 0x6F_6374: return 10  // oct
        case 0x6E_6F76: return 11  // nov
        case 0x64_6563: return 12  // dec
        default: return nil
        }
    }
}

/// The fields of a date and time as read from text, before a time zone turns them into a ``Timestamp``.
public struct CivilTime: Sendable, Equatable {
    public var year: Int
    public var month: Int
    public var day: Int
    public var hour: Int
    public var minute: Int
    public var second: Int
    public var nanosecond: Int
    /// Fraction digits present in the source (0 when none).
    public var fractionDigits: Int
    /// The UTC offset written in the text, if any (`+0200` → 7200).
    public var utcOffset: Int?

    public init(
        year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0,
        nanosecond: Int = 0, fractionDigits: Int = 0, utcOffset: Int? = nil
    ) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
        self.nanosecond = nanosecond
        self.fractionDigits = fractionDigits
        self.utcOffset = utcOffset
    }

    /// True when every field is in range (leap second 60 allowed).
    @inlinable
    public var isValid: Bool {
        month >= 1 && month <= 12 && day >= 1 && day <= Civil.daysInMonth(year: year, month: month)
            && hour >= 0 && hour <= 23 && minute >= 0 && minute <= 59 && second >= 0 && second <= 60
            && nanosecond >= 0 && nanosecond < 1_000_000_000
    }

    /// Seconds since the epoch of these wall-clock fields read as UTC.
    @inlinable
    public var localSeconds: Int64 {
        Civil.days(year: year, month: month, day: day) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
    }

    /// The instant, using the written offset if present and `zone` otherwise.
    @inlinable
    public func timestamp(zone: TimeZoneRule) -> Timestamp {
        let local = localSeconds
        let offset = utcOffset ?? zone.offset(forLocalSeconds: local)
        let precision: UInt8 = fractionDigits > 6 ? 9 : (fractionDigits > 3 ? 6 : 3)
        return Timestamp(nanoseconds: (local - Int64(offset)) &* 1_000_000_000 &+ Int64(nanosecond), precision: precision)
    }
}
