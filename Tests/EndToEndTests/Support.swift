import Foundation
import Testing

/// Paths of the repository and the shared samples, found from this file.
enum Repo {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let shared = root.deletingLastPathComponent().appendingPathComponent("shared")
    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
    static func sample(_ relative: String) -> String { shared.appendingPathComponent("samples/" + relative).path }

    /// The `shipper` binary built next to the test bundle.
    static var shipper: String {
        let candidates = [
            Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("shipper").path,
            root.appendingPathComponent(".build/debug/shipper").path,
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[1]
    }
}

struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
    var lines: [String] { stdout.split(separator: "\n").map(String.init) }
}

/// Runs the shipper binary and waits for it to exit (killed after `timeout` seconds, which fails the test).
func shipper(_ arguments: [String], cwd: String? = nil, timeout: Double = 120) throws -> ProcessResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: Repo.shipper)
    p.arguments = arguments
    p.currentDirectoryURL = URL(fileURLWithPath: cwd ?? Repo.root.path)
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let pid = p.processIdentifier
    let watchdog = DispatchWorkItem {
        Issue.record("shipper \(arguments.joined(separator: " ")) did not finish within \(timeout) s; killed")
        kill(pid, SIGKILL)
    }
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
    defer { watchdog.cancel() }
    // Read both pipes to the end before waiting, so a large output cannot block the child.
    let group = DispatchGroup()
    nonisolated(unsafe) var outData = Data()
    nonisolated(unsafe) var errData = Data()
    group.enter()
    DispatchQueue.global().async {
        outData = out.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    errData = err.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    p.waitUntilExit()
    return ProcessResult(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
}

/// A fresh directory, removed at the end.
final class TempDir {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "shipper-e2e-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func write(_ name: String, _ text: String) throws -> String {
        let p = path + "/" + name
        try Data(text.utf8).write(to: URL(fileURLWithPath: p))
        return p
    }
    func write(_ name: String, bytes: [UInt8]) throws -> String {
        let p = path + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        return p
    }
}

/// Parses one JSON document with Foundation (tests only) into plain Swift values.
func json(_ text: String) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
}

/// The value at a dotted path in a nested dictionary, also accepting literal dotted keys.
func value(_ object: Any, _ path: String) -> Any? {
    if let dict = object as? [String: Any] {
        if let v = dict[path] { return v }
        let parts = path.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return nil }
        // Try every split point, so both {"a":{"b.c":1}} and {"a.b":{"c":1}} are found.
        var prefix = ""
        for (i, seg) in path.split(separator: ".").enumerated() {
            prefix = i == 0 ? String(seg) : prefix + "." + seg
            if let inner = dict[prefix], prefix.count < path.count {
                let rest = String(path.dropFirst(prefix.count + 1))
                if let v = value(inner, rest) { return v }
            }
        }
    }
    return nil
}

/// Compares JSON values loosely: numbers by value, everything else by its JSON text.
func same(_ a: Any?, _ b: Any?) -> Bool {
    switch (a, b) {
    case (nil, nil): return true
    case (let x as NSNumber, let y as NSNumber): return x.doubleValue == y.doubleValue
    case (let x as String, let y as String): return x == y
    case (let x as [Any], let y as [Any]): return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
    default:
        guard let a, let b else { return false }
        return "\(a)" == "\(b)"
    }
}
