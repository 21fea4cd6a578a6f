import ShipperCore

/// What a format variable means, i.e. which fields its value becomes.
///
/// The nginx and Jetty front ends map their variables / percent codes to roles; the shared engine
/// (``AccessLogProgram``) turns captured values into ECS fields by role.
enum AccessLogRole: Sendable, Equatable {
    /// The client (peer) address: `$remote_addr`, `%{client}a`, `%h`. May hold an X-Forwarded-For
    /// style list. Joins the address chain (see ``AccessLogAddressChain``).
    case clientAddress
    /// An X-Forwarded-For list (`$http_x_forwarded_for`, `%{X-Forwarded-For}i`): comes first in
    /// the address chain.
    case forwardedFor
    /// The server side address: `destination.address` (+ `destination.ip`).
    case destinationAddress
    /// A whole request line `METHOD URI PROTOCOL`.
    case requestLine
    /// A request URI: `url.original`, split into `url.path` / `url.query`.
    case requestURI
    /// A query string; a leading `?` is dropped.
    case query
    /// `HTTP/1.1` → `1.1` in `http.version`.
    case httpVersion
    /// A time in the given layout and zone → `@timestamp`.
    case time(AccessLogTimeLayout, TimeZoneRule)
    /// A duration in units of `nanosecondsPerUnit`, decimal fraction allowed → `event.duration` (ns).
    case duration(nanosecondsPerUnit: Int64)
    /// A decimal integer at `path`.
    case integer(FieldPath)
    /// Text at `path`.
    case string(FieldPath)

    /// The fields this role writes, to detect two variables claiming the same field.
    func claims(namespace: String) -> [String] {
        switch self {
        case .clientAddress, .forwardedFor: return ["source.address", "source.ip", namespace + ".remote_ip_list"]
        case .destinationAddress: return ["destination.address", "destination.ip"]
        case .requestLine:
            return ["http.request.method", "url.original", "url.path", "url.query", "http.version",
                    namespace + ".request"]
        case .requestURI: return ["url.original", "url.path", "url.query"]
        case .query: return ["url.query"]
        case .httpVersion: return ["http.version"]
        case .time: return ["@timestamp"]
        case .duration: return ["event.duration"]
        case .integer(let p), .string(let p): return [p.dotted]
        }
    }

    /// Whether two variables of these roles may both appear (they aggregate rather than collide).
    var aggregates: Bool {
        switch self {
        case .clientAddress, .forwardedFor: return true
        default: return false
        }
    }
}

/// Well-known paths used by the access log parsers.
enum AccessLogPaths {
    static let timestamp = FieldPaths.timestamp
    static let sourceAddress = FieldPath.intern("source.address")
    static let sourceIP = FieldPath.intern("source.ip")
    static let sourcePort = FieldPath.intern("source.port")
    static let destinationAddress = FieldPath.intern("destination.address")
    static let destinationIP = FieldPath.intern("destination.ip")
    static let destinationPort = FieldPath.intern("destination.port")
    static let userName = FieldPath.intern("user.name")
    static let method = FieldPath.intern("http.request.method")
    static let referrer = FieldPath.intern("http.request.referrer")
    static let requestID = FieldPath.intern("http.request.id")
    static let requestBytes = FieldPath.intern("http.request.bytes")
    static let requestBodyBytes = FieldPath.intern("http.request.body.bytes")
    static let requestMimeType = FieldPath.intern("http.request.mime_type")
    static let version = FieldPath.intern("http.version")
    static let statusCode = FieldPath.intern("http.response.status_code")
    static let responseBodyBytes = FieldPath.intern("http.response.body.bytes")
    static let responseBytes = FieldPath.intern("http.response.bytes")
    static let responseMimeType = FieldPath.intern("http.response.mime_type")
    static let urlOriginal = FieldPath.intern("url.original")
    static let urlPath = FieldPath.intern("url.path")
    static let urlQuery = FieldPath.intern("url.query")
    static let urlDomain = FieldPath.intern("url.domain")
    static let urlScheme = FieldPath.intern("url.scheme")
    static let urlPort = FieldPath.intern("url.port")
    static let userAgent = FieldPath.intern("user_agent.original")
    static let eventDuration = FieldPath.intern("event.duration")
    static let networkBytes = FieldPath.intern("network.bytes")
}

