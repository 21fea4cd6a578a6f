/// A configuration value that is well-formed YAML but not acceptable (a bad format string, an
/// unknown time zone). The config loader adds the file, line and column of the offending value.
public struct ConfigValueError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
