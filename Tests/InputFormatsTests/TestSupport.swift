import Foundation
import InputFormats
import ShipperCore

/// The `now` given to every decoder in the tests: 2023-11-14T22:13:20.123456789Z.
let fixedNow = Timestamp(nanoseconds: 1_700_000_000_123_456_789, precision: 9)
let fixedNowText = "2023-11-14T22:13:20.123456789Z"

/// The physical lines of `text` split at `\n` (a final empty piece after the last `\n` dropped).
func physicalLines(_ bytes: [UInt8]) -> [[UInt8]] {
    var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
    if lines.last?.isEmpty == true { lines.removeLast() }
    return lines
}

/// Origins of consecutive lines of one file starting at byte 0.
func origins(of lines: [[UInt8]], path: String?, source: UInt64) -> [LineOrigin] {
    var offset: Int64 = 0
    return lines.map { line in
        let end = offset + Int64(line.count) + 1
        defer { offset = end }
        return LineOrigin(path: path, source: source, offset: offset, endOffset: end)
    }
}

/// Runs `decoder` over `lines` (then flushes, unless `flush` is false) and returns the events.
func decodeAll(
    _ decoder: inout any LineDecoder, _ lines: [[UInt8]], path: String? = nil, source: UInt64 = 42, flush: Bool = true
) -> [LogEvent] {
    var out: [LogEvent] = []
    for (line, origin) in zip(lines, origins(of: lines, path: path, source: source)) {
        decoder.decode(line, origin: origin, now: fixedNow, into: &out)
    }
    if flush { decoder.flush(now: fixedNow, into: &out) }
    return out
}

func decodeAll(
    _ format: LogFormat, _ lines: [[UInt8]], options: LineDecoderOptions = .defaults, path: String? = nil,
    source: UInt64 = 42, flush: Bool = true
) -> [LogEvent] {
    var decoder = makeDecoder(format: format, firstLine: lines.first ?? [], options: options)
    return decodeAll(&decoder, lines, path: path, source: source, flush: flush)
}

func decodeAll(_ format: LogFormat, text lines: [String], path: String? = nil, flush: Bool = true) -> [LogEvent] {
    decodeAll(format, lines.map { Array($0.utf8) }, path: path, flush: flush)
}

extension LogEvent {
    var messageBytes: [UInt8] { bytes(FieldPaths.message).map(Array.init) ?? [] }
    var tagNames: [String] {
        strings(FieldPaths.tags)
    }
}


/// The shared samples directory.
let samplesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("../shared/samples").standardized

func sampleBytes(_ relative: String) throws -> [UInt8] {
    Array(try Data(contentsOf: samplesDirectory.appendingPathComponent(relative)))
}
