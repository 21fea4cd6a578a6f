import Foundation
import ShipperCore
import Testing

@testable import OutputElasticsearch

@Suite("Bulk body, document ids")
struct BulkBodyAndIdTests {
    struct BodyCase: CustomTestStringConvertible, Sendable {
        var name: String
        var items: [BulkItem]
        var indices: [Int]?
        var expected: String
        var included: [Int]
        var excluded: [Int] = []
        var testDescription: String { name }
    }

    static let bodyCases: [BodyCase] = [
        BodyCase(
            name: "one item", items: [BulkItem(index: "logs", id: "abc", document: Array(#"{"a":1}"#.utf8))], indices: nil,
            expected: "{\"create\":{\"_index\":\"logs\",\"_id\":\"abc\"}}\n{\"a\":1}\n", included: [0]),
        BodyCase(
            name: "two items, two indices",
            items: [
                BulkItem(index: "logs-a", id: "id1", document: Array(#"{"m":"x"}"#.utf8)),
                BulkItem(index: "logs-b", id: "id2", document: Array(#"{"m":"y","n":[1,2]}"#.utf8)),
            ], indices: nil,
            expected:
                "{\"create\":{\"_index\":\"logs-a\",\"_id\":\"id1\"}}\n{\"m\":\"x\"}\n{\"create\":{\"_index\":\"logs-b\",\"_id\":\"id2\"}}\n{\"m\":\"y\",\"n\":[1,2]}\n",
            included: [0, 1]),
        BodyCase(
            name: "subset in the given order",
            items: [
                BulkItem(index: "i", id: "0", document: Array("{}".utf8)),
                BulkItem(index: "i", id: "1", document: Array(#"{"k":1}"#.utf8)),
                BulkItem(index: "i", id: "2", document: Array(#"{"k":2}"#.utf8)),
            ], indices: [2, 0],
            expected: "{\"create\":{\"_index\":\"i\",\"_id\":\"2\"}}\n{\"k\":2}\n{\"create\":{\"_index\":\"i\",\"_id\":\"0\"}}\n{}\n",
            included: [2, 0]),
        BodyCase(
            name: "raw newlines and CR in a document become spaces",
            items: [BulkItem(index: "i", id: "x", document: Array("{\"a\":\n1,\r\n\"b\":2}".utf8))], indices: nil,
            expected: "{\"create\":{\"_index\":\"i\",\"_id\":\"x\"}}\n{\"a\": 1,  \"b\":2}\n", included: [0]),
        BodyCase(
            // Past the first 32-byte block, and in the bytes after the last whole block.
            name: "a raw CR after 40 bytes and a raw LF in the last bytes become spaces; a tab stays",
            items: [BulkItem(index: "i", id: "x", document: Array("{\"message\":\"0123456789012345678901234\",\r\"t\":\t1,\n\"u\":2}".utf8))],
            indices: nil,
            expected: "{\"create\":{\"_index\":\"i\",\"_id\":\"x\"}}\n{\"message\":\"0123456789012345678901234\", \"t\":\t1, \"u\":2}\n",
            included: [0]),
        BodyCase(
            name: "a tab alone (a byte below CR, not a line break) stays",
            items: [BulkItem(index: "i", id: "x", document: Array("{\"a\":\t1,\"message\":\"0123456789012345678901234567890123456789\"}".utf8))],
            indices: nil,
            expected: "{\"create\":{\"_index\":\"i\",\"_id\":\"x\"}}\n{\"a\":\t1,\"message\":\"0123456789012345678901234567890123456789\"}\n",
            included: [0]),
        BodyCase(
            name: "escaped newline inside a string stays",
            items: [BulkItem(index: "i", id: "x", document: Array(#"{"message":"a\nb"}"#.utf8))], indices: nil,
            expected: "{\"create\":{\"_index\":\"i\",\"_id\":\"x\"}}\n{\"message\":\"a\\nb\"}\n", included: [0]),
        BodyCase(
            name: "empty and blank documents are left out",
            items: [
                BulkItem(index: "i", id: "e", document: []),
                BulkItem(index: "i", id: "ok", document: Array(#"{"k":"ü"}"#.utf8)),
                BulkItem(index: "i", id: "b", document: Array(" \n\t".utf8)),
            ], indices: nil,
            expected: "{\"create\":{\"_index\":\"i\",\"_id\":\"ok\"}}\n{\"k\":\"ü\"}\n", included: [1], excluded: [0, 2]),
        BodyCase(
            name: "index and id are JSON-escaped",
            items: [BulkItem(index: #"we"ird\"#, id: "a\u{1}b", document: Array("{}".utf8))], indices: nil,
            expected: "{\"create\":{\"_index\":\"we\\\"ird\\\\\",\"_id\":\"a\\u0001b\"}}\n{}\n", included: [0]),
        BodyCase(name: "nothing", items: [], indices: nil, expected: "", included: []),
    ]

    @Test(arguments: bodyCases)
    func bodyIsByteExact(_ c: BodyCase) {
        let built = BulkBody.build(c.items, indices: c.indices)
        #expect(String(decoding: built.bytes, as: UTF8.self) == c.expected)
        #expect(built.included == c.included)
        #expect(built.excluded.map(\.index) == c.excluded)
        #expect(built.excluded.allSatisfy { $0.problem == .emptyDocument })
        if !built.bytes.isEmpty { #expect(built.bytes.last == 0x0A, "the last line must end with a newline") }
    }

    /// A CR or LF at every position of documents of every length up to 80 (the scans go a vector
    /// at a time: each vector, its edges, the bytes after the last whole one) becomes a space, and
    /// nothing else changes.
    @Test func aLineBreakAtEveryPositionBecomesASpace() {
        var checked = 0
        for length in 2...80 {  // (a lone line break is a blank document, left out)
            let plain = (0..<length).map { UInt8(ascii: "a") &+ UInt8($0 % 26) }
            var out: [UInt8] = []
            #expect(BulkBody.append(BulkItem(index: "i", id: "x", document: plain), to: &out))
            #expect(Array(out.suffix(length + 1)) == plain + [0x0A], "length \(length), no line break")
            for position in 0..<length {
                for lineBreak: UInt8 in [0x0A, 0x0D] {
                    var document = plain
                    document[position] = lineBreak
                    out.removeAll()
                    #expect(BulkBody.append(BulkItem(index: "i", id: "x", document: document), to: &out))
                    var expected = plain
                    expected[position] = 0x20
                    #expect(Array(out.suffix(length + 1)) == expected + [0x0A], "length \(length), \(lineBreak) at \(position)")
                    checked += 1
                }
            }
        }
        #expect(checked == 6478)
    }

    /// An item marked single-line (documents shipper's encoders wrote) is copied without looking
    /// for CR/LF: the mark is the caller's promise, so a break in such a document would stay.
    @Test func itemsMarkedSingleLineAreCopiedWithoutTheScan() {
        var item = BulkItem(index: "i", id: "x", document: Array("{\"a\":\n1}".utf8))
        var out: [UInt8] = []
        #expect(BulkBody.append(item, to: &out))
        #expect(String(decoding: out, as: UTF8.self) == "{\"create\":{\"_index\":\"i\",\"_id\":\"x\"}}\n{\"a\": 1}\n")
        item.isSingleLine = true
        out.removeAll()
        #expect(BulkBody.append(item, to: &out))
        #expect(String(decoding: out, as: UTF8.self) == "{\"create\":{\"_index\":\"i\",\"_id\":\"x\"}}\n{\"a\":\n1}\n")
        // Still left out when empty or blank.
        #expect(!BulkBody.append(BulkItem(index: "i", id: .text("e"), document: Array(" \n".utf8)[...], isSingleLine: true), to: &out))
    }

    /// Items with hash ids and documents without CR/LF take the body's fast path (the action
    /// line's start kept per index name, one capacity check per item): the body is byte for byte
    /// the action and document lines put together here, with index names changing and needing
    /// escapes, and text ids, blank documents, unmarked documents and raw line breaks in between.
    @Test func theFastPathWritesWhatTheGeneralPathWrites() {
        var items: [BulkItem] = []
        let names = ["logs", "logs", #"we"ird\"#, "logs", "logs-2", "logs-2"]
        for k in 0..<60 {
            let document = Array(#"{"n":\#(k),"m":"\#(String(repeating: "x", count: k))"}"#.utf8) + (k % 13 == 6 ? [0x0A] : [])
            let id: DocumentID = k % 7 == 3 ? .text("t\(k)") : DocumentID.make(source: UInt64(k) &* 0x9E37_79B9, offset: Int64(k) * 977, document: document)
            var item = BulkItem(index: names[k % names.count], id: id, document: document[...], isSingleLine: k % 5 != 4 && k % 13 != 6)
            if k % 11 == 10 { item.document = Array("  ".utf8)[...] }
            items.append(item)
        }
        var expected: [UInt8] = []
        var included: [Int] = []
        for (i, item) in items.enumerated() where item.document.contains(where: { $0 != 0x20 }) {
            expected += Array(#"{"create":{"_index":"#.utf8)
            JSONWriter.writeString(item.index, into: &expected)
            expected += Array(#","_id":"#.utf8)
            JSONWriter.writeString(item.documentID.text, into: &expected)
            expected += Array("}}\n".utf8) + item.document.map { $0 == 0x0A ? 0x20 : $0 } + [0x0A]
            included.append(i)
        }
        let built = BulkBody.build(items)
        #expect(String(decoding: built.bytes, as: UTF8.self) == String(decoding: expected, as: UTF8.self))
        #expect(built.included == included)
        #expect(built.excluded.map(\.index) == items.indices.filter { !included.contains($0) })
        #expect(included.count == 55)
    }

    @Test func buildingAgainReusesAndResets() {
        let items = [BulkItem(index: "a", id: "1", document: Array("{}".utf8)), BulkItem(index: "b", id: "2", document: [])]
        var built = BulkBody.build(items)
        #expect(built.excluded.count == 1)
        BulkBody.build(items, indices: [0], into: &built)
        #expect(String(decoding: built.bytes, as: UTF8.self) == "{\"create\":{\"_index\":\"a\",\"_id\":\"1\"}}\n{}\n")
        #expect(built.included == [0])
        #expect(built.excluded.isEmpty)
    }

    /// A body built in chunks (to be compressed while built): the chunks handed out plus what is
    /// left are the body built at once, each handed-out chunk reached the chunk size, and `size`
    /// counts the whole body; for every chunk size, with hash ids and text ids.
    @Test(arguments: [1, 100, 1000, 1 << 20])
    func bodyBuiltInChunksIsTheSameBody(_ chunkBytes: Int) {
        var items = Self.bodyCases.flatMap(\.items)
        for k in 0..<50 {
            let document = Array(#"{"n":\#(k),"pad":"\#(String(repeating: "x", count: k * 7))"}"#.utf8)
            items.append(BulkItem(index: "logs", id: DocumentID.make(source: 9, offset: Int64(k), document: document), document: document[...]))
        }
        let whole = BulkBody.build(items)
        var built = BulkBody.Built(bytes: [], included: [], excluded: [])
        var emitted: [UInt8] = []
        var chunks = 0
        BulkBody.build(items, indices: nil, into: &built, chunkBytes: chunkBytes) { chunk in
            #expect(chunk.count >= chunkBytes)
            emitted += chunk
            chunks += 1
        }
        #expect(emitted + built.bytes == whole.bytes)
        #expect(built.size == whole.bytes.count && whole.size == whole.bytes.count)
        #expect(built.included == whole.included && built.excluded.map(\.index) == whole.excluded.map(\.index))
        #expect(chunkBytes > whole.bytes.count ? chunks == 0 : chunks > 0)
    }

    /// A hash id is written as the text it stands for.
    @Test func hashIdsWriteTheirText() {
        let id = DocumentID.make(source: 0xfeed_face_cafe_beef, offset: 123_456_789, document: [])
        guard case .hash = id else {
            Issue.record("an id from an origin is a hash")
            return
        }
        var json: [UInt8] = []
        id.writeJSON(into: &json)
        #expect(String(decoding: json, as: UTF8.self) == #""CbUYL4GCc5x2LEXGOTFXwg""#)
        #expect(id == .text("CbUYL4GCc5x2LEXGOTFXwg"))
        let item = BulkItem(index: "i", id: id, document: Array("{}".utf8)[...])
        #expect(String(decoding: BulkBody.build([item]).bytes, as: UTF8.self) == "{\"create\":{\"_index\":\"i\",\"_id\":\"CbUYL4GCc5x2LEXGOTFXwg\"}}\n{}\n")
        #expect(item == BulkItem(index: "i", id: "CbUYL4GCc5x2LEXGOTFXwg", document: Array("{}".utf8)))
    }

    // MARK: Ids

    struct HashVector: Sendable {
        var input: [UInt8]
        var h1: UInt64
        var h2: UInt64
    }

    /// Reference values from the `mmh3` Python package (MurmurHash3_x64_128, seed 0).
    static let hashVectors: [HashVector] = [
        HashVector(input: [], h1: 0, h2: 0),
        HashVector(input: Array("hello".utf8), h1: 0xcbd8_a7b3_41bd_9b02, h2: 0x5b1e_906a_48ae_1d19),
        HashVector(input: Array("The quick brown fox jumps over the lazy dog".utf8), h1: 0xe34b_bc7b_bc07_1b6c, h2: 0x7a43_3ca9_c49a_9347),
        HashVector(input: Array(0..<16), h1: 0x4449_24b5_9190_3f30, h2: 0xab90_6456_762f_e845),
        HashVector(input: Array(0..<31), h1: 0x053d_d3e1_a32c_d094, h2: 0x9ee5_9aef_b400_5490),
    ]

    @Test(arguments: hashVectors)
    func murmur3MatchesReference(_ v: HashVector) {
        let (h1, h2) = v.input.withUnsafeBytes { Murmur3.hash128($0, seed: 0) }
        #expect(h1 == v.h1)
        #expect(h2 == v.h2)
    }

    @Test func idsAreStableAndPinned() {
        // Pinned: changing the derivation would make every replay after an upgrade a duplicate.
        #expect(DocumentID.make(source: 1, offset: 0, document: []).text == "23I4Ee7FxMHOTZ910MntFw")
        #expect(DocumentID.make(source: 0xfeed_face_cafe_beef, offset: 123_456_789, document: Array("ignored".utf8)).text == "CbUYL4GCc5x2LEXGOTFXwg")
        #expect(DocumentID.make(source: 0, offset: -1, document: Array(#"{"message":"hi"}"#.utf8)).text == "WNjLth9Wl75C96NtvtFahQ")
        let doc = OutgoingDocument(source: 7, offset: 42, timestamp: 0, document: Array("{}".utf8))
        #expect(DocumentID.make(doc) == DocumentID.make(doc))
    }

    @Test func idsAreDistinctAndURLSafe() {
        var seen = Set<String>()
        for source in [UInt64(1), 2, 0xffff_ffff_ffff_ffff] {
            for offset in stride(from: Int64(0), to: 20_000, by: 7) {
                let id = DocumentID.make(source: source, offset: offset, document: []).text
                #expect(id.count == 22)
                #expect(id.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == 0x2D || $0 == 0x5F })
                seen.insert(id)
            }
        }
        #expect(seen.count == 3 * 2858)
    }

    @Test func withoutOriginTheContentDecides() {
        let a = DocumentID.make(source: 0, offset: 5, document: Array(#"{"m":1}"#.utf8))
        let b = DocumentID.make(source: 0, offset: 9, document: Array(#"{"m":1}"#.utf8))
        let c = DocumentID.make(source: 0, offset: 5, document: Array(#"{"m":2}"#.utf8))
        let d = DocumentID.make(source: 3, offset: -1, document: Array(#"{"m":1}"#.utf8))
        #expect(a == b, "no origin: same content, same id")
        #expect(a != c)
        #expect(d == a, "a negative offset means no origin")
        #expect(DocumentID.make(source: 3, offset: 5, document: Array(#"{"m":1}"#.utf8)) != a)
    }

    @Test func base64() {
        #expect(Base64.encode(Array("user:pass".utf8)) == "dXNlcjpwYXNz")
        #expect(Base64.encode(Array("a".utf8)) == "YQ==")
        #expect(Base64.encode(Array("ab".utf8)) == "YWI=")
        #expect(Base64.encode([0xfb, 0xff], url: true, padding: false) == "-_8")
        #expect(Base64.encode([0xfb, 0xff]) == "+/8=")
    }
}
