/// A configuration value that is well-formed YAML but not acceptable (a bad format string, an
/// unknown time zone). The config loader adds the file, line and column: of the key the message
/// starts with, when it starts with a key of the mapping being decoded (`max_in_flight must be 1
/// to 64, got 0`, `'discovery_interval' must be …`, `index 'x': …`), else of the mapping. So
/// start a message about one key with that key.
public struct ConfigValueError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
