/// A compiled time format: a strftime-style pattern or a named format, read from bytes without
/// Foundation.
///
/// Named formats: `rfc3339` (also `iso8601`: `2006-01-02T15:04:05.999999999Z07:00`, `T` or a space,
/// the offset optional), `unix` (seconds, fraction allowed), `unix_ms`, `unix_us`, `unix_ns`.
/// Pattern directives: `%Y` year, `%y` two-digit year (1969–2068), `%m` month, `%d` / `%e` day,
/// `%H` hour, `%I` hour (1–12) with `%p` AM/PM, `%M` minute, `%S` second, `%f` fraction digits
/// (any count), `%L` milliseconds, `%z` offset (`+0200`, `+02:00`, `Z`), `%Z` zone name (`UTC`,
/// `GMT`, `Z` only), `%b` / `%h` month abbreviation, `%B` month name, `%a` / `%A` weekday name
/// (ignored), `%j` day of the year, `%s` epoch seconds, `%T` = `%H:%M:%S`, `%F` = `%Y-%m-%d`,
/// `%D` = `%m/%d/%y`, `%%` a percent sign. Other characters match themselves.
public struct TimeFormat: Sendable, Equatable, CustomStringConvertible {
    enum Piece: Sendable, Equatable {
        case literal(UInt8)
        case year4, year2, month, day, hour24, hour12, ampm, minute, second, fraction, millis, offset, zoneName
        case monthAbbrev, monthName, weekday, dayOfYear, epochSeconds
    }

    enum Kind: Sendable, Equatable {
        case pattern([Piece])
        case rfc3339
        case unix(scale: Int64)
    }

    let kind: Kind
    public let description: String

    /// Compiles a named format or a pattern; throws ``ConfigValueError`` for unknown directives.
    public init(_ text: String) throws {
        description = text
        switch text.lowercased() {
        case "rfc3339", "iso8601", "rfc3339nano": kind = .rfc3339; return
        case "unix", "epoch": kind = .unix(scale: 1_000_000_000); return
        case "unix_ms", "epoch_millis": kind = .unix(scale: 1_000_000); return
        case "unix_us": kind = .unix(scale: 1_000); return
        case "unix_ns": kind = .unix(scale: 1); return
        default: break
        }
        var pieces: [Piece] = []
        var bytes = Array(text.utf8)[...]
        while let b = bytes.popFirst() {
            guard b == UInt8(ascii: "%") else {
                pieces.append(.literal(b))
                continue
            }
            guard let d = bytes.popFirst() else { throw ConfigValueError("time format '\(text)' ends with a lone '%'") }
            switch d {
            case UInt8(ascii: "Y"): pieces.append(.year4)
            case UInt8(ascii: "y"): pieces.append(.year2)
            case UInt8(ascii: "m"): pieces.append(.month)
            case UInt8(ascii: "d"), UInt8(ascii: "e"): pieces.append(.day)
            case UInt8(ascii: "H"), UInt8(ascii: "k"): pieces.append(.hour24)
            case UInt8(ascii: "I"), UInt8(ascii: "l"): pieces.append(.hour12)
            case UInt8(ascii: "p"), UInt8(ascii: "P"): pieces.append(.ampm)
            case UInt8(ascii: "M"): pieces.append(.minute)
            case UInt8(ascii: "S"): pieces.append(.second)
            case UInt8(ascii: "f"), UInt8(ascii: "N"): pieces.append(.fraction)
            case UInt8(ascii: "L"): pieces.append(.millis)
            case UInt8(ascii: "z"): pieces.append(.offset)
            case UInt8(ascii: "Z"): pieces.append(.zoneName)
            case UInt8(ascii: "b"), UInt8(ascii: "h"): pieces.append(.monthAbbrev)
            case UInt8(ascii: "B"): pieces.append(.monthName)
            case UInt8(ascii: "a"), UInt8(ascii: "A"): pieces.append(.weekday)
            case UInt8(ascii: "j"): pieces.append(.dayOfYear)
            case UInt8(ascii: "s"): pieces.append(.epochSeconds)
            case UInt8(ascii: "T"): pieces += [.hour24, .literal(0x3A), .minute, .literal(0x3A), .second]
            case UInt8(ascii: "F"): pieces += [.year4, .literal(0x2D), .month, .literal(0x2D), .day]
            case UInt8(ascii: "D"): pieces += [.month, .literal(0x2F), .day, .literal(0x2F), .year2]
            case UInt8(ascii: "%"): pieces.append(.literal(UInt8(ascii: "%")))
            default:
                throw ConfigValueError(
                    "time format '\(text)' has an unknown directive '%\(Character(Unicode.Scalar(d)))'; known: %Y %y %m %d %e %H %I %p %M %S %f %L %z %Z %b %B %a %j %s %T %F %D %%"
                )
            }
        }
        if pieces.isEmpty { throw ConfigValueError("a time format must not be empty") }
        kind = .pattern(pieces)
    }

