/// Implemented by the YAML config decoder, so component configs can ask for things `Decoder`
/// cannot express: extra keys to accept (a `type:` selector) and the source location of a value.
public protocol ConfigDecoding: Decoder {
    /// A decoder for the same value that also accepts (and ignores) `keys` in a mapping.
    func ignoring(keys: Set<String>) -> any Decoder
    /// `file:line:column` of the value being decoded.
    var location: String { get }
}

extension Decoder {
    /// This decoder, also accepting `keys` when the config decoder checks for unknown keys.
    public func ignoring(keys: Set<String>) -> any Decoder {
        (self as? any ConfigDecoding)?.ignoring(keys: keys) ?? self
    }
}

/// A duration written as `500ms`, `1s`, `2m`, `1h`, or a number of seconds.
public struct ConfigDuration: Decodable, Sendable, Hashable, CustomStringConvertible {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }
    public static func seconds(_ s: Double) -> ConfigDuration { ConfigDuration(nanoseconds: Int64(s * 1e9)) }
    public static func milliseconds(_ ms: Int64) -> ConfigDuration { ConfigDuration(nanoseconds: ms * 1_000_000) }

    public var seconds: Double { Double(nanoseconds) / 1e9 }
    public var duration: Duration { .nanoseconds(nanoseconds) }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let n = try? c.decode(Double.self) {
            guard n >= 0, n.isFinite else { throw ConfigValueError("a duration must not be negative, got \(n)") }
            guard n * 1e9 < Self.maxNanoseconds else {
                throw ConfigValueError("a duration must be less than 1000000000 seconds (about 31 years), got \(n)")
            }
            self = .seconds(n)
            return
        }
        let text = try c.decode(String.self)
        guard let d = ConfigDuration(parsing: text) else {
            throw ConfigValueError("'\(text)' is not a duration; write e.g. 500ms, 1s, 5m, 1h (less than about 31 years)")
        }
        self = d
    }

    /// The longest duration a config may give, in nanoseconds (about 31 years): far longer than
    /// any timeout needs, and far from Int64's limit, where converting the number trapped (found
    /// by the `config` fuzz target: `flush_timeout: 1777…7ms`).
    static let maxNanoseconds: Double = 1e18

    /// Nil when `text` is not a number with a unit, is negative, or is not below ``maxNanoseconds``.
    public init?(parsing text: String) {
        let t = text.trimmingWhitespace()
        let units: [(String, Double)] = [("ms", 1e6), ("us", 1e3), ("ns", 1), ("s", 1e9), ("m", 60e9), ("h", 3600e9)]
        for (suffix, scale) in units where t.hasSuffix(suffix) {
            guard let v = Double(t.dropLast(suffix.count)), v >= 0, v.isFinite, v * scale < Self.maxNanoseconds else { return nil }
            self.init(nanoseconds: Int64(v * scale))
            return
        }
        return nil
    }

    public var description: String {
        if nanoseconds % 1_000_000_000 == 0 { return "\(nanoseconds / 1_000_000_000)s" }
        return "\(nanoseconds / 1_000_000)ms"
    }
}

/// A size in bytes written as a number or with a unit: `512KiB`, `5MiB`, `1GiB`, `10MB`, `100kb`.
public struct ByteSize: Decodable, Sendable, Hashable, CustomStringConvertible {
    public var bytes: Int

    public init(bytes: Int) { self.bytes = bytes }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let n = try? c.decode(Int.self) {
            guard n >= 0 else { throw ConfigValueError("a size must not be negative, got \(n)") }
            self.bytes = n
            return
        }
        let text = try c.decode(String.self)
        guard let size = ByteSize(parsing: text) else {
            throw ConfigValueError("'\(text)' is not a size; write e.g. 1048576, 512KiB, 5MiB, 1GiB")
        }
        self = size
    }

    public init?(parsing text: String) {
        let t = text.trimmingWhitespace().lowercased()
        let units: [(String, Double)] = [
            ("kib", 1024), ("mib", 1_048_576), ("gib", 1_073_741_824), ("kb", 1000), ("mb", 1e6), ("gb", 1e9),
            ("k", 1024), ("m", 1_048_576), ("g", 1_073_741_824), ("b", 1),
        ]
        for (suffix, scale) in units where t.hasSuffix(suffix) {
            guard let v = Double(t.dropLast(suffix.count).trimmingWhitespace()), v >= 0, v * scale < 1e18 else { return nil }
            self.bytes = Int(v * scale)
            return
        }
        guard let v = Int(t), v >= 0 else { return nil }
        self.bytes = v
    }

    public var description: String { "\(bytes) bytes" }
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs and newlines.
    public func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\n" || f == "\r" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\n" || l == "\r" { s.removeLast() }
        return String(s)
    }
}
