import ShipperCore

/// How an access log writes a point in time, and how to read it back from bytes.
///
/// Shared by `nginx_access` (`$time_local`, `$time_iso8601`, `$msec`) and `jetty_request`
/// (`%t`, `%{pattern}t`). Parsing is byte-level and allocation-free.
enum AccessLogTimeLayout: Sendable, Equatable {
    /// Common Log Format: `10/Oct/2000:13:55:36 -0700` (nginx `$time_local`, Jetty's default `%t`).
    case clf
    /// ISO 8601 / RFC 3339: `2000-10-10T13:55:36-07:00`, optional fraction, `Z` or offset
    /// (nginx `$time_iso8601`).
    case iso8601
    /// Seconds since the epoch with an optional fraction: `1457357111.123` (nginx `$msec`).
    case epochSeconds
    /// A `java.time` pattern (Jetty `%{dd/MMM/yyyy:HH:mm:ss ZZZ}t`), compiled by
    /// ``AccessLogTimePattern/compile(_:)``.
    case pattern([AccessLogTimePattern.Element])
}

/// A compiled `java.time.format.DateTimeFormatter` pattern (the subset access logs use).
enum AccessLogTimePattern {
    enum Element: Sendable, Equatable {
        case literal(UInt8)
        /// `y`/`u` with at least `min` and at most `max` digits.
        case year(min: Int, max: Int)
        /// `yy`: two digits, 2000–2099.
        case twoDigitYear
        case month(min: Int, max: Int)
        /// `MMM`: `Jan`…`Dec` (English).
        case monthAbbreviation
        /// `MMMM`: `January`…`December` (English).
        case monthName
        case day(min: Int, max: Int)
        /// `H` (0–23).
        case hour(min: Int, max: Int)
        /// `k` (1–24, 24 = midnight).
        case clockHour24(min: Int, max: Int)
        /// `h` (1–12) or `K` (0–11), combined with `a`.
        case hour12(min: Int, max: Int)
        case minute(min: Int, max: Int)
        case second(min: Int, max: Int)
        /// `S…S`: fraction of a second with exactly this many digits.
        case fraction(digits: Int)
        /// `a`: `AM`/`PM` (any case).
        case amPm
        /// `E…`: day-of-week name, skipped (letters).
        case dayName
        /// `Z`, `X`, `x`, `O`: `Z`, `±HH`, `±HHMM`, `±HH:MM`, optionally after `GMT`/`UTC`.
        case offset
        /// `z`, `V`: a zone name; `UTC`/`GMT`/`Z`/`UT` (optionally with an offset) are understood,
        /// other names fall back to the configured time zone.
        case zoneName
    }

