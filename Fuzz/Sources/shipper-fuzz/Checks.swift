import ShipperCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Stops the run on a broken promise: libFuzzer records the input as a crash.
func failCheck(_ message: String, input: UnsafeRawBufferPointer? = nil) -> Never {
    var text = "\n==FUZZ CHECK FAILED [\(Targets.selected.name)]: \(message)\n"
    if let input, input.count <= 512 { text += "input: \(String(reflecting: String(decoding: input, as: UTF8.self)))\n" }
    writeStandardError(text)
    abort()
}

func writeStandardError(_ text: String) {
    var text = text
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

@inline(__always)
func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { failCheck(message()) }
}

/// The bytes as text for messages (invalid UTF-8 replaced).
func show(_ bytes: some Collection<UInt8>, limit: Int = 300) -> String {
    String(reflecting: String(decoding: bytes.prefix(limit), as: UTF8.self))
}

/// An RFC 8259 checker written apart from shipper's reader, as the oracle for the JSON it writes
/// and reads: grammar, strict UTF-8 (the standard library's validation), and, optionally, no
/// object with the same key twice (Elasticsearch rejects such documents).
enum StrictJSON {
    struct Options {
        var rejectDuplicateKeys = true
    }

    /// nil when `b` is one JSON value (whitespace around it allowed), else what is wrong.
    static func problem(_ b: UnsafeRawBufferPointer, options: Options = Options()) -> String? {
        guard String(validating: b, as: UTF8.self) != nil else { return "not valid UTF-8" }
        var i = 0
        let n = b.count
        // Per open container: is it an object, and where its keys start in `keys`.
        // Past 16 keys an object also keeps the hashes of its keys (wide objects stay linear).
        var stack: [(object: Bool, keysStart: Int, hashes: Set<Int>?)] = []
        // The keys of the open objects (ranges of raw escaped bytes), innermost last.
        var keys: [Range<Int>] = []

        func hash(_ bytes: UnsafeRawBufferPointer) -> Int {
            var h = Hasher()
            h.combine(bytes: bytes)
            return h.finalize()
        }
        func ws() { while i < n, b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0A || b[i] == 0x0D { i += 1 } }
        func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
        func isHex(_ c: UInt8) -> Bool { isDigit(c) || (c | 0x20 >= 0x61 && c | 0x20 <= 0x66) }
        func hex4(_ at: Int) -> Int? {
            guard at + 3 < n else { return nil }
            var v = 0
            for k in at..<(at + 4) {
                let c = b[k]
                guard isHex(c) else { return nil }
                v = v * 16 + Int(isDigit(c) ? c - 0x30 : (c | 0x20) - 0x61 + 10)
            }
            return v
        }
        /// Reads a string at i (on the quote); returns the range of its raw bytes or nil.
        func string() -> Range<Int>? {
            guard i < n, b[i] == 0x22 else { return nil }
            i += 1
            let start = i
            while i < n {
                let c = b[i]
                if c == 0x22 {
                    defer { i += 1 }
                    return start..<i
                }
                if c < 0x20 { return nil }
                if c == 0x5C {
                    guard i + 1 < n else { return nil }
                    switch b[i + 1] {
                    case 0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74: i += 2
                    case 0x75:
                        // Escaped UTF-16: a surrogate only as a high-low pair (a lone one is no
                        // character; shipper rejects it, as RFC 8259 section 8.2 allows).
                        guard let unit = hex4(i + 2) else { return nil }
                        i += 6
                        if unit >= 0xDC00 && unit <= 0xDFFF { return nil }
                        if unit >= 0xD800 && unit <= 0xDBFF {
                            guard i + 1 < n, b[i] == 0x5C, b[i + 1] == 0x75, let low = hex4(i + 2), low >= 0xDC00 && low <= 0xDFFF else { return nil }
                            i += 6
                        }
                    default: return nil
                    }
                    continue
                }
                i += 1
            }
            return nil
        }
        func number() -> Bool {
            if i < n, b[i] == 0x2D { i += 1 }
            guard i < n, isDigit(b[i]) else { return false }
            if b[i] == 0x30 { i += 1 } else { while i < n, isDigit(b[i]) { i += 1 } }
            if i < n, b[i] == 0x2E {
                i += 1
                guard i < n, isDigit(b[i]) else { return false }
                while i < n, isDigit(b[i]) { i += 1 }
            }
            if i < n, b[i] | 0x20 == 0x65 {
                i += 1
                if i < n, b[i] == 0x2B || b[i] == 0x2D { i += 1 }
                guard i < n, isDigit(b[i]) else { return false }
                while i < n, isDigit(b[i]) { i += 1 }
            }
            return true
        }
        func literal(_ s: StaticString) -> Bool {
            let count = s.utf8CodeUnitCount
            guard n - i >= count else { return false }
            for k in 0..<count where b[i + k] != s.utf8Start[k] { return false }
            i += count
            return true
        }
        /// Reads a key and its colon in the object on top of the stack.
        func key() -> String? {
            ws()
            guard let k = string() else { return "expected a key at \(i)" }
            if options.rejectDuplicateKeys {
                let top = stack.count - 1
                let start = stack[top].keysStart
                var compare = true
                if keys.count - start >= 16 {
                    if stack[top].hashes == nil {
                        stack[top].hashes = Set(keys[start...].map { hash(UnsafeRawBufferPointer(rebasing: b[$0])) })
                    }
                    compare = !stack[top].hashes!.insert(hash(UnsafeRawBufferPointer(rebasing: b[k]))).inserted
                }
                if compare {
                    for other in keys[start...] where other.count == k.count {
                        if memcmp(b.baseAddress! + other.lowerBound, b.baseAddress! + k.lowerBound, k.count) == 0 {
                            return "duplicate key \(show(UnsafeRawBufferPointer(rebasing: b[k]))) at \(i)"
                        }
                    }
                }
                keys.append(k)
            }
            ws()
            guard i < n, b[i] == 0x3A else { return "expected ':' at \(i)" }
            i += 1
            return nil
        }

        valueLoop: while true {
            // A value starts here.
            ws()
            guard i < n else { return "unexpected end, expected a value" }
            switch b[i] {
            case 0x7B:
                i += 1
                stack.append((true, keys.count, nil))
                ws()
                if i < n, b[i] == 0x7D {
                    i += 1
                    keys.removeSubrange(stack.removeLast().keysStart...)
                } else {
                    if let p = key() { return p }
                    continue valueLoop
                }
            case 0x5B:
                i += 1
                stack.append((false, keys.count, nil))
                ws()
                if i < n, b[i] == 0x5D {
                    i += 1
                    keys.removeSubrange(stack.removeLast().keysStart...)
                } else {
                    continue valueLoop
                }
            case 0x22:
                guard string() != nil else { return "bad string at \(i)" }
            case 0x74: guard literal("true") else { return "bad literal at \(i)" }
            case 0x66: guard literal("false") else { return "bad literal at \(i)" }
            case 0x6E: guard literal("null") else { return "bad literal at \(i)" }
            default:
                guard number() else { return "bad number at \(i)" }
            }
            // After a complete value: close containers or go on with the next member.
            while true {
                ws()
                guard let top = stack.last else {
                    return i == n ? nil : "trailing bytes at \(i)"
                }
                guard i < n else { return "unexpected end inside a container" }
                if b[i] == 0x2C {
                    i += 1
                    if top.object, let p = key() { return p }
                    continue valueLoop
                }
                if b[i] == (top.object ? 0x7D : 0x5D) {
                    i += 1
                    keys.removeSubrange(stack.removeLast().keysStart...)
                    continue
                }
                return "expected ',' or a closing bracket at \(i)"
            }
        }
    }
}