    /// Parses the whole of `bytes`; nil when they do not match. Times without an offset use `zone`.
    public func parse(_ bytes: UnsafeRawBufferPointer, zone: TimeZoneRule = .utc) -> Timestamp? {
        switch kind {
        case .rfc3339:
            var r = TimeReader(bytes)
            guard let t = r.rfc3339(), r.isAtEnd else { return nil }
            return t.timestamp(zone: zone)
        case .unix(let scale):
            return Self.parseUnix(bytes, scale: scale)
        case .pattern(let pieces):
            return parsePattern(pieces, bytes, zone: zone)
        }
    }

    public func parse(_ text: String, zone: TimeZoneRule = .utc) -> Timestamp? {
        var t = text
        return t.withUTF8 { parse(UnsafeRawBufferPointer($0), zone: zone) }
    }

    static func parseUnix(_ bytes: UnsafeRawBufferPointer, scale: Int64) -> Timestamp? {
        var i = 0
        var negative = false
        if i < bytes.count && bytes[i] == UInt8(ascii: "-") {
            negative = true
            i += 1
        }
        var whole: Int64 = 0
        let start = i
        while i < bytes.count, bytes[i] >= 0x30 && bytes[i] <= 0x39 {
            // Beyond Int64 is no time: nil, not a wrapped value.
            let (m, o1) = whole.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(bytes[i] - 0x30))
            guard i - start < 19, !o1, !o2 else { return nil }
            whole = a
            i += 1
        }
        guard i > start else { return nil }
        var frac: Int64 = 0
        var fracScale: Int64 = scale
        var digits = 0
        if i < bytes.count && bytes[i] == UInt8(ascii: ".") {
            i += 1
            while i < bytes.count, bytes[i] >= 0x30 && bytes[i] <= 0x39 {
                if fracScale >= 10 {
                    fracScale /= 10
                    frac += Int64(bytes[i] - 0x30) * fracScale
                    digits += 1
                }
                i += 1
            }
        }
        guard i == bytes.count else { return nil }
        let (ns, overflow) = whole.multipliedReportingOverflow(by: scale)
        let (total, overflow2) = ns.addingReportingOverflow(frac)
        guard !overflow, !overflow2 else { return nil }
        let precision: UInt8 = scale == 1 ? 9 : (scale == 1000 ? 6 : (scale == 1_000_000 ? 3 : (digits > 6 ? 9 : digits > 3 ? 6 : 3)))
        return Timestamp(nanoseconds: negative ? -total : total, precision: precision)
    }

    private func parsePattern(_ pieces: [Piece], _ bytes: UnsafeRawBufferPointer, zone: TimeZoneRule) -> Timestamp? {
        var r = TimeReader(bytes)
        var t = CivilTime(year: 1970, month: 1, day: 1)
        var hour12: Int?
        var pm: Bool?
        var dayOfYear: Int?
        var epoch: Int64?
        for piece in pieces {
            switch piece {
            case .literal(let b):
                guard r.consume(b) else { return nil }
            case .year4:
                guard let v = r.digits(min: 4, max: 4) else { return nil }
                t.year = v
            case .year2:
                guard let v = r.digits(min: 2, max: 2) else { return nil }
                t.year = v < 69 ? 2000 + v : 1900 + v
            case .month:
                guard let v = r.digits(min: 1, max: 2) else { return nil }
                t.month = v
            case .day:
                _ = r.consume(0x20)
                guard let v = r.digits(min: 1, max: 2) else { return nil }
                t.day = v
            case .hour24:
                guard let v = r.digits(min: 1, max: 2) else { return nil }
                t.hour = v
            case .hour12:
                guard let v = r.digits(min: 1, max: 2), v >= 1, v <= 12 else { return nil }
                hour12 = v
            case .ampm:
                guard let v = r.ampm() else { return nil }
                pm = v
            case .minute:
                guard let v = r.digits(min: 2, max: 2) else { return nil }
                t.minute = v
            case .second:
                guard let v = r.digits(min: 2, max: 2) else { return nil }
                t.second = v
            case .fraction:
                guard let (ns, n) = r.fraction() else { return nil }
                t.nanosecond = ns
                t.fractionDigits = n
            case .millis:
                guard let v = r.digits(min: 3, max: 3) else { return nil }
                t.nanosecond = v * 1_000_000
                t.fractionDigits = 3
            case .offset:
                guard let o = r.offset() else { return nil }
                t.utcOffset = o
            case .zoneName:
                guard r.zoneName() else { return nil }
                t.utcOffset = 0
            case .monthAbbrev:
                guard let m = r.monthAbbreviation() else { return nil }
                t.month = m
            case .monthName:
                guard let m = r.monthName() else { return nil }
                t.month = m
            case .weekday:
                guard r.word() else { return nil }
            case .dayOfYear:
                guard let v = r.digits(min: 1, max: 3), v >= 1, v <= 366 else { return nil }
                dayOfYear = v
            case .epochSeconds:
                guard let v = r.digits(min: 1, max: 12) else { return nil }
                epoch = Int64(v)
            }
        }
        guard r.isAtEnd else { return nil }
        if let epoch {
            // 12 digits of seconds reach past 2262, where nanoseconds no longer fit: no time.
            let (seconds, o1) = epoch.multipliedReportingOverflow(by: 1_000_000_000)
            let (nanoseconds, o2) = seconds.addingReportingOverflow(Int64(t.nanosecond))
            guard !o1, !o2 else { return nil }
            return Timestamp(nanoseconds: nanoseconds, precision: UInt8(max(3, t.fractionDigits)))
        }
        if let h = hour12 { t.hour = (h % 12) + ((pm ?? false) ? 12 : 0) }
        if let doy = dayOfYear {
            let (y, m, d) = Civil.civil(fromDays: Civil.days(year: t.year, month: 1, day: 1) + Int64(doy - 1))
            guard y == t.year else { return nil }
            t.month = m
            t.day = d
        }
        guard t.isValid else { return nil }
        return t.timestamp(zone: zone)
    }
}