    /// Compiles a `java.time` pattern. Throws for letters it does not support.
    static func compile(_ pattern: String) throws(ConfigValueError) -> [Element] {
        let bytes = Array(pattern.utf8)
        var out: [Element] = []
        var i = 0
        if bytes.isEmpty { throw ConfigValueError("time pattern is empty") }
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "'") {
                // Quoted literal text; '' is a single quote.
                if i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "'") {
                    out.append(.literal(c))
                    i += 2
                    continue
                }
                var j = i + 1
                var closed = false
                while j < bytes.count {
                    if bytes[j] == UInt8(ascii: "'") {
                        if j + 1 < bytes.count && bytes[j + 1] == UInt8(ascii: "'") {
                            out.append(.literal(UInt8(ascii: "'")))
                            j += 2
                            continue
                        }
                        closed = true
                        break
                    }
                    out.append(.literal(bytes[j]))
                    j += 1
                }
                if !closed {
                    throw ConfigValueError("time pattern '\(pattern)': quote at position \(i + 1) is not closed")
                }
                i = j + 1
                continue
            }
            let isLetter = (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
            if !isLetter {
                if c == UInt8(ascii: "[") || c == UInt8(ascii: "]") {
                    throw ConfigValueError(
                        "time pattern '\(pattern)': optional sections ('[' at position \(i + 1)) are not supported")
                }
                out.append(.literal(c))
                i += 1
                continue
            }
            var n = 1
            while i + n < bytes.count && bytes[i + n] == c { n += 1 }
            let minDigits = n == 1 ? 1 : n
            let maxDigits = n == 1 ? 2 : n
            switch UInt8(c) {
            case UInt8(ascii: "y"), UInt8(ascii: "u"):
                out.append(n == 2 ? .twoDigitYear : .year(min: n == 1 ? 1 : n, max: n == 1 ? 4 : max(n, 4)))
            case UInt8(ascii: "M"), UInt8(ascii: "L"):
                if n >= 4 {
                    out.append(.monthName)
                } else if n == 3 {
                    out.append(.monthAbbreviation)
                } else {
                    out.append(.month(min: minDigits, max: maxDigits))
                }
            case UInt8(ascii: "d"): out.append(.day(min: minDigits, max: maxDigits))
            case UInt8(ascii: "H"): out.append(.hour(min: minDigits, max: maxDigits))
            case UInt8(ascii: "k"): out.append(.clockHour24(min: minDigits, max: maxDigits))
            case UInt8(ascii: "h"), UInt8(ascii: "K"): out.append(.hour12(min: minDigits, max: maxDigits))
            case UInt8(ascii: "m"): out.append(.minute(min: minDigits, max: maxDigits))
            case UInt8(ascii: "s"): out.append(.second(min: minDigits, max: maxDigits))
            case UInt8(ascii: "S"):
                guard n <= 9 else {
                    throw ConfigValueError("time pattern '\(pattern)': at most 9 'S' (fraction digits) are supported")
                }
                out.append(.fraction(digits: n))
            case UInt8(ascii: "a"): out.append(.amPm)
            case UInt8(ascii: "E"): out.append(.dayName)
            case UInt8(ascii: "Z"), UInt8(ascii: "X"), UInt8(ascii: "x"), UInt8(ascii: "O"): out.append(.offset)
            case UInt8(ascii: "z"), UInt8(ascii: "V"): out.append(.zoneName)
            default:
                throw ConfigValueError(
                    "time pattern '\(pattern)': pattern letter '\(Character(Unicode.Scalar(c)))' at position \(i + 1) "
                        + "is not supported (supported: y u M L d H k h K m s S a E Z X x O z V and quoted 'text')")
            }
            i += n
        }
        return out
    }
}

/// Reads times from bytes.
enum AccessLogTimeParser {
    /// Parses `p[start..<end]` in `layout`; times without an offset are placed in `zone`.
    /// Returns nil when the text is not a valid time in that layout.
    @inline(__always)
    static func parse(
        _ p: UnsafeRawBufferPointer, _ start: Int, _ end: Int, layout: AccessLogTimeLayout, zone: TimeZoneRule
    ) -> Timestamp? {
        var c = ByteCursor(p, start, end)
        let civil: CivilTime?
        switch layout {
        case .clf:
            if end - start == 26, let t = fixedCLF(p, start) { return t }
            civil = parseCLF(&c)
        case .iso8601: civil = parseISO(&c)
        case .epochSeconds: return parseEpoch(&c)
        case .pattern(let elements): civil = parsePattern(&c, elements)
        }
        guard let civil, c.atEnd, civil.isValid else { return nil }
        return civil.timestamp(zone: zone)
    }

