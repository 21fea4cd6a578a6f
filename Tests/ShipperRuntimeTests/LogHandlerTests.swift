import Foundation
import Logging
import Synchronization
import Testing

@testable import ShipperRuntime

/// shipper's own log lines (`log: {format: logfmt | json}`), as written to stderr.
@Suite struct ShipperLogHandlerTests {
    final class Lines: Sendable {
        let all = Mutex<[String]>([])
    }

    static func logger(json: Bool, level: Logger.Level = .info) -> (Logger, Lines) {
        let lines = Lines()
        let handler = ShipperLogHandler(label: "test", level: level, json: json) { line in lines.all.withLock { $0.append(line) } }
        var logger = Logger(label: "test") { _ in handler }
        logger[metadataKey: "source"] = "containers"
        return (logger, lines)
    }

    struct Refused: Error, CustomStringConvertible {
        var description: String { "connection refused" }
    }

    @Test func logfmtLinesHaveTimeLevelMessageThenSortedKeys() throws {
        let (logger, lines) = Self.logger(json: false)
        logger.info("file rotated", metadata: ["path": "/var/log/a b.log", "n": "3"])
        logger.debug("below the level")
        let got = lines.all.withLock { $0 }
        #expect(got.count == 1)
        let line = try #require(got.first)
        #expect(line.hasPrefix("ts=20") && line.hasSuffix("\n"), "\(line)")
        #expect(line.contains(#" level=info msg="file rotated" n=3 path="/var/log/a b.log" source=containers"#), "\(line)")
    }

    /// Values are bare unless they hold a space, `"`, `=`, `\`, a control character or nothing;
    /// then they are quoted as JSON strings (so a line stays one line).
    @Test(arguments: [
        ("plain", "plain"), ("", #""""#), ("a b", #""a b""#), (#"say "hi""#, #""say \"hi\"""#), ("k=v", #""k=v""#),
        (#"C:\dir"#, #""C:\\dir""#), ("two\nlines", #""two\nlines""#), ("tab\there", #""tab\there""#), ("é", "é"),
    ])
    func logfmtQuoting(value: String, written: String) {
        #expect(ShipperLogHandler.quote(value) == written)
    }

    @Test func jsonLinesAreOneObjectEach() throws {
        let (logger, lines) = Self.logger(json: true)
        logger.warning("buffer full", metadata: ["max_size": "256MiB", "quote": #"a "b""#])
        let line = try #require(lines.all.withLock { $0.first })
        #expect(line.hasSuffix("}\n") && line.filter { $0 == "\n" }.count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        #expect(object["level"] == "warning")
        #expect(object["msg"] == "buffer full")
        #expect(object["max_size"] == "256MiB" && object["quote"] == #"a "b""# && object["source"] == "containers")
        #expect(object["ts"].map { $0.hasPrefix("20") && $0.hasSuffix("Z") } == true, "\(line)")
        #expect(line.hasPrefix(#"{"ts":"#))
    }

    /// An error given to the logger is written as the `error` key; metadata given with the call
    /// override the logger's.
    @Test func errorsAndCallMetadataAreWritten() throws {
        let (logger, lines) = Self.logger(json: false)
        logger.error("send failed", error: Refused(), metadata: ["source": "other"])
        let line = try #require(lines.all.withLock { $0.first })
        #expect(line.contains(#"msg="send failed" error="connection refused" source=other"#), "\(line)")
    }
}