/// Checks every event a component emits: string values inside the arena, and the JSON written by
/// ``JSONWriter`` (and, byte for byte the same, by a long-lived ``EventEncoder``) is one valid
/// object without duplicate keys, whose timestamps read back as RFC 3339.
enum EventCheck {
    nonisolated(unsafe) static var encoder = EventEncoder()
    nonisolated(unsafe) static var scratch: [UInt8] = []
    nonisolated(unsafe) static var scratch2: [UInt8] = []
    static let rfc3339 = try! TimeFormat("rfc3339")

    /// With `writing: false`, only the arena bounds (for the many similar events
    /// of one input: writing and checking the JSON of every one halved the executions per second).
    static func verify(_ event: LogEvent, _ context: @autoclosure () -> String, writing: Bool = true) {
        for f in event.fields { checkValue(f.value, event: event, path: f.path.dotted, timestamps: writing, context) }
        guard writing else { return }
        scratch.removeAll(keepingCapacity: true)
        JSONWriter.write(event, into: &scratch)
        let problem = scratch.withUnsafeBytes { StrictJSON.problem($0) }
        if let problem { failCheck("\(context()): JSONWriter wrote invalid JSON (\(problem)): \(show(scratch, limit: 2000))") }
        check(scratch.first == UInt8(ascii: "{"), "\(context()): the event is not written as an object: \(show(scratch))")
        scratch2.removeAll(keepingCapacity: true)
        encoder.encode(event, into: &scratch2)
        if scratch2 != scratch {
            failCheck("\(context()): EventEncoder and JSONWriter differ:\n  \(show(scratch2, limit: 2000))\n  \(show(scratch, limit: 2000))")
        }
    }

