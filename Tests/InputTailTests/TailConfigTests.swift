import Foundation
import InputFormats
@testable import InputTail
import ShipperCore
import Testing

/// Decodes a TailConfig of the kind in the decoder's userInfo (JSON stands in for the YAML loader).
private struct KindedConfig: Decodable {
    static let kindKey = CodingUserInfoKey(rawValue: "kind")!
    let config: TailConfig

    init(from decoder: any Decoder) throws {
        config = try TailConfig(from: decoder, kind: decoder.userInfo[Self.kindKey] as? SourceKind ?? .file)
    }
}

private func decode(_ json: String, kind: SourceKind) throws -> TailConfig {
    let d = JSONDecoder()
    d.userInfo[KindedConfig.kindKey] = kind
    return try d.decode(KindedConfig.self, from: Data(json.utf8)).config
}

/// The message of a decoding failure, wherever the error was wrapped.
private func errorText(_ error: any Error) -> String {
    if let e = error as? ConfigValueError { return e.message }
    if case DecodingError.dataCorrupted(let ctx)? = error as? DecodingError {
        return ctx.underlyingError.map { errorText($0) } ?? ctx.debugDescription
    }
    if case DecodingError.typeMismatch(_, let ctx)? = error as? DecodingError {
        return ctx.underlyingError.map { errorText($0) } ?? ctx.debugDescription
    }
    return "\(error)"
}

@Suite struct TailConfigTests {
    struct Valid: Sendable, CustomTestStringConvertible {
        var kind: SourceKind
        var json: String
        var check: @Sendable (TailConfig) -> Bool
        var testDescription: String { "\(kind) \(json)" }
    }