/// Byte-level checks on field values.
enum AccessLogBytes {
    @inline(__always)
    static func isDash(_ p: UnsafeRawBufferPointer, _ s: Int, _ e: Int) -> Bool {
        e - s == 1 && p[s] == UInt8(ascii: "-")
    }

    /// A non-negative decimal integer of at most 18 digits (no sign, no spaces).
    @inline(__always)
    static func integer(_ p: UnsafeRawBufferPointer, _ s: Int, _ e: Int) -> Int64? {
        guard e > s, e - s <= 18 else { return nil }
        var v: Int64 = 0
        for i in s..<e {
            let d = p[i] &- 48
            guard d < 10 else { return nil }
            v = v &* 10 &+ Int64(d)
        }
        return v
    }

    /// A non-negative decimal `int[.frac]` times `unit` nanoseconds, in nanoseconds.
    /// Fraction digits below one nanosecond are dropped. nil when malformed or out of range.
    static func duration(_ p: UnsafeRawBufferPointer, _ s: Int, _ e: Int, unit: Int64) -> Int64? {
        var i = s
        var whole: Int64 = 0
        var n = 0
        while i < e {
            let d = p[i] &- 48
            if d >= 10 { break }
            whole = whole &* 10 &+ Int64(d)
            n += 1
            i += 1
            if n > 12 { return nil }
        }
        guard n > 0 else { return nil }
        var (total, overflow) = whole.multipliedReportingOverflow(by: unit)
        if overflow { return nil }
        if i < e {
            guard p[i] == UInt8(ascii: "."), i + 1 < e else { return nil }
            i += 1
            var scale = unit / 10
            while i < e {
                let d = p[i] &- 48
                guard d < 10 else { return nil }
                (total, overflow) = total.addingReportingOverflow(Int64(d) &* scale)
                if overflow { return nil }
                scale /= 10
                i += 1
            }
        }
        return total
    }

    /// True for bytes allowed in an HTTP method (letters, digits, `_`, `-`, `.`).
    @inline(__always)
    static func isMethodByte(_ b: UInt8) -> Bool {
        let l = b | 0x20
        return (l >= 97 && l <= 122) || (b >= 48 && b <= 57) || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
            || b == UInt8(ascii: ".")
    }

    /// `HTTP/` followed by digits and dots.
    static func isProtocol(_ p: UnsafeRawBufferPointer, _ s: Int, _ e: Int) -> Bool {
        guard e - s > 5, p[s] | 0x20 == UInt8(ascii: "h"), p[s + 1] | 0x20 == UInt8(ascii: "t"),
            p[s + 2] | 0x20 == UInt8(ascii: "t"), p[s + 3] | 0x20 == UInt8(ascii: "p"), p[s + 4] == UInt8(ascii: "/")
        else { return false }
        for i in (s + 5)..<e {
            let b = p[i]
            guard (b >= 48 && b <= 57) || b == UInt8(ascii: ".") else { return false }
        }
        return true
    }

    /// The first index of `b` in `[s, e)`, or nil.
    @inline(__always)
    static func find(_ b: UInt8, _ p: UnsafeRawBufferPointer, _ s: Int, _ e: Int) -> Int? {
        var i = s
        while i < e {
            if p[i] == b { return i }
            i += 1
        }
        return nil
    }
}

/// Whether text is an IP address, and whether that address is private. Byte-level, no allocation.
enum IPAddressKind: Equatable {
    case notIP
    case publicIP
    /// Loopback, RFC 1918, link-local, carrier-grade NAT (100.64/10), unique-local (fc00::/7),
    /// unspecified.
    case privateIP
}

enum IPAddressClassifier {
    static func classify(_ p: UnsafeRawBufferPointer, _ s: Int, _ e: Int) -> IPAddressKind {
        if let v4 = ipv4(p, s, e) { return isPrivate(v4) ? .privateIP : .publicIP }
        if let v6 = ipv6(p, s, e) { return isPrivate(v6) ? .privateIP : .publicIP }
        return .notIP
    }