    /// The common case, `dd/MMM/yyyy:HH:mm:ss ±hhmm` in exactly 26 bytes at `s`, read by position.
    @inline(__always)
    static func fixedCLF(_ p: UnsafeRawBufferPointer, _ s: Int) -> Timestamp? {
        @inline(__always) func two(_ i: Int) -> Int {
            let a = p[s + i] &- 48
            let b = p[s + i + 1] &- 48
            return a < 10 && b < 10 ? Int(a) * 10 + Int(b) : -1
        }
        let sign = p[s + 21]
        guard p[s + 2] == UInt8(ascii: "/"), p[s + 6] == UInt8(ascii: "/"), p[s + 11] == UInt8(ascii: ":"),
            p[s + 14] == UInt8(ascii: ":"), p[s + 17] == UInt8(ascii: ":"), p[s + 20] == UInt8(ascii: " "),
            sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-"),
            let month = Civil.month(abbreviation: p[s + 3], p[s + 4], p[s + 5])
        else { return nil }
        let day = two(0)
        let y1 = two(7)
        let y2 = two(9)
        let hour = two(12)
        let minute = two(15)
        let second = two(18)
        let oh = two(22)
        let om = two(24)
        guard day >= 1, y1 >= 0, y2 >= 0, hour >= 0, hour <= 23, minute >= 0, minute <= 59, second >= 0,
            second <= 60, oh >= 0, oh <= 18, om >= 0, om <= 59
        else { return nil }
        let year = y1 * 100 + y2
        guard day <= Civil.daysInMonth(year: year, month: month) else { return nil }
        let offset = (oh * 3600 + om * 60) * (sign == UInt8(ascii: "-") ? -1 : 1)
        let local = Civil.days(year: year, month: month, day: day) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
        return Timestamp(nanoseconds: (local - Int64(offset)) &* 1_000_000_000, precision: 3)
    }

