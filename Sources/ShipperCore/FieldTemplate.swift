/// Text with `%{field.path}` references, filled from an event (`logs-%{service.name}`).
/// A reference to a missing field is left empty, and ``render(_:)`` reports it.
public struct FieldTemplate: Sendable, Equatable, CustomStringConvertible {
    public enum Part: Sendable, Equatable {
        case literal([UInt8])
        case field(FieldPath)
    }

    public let parts: [Part]
    public let description: String

    /// Compiles a template; `%{` without a closing `}` is an error. `%%{` writes a literal `%{`.
    public init(_ text: String) throws {
        description = text
        var parts: [Part] = []
        var literal: [UInt8] = []
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count, bytes[i + 1] == UInt8(ascii: "%"), bytes[i + 2] == UInt8(ascii: "{") {
                literal += [UInt8(ascii: "%"), UInt8(ascii: "{")]
                i += 3
                continue
            }
            if bytes[i] == UInt8(ascii: "%"), i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "{") {
                guard let close = bytes[(i + 2)...].firstIndex(of: UInt8(ascii: "}")) else {
                    throw ConfigValueError("'\(text)': '%{' at character \(i + 1) has no closing '}'")
                }
                let name = String(decoding: bytes[(i + 2)..<close], as: UTF8.self)
                guard !name.isEmpty else { throw ConfigValueError("'\(text)': empty field reference '%{}' at character \(i + 1)") }
                if !literal.isEmpty {
                    parts.append(.literal(literal))
                    literal = []
                }
                parts.append(.field(FieldPath.intern(name)))
                i = close + 1
                continue
            }
            literal.append(bytes[i])
            i += 1
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        self.parts = parts
    }

    /// True when the template has no field references.
    public var isConstant: Bool { !parts.contains { if case .field = $0 { return true } else { return false } } }

    /// Appends the filled-in text to `out`; returns false when a referenced field was missing.
    @discardableResult
    public func render(_ event: LogEvent, into out: inout [UInt8]) -> Bool {
        var complete = true
        for part in parts {
            switch part {
            case .literal(let bytes):
                out.append(contentsOf: bytes)
            case .field(let path):
                switch event[path] {
                case .string(let s)?:
                    out.append(contentsOf: event.arena[s.range])
                case let value?:
                    if let text = event.text(of: value) { out.append(contentsOf: text.utf8) } else { complete = false }
                case nil:
                    complete = false
                }
            }
        }
        return complete
    }

    /// The filled-in text.
    public func render(_ event: LogEvent) -> String {
        var out: [UInt8] = []
        render(event, into: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