    static let valid: [Valid] = [
        Valid(kind: .docker, json: "{}") {
            $0.paths == ["/var/lib/docker/containers/*/*-json.log"] && $0.format == .docker && $0.readFrom == .beginning
                && $0.discoveryInterval == .seconds(1) && $0.maxLineBytes.bytes == 1 << 20 && $0.ignoreOlder == nil
                && $0.rotateWait == .seconds(5) && $0.checkpointInterval == .seconds(1) && $0.inotify && $0.exclude.isEmpty
        },
        Valid(kind: .cri, json: "{}") { $0.paths == ["/var/log/containers/*.log"] && $0.format == .cri && $0.kind == .cri },
        Valid(kind: .file, json: #"{"paths": ["/var/log/app/*.log"]}"#) { $0.format == .auto && $0.kind == .file },
        Valid(kind: .file, json: #"{"paths": "/var/log/one.log", "format": "raw"}"#) { $0.paths == ["/var/log/one.log"] && $0.format == .raw },
        Valid(kind: .docker, json: """
            {"read_from": "end", "ignore_older": "24h", "discovery_interval": "250ms", "max_line_bytes": "64KiB",
             "exclude": ["*/abc*"], "exclude_containers": {"name": ["shipper*"], "label": {"com.docker.stack.namespace": "ops"}},
             "include_containers": {"image": "nginx:*"}, "host_name": "node-1", "rotate_wait": 0, "checkpoint_interval": "5s",
             "inotify": false}
            """) {
            $0.readFrom == .end && $0.ignoreOlder == .seconds(86400) && $0.discoveryInterval == .milliseconds(250)
                && $0.maxLineBytes.bytes == 65536 && $0.exclude == ["*/abc*"] && $0.excludeContainers?.name == ["shipper*"]
                && $0.excludeContainers?.label == ["com.docker.stack.namespace": "ops"] && $0.includeContainers?.image == ["nginx:*"]
                && $0.hostName == "node-1" && $0.rotateWait == .seconds(0) && $0.checkpointInterval == .seconds(5) && !$0.inotify
        },
        Valid(kind: .cri, json: #"{"exclude_containers": {"name": ["istio-proxy"]}}"#) { $0.excludeContainers?.name == ["istio-proxy"] },
    ]

    @Test(arguments: valid)
    func validConfigs(_ c: Valid) throws {
        let config = try decode(c.json, kind: c.kind)
        #expect(c.check(config))
    }

    @Test(arguments: [
        (SourceKind.file, "{}", "'paths' must list"),
        (.docker, #"{"read_from": "middle"}"#, "read_from 'middle'"),
        (.docker, #"{"format": "xml"}"#, "format 'xml'"),
        (.docker, #"{"discovery_interval": "1ms"}"#, "at least 10ms"),
        (.docker, #"{"discovery_interval": "soon"}"#, "not a duration"),
        (.docker, #"{"max_line_bytes": 100}"#, "between 1KiB and 1GiB"),
        (.docker, #"{"paths": []}"#, "'paths' must list"),
        (.docker, #"{"paths": ["/var/**/*.log"]}"#, "'**' is not supported"),
        (.docker, #"{"exclude": [""]}"#, "must not contain empty globs"),
        (.file, #"{"paths": ["/a"], "include_containers": {"name": "x"}}"#, "only for docker and cri"),
        (.cri, #"{"exclude_containers": {"image": ["x"]}}"#, "knows only container names"),
        (.docker, #"{"exclude_containers": {}}"#, "at least one of: name, image, label"),
        (.docker, #"{"include_containers": {"name": [""]}}"#, "must not be empty"),
    ])
    func invalidConfigs(kind: SourceKind, json: String, message: String) {
        do {
            _ = try decode(json, kind: kind)
            Issue.record("accepted \(json)")
        } catch {
            #expect(errorText(error).contains(message), "\(errorText(error))")
        }
    }

    @Test func codingKeysAreTheDocumentedOptions() {
        #expect(TailConfig.CodingKeys.allCases.map(\.rawValue) == [
            "paths", "exclude", "format", "discovery_interval", "read_from", "ignore_older", "include_containers",
            "exclude_containers", "host_name", "max_line_bytes", "rotate_wait", "checkpoint_interval", "inotify",
        ])
        #expect(ContainerFilter.CodingKeys.allCases.map(\.rawValue) == ["name", "image", "label"])
    }

    @Test func containerFilterSemantics() {
        let web = ContainerMetadata(id: "1", name: "web", image: "nginx:1.27", labels: [("tier", "front")])
        #expect(ContainerFilter(name: ["w*"]).matches(web))
        #expect(ContainerFilter(image: ["nginx:*"]).matches(web))
        #expect(ContainerFilter(label: ["tier": "fr?nt"]).matches(web))
        #expect(!ContainerFilter(label: ["missing": "*"]).matches(web))
        #expect(!ContainerFilter(name: ["db"], image: ["postgres*"]).matches(web))
        var config = TailConfig(kind: .docker)
        config.includeContainers = ContainerFilter(name: ["web"])
        #expect(config.allows(web))
        #expect(!config.allows(nil), "an include filter needs metadata")
        config.includeContainers = nil
        config.excludeContainers = ContainerFilter(name: ["web"])
        #expect(!config.allows(web))
        #expect(config.allows(nil), "an exclude filter cannot exclude what it cannot see")
    }

    @Test func dockerMetadataFromTheSharedSample() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("../shared/samples/docker-json/fluent-bit-config.v2-c652e8674cc6-grafana-compose.json")
        let meta = try ContainerMetadata(configJSON: Array(try Data(contentsOf: url)), id: "fallback")
        #expect(meta.name == "grafana")
        #expect(meta.id.hasPrefix("c652e867"))
        let fields = Dictionary(meta.fields.map { ($0.0.description, $0.1) }, uniquingKeysWith: { a, _ in a })
        #expect(fields["container.name"] == "grafana")
        #expect(fields["service.name"] != nil)
        #expect(meta.fields.contains { $0.0.description.hasPrefix("container.labels.com_docker_compose_") })
    }

    @Test(arguments: ["", "{", "[]", #"{"ID": 5}"#, "\u{0}"])
    func brokenConfigV2JSON(text: String) {
        let meta = try? ContainerMetadata(configJSON: Array(text.utf8), id: "abc")
        if let meta { #expect(meta.id == "abc" && meta.name == nil) }
    }
}

@Suite struct CheckpointFileTests {
    @Test func encodeParseRoundTrip() throws {
        let entries = [
            CheckpointEntry(path: "/var/lib/docker/containers/a/a-json.log", device: 2049, inode: 12, head: 0xdead_beef,
                            fingerprint: .max, offset: 4096, check: 7),
            CheckpointEntry(path: "/tmp/\"quoted\" ünïcode\n.log", device: .max, inode: 1 << 63, head: 0, fingerprint: 1, offset: 0, check: nil),
        ]
        guard case .entries(let parsed) = CheckpointFile.parse(CheckpointFile.encode(entries)) else {
            Issue.record("not parsed")
            return
        }
        #expect(parsed == entries)
        guard case .entries(let none) = CheckpointFile.parse(CheckpointFile.encode([])) else {
            Issue.record("empty not parsed")
            return
        }
        #expect(none.isEmpty)
    }

    @Test(arguments: ["", "{}", #"{"version":1}"#, #"{"version":1,"files":[{"path":"/a","device":1,"inode":2,"head":"zz","fingerprint":"0000000000000001","offset":3}]}"#,
                      #"{"version":1,"files":[{"path":"/a","device":1,"inode":2,"head":"0000000000000001","fingerprint":"0000000000000001","offset":-3}]}"#])
    func malformedCheckpointFiles(text: String) {
        guard case .corrupt = CheckpointFile.parse(Array(text.utf8)) else {
            Issue.record("accepted \(text)")
            return
        }
    }

    @Test func writeIsAtomicAndLoadsBack() throws {
        let dir = TempDir()
        let file = CheckpointFile(path: dir.sub("cp.json"))
        guard case .missing = file.load() else {
            Issue.record("expected missing")
            return
        }
        let e = CheckpointEntry(path: "/a", device: 1, inode: 2, head: 3, fingerprint: 4, offset: 5, check: 6)
        try file.write([e])
        #expect(!FileManager.default.fileExists(atPath: dir.sub("cp.json.tmp")))
        guard case .entries(let back) = file.load() else {
            Issue.record("not loaded")
            return
        }
        #expect(back == [e])
    }
}
