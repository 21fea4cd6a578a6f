import Foundation
import Testing

/// A `shipper run` process started by a test, with its stderr collected.
final class ShipperProcess: @unchecked Sendable {
    let process = Process()
    private let errPipe = Pipe()
    private let lock = NSLock()
    private var errText = ""

    init(arguments: [String], cwd: String) throws {
        process.executableURL = URL(fileURLWithPath: Repo.shipper)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: cwd)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errPipe
        errPipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let data = h.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.lock()
            self.errText += String(decoding: data, as: UTF8.self)
            self.lock.unlock()
        }
        try process.run()
    }

    var stderr: String {
        lock.lock()
        defer { lock.unlock() }
        return errText
    }

    func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// Waits for the process to exit (with a deadline) and returns its status.
    func wait(timeout: TimeInterval = 60) async -> Int32? {
        guard await eventually(timeout: timeout, { !process.isRunning }) else { return nil }
        errPipe.fileHandleForReading.readabilityHandler = nil
        return process.terminationStatus
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
func eventually(timeout: TimeInterval = 60, _ condition: () throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        await pause()
    }
    return try condition()
}

/// A short pause between polls of a condition (not a synchronisation by itself). It gives the
/// thread back: Swift's cooperative pool has one thread per core, and two tests polling with a
/// blocking sleep (for minutes, while shipper ran) took both on a 2-core machine, so the
/// in-process test servers' timers (down periods) fired tens of seconds late.
func pause() async { try? await Task.sleep(for: .milliseconds(20)) }

/// Writes Docker json-file logs into a directory laid out like /var/lib/docker/containers, and
/// rotates them as Docker's json-file driver does (rename) or as logrotate's copytruncate does.
final class ContainerLogWriter {
    let root: String
    let id: String
    let name: String
    var written = 0
    private var handle: FileHandle
    private var size = 0

    var logPath: String { "\(root)/\(id)/\(id)-json.log" }

    init(root: String, id: String, service: String, stack: String = "companynews", node: String = "node-1-id") throws {
        self.root = root
        self.id = id
        self.name = "\(stack)_\(service).1.task\(id.prefix(6))"
        try FileManager.default.createDirectory(atPath: "\(root)/\(id)", withIntermediateDirectories: true)
        let config: [String: Any] = [
            "ID": id, "Name": "/" + name,
            "Config": [
                "Image": "example/\(service):1.0",
                "Labels": [
                    "com.docker.swarm.service.name": "\(stack)_\(service)", "com.docker.swarm.task.name": name,
                    "com.docker.stack.namespace": stack, "com.docker.swarm.node.id": node,
                ],
            ],
        ]
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: "\(root)/\(id)/config.v2.json"))
        FileManager.default.createFile(atPath: "\(root)/\(id)/\(id)-json.log", contents: nil)
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(root)/\(id)/\(id)-json.log"))
    }

    /// Appends one line `<id> <n> <padding>` as Docker writes it.
    func write(padding: Int = 150) throws {
        let text = "\(id.prefix(8)) \(written) " + String(repeating: "x", count: padding)
        let line = "{\"log\":\"\(text)\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-25T08:00:00.\(String(format: "%09d", written % 1_000_000_000))Z\"}\n"
        let data = Data(line.utf8)
        try handle.write(contentsOf: data)
        size += data.count
        written += 1
    }

    /// Appends one line whose `log` is `escaped` (already escaped for a JSON string) plus a newline.
    func writeRaw(_ escaped: String) throws {
        let line = "{\"log\":\"\(escaped)\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-25T08:00:00.000000000Z\"}\n"
        let data = Data(line.utf8)
        try handle.write(contentsOf: data)
        size += data.count
        written += 1
    }

    var currentSize: Int { size }

    /// Docker's rotation: `-json.log` becomes `-json.log.1` (older ones shift), a new file starts.
    func rotateByRename(keep: Int = 3) throws {
        try handle.close()
        let fm = FileManager.default
        try? fm.removeItem(atPath: logPath + ".\(keep)")
        for n in stride(from: keep - 1, through: 1, by: -1) where fm.fileExists(atPath: logPath + ".\(n)") {
            try fm.moveItem(atPath: logPath + ".\(n)", toPath: logPath + ".\(n + 1)")
        }
        try fm.moveItem(atPath: logPath, toPath: logPath + ".1")
        fm.createFile(atPath: logPath, contents: nil)
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        size = 0
    }

    /// logrotate's copytruncate: copy the file aside, then truncate it in place.
    func rotateByCopyTruncate() throws {
        let fm = FileManager.default
        try? fm.removeItem(atPath: logPath + ".1")
        try fm.copyItem(atPath: logPath, toPath: logPath + ".1")
        try handle.truncate(atOffset: 0)
        size = 0
    }

    func close() throws { try handle.close() }
}

/// Follows a growing JSON-lines file and collects the `message` of each line, reading only what
/// is new on each call (a rotated file is not expected: the tests give the output a large max_size).
final class OutputFollower {
    let path: String
    private var offset: UInt64 = 0
    private var partial = Data()
    private(set) var messages: [String] = []
    /// Lines per message, to find duplicates.
    private(set) var counts: [String: Int] = [:]

    init(path: String) { self.path = path }

    /// Reads new complete lines; returns how many messages are known.
    @discardableResult
    func update() -> Int {
        guard let h = FileHandle(forReadingAtPath: path) else { return messages.count }
        defer { try? h.close() }
        try? h.seek(toOffset: offset)
        let data = h.readDataToEndOfFile()
        offset += UInt64(data.count)
        partial.append(data)
        while let nl = partial.firstIndex(of: 0x0A) {
            let line = partial[partial.startIndex..<nl]
            partial = partial[(nl + 1)...]
            if let m = Self.message(in: line) {
                messages.append(m)
                counts[m, default: 0] += 1
            }
        }
        partial = Data(partial)
        return messages.count
    }

    /// The `message` value of a line shipper wrote (a plain string in these tests: no escapes).
    static func message(in line: Data) -> String? {
        let key = Data("\"message\":\"".utf8)
        guard let r = line.range(of: key) else { return nil }
        guard let end = line[r.upperBound...].firstIndex(of: 0x22) else { return nil }
        return String(decoding: line[r.upperBound..<end], as: UTF8.self)
    }
}

