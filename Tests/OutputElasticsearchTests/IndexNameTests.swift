import Foundation
import ShipperCore
import Testing

@testable import OutputElasticsearch

@Suite("Index names")
struct IndexNameTests {
    /// 2024-11-14T22:13:20Z
    static let ts: Int64 = 1_731_622_400_000_000_000

    struct RenderCase: CustomTestStringConvertible, Sendable {
        var template: String
        var attributes: [DocumentAttribute]
        var timestamp: Int64 = IndexNameTests.ts
        var expected: String
        var testDescription: String { "\(template) → \(expected)" }
    }

    static let renderCases: [RenderCase] = [
        RenderCase(template: "logs-%{service.name}-%Y.%m.%d", attributes: [.init("service.name", "web")], expected: "logs-web-2024.11.14"),
        RenderCase(template: "x-%Y%m%d%H", attributes: [], expected: "x-2024111422"),
        RenderCase(template: "x-%H", attributes: [], timestamp: ts + 3_600_000_000_000 * 2, expected: "x-00"),
        RenderCase(template: "Logs-%{a}", attributes: [.init("a", "Web")], expected: "logs-web"),
        RenderCase(template: "logs-%{service.name}-%Y.%m.%d", attributes: [], expected: "logs-_-2024.11.14"),
        RenderCase(template: "logs-%{a}", attributes: [.init("a", #"a/b c*d?e"f<g>h|i,j#k:l\m"#)], expected: "logs-a_b_c_d_e_f_g_h_i_j_k_l_m"),
        RenderCase(template: "logs-%{a}", attributes: [.init("a", "ÄÖÜ-Straße")], expected: "logs-äöü-straße"),
        RenderCase(template: "logs-%{a}", attributes: [.init("a", "tab\there\u{7}")], expected: "logs-tab_here_"),
        RenderCase(template: "%{a}", attributes: [.init("a", "_-+Web")], expected: "web"),
        RenderCase(template: "%{a}", attributes: [.init("a", "")], expected: IndexName.fallback),
        RenderCase(template: "%{a}", attributes: [.init("a", ".")], expected: IndexName.fallback),
        RenderCase(template: "%{a}", attributes: [.init("a", "..")], expected: IndexName.fallback),
        RenderCase(template: "%{a}", attributes: [.init("a", "...")], expected: "..."),
        RenderCase(template: "%{a}", attributes: [.init("a", "___")], expected: IndexName.fallback),
        RenderCase(template: "%{a}-%{b}", attributes: [.init("b", "B"), .init("a", "A")], expected: "a-b"),
        RenderCase(template: "old-%Y.%m.%d", attributes: [], timestamp: -1, expected: "old-1969.12.31"),
        RenderCase(template: "pct-%%-x", attributes: [], expected: "pct-%-x"),
        RenderCase(template: "logs-%{a}", attributes: [.init(name: "a", value: [0x41, 0xFF, 0x42])], expected: "logs-a\u{FFFD}b"),
    ]

    @Test(arguments: renderCases)
    func render(_ c: RenderCase) throws {
        let config = ElasticsearchOutputConfig(hosts: [ElasticsearchHost(host: "h")], index: c.template)
        let resolver = try IndexResolver(config: config)
        let doc = OutgoingDocument(source: 1, offset: 0, timestamp: c.timestamp, attributes: c.attributes, document: [])
        #expect(resolver.name(for: doc) == c.expected)
    }

    @Test func longNamesAreCutAt255BytesOnACharacterBoundary() throws {
        #expect(IndexName.sanitize(Array(repeating: 0x61, count: 300)) == String(repeating: "a", count: 255))
        // 'é' is two bytes: 127 of them are 254 bytes, the 128th would cross 255.
        let cut = IndexName.sanitize(Array(String(repeating: "é", count: 200).utf8))
        #expect(cut.utf8.count == 254)
        #expect(cut == String(repeating: "é", count: 127))
        // Leading characters removed before the limit applies.
        #expect(IndexName.sanitize(Array(("--" + String(repeating: "b", count: 300)).utf8)).utf8.count == 255)
    }

    @Test func dataStreamNames() throws {
        var config = ElasticsearchOutputConfig(hosts: [ElasticsearchHost(host: "h")])
        config.dataStream = .init(type: "logs", dataset: "%{service.name}", namespace: "Prod-EU")
        let resolver = try IndexResolver(config: config)
        #expect(resolver.fields == ["service.name"])
        let doc = OutgoingDocument(source: 1, offset: 0, timestamp: Self.ts, attributes: [.init("service.name", "My-App")], document: [])
        #expect(resolver.name(for: doc) == "logs-my_app-prod_eu")
    }

    @Test func itemsShareNamesAndGetIds() throws {
        let config = ElasticsearchOutputConfig(hosts: [ElasticsearchHost(host: "h")], index: "i-%{a}")
        let resolver = try IndexResolver(config: config)
        let docs = [
            OutgoingDocument(source: 1, offset: 0, timestamp: 0, attributes: [.init("a", "x")], document: Array("{}".utf8)),
            OutgoingDocument(source: 1, offset: 10, timestamp: 0, attributes: [.init("a", "x")], document: Array("{}".utf8)),
            OutgoingDocument(source: 1, offset: 20, timestamp: 0, attributes: [.init("a", "Y")], document: Array("{}".utf8)),
        ]
        let items = resolver.items(for: docs)
        #expect(items.map(\.index) == ["i-x", "i-x", "i-y"])
        #expect(items.map(\.id) == docs.map { DocumentID.make($0).text })
        #expect(Set(items.map(\.id)).count == 3)
        #expect(items[1].offset == 10 && items[1].source == 1)
    }

    static let badTemplates: [(String, String)] = [
        ("logs-%q", "unknown placeholder"),
        ("logs-%{", "no closing"),
        ("logs-%{}", "empty field reference"),
        ("_logs", "must not start"),
        ("-logs", "must not start"),
        ("+logs", "must not start"),
        ("logs/x", "not allowed"),
        ("logs x", "not allowed"),
        ("logs:x", "not allowed"),
        ("logs#x", "not allowed"),
        ("logs-%", "at the end"),
        ("", "must not be empty"),
    ]

    @Test(arguments: badTemplates)
    func badTemplatesAreConfigErrors(_ text: String, _ message: String) {
        #expect {
            _ = try IndexNameTemplate(text)
        } throws: { error in
            "\(error)".contains(message)
        }
    }

    @Test func templateFields() throws {
        let t = try IndexNameTemplate("a-%{x.y}-%{z}-%{x.y}-%Y")
        #expect(t.fields == ["x.y", "z"])
        #expect(t.usesTime)
        #expect(try !IndexNameTemplate("plain").usesTime)
    }
}
