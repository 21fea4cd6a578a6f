import Foundation
import InputFormats
import ShipperCore
import Testing

/// Fluent Bit's docker-mode golden files (shared/samples/docker-json). Each `.out` line is a record
/// `{"log":"<joined text>\n"}`; our `message` is that text without the final `\n`.
@Suite struct FluentBitDockerModeTests {
    /// The `log` values of an `.out` file, without their final newline.
    func expectedMessages(_ name: String) throws -> [String] {
        try physicalLines(sampleBytes("docker-json/\(name).out")).map { line in
            let value = try line.withUnsafeBytes { (b) throws(JSONError) -> JSONValue in try JSONScanner.parseDocument(b) }
            var log = try #require(value["log"]?.stringValue)
            #expect(log.hasSuffix("\n"))
            log.removeLast()
            return log
        }
    }

    func decodeSample(_ name: String) throws -> (lines: Int, events: [LogEvent]) {
        let lines = physicalLines(try sampleBytes("docker-json/\(name).log"))
        var decoder: any LineDecoder = DockerJSONDecoder()
        let events = decodeAll(&decoder, lines, path: "/containers/\(name).log")
        #expect(decoder.stats.linesInEvents == lines.count)
        #expect(events.allSatisfy { $0.tagNames.isEmpty })
        return (lines.count, events)
    }

    /// Plain docker mode: chunks joined until a `log` ending in `\n`.
    @Test(arguments: ["fluent-bit-dockermode", "fluent-bit-dockermode_splitted_line"])
    func plainDockerMode(name: String) throws {
        let expected = try expectedMessages(name)
        let (_, events) = try decodeSample(name)
        #expect(events.map { $0.string(FieldPaths.message) ?? "<none>" } == expected)
        #expect(!expected.isEmpty)
    }

    /// Fluent Bit's `Docker_Mode_Parser` on top: a record starts only with a line whose text begins
    /// with a date (`\d{4}-\d{2}-\d{2}`); other lines continue a record that started with a date, and
    /// stand alone otherwise. Written here as a minimal stand-in for the multiline stage.
    static func startPatternJoin(_ events: [LogEvent]) -> [String] {
        func startsWithDate(_ b: [UInt8]) -> Bool {
            let digits = [0, 1, 2, 3, 5, 6, 8, 9]
            guard b.count >= 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-") else { return false }
            return digits.allSatisfy { b[$0] >= 0x30 && b[$0] <= 0x39 }
        }
        var records: [[String]] = []
        var openedByDate = false
        for event in events {
            let text = event.messageBytes
            let message = String(decoding: text, as: UTF8.self)
            if startsWithDate(text) {
                records.append([message])
                openedByDate = true
            } else if openedByDate, !records.isEmpty {
                records[records.count - 1].append(message)
            } else {
                records.append([message])
            }
        }
        return records.map { $0.joined(separator: "\n") }
    }

    @Test(arguments: [
        "fluent-bit-dockermode_multiple_lines", "fluent-bit-dockermode_splitted_multiple_lines",
        "fluent-bit-dockermode_firstline_detection",
    ])
    func dockerModeWithFirstLineParser(name: String) throws {
        let expected = try expectedMessages(name)
        let (_, events) = try decodeSample(name)
        #expect(Self.startPatternJoin(events) == expected)
    }

    @Test func splittedLineKeepsOffsetsOfTheFirstChunk() throws {
        let (_, events) = try decodeSample("fluent-bit-dockermode_splitted_line")
        // Lines of 28, 12 and 14 bytes (each and its newline) make the first record, 3 more the second.
        #expect(events.map(\.origin.offset) == [0, 57])
        #expect(events.map(\.origin.endOffset) == [57, 122])
        #expect(events.map { $0[FieldPaths.logOffset] } == [.int(0), .int(57)])
    }
}