    static func checkValue(
        // `path` is rendered only for a message: a String per field of every event was a tenth of
        // the decoder targets' time.
        _ v: FieldValue, event: LogEvent, path: @autoclosure () -> String, timestamps: Bool = true, depth: Int = 0,
        _ context: () -> String
    ) {
        let arenaCount = event.arena.count
        switch v {
        case .string(let s):
            if s.start < 0 || s.count < 0 || s.upperBound > arenaCount {
                failCheck("\(context()): \(path()) points outside the arena: \(s.start)+\(s.count) of \(arenaCount)")
            }
        case .timestamp(let t):
            guard timestamps else { return }
            var text: [UInt8] = []
            t.write(into: &text)
            let back = text.withUnsafeBytes { rfc3339.parse($0, zone: .utc) }
            if back == nil {
                failCheck("\(context()): \(path()): timestamp \(t.nanoseconds) ns is written as \(show(text)), which is not RFC 3339")
            }
        case .array(let list):
            if list.start < 0 || list.count < 0 || list.range.upperBound > event.values.count || depth > 64 {
                failCheck("\(context()): \(path()): array \(list.start)+\(list.count) outside the event's \(event.values.count) values (depth \(depth))")
            }
            for item in event.elements(list) {
                checkValue(item, event: event, path: path(), timestamps: timestamps, depth: depth + 1, context)
            }
        case .object(let list):
            if list.start < 0 || list.count < 0 || list.range.upperBound > event.members.count || depth > 64 {
                failCheck("\(context()): \(path()): object \(list.start)+\(list.count) outside the event's \(event.members.count) members (depth \(depth))")
            }
            for f in event.members(list) {
                checkValue(f.value, event: event, path: path() + "." + f.path.dotted, timestamps: timestamps, depth: depth + 1, context)
            }
        case .int, .double, .bool, .null:
            break
        }
    }

    /// Whether two events are the same (fields, arena bytes, origin).
    static func same(_ a: LogEvent, _ b: LogEvent) -> Bool {
        a.fields == b.fields && a.arena == b.arena && a.values == b.values && a.members == b.members && a.origin == b.origin
            && a.streamKey == b.streamKey
    }
}

/// Lines of `bytes` split at `\n` (without it) with their offsets; a last line without a newline
/// is included, as the tailer hands it over when the file is rotated away.
func splitLines(_ bytes: UnsafeRawBufferPointer) -> [(range: Range<Int>, offset: Int64, endOffset: Int64)] {
    var out: [(Range<Int>, Int64, Int64)] = []
    var start = 0
    var i = 0
    let n = bytes.count
    while i < n {
        if bytes[i] == 0x0A {
            out.append((start..<i, Int64(start), Int64(i + 1)))
            start = i + 1
        }
        i += 1
    }
    if start < n { out.append((start..<n, Int64(start), Int64(n))) }
    return out
}
