import ShipperCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What is known about the container that wrote a log file: read from Docker's `config.v2.json`
/// next to a json-file log (no Docker socket), or from a CRI log file name
/// (`<pod>_<namespace>_<container>-<id>.log`). ``fields`` gives the event fields.
public struct ContainerMetadata: Sendable, Equatable {
    /// The container id (64 hex digits).
    public var id: String { didSet { refreshFields() } }
    /// The container name, without Docker's leading `/`.
    public var name: String? { didSet { refreshFields() } }
    /// The image as the user asked for it (`Config.Image`, e.g. `nginx:1.27`).
    public var image: String? { didSet { refreshFields() } }
    /// The container labels in document order.
    public var labels: [(key: String, value: String)] { didSet { refreshFields() } }
    /// The Kubernetes pod name (CRI logs only).
    public var podName: String? { didSet { refreshFields() } }
    /// The Kubernetes namespace (CRI logs only).
    public var namespace: String? { didSet { refreshFields() } }

    public static func == (a: ContainerMetadata, b: ContainerMetadata) -> Bool {
        a.id == b.id && a.name == b.name && a.image == b.image && a.podName == b.podName && a.namespace == b.namespace
            && a.labels.elementsEqual(b.labels, by: { $0 == $1 })
    }

    /// The value of a label, nil when the container has no such label.
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
        refreshFields()
    }

    public init(
        id: String, name: String? = nil, image: String? = nil, labels: [(key: String, value: String)] = [],
        podName: String? = nil, namespace: String? = nil
    ) {
        self.id = id
        self.name = name
        self.image = image
        self.labels = labels
        self.podName = podName
        self.namespace = namespace
        refreshFields()
    }

    /// The metadata in a CRI log file name as the kubelet links it:
    /// `/var/log/containers/<pod>_<namespace>_<container>-<id>.log`; nil when the name has another shape.
    public init?(criLogPath path: String) {
        var file = Substring(path[(path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex)...])
        guard file.hasSuffix(".log") else { return nil }
        file = file.dropLast(4)
        // Pod, namespace and container names are DNS names: no `_`. The container name may hold `-`.
        let parts = file.split(separator: "_", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty, let dash = parts[2].lastIndex(of: "-") else { return nil }
        let container = parts[2][..<dash]
        let id = parts[2][parts[2].index(after: dash)...]
        guard !container.isEmpty, !id.isEmpty else { return nil }
        self.init(id: String(id), name: String(container), podName: String(parts[0]), namespace: String(parts[1]))
    }

    /// ECS fields for events of this container: `container.*`, `service.name`, the Swarm fields and
    /// `container.labels.*` (Docker); `container.id`, `container.name`, `kubernetes.pod.name`,
    /// `kubernetes.namespace` (CRI). Computed once when the value is made or changed.
    public private(set) var fields: [(FieldPath, String)] = []
    /// ``fields`` prepared for adding to events in one copy.
    public private(set) var fieldBlock = FieldBlock([])

    private mutating func refreshFields() {
        fields = makeFields()
        fieldBlock = FieldBlock(fields)
    }

    private func makeFields() -> [(FieldPath, String)] {
        var out: [(FieldPath, String)] = [(Paths.containerID, id)]
        if let name { out.append((Paths.containerName, name)) }
        if let image { out.append((Paths.imageName, image)) }
        if podName != nil || namespace != nil {
            if let podName { out.append((Paths.podName, podName)) }
            if let namespace { out.append((Paths.namespace, namespace)) }
            return out
        }
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
        static let podName = FieldPath.intern("kubernetes.pod.name")
        static let namespace = FieldPath.intern("kubernetes.namespace")
    }
}

/// Finds and caches container metadata for log paths laid out as Docker does
/// (`<root>/<id>/<id>-json.log` with `<root>/<id>/config.v2.json`). A lookup costs one `stat` of
/// the `config.v2.json`; the file is parsed again only when its mtime or size changed.
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
        add(meta.fieldBlock)
    }
}
