import ShipperCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Container metadata read from Docker's `config.v2.json` next to a json-file log (no Docker socket).
public struct ContainerMetadata: Sendable, Equatable {
    public var id: String
    public var name: String?
    public var image: String?
    public var labels: [(key: String, value: String)]

    public static func == (a: ContainerMetadata, b: ContainerMetadata) -> Bool {
        a.id == b.id && a.name == b.name && a.image == b.image && a.labels.elementsEqual(b.labels, by: { $0 == $1 })
    }

    public func label(_ key: String) -> String? { labels.first { $0.key == key }?.value }

    /// Parses the contents of a `config.v2.json`.
    public init(configJSON bytes: [UInt8], id fallbackID: String) throws {
        let doc = try bytes.withUnsafeBytes { (b) throws(JSONError) -> JSONValue in try JSONScanner.parseDocument(b) }
        id = doc["ID"]?.stringValue ?? fallbackID
        var n = doc["Name"]?.stringValue
        if let v = n, v.hasPrefix("/") { n = String(v.dropFirst()) }
        name = n
        image = doc["Config"]?["Image"]?.stringValue
        if case .object(let members)? = doc["Config"]?["Labels"] {
            labels = members.compactMap { m in m.value.stringValue.map { (m.key, $0) } }
        } else {
            labels = []
        }
    }

    public init(id: String, name: String? = nil, image: String? = nil, labels: [(key: String, value: String)] = []) {
        self.id = id
        self.name = name
        self.image = image
        self.labels = labels
    }

    /// ECS fields for events of this container: `container.*`, `service.name` and the Swarm fields.
    public var fields: [(FieldPath, String)] {
        var out: [(FieldPath, String)] = [(Paths.containerID, id)]
        if let name { out.append((Paths.containerName, name)) }
        if let image { out.append((Paths.imageName, image)) }
        let service = label("com.docker.swarm.service.name") ?? label("com.docker.compose.service") ?? name
        if let service { out.append((Paths.serviceName, service)) }
        if let v = label("com.docker.swarm.service.name") { out.append((Paths.swarmService, v)) }
        if let v = label("com.docker.swarm.task.name") { out.append((Paths.swarmTask, v)) }
        if let v = label("com.docker.stack.namespace") { out.append((Paths.swarmStack, v)) }
        if let v = label("com.docker.swarm.node.id") { out.append((Paths.swarmNode, v)) }
        for (k, v) in labels {
            // As Filebeat's labels.dedot: dots in label keys become underscores, so
            // `com.docker.stack.namespace` is one keyword field, not a nested object.
            let key = String(k.map { $0 == "." ? "_" : $0 })
            out.append((FieldPath.intern("container.labels." + key), v))
        }
        return out
    }

    enum Paths {
        static let containerID = FieldPath.intern("container.id")
        static let containerName = FieldPath.intern("container.name")
        static let imageName = FieldPath.intern("container.image.name")
        static let serviceName = FieldPath.intern("service.name")
        static let swarmService = FieldPath.intern("swarm.service.name")
        static let swarmTask = FieldPath.intern("swarm.task.name")
        static let swarmStack = FieldPath.intern("swarm.stack.namespace")
        static let swarmNode = FieldPath.intern("swarm.node.id")
    }
}

/// Finds and caches container metadata for log paths laid out as Docker does
/// (`<root>/<id>/<id>-json.log` with `<root>/<id>/config.v2.json`).
public final class ContainerMetadataCache {
    private var cache: [String: (mtime: Int, meta: ContainerMetadata?)] = [:]

    public init() {}

    /// The metadata for a log file, re-read when `config.v2.json` changes; nil when missing or broken.
    public func metadata(forLogPath path: String) -> ContainerMetadata? {
        guard let slash = path.lastIndex(of: "/") else { return nil }
        let dir = String(path[..<slash])
        let id = String(dir[(dir.lastIndex(of: "/").map { dir.index(after: $0) } ?? dir.startIndex)...])
        let configPath = dir + "/config.v2.json"
        var st = stat()
        guard stat(configPath, &st) == 0 else {
            cache[dir] = nil
            return nil
        }
        let mtime = Int(st.st_mtim.tv_sec) &* 1_000_000_000 &+ Int(st.st_mtim.tv_nsec) &+ Int(st.st_size)
        if let hit = cache[dir], hit.mtime == mtime { return hit.meta }
        var meta: ContainerMetadata?
        if let bytes = readFile(configPath) { meta = try? ContainerMetadata(configJSON: bytes, id: id) }
        cache[dir] = (mtime, meta)
        return meta
    }

    private func readFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return n == 0 ? out : nil }
            out.append(contentsOf: chunk[0..<n])
            if out.count > 16 << 20 { return nil }
        }
    }
}

extension LogEvent {
    /// Adds container metadata, or the tag `_metadata_missing` when there is none.
    public mutating func addContainerMetadata(_ meta: ContainerMetadata?) {
        guard let meta else {
            addTag("_metadata_missing")
            return
        }
        for (path, value) in meta.fields { set(path, string: value) }
    }
}
