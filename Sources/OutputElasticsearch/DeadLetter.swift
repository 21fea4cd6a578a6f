import ShipperCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One line of a dead-letter file: a document Elasticsearch rejected for good, with the reason.
///
/// ```json
/// {"@timestamp":"2026-08-20T10:00:03.123Z","output":"es","status":400,
///  "error":{"type":"document_parsing_exception","reason":"…"},
///  "index":"logs-app-2026.08.20","_id":"q3Vb…","source":1234,"offset":5678,
///  "event_timestamp":"2026-08-20T10:00:00.000Z","document":{…the original event…}}
/// ```
///
/// A document that is not valid JSON is kept as text in `document_text` instead of `document`.
public struct DeadLetterRecord: Sendable, Equatable {
    public var item: BulkItem
    /// HTTP status of the item (or of the request, for 413).
    public var status: Int
    public var error: ElasticsearchError

    public init(item: BulkItem, status: Int, error: ElasticsearchError) {
        self.item = item
        self.status = status
        self.error = error
    }

    /// The NDJSON line (with its newline).
    public func encode(output: String, now: Timestamp, into out: inout [UInt8]) {
        out.append(contentsOf: #"{"@timestamp":""#.utf8)
        now.write(into: &out)
        out.append(contentsOf: #"","output":"#.utf8)
        JSONWriter.writeString(output, into: &out)
        out.append(contentsOf: #","status":"#.utf8)
        JSONWriter.writeInt(Int64(status), into: &out)
        out.append(contentsOf: #","error":"#.utf8)
        if Self.isValidJSON(error.json) {
            out.append(contentsOf: error.json)
        } else {
            ElasticsearchError(type: error.type, reason: error.reason).json.withUnsafeBytes { out.append(contentsOf: $0) }
        }
        out.append(contentsOf: #","index":"#.utf8)
        JSONWriter.writeString(item.index, into: &out)
        out.append(contentsOf: #","_id":"#.utf8)
        item.documentID.writeJSON(into: &out)
        out.append(contentsOf: #","source":"#.utf8)
        out.append(contentsOf: String(item.source).utf8)
        out.append(contentsOf: #","offset":"#.utf8)
        JSONWriter.writeInt(item.offset, into: &out)
        out.append(contentsOf: #","event_timestamp":""#.utf8)
        Timestamp(nanoseconds: item.timestamp, precision: 9).write(into: &out)
        out.append(UInt8(ascii: "\""))
        if Self.isValidJSON(item.document) {
            out.append(contentsOf: #","document":"#.utf8)
            for b in item.document { out.append(b == 0x0A || b == 0x0D ? 0x20 : b) }
        } else {
            out.append(contentsOf: #","document_text":"#.utf8)
            item.document.withUnsafeBytes { JSONWriter.writeString($0, into: &out) }
        }
        out.append(contentsOf: "}\n".utf8)
    }

    static func isValidJSON(_ bytes: [UInt8]) -> Bool { isValidJSON(bytes[...]) }

    static func isValidJSON(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard !bytes.isEmpty else { return false }
        return bytes.withUnsafeBytes { b in
            var s = JSONScanner(b)
            do {
                try s.skipValue()
                s.skipWhitespace()
                return s.isAtEnd
            } catch {
                return false
            }
        }
    }

    /// Reads one line back (`index`, `_id`, `document` or `document_text`, and the origin when present).
    public static func decode(line: UnsafeRawBufferPointer) throws(JSONError) -> DeadLetterRecord {
        var s = JSONScanner(line)
        var index: String?
        var id: String?
        var document: [UInt8]?
        var status = 0
        var source: UInt64 = 0
        var offset: Int64 = -1
        let timestamp: Int64 = 0
        var error = ElasticsearchError(type: "unknown", reason: "")
        var scratch: [UInt8] = []
        func string(_ s: inout JSONScanner) throws(JSONError) -> String {
            scratch.removeAll(keepingCapacity: true)
            let r = try s.readString(into: &scratch)
            return String(decoding: scratch[r], as: UTF8.self)
        }
        try s.expect(UInt8(ascii: "{"))
        if !s.consume(UInt8(ascii: "}")) {
            repeat {
                let key = try string(&s)
                try s.expect(UInt8(ascii: ":"))
                s.skipWhitespace()
                switch key {
                case "index": index = try string(&s)
                case "_id": id = try string(&s)
                case "document":
                    let start = s.position
                    try s.skipValue()
                    document = Array(UnsafeRawBufferPointer(rebasing: line[start..<s.position]))
                case "document_text":
                    var out: [UInt8] = []
                    let r = try s.readString(into: &out)
                    document = Array(out[r])
                case "status":
                    if case .int(let v) = try s.readNumber() { status = Int(truncatingIfNeeded: v) }
                case "source":
                    let start = s.position
                    _ = try s.readNumber()
                    source = UInt64(String(decoding: UnsafeRawBufferPointer(rebasing: line[start..<s.position]), as: UTF8.self)) ?? 0
                case "offset":
                    if case .int(let v) = try s.readNumber() { offset = v }
                case "event_timestamp":
                    // Informational; replays use the stored index, not the timestamp.
                    _ = try string(&s)
                case "error":
                    let start = s.position
                    let v = try s.parseValue()
                    error = BulkResponseClassifier.makeError(v, raw: Array(UnsafeRawBufferPointer(rebasing: line[start..<s.position])))
                default:
                    try s.skipValue()
                }
            } while s.consume(UInt8(ascii: ","))
            try s.expect(UInt8(ascii: "}"))
        }
        guard let index, let id, let document else {
            throw JSONError("a dead-letter line needs index, _id and document", at: 0)
        }
        return DeadLetterRecord(
            item: BulkItem(index: index, id: id, document: document, source: source, offset: offset, timestamp: timestamp), status: status,
            error: error)
    }

    /// Every record of a dead-letter file, and the number of lines that could not be read.
    public static func read(path: String) throws -> (records: [DeadLetterRecord], unreadableLines: Int) {
        guard let bytes = FileIO.readFile(path) else {
            throw FileIOError(operation: "read", path: path, code: errno)
        }
        var records: [DeadLetterRecord] = []
        var unreadable = 0
        bytes.withUnsafeBytes { all in
            var start = 0
            while start < all.count {
                var end = start
                while end < all.count && all[end] != 0x0A { end += 1 }
                let line = UnsafeRawBufferPointer(rebasing: all[start..<end])
                if line.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) {
                    if let r = try? decode(line: line) { records.append(r) } else { unreadable += 1 }
                }
                start = end + 1
            }
        }
        return (records, unreadable)
    }
}

/// Appends dead-letter records to an NDJSON file and fsyncs before returning (the buffer is
/// acknowledged only after that).
public final class DeadLetterFile: Sendable {
    public let path: String
    private let fd = Mutex<Int32>(-1)

    public init(path: String) {
        self.path = path
    }

    deinit {
        fd.withLock { if $0 >= 0 { close($0) } }
    }

    /// Writes the lines and fsyncs.
    public func append(_ bytes: [UInt8]) throws {
        try fd.withLock { (fd: inout Int32) throws in
            if fd < 0 {
                try FileIO.makeDirectories(FileIO.directory(of: path))
                let opened = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
                guard opened >= 0 else { throw FileIOError(operation: "open", path: path, code: errno) }
                fd = opened
            }
            do throws(FileIOError) {
                try FileIO.writeAll(fd, bytes)
            } catch {
                throw FileIOError(operation: "write", path: path, code: error.code)
            }
            if fsync(fd) != 0 { throw FileIOError(operation: "fsync", path: path, code: errno) }
        }
    }
}