/// Reads the parts of a date and time from bytes; shared by parsers with fixed time layouts.
public struct TimeReader {
    public let bytes: UnsafeRawBufferPointer
    public var position: Int

    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer, position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    @inlinable public var isAtEnd: Bool { position >= bytes.count }

    @inlinable
    public mutating func consume(_ b: UInt8) -> Bool {
        guard position < bytes.count, bytes[position] == b else { return false }
        position += 1
        return true
    }

    /// Between `min` and `max` ASCII digits.
    @inlinable
    public mutating func digits(min: Int, max: Int) -> Int? {
        var v = 0
        var n = 0
        while n < max, position < bytes.count, bytes[position] >= 0x30 && bytes[position] <= 0x39 {
            v = v * 10 + Int(bytes[position] - 0x30)
            position += 1
            n += 1
        }
        return n >= min ? v : nil
    }

    /// One or more fraction digits → (nanoseconds, digit count); digits past 9 are read and dropped.
    @inlinable
    public mutating func fraction() -> (Int, Int)? {
        var ns = 0
        var n = 0
        var scale = 100_000_000
        while position < bytes.count, bytes[position] >= 0x30 && bytes[position] <= 0x39 {
            if n < 9 {
                ns += Int(bytes[position] - 0x30) * scale
                scale /= 10
            }
            n += 1
            position += 1
        }
        return n > 0 ? (ns, n) : nil
    }

