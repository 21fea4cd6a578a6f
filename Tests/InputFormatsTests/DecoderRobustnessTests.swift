import InputFormats
import ShipperCore
import Testing

/// Hostile input for every decoder: nothing crashes, and every physical line is in exactly one event.
@Suite struct DecoderRobustnessTests {
    static let validDocker = Array(#"{"log":"GET /index.html 200 \u00e9\ud83d\ude00\n","stream":"stdout","time":"2024-05-01T12:00:00.123456789Z"}"#.utf8)
    static let validDockerPartial = Array(#"{"log":"partial ","stream":"stderr","time":"2024-05-01T12:00:00Z"}"#.utf8)
    static let validCRI = Array("2024-05-01T12:00:00.123456789Z stdout F GET /index.html 200".utf8)
    static let validCRIPartial = Array("2024-05-01T12:00:00.123456789Z stderr P partial ".utf8)

    static func hostileLines() -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var rng = SplitMix64(seed: 0x5EED)
        for _ in 0..<400 {
            let count = Int.random(in: 0...120, using: &rng)
            lines.append((0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) })
        }
        // Random bytes behind a plausible start.
        for prefix in [Array(#"{"log":""#.utf8), Array("2024-05-01T12:00:00Z stdout P ".utf8)] {
            for _ in 0..<100 {
                let count = Int.random(in: 0...60, using: &rng)
                lines.append(prefix + (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) })
            }
        }
        for valid in [validDocker, validDockerPartial, validCRI, validCRIPartial] {
            for n in 0...valid.count { lines.append(Array(valid.prefix(n))) }
        }
        lines.append(Array(#"{"log":""#.utf8) + Array(repeating: UInt8(ascii: "a"), count: 1 << 20) + Array(#"\n"}"#.utf8))
        lines.append(Array("2024-05-01T12:00:00Z stdout F ".utf8) + Array(repeating: UInt8(ascii: "b"), count: 1 << 20))
        lines.append(Array(repeating: UInt8(ascii: "c"), count: 1 << 20))
        lines.append([0xC3, 0x28, 0xA0, 0xA1, 0xE2, 0x28, 0xA1, 0xF0, 0x28, 0x8C, 0xBC, 0xED, 0xA0, 0x80])
        lines.append(Array(#"{"log":"x"#.utf8) + [0xF5, 0x80] + Array(#"\n"}"#.utf8))
        lines.append([0, 0, 0, 0])
        lines.append(Array(#"{"log":"nul "#.utf8) + [0] + Array(#"\n"}"#.utf8))
        lines.append([0x0D])
        lines.append([0x0D, 0x0D])
        lines.append(Array(#"{"log":"x\n"}"#.utf8) + [0x0D])
        lines.append(Array(String(repeating: "[", count: 10_000).utf8))
        lines.append(Array(#"{"log":"x\n","deep":"#.utf8) + Array(String(repeating: "[", count: 10_000).utf8))
        // Many partials in a row across streams, then the finals.
        for i in 0..<50 {
            lines.append(Array(#"{"log":"p\#(i) ","stream":"\#(i % 2 == 0 ? "stdout" : "stderr")"}"#.utf8))
            lines.append(Array("2024-05-01T12:00:00Z \(i % 3 == 0 ? "stdout" : "stderr") P q\(i) ".utf8))
        }
        lines.append(Array(#"{"log":"end\n","stream":"stdout"}"#.utf8))
        return lines
    }

    /// The stream key and failure flag each line gets when decoded alone: lets the test attribute
    /// lines to joined events without trusting the decoder's own counts.
    static func identity(of line: [UInt8], format: LogFormat, origin: LineOrigin) -> (key: UInt64, failed: Bool) {
        var decoder = makeDecoder(format: format, firstLine: line)
        var out: [LogEvent] = []
        decoder.decode(line, origin: origin, now: fixedNow, into: &out)
        decoder.flush(now: fixedNow, into: &out)
        return (out.first?.streamKey ?? 0, out.first?.hasTag(EventTags.decodeFailure) ?? false)
    }

    @Test(arguments: [LogFormat.docker, .cri, .raw, .auto])
    func everyLineIsAccountedFor(format: LogFormat) {
        let lines = Self.hostileLines()
        let origins = origins(of: lines, path: "/hostile.log", source: 1)
        for bound in [LineDecoderOptions.defaults, LineDecoderOptions(maxLineBytes: 7)] {
            var decoder = makeDecoder(format: format, firstLine: lines[0], options: bound)
            var events: [LogEvent] = []
            for (line, origin) in zip(lines, origins) {
                decoder.decode(line, origin: origin, now: fixedNow, into: &events)
                #expect(decoder.stats.lines == decoder.stats.linesInEvents + decoder.stats.linesHeld)
            }
            decoder.flush(now: fixedNow, into: &events)
            #expect(decoder.stats.lines == lines.count)
            #expect(decoder.stats.linesInEvents == lines.count)
            #expect(decoder.stats.linesHeld == 0)
            #expect(decoder.stats.events == events.count)
            #expect(decoder.pendingOffset == nil)

            // Independent check: attribute each line to the events whose span covers it, on the
            // same stream key, with the same failure flag. Each line must land in exactly one.
            let resolved = format == .auto ? LogFormat.detect(firstLine: lines[0]) : format
            var claims = [Int](repeating: 0, count: lines.count)
            let sorted = origins.map(\.offset)
            for event in events {
                #expect(event.index(of: FieldPaths.message) == 1)
                #expect(event.index(of: FieldPaths.timestamp) == 0)
                let failed = event.hasTag(EventTags.decodeFailure)
                var i = sorted.firstIndex(of: event.origin.offset) ?? lines.count
                while i < lines.count && origins[i].offset < event.origin.endOffset {
                    let id = Self.identity(of: lines[i], format: resolved, origin: origins[i])
                    if id.key == event.streamKey && id.failed == failed { claims[i] += 1 }
                    if failed { break }
                    i += 1
                }
            }
            let unclaimed = claims.indices.filter { claims[$0] != 1 }
            #expect(unclaimed.isEmpty, "lines not in exactly one event: \(unclaimed.prefix(10))")
            // Every output is valid JSON.
            #expect(events.allSatisfy { $0.jsonValue() != .null })
        }
    }
}
