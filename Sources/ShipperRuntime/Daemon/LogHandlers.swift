import Logging
import ShipperConfig
import ShipperCore

/// shipper's own log lines on stderr, as logfmt (`ts=… level=info msg="…" key=value`) or JSON.
public struct ShipperLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    let label: String
    let json: Bool
    let write: @Sendable (String) -> Void

    public init(label: String, level: Logger.Level, json: Bool, write: @escaping @Sendable (String) -> Void = { StandardStreams.write($0, to: .standardError) }) {
        self.label = label
        self.logLevel = level
        self.json = json
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: Logging.LogEvent) {
        let level = event.level
        let message = event.message
        var all = metadata
        if let explicit = event.metadata { all.merge(explicit) { $1 } }
        if let error = event.error { all["error"] = "\(error)" }
        let ts = Timestamp.now().rfc3339
        if json {
            var out: [UInt8] = []
            out.append(contentsOf: "{\"ts\":\"\(ts)\",\"level\":\"\(level)\",\"msg\":".utf8)
            JSONWriter.writeString(message.description, into: &out)
            for (k, v) in all.sorted(by: { $0.key < $1.key }) {
                out.append(UInt8(ascii: ","))
                JSONWriter.writeString(k, into: &out)
                out.append(UInt8(ascii: ":"))
                JSONWriter.writeString("\(v)", into: &out)
            }
            out.append(contentsOf: "}\n".utf8)
            write(String(decoding: out, as: UTF8.self))
        } else {
            var line = "ts=\(ts) level=\(level) msg=\(Self.quote(message.description))"
            for (k, v) in all.sorted(by: { $0.key < $1.key }) { line += " \(k)=\(Self.quote("\(v)"))" }
            write(line + "\n")
        }
    }

    /// logfmt quoting: bare when the value has no space, quote, `=` or control character.
    static func quote(_ s: String) -> String {
        let bare = !s.isEmpty && s.utf8.allSatisfy { $0 > 0x20 && $0 != 0x22 && $0 != 0x3D && $0 != 0x5C && $0 != 0x7F }
        if bare { return s }
        var out: [UInt8] = []
        JSONWriter.writeString(s, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Bootstraps swift-log once for the process.
    public static func bootstrap(_ settings: LogSettings) {
        let level: Logger.Level = Logger.Level(rawValue: settings.level.rawValue) ?? .info
        LoggingSystem.bootstrap { label in ShipperLogHandler(label: label, level: level, json: settings.format == .json) }
    }
}