    /// `dd/MMM/yyyy:HH:mm:ss ±hhmm` (the offset may be missing; the day may have one digit).
    static func parseCLF(_ c: inout ByteCursor) -> CivilTime? {
        guard let day = c.digits(1, 2), c.skip(UInt8(ascii: "/")),
            let month = c.monthAbbreviation(), c.skip(UInt8(ascii: "/")),
            let year = c.digits(4, 4), c.skip(UInt8(ascii: ":")),
            let hour = c.digits(2, 2), c.skip(UInt8(ascii: ":")),
            let minute = c.digits(2, 2), c.skip(UInt8(ascii: ":")),
            let second = c.digits(2, 2)
        else { return nil }
        var t = CivilTime(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        if c.fraction(into: &t) == false { return nil }
        if !c.atEnd {
            guard c.skip(UInt8(ascii: " ")), let offset = c.offset() else { return nil }
            t.utcOffset = offset
        }
        return t
    }

    /// `yyyy-MM-dd[T ]HH:mm:ss[.fffffffff][Z|±hh:mm|±hhmm|±hh]`.
    static func parseISO(_ c: inout ByteCursor) -> CivilTime? {
        guard let year = c.digits(4, 4), c.skip(UInt8(ascii: "-")),
            let month = c.digits(2, 2), c.skip(UInt8(ascii: "-")),
            let day = c.digits(2, 2)
        else { return nil }
        guard let sep = c.peek(), sep == UInt8(ascii: "T") || sep == UInt8(ascii: "t") || sep == UInt8(ascii: " ")
        else { return nil }
        c.advance()
        guard let hour = c.digits(2, 2), c.skip(UInt8(ascii: ":")),
            let minute = c.digits(2, 2), c.skip(UInt8(ascii: ":")),
            let second = c.digits(2, 2)
        else { return nil }
        var t = CivilTime(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        if c.fraction(into: &t) == false { return nil }
        if !c.atEnd {
            guard let offset = c.offset() else { return nil }
            t.utcOffset = offset
        }
        return t
    }

    /// `seconds[.fraction]` since the epoch.
    static func parseEpoch(_ c: inout ByteCursor) -> Timestamp? {
        guard let seconds = c.digits(1, 12) else { return nil }
        var t = CivilTime(year: 1970, month: 1, day: 1)
        if c.fraction(into: &t) == false || !c.atEnd { return nil }
        let precision: UInt8 = t.fractionDigits > 6 ? 9 : (t.fractionDigits > 3 ? 6 : 3)
        return Timestamp(nanoseconds: Int64(seconds) &* 1_000_000_000 &+ Int64(t.nanosecond), precision: precision)
    }

    static func parsePattern(_ c: inout ByteCursor, _ elements: [AccessLogTimePattern.Element]) -> CivilTime? {
        var t = CivilTime(year: 1970, month: 1, day: 1)
        var pm: Bool? = nil
        var hour12: Int? = nil
        for element in elements {
            switch element {
            case .literal(let b):
                guard c.skip(b) else { return nil }
            case .year(let lo, let hi):
                guard let v = c.digits(lo, hi) else { return nil }
                t.year = v
            case .twoDigitYear:
                guard let v = c.digits(2, 2) else { return nil }
                t.year = 2000 + v
            case .month(let lo, let hi):
                guard let v = c.digits(lo, hi) else { return nil }
                t.month = v
            case .monthAbbreviation:
                guard let v = c.monthAbbreviation() else { return nil }
                t.month = v
            case .monthName:
                guard let v = c.monthName() else { return nil }
                t.month = v
            case .day(let lo, let hi):
                guard let v = c.digits(lo, hi) else { return nil }
                t.day = v
            case .hour(let lo, let hi):
                guard let v = c.digits(lo, hi) else { return nil }
                t.hour = v
            case .clockHour24(let lo, let hi):
                guard let v = c.digits(lo, hi), v >= 1, v <= 24 else { return nil }
                t.hour = v == 24 ? 0 : v
            case .hour12(let lo, let hi):
                guard let v = c.digits(lo, hi), v <= 12 else { return nil }
                hour12 = v
            case .minute(let lo, let hi):
                guard let v = c.digits(lo, hi) else { return nil }
                t.minute = v
            case .second(let lo, let hi):
                guard let v = c.digits(lo, hi) else { return nil }
                t.second = v
            case .fraction(let n):
                var value = 0
                for _ in 0..<n {
                    guard let d = c.digit() else { return nil }
                    value = value * 10 + d
                }
                var scale = 1
                for _ in n..<9 { scale *= 10 }
                t.nanosecond = value * scale
                t.fractionDigits = n
            case .amPm:
                guard let a = c.peek() else { return nil }
                c.advance()
                guard c.skipCaseInsensitive(UInt8(ascii: "m")) else { return nil }
                switch a | 0x20 {
                case UInt8(ascii: "a"): pm = false
                case UInt8(ascii: "p"): pm = true
                default: return nil
                }
            case .dayName:
                guard c.skipLetters() > 0 else { return nil }
            case .offset:
                guard let o = c.offset(allowPrefix: true) else { return nil }
                t.utcOffset = o
            case .zoneName:
                switch c.zoneName() {
                case .none: return nil
                case .some(.some(let o)): t.utcOffset = o
                case .some(.none): break
                }
            }
        }
        if let h = hour12 {
            let base = h == 12 ? 0 : h
            t.hour = (pm ?? false) ? base + 12 : base
        }
        return t
    }
}

/// A read position over bytes `[position, end)` with small typed readers. Never reads outside.
struct ByteCursor {
    let p: UnsafeRawBufferPointer
    var position: Int
    let end: Int

    @inline(__always)
    init(_ p: UnsafeRawBufferPointer, _ start: Int, _ end: Int) {
        self.p = p
        self.position = start
        self.end = end
    }

    @inline(__always) var atEnd: Bool { position >= end }

    @inline(__always)
    func peek() -> UInt8? { position < end ? p[position] : nil }

    @inline(__always)
    mutating func advance() { position += 1 }

    @inline(__always)
    mutating func skip(_ b: UInt8) -> Bool {
        guard position < end, p[position] == b else { return false }
        position += 1
        return true
    }

    mutating func skipCaseInsensitive(_ lower: UInt8) -> Bool {
        guard position < end, p[position] | 0x20 == lower else { return false }
        position += 1
        return true
    }

    @inline(__always)
    mutating func digit() -> Int? {
        guard position < end else { return nil }
        let d = p[position] &- 48
        guard d < 10 else { return nil }
        position += 1
        return Int(d)
    }

    /// Between `lo` and `hi` decimal digits (greedy).
    @inline(__always)
    mutating func digits(_ lo: Int, _ hi: Int) -> Int? {
        var value = 0
        var n = 0
        while n < hi, position < end {
            let d = p[position] &- 48
            if d >= 10 { break }
            value = value &* 10 &+ Int(d)
            n += 1
            position += 1
        }
        return n >= lo && n > 0 ? value : nil
    }

    /// An optional `.` or `,` and 1+ fraction digits (beyond 9 ignored). False on a separator without digits.
    mutating func fraction(into t: inout CivilTime) -> Bool {
        guard position < end, p[position] == UInt8(ascii: ".") || p[position] == UInt8(ascii: ",") else { return true }
        let save = position
        position += 1
        var value = 0
        var n = 0
        while position < end {
            let d = p[position] &- 48
            if d >= 10 { break }
            if n < 9 {
                value = value * 10 + Int(d)
            }
            n += 1
            position += 1
        }
        if n == 0 {
            position = save
            return false
        }
        let kept = min(n, 9)
        var scale = 1
        for _ in kept..<9 { scale *= 10 }
        t.nanosecond = value * scale
        t.fractionDigits = kept
        return true
    }

    mutating func monthAbbreviation() -> Int? {
        guard end - position >= 3 else { return nil }
        guard let m = Civil.month(abbreviation: p[position], p[position + 1], p[position + 2]) else { return nil }
        position += 3
        return m
    }

    private static let monthNames: [[UInt8]] = [
        "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
        "november", "december",
    ].map { Array($0.utf8) }

    mutating func monthName() -> Int? {
        for (index, name) in Self.monthNames.enumerated() where end - position >= name.count {
            var ok = true
            for k in 0..<name.count where p[position + k] | 0x20 != name[k] {
                ok = false
                break
            }
            if ok {
                position += name.count
                return index + 1
            }
        }
        return nil
    }

    mutating func skipLetters() -> Int {
        let start = position
        while position < end {
            let b = p[position] | 0x20
            guard b >= 97 && b <= 122 else { break }
            position += 1
        }
        return position - start
    }

    /// `Z`, `±HH`, `±HHMM`, `±HH:MM`; with `allowPrefix`, also `GMT`/`UTC`/`UT` alone or followed by
    /// one of the numeric forms. Returns seconds east of UTC.
    mutating func offset(allowPrefix: Bool = false) -> Int? {
        guard position < end else { return nil }
        let b = p[position]
        if b == UInt8(ascii: "Z") || b == UInt8(ascii: "z") {
            position += 1
            return 0
        }
        if allowPrefix && (b == UInt8(ascii: "G") || b == UInt8(ascii: "U")) {
            let save = position
            let n = skipLetters()
            let word = UnsafeRawBufferPointer(rebasing: p[save..<position])
            guard n == 3 && (word.elementsEqual("GMT".utf8) || word.elementsEqual("UTC".utf8))
                || n == 2 && word.elementsEqual("UT".utf8)
            else {
                position = save
                return nil
            }
            if position >= end || (p[position] != UInt8(ascii: "+") && p[position] != UInt8(ascii: "-")) { return 0 }
        }
        guard position < end else { return nil }
        let sign = p[position]
        guard sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") else { return nil }
        position += 1
        guard let hh = digits(1, 2) else { return nil }
        var mm = 0
        if position < end && p[position] == UInt8(ascii: ":") {
            position += 1
            guard let m = digits(2, 2) else { return nil }
            mm = m
        } else if let m = digits(2, 2) {
            mm = m
        }
        guard hh <= 18, mm < 60 else { return nil }
        let seconds = hh * 3600 + mm * 60
        return sign == UInt8(ascii: "-") ? -seconds : seconds
    }

    /// A zone name. nil: nothing there; `.some(nil)`: a name we do not resolve; `.some(offset)`.
    mutating func zoneName() -> Int?? {
        let save = position
        if let o = offset(allowPrefix: true) { return .some(o) }
        position = save
        while position < end {
            let b = p[position]
            let ok = (b | 0x20 >= 97 && b | 0x20 <= 122) || (b >= 48 && b <= 57) || b == UInt8(ascii: "/")
                || b == UInt8(ascii: "_") || b == UInt8(ascii: "-") || b == UInt8(ascii: "+")
            guard ok else { break }
            position += 1
        }
        return position > save ? .some(nil) : nil
    }
}
