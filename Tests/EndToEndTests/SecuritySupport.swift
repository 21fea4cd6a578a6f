import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The TLS test certificates (`Tests/Fixtures/tls`, made by its `make-certs.sh`).
enum TLSFixtures {
    static let directory = Repo.path("Tests/Fixtures/tls")
    /// The CA that signed `serverCertificate`.
    static var ca: String { directory + "/ca.pem" }
    /// A CA that signed nothing the server has.
    static var otherCA: String { directory + "/other-ca.pem" }
    /// For 127.0.0.1, ::1 and localhost.
    static var serverCertificate: String { directory + "/server.pem" }
    static var serverKey: String { directory + "/server-key.pem" }
}

/// A process started by a test (any executable, e.g. shipper under `setpriv` or `unshare`), with
/// its stdout and stderr collected while it runs.
final class CapturedProcess: @unchecked Sendable {
    let process = Process()
    private let outPipe = Pipe()
    private let errPipe = Pipe()
    private let lock = NSLock()
    private var outText = ""
    private var errText = ""

    init(executable: String, arguments: [String], cwd: String, environment: [String: String]? = nil) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: cwd)
        if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new } }
        process.standardOutput = outPipe
        process.standardError = errPipe
        outPipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let data = h.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.withLock { self.outText += String(decoding: data, as: UTF8.self) }
        }
        errPipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let data = h.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.withLock { self.errText += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var stdout: String { lock.withLock { outText } }
    var stderr: String { lock.withLock { errText } }
    var isRunning: Bool { process.isRunning }

    func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// Waits for the process to exit (with a deadline) and returns its status, after the pipes
    /// were read to their end.
    func wait(timeout: TimeInterval = 60) async -> Int32? {
        guard await eventually(timeout: timeout, { !process.isRunning }) else { return nil }
        return finish()
    }

    /// Reads the pipes to their end and returns the exit status (the process has exited).
    func finish() -> Int32 {
        for pipe in [outPipe, errPipe] {
            pipe.fileHandleForReading.readabilityHandler = nil
            let rest = pipe.fileHandleForReading.readDataToEndOfFile()
            if !rest.isEmpty {
                lock.withLock {
                    if pipe === outPipe { outText += String(decoding: rest, as: UTF8.self) } else { errText += String(decoding: rest, as: UTF8.self) }
                }
            }
        }
        return process.terminationStatus
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
}

/// Runs a short command to its end and returns its exit status and combined output.
@discardableResult
func runCommand(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let p = try CapturedProcess(executable: executable, arguments: arguments, cwd: "/")
    p.process.waitUntilExit()
    let status = p.finish()
    return (status, p.stdout + p.stderr)
}

/// The telemetry address shipper logged (`telemetry: serving /metrics and /health on HOST:PORT`).
func telemetryAddress(_ text: String) -> (host: String, port: Int)? {
    guard let r = text.range(of: "telemetry: serving /metrics and /health on ") else { return nil }
    let rest = text[r.upperBound...].prefix { $0 != "\"" && $0 != "\n" && $0 != " " }
    guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]) else { return nil }
    return (String(rest[..<colon]), port)
}

/// A TCP socket in the LISTEN state, from `/proc/PID/net/tcp` and `tcp6` (the sockets of the
/// network namespace the process is in).
struct ListeningSocket: Equatable, CustomStringConvertible {
    /// Dotted IPv4 (`127.0.0.1`, `0.0.0.0`) or the 32 hex digits of an IPv6 address.
    var address: String
    var port: Int
    var description: String { "\(address):\(port)" }
}

func listeningSockets(pid: Int32) -> [ListeningSocket] {
    var out: [ListeningSocket] = []
    for file in ["tcp", "tcp6"] {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/net/\(file)", encoding: .utf8) else { continue }
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count > 3, fields[3] == "0A" else { continue }
            let local = fields[1].split(separator: ":")
            guard local.count == 2, let port = Int(local[1], radix: 16) else { continue }
            var address = String(local[0])
            if address.count == 8, let v = UInt32(address, radix: 16) {
                // Little-endian on x86 and arm64: the first octet is the lowest byte.
                address = "\(v & 0xFF).\((v >> 8) & 0xFF).\((v >> 16) & 0xFF).\(v >> 24)"
            }
            out.append(ListeningSocket(address: address, port: port))
        }
    }
    return out
}

/// Whether a TCP connection to `host:port` (IPv4) is accepted.
func canConnect(host: String, port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port)).bigEndian
    addr.sin_addr.s_addr = inet_addr(host)
    return withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
}

/// A TCP port on 127.0.0.1 that nothing listens on (bound, then closed, by the test itself).
func closedPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #expect(fd >= 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    #expect(bound == 0)
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// Writes `count` Docker json-file lines `<tag> <n>` for one container (with its config.v2.json).
func writeContainerLines(root: String, id: String = String(repeating: "c", count: 64), tag: String, count: Int) throws -> ContainerLogWriter {
    let writer = try ContainerLogWriter(root: root, id: id, service: "web")
    for n in 0..<count { try writer.writeRaw("\(tag) \(n)") }
    return writer
}