    static func isPrivate(_ a: UInt32) -> Bool {
        let b0 = a >> 24
        let b1 = (a >> 16) & 0xFF
        return b0 == 10 || b0 == 127 || b0 == 0 || (b0 == 172 && b1 >= 16 && b1 <= 31) || (b0 == 192 && b1 == 168)
            || (b0 == 169 && b1 == 254) || (b0 == 100 && b1 >= 64 && b1 <= 127)
    }

    static func isPrivate(_ a: UInt128) -> Bool {
        if a == 0 || a == 1 { return true }  // :: and ::1
        let top16 = UInt16(truncatingIfNeeded: a >> 112)
        if top16 & 0xFE00 == 0xFC00 { return true }  // fc00::/7
        if top16 & 0xFFC0 == 0xFE80 { return true }  // fe80::/10
        if a >> 32 == 0xFFFF { return isPrivate(UInt32(truncatingIfNeeded: a)) }  // ::ffff:a.b.c.d
        return false
    }

    /// Dotted-quad IPv4 (`1.2.3.4`, 1–3 digits per octet, each ≤ 255).
    static func ipv4(_ p: UnsafeRawBufferPointer, _ s: Int, _ e: Int) -> UInt32? {
        guard e - s >= 7, e - s <= 15 else { return nil }
        var i = s
        var value: UInt32 = 0
        var octets = 0
        while true {
            var n: UInt32 = 0
            var digits = 0
            while i < e {
                let d = p[i] &- 48
                if d >= 10 { break }
                n = n * 10 + UInt32(d)
                digits += 1
                if digits > 3 { return nil }
                i += 1
            }
            guard digits > 0, n <= 255 else { return nil }
            value = value << 8 | n
            octets += 1
            if octets == 4 { return i == e ? value : nil }
            guard i < e, p[i] == UInt8(ascii: ".") else { return nil }
            i += 1
        }
    }

    /// RFC 4291 text form: hex groups, at most one `::`, optional dotted IPv4 tail. No zone id.
    static func ipv6(_ p: UnsafeRawBufferPointer, _ s: Int, _ e: Int) -> UInt128? {
        guard e - s >= 2, e - s <= 45 else { return nil }
        var i = s
        var head: UInt128 = 0
        var headCount = 0
        var tail: UInt128 = 0
        var tailCount = 0
        var double = false
        if p[i] == UInt8(ascii: ":") {
            guard p[i + 1] == UInt8(ascii: ":") else { return nil }
            double = true
            i += 2
            if i == e { return 0 }
        }
        while i < e {
            let groupStart = i
            var v: UInt128 = 0
            var n = 0
            while i < e, let h = hexValue(p[i]) {
                v = v << 4 | UInt128(h)
                n += 1
                if n > 4 { return nil }
                i += 1
            }
            if i < e && p[i] == UInt8(ascii: ".") {
                guard let v4 = ipv4(p, groupStart, e) else { return nil }
                if double {
                    tail = tail << 32 | UInt128(v4)
                    tailCount += 2
                } else {
                    head = head << 32 | UInt128(v4)
                    headCount += 2
                }
                i = e
                break
            }
            guard n > 0 else { return nil }
            if double {
                tail = tail << 16 | v
                tailCount += 1
            } else {
                head = head << 16 | v
                headCount += 1
            }
            if headCount + tailCount > 8 { return nil }
            if i == e { break }
            guard p[i] == UInt8(ascii: ":") else { return nil }
            i += 1
            if i < e && p[i] == UInt8(ascii: ":") {
                if double { return nil }
                double = true
                i += 1
                if i == e { break }
            } else if i == e {
                return nil
            }
        }
        let total = headCount + tailCount
        if double {
            guard total <= 7 else { return nil }
            return (head << UInt128(16 * (8 - headCount))) | tail
        }
        return total == 8 ? head : nil
    }

    @inline(__always)
    private static func hexValue(_ b: UInt8) -> UInt8? {
        let d = b &- 48
        if d < 10 { return d }
        let l = (b | 0x20) &- 97
        if l < 6 { return l + 10 }
        return nil
    }
}