    /// `Z`, `+hh:mm`, `+hhmm` or `+hh` → seconds east of UTC.
    @inlinable
    public mutating func offset() -> Int? {
        guard position < bytes.count else { return nil }
        let b = bytes[position]
        if b == UInt8(ascii: "Z") || b == UInt8(ascii: "z") {
            position += 1
            return 0
        }
        guard b == UInt8(ascii: "+") || b == UInt8(ascii: "-") else { return nil }
        position += 1
        guard let h = digits(min: 2, max: 2), h <= 18 else { return nil }
        _ = consume(UInt8(ascii: ":"))
        let m = digits(min: 2, max: 2) ?? 0
        guard m < 60 else { return nil }
        let s = h * 3600 + m * 60
        return b == UInt8(ascii: "-") ? -s : s
    }

    /// `UTC`, `GMT` or `Z`.
    mutating func zoneName() -> Bool {
        for name in ["UTC", "GMT", "Z"] {
            let n = name.utf8.count
            if position + n <= bytes.count && UnsafeRawBufferPointer(rebasing: bytes[position..<(position + n)]).elementsEqual(name.utf8) {
                position += n
                return true
            }
        }
        return false
    }

    @inlinable
    public mutating func monthAbbreviation() -> Int? {
        guard position + 3 <= bytes.count,
            let m = Civil.month(abbreviation: bytes[position], bytes[position + 1], bytes[position + 2])
        else { return nil }
        position += 3
        return m
    }

    mutating func monthName() -> Int? {
        let start = position
        guard let m = monthAbbreviation() else { return nil }
        while position < bytes.count, (bytes[position] | 0x20) >= 0x61 && (bytes[position] | 0x20) <= 0x7A { position += 1 }
        return position - start >= 3 ? m : nil
    }

    mutating func word() -> Bool {
        let start = position
        while position < bytes.count, (bytes[position] | 0x20) >= 0x61 && (bytes[position] | 0x20) <= 0x7A { position += 1 }
        return position > start
    }

    mutating func ampm() -> Bool? {
        guard position + 2 <= bytes.count, bytes[position + 1] | 0x20 == UInt8(ascii: "m") else { return nil }
        let b = bytes[position] | 0x20
        guard b == UInt8(ascii: "a") || b == UInt8(ascii: "p") else { return nil }
        position += 2
        return b == UInt8(ascii: "p")
    }

    /// RFC 3339 / ISO 8601: `2006-01-02T15:04:05.999999999Z07:00`; `T`, `t` or a space between
    /// date and time; fraction and offset optional.
    @inlinable
    public mutating func rfc3339() -> CivilTime? {
        guard let y = digits(min: 4, max: 4), consume(0x2D), let mo = digits(min: 2, max: 2), consume(0x2D),
            let d = digits(min: 2, max: 2)
        else { return nil }
        guard position < bytes.count, bytes[position] == UInt8(ascii: "T") || bytes[position] == UInt8(ascii: "t") || bytes[position] == 0x20
        else { return nil }
        position += 1
        guard let h = digits(min: 2, max: 2), consume(0x3A), let mi = digits(min: 2, max: 2), consume(0x3A),
            let s = digits(min: 2, max: 2)
        else { return nil }
        var t = CivilTime(year: y, month: mo, day: d, hour: h, minute: mi, second: s)
        if consume(UInt8(ascii: ".")) || consume(UInt8(ascii: ",")) {
            guard let (ns, n) = fraction() else { return nil }
            t.nanosecond = ns
            t.fractionDigits = n
        }
        if position < bytes.count, let o = offset() { t.utcOffset = o }
        return t.isValid ? t : nil
    }
}
