// A test helper that writes Docker json-file logs the way dockerd does. Self-contained (Foundation
// and libc only) so other test targets can copy this file as is.

import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What dockerd knows about a container: written to `config.v2.json`.
struct DockerContainerSpec {
    var id: String
    var name: String
    var image: String
    var labels: [(key: String, value: String)]

    init(id: String? = nil, name: String, image: String = "nginx:1.27", labels: [(key: String, value: String)] = []) {
        self.id = id ?? DockerContainerSpec.makeID(seed: name)
        self.name = name
        self.image = image
        self.labels = labels
    }

    /// A 64 hex digit id derived from `seed` (deterministic, so tests can name it).
    static func makeID(seed: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        var out = ""
        for round in 0..<4 {
            for b in seed.utf8 {
                h ^= UInt64(b)
                h = h &* 0x100_0000_01b3
            }
            h ^= UInt64(round + 1)
            h = h &* 0x100_0000_01b3
            out += String(h, radix: 16).leftPadded(to: 16)
        }
        return out
    }

    /// A Swarm task's container as `docker stack deploy` makes it: named `<stack>_<service>.<slot>.<task id>`
    /// with the labels the Swarm executor sets (moby `daemon/cluster/executor/container/container.go`).
    static func swarmTask(stack: String, service: String, slot: Int = 1, nodeID: String = "k0nb2bm4m9uw0qfh5rpeuw4wr",
                          image: String = "nginx:1.27@sha256:0b5ef2ef4d5b9ed8a3cb23b7ac1dc2ea6e5b2fa3b1f57d6f2c1b0bd8c1c4e0a7")
        -> DockerContainerSpec
    {
        let taskID = String(DockerContainerSpec.makeID(seed: "task-\(stack)-\(service)-\(slot)").prefix(25))
        let serviceID = String(DockerContainerSpec.makeID(seed: "service-\(stack)-\(service)").prefix(25))
        let fullService = "\(stack)_\(service)"
        let taskName = "\(fullService).\(slot).\(taskID)"
        return DockerContainerSpec(name: taskName, image: image, labels: [
            ("com.docker.stack.namespace", stack),
            ("com.docker.swarm.node.id", nodeID),
            ("com.docker.swarm.service.id", serviceID),
            ("com.docker.swarm.service.name", fullService),
            ("com.docker.swarm.task", ""),
            ("com.docker.swarm.task.id", taskID),
            ("com.docker.swarm.task.name", taskName),
        ])
    }
}

/// Writes one container's json-file log under `root` laid out like `/var/lib/docker/containers`:
/// `<root>/<id>/<id>-json.log` and `<root>/<id>/config.v2.json`.
///
/// - ``log(_:stream:)`` splits a message into 16 KiB partial chunks exactly as dockerd's copier
///   does (`daemon/logger/copier.go`, 16 KiB buffer): each full chunk is a line whose `log` has no
///   trailing `\n`; the last chunk (possibly empty) ends in `\n`.
/// - ``rotate()`` is moby's json-file rotation (`max-size`/`max-file`): the oldest `<log>.<max-file - 1>`
///   is removed, `<log>.N` → `<log>.N+1`, `<log>` → `<log>.1`, then a new `<log>` is created.
/// - ``copyTruncate()`` is logrotate's copytruncate: the content is copied to `<log>.1` and the
///   file truncated to 0 while the writer keeps its descriptor (O_APPEND).
final class DockerLogWriter {
    static let partialChunkBytes = 16 * 1024

    let root: String
    let spec: DockerContainerSpec
    /// `--log-opt max-file`.
    var maxFiles: Int
    private(set) var fd: Int32 = -1
    /// Nanoseconds since the epoch of the next line's `time` (advances 1.000123 ms per line).
    var nextTime: Int64

    var id: String { spec.id }
    var directory: String { root + "/" + spec.id }
    var logPath: String { directory + "/" + spec.id + "-json.log" }
    var configPath: String { directory + "/config.v2.json" }

    init(root: String, spec: DockerContainerSpec, maxFiles: Int = 5, startTime: Int64 = 1_714_564_800_000_000_000) throws {
        self.root = root
        self.spec = spec
        self.maxFiles = maxFiles
        self.nextTime = startTime
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try writeConfig()
        try openLog()
    }

    deinit { if fd >= 0 { close(fd) } }

    private func openLog() throws {
        fd = open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    }

    /// Writes `config.v2.json` with the fields of a real daemon file (see the shared samples).
    func writeConfig() throws {
        var labels = "{"
        for (i, l) in spec.labels.enumerated() {
            if i > 0 { labels += "," }
            labels += Self.jsonString(l.key) + ":" + Self.jsonString(l.value)
        }
        labels += "}"
        let created = Self.rfc3339Nano(nextTime - 1_000_000_000)
        let json = """
            {"StreamConfig":{},"State":{"Running":true,"Paused":false,"Restarting":false,"OOMKilled":false,"RemovalInProgress":false,\
            "Dead":false,"Pid":4242,"ExitCode":0,"Error":"","StartedAt":\(Self.jsonString(created)),"FinishedAt":"0001-01-01T00:00:00Z","Health":null},\
            "ID":\(Self.jsonString(spec.id)),"Created":\(Self.jsonString(created)),"Managed":false,"Path":"/docker-entrypoint.sh",\
            "Args":["nginx","-g","daemon off;"],"Config":{"Hostname":\(Self.jsonString(String(spec.id.prefix(12)))),"Domainname":"","User":"",\
            "AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Tty":false,"OpenStdin":false,"StdinOnce":false,\
            "Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["nginx","-g","daemon off;"],\
            "Image":\(Self.jsonString(spec.image)),"Volumes":null,"WorkingDir":"","Entrypoint":["/docker-entrypoint.sh"],"OnBuild":null,\
            "Labels":\(labels),"StopSignal":"SIGQUIT"},"Image":"sha256:\(DockerContainerSpec.makeID(seed: spec.image))",\
            "LogPath":\(Self.jsonString(logPath)),"Name":\(Self.jsonString("/" + spec.name)),"Driver":"overlay2","OS":"linux",\
            "RestartCount":0,"HasBeenStartedBefore":false,"HasBeenManuallyStopped":false,"MountPoints":{},\
            "HostnamePath":\(Self.jsonString(directory + "/hostname")),"HostsPath":\(Self.jsonString(directory + "/hosts"))}
            """
        try Data(json.utf8).write(to: URL(fileURLWithPath: configPath), options: .atomic)
    }

    /// Logs one message the way dockerd does; returns the physical lines written (partial chunks + 1).
    @discardableResult
    func log(_ message: String, stream: String = "stdout") -> Int {
        let bytes = Array(message.utf8)
        var lines: [[UInt8]] = []
        var start = 0
        while bytes.count - start >= Self.partialChunkBytes {
            lines.append(Array(bytes[start..<(start + Self.partialChunkBytes)]))
            start += Self.partialChunkBytes
        }
        lines.append(Array(bytes[start...]) + [0x0A])
        var out: [UInt8] = []
        for l in lines {
            out += Self.jsonLine(log: l, stream: stream, time: Self.rfc3339Nano(nextTime))
            nextTime += 1_000_123
        }
        writeRaw(out)
        return lines.count
    }

    /// Appends bytes to the current log file, or to `path` (e.g. the rotated `<log>.1`).
    func writeRaw(_ bytes: [UInt8], to path: String? = nil) {
        var target = fd
        if let path {
            target = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
            precondition(target >= 0, "cannot open \(path)")
        }
        defer { if path != nil { close(target) } }
        bytes.withUnsafeBytes { buf in
            var done = 0
            while done < buf.count {
                let n = write(target, buf.baseAddress! + done, buf.count - done)
                precondition(n > 0, "write failed")
                done += n
            }
        }
    }

    /// Logs a message into the rotated file `<log>.<n>` (a line that raced with the rotation).
    func log(_ message: String, intoRotated n: Int, stream: String = "stdout") {
        let line = Self.jsonLine(log: Array(message.utf8) + [0x0A], stream: stream, time: Self.rfc3339Nano(nextTime))
        nextTime += 1_000_123
        writeRaw(line, to: logPath + ".\(n)")
    }

    /// moby's rotation: remove `<log>.<maxFiles-1>`, shift `<log>.N` → `<log>.N+1`, rename `<log>` →
    /// `<log>.1`, create a new `<log>`.
    func rotate() throws {
        close(fd)
        fd = -1
        if maxFiles >= 2 {
            unlink(logPath + ".\(maxFiles - 1)")
            var i = maxFiles - 1
            while i > 1 {
                rename(logPath + ".\(i - 1)", logPath + ".\(i)")
                i -= 1
            }
            guard rename(logPath, logPath + ".1") == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        } else {
            unlink(logPath)
        }
        try openLog()
    }

    /// logrotate's copytruncate: copy to `<log>.1`, then truncate the file the writer keeps open.
    func copyTruncate() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: logPath))
        try data.write(to: URL(fileURLWithPath: logPath + ".1"))
        guard ftruncate(fd, 0) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    }

    /// `docker rm`: the container directory goes away (open descriptors keep the data alive).
    func removeContainer() throws {
        close(fd)
        fd = -1
        try FileManager.default.removeItem(atPath: directory)
    }

    // MARK: Encoding as dockerd does

    /// One json-file line: `{"log":"…","stream":"stdout","time":"…"}\n` (`attrs` after `stream` when given).
    static func jsonLine(log: [UInt8], stream: String, time: String, attrs: [(String, String)] = []) -> [UInt8] {
        var out: [UInt8] = Array(#"{"log":"#.utf8)
        escape(log, into: &out)
        out += Array(#","stream":"#.utf8)
        escape(Array(stream.utf8), into: &out)
        if !attrs.isEmpty {
            out += Array(#","attrs":{"#.utf8)
            for (i, a) in attrs.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                escape(Array(a.0.utf8), into: &out)
                out.append(UInt8(ascii: ":"))
                escape(Array(a.1.utf8), into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
        out += Array(#","time":"#.utf8)
        escape(Array(time.utf8), into: &out)
        out += Array("}\n".utf8)
        return out
    }

    static func jsonString(_ s: String) -> String {
        var out: [UInt8] = []
        escape(Array(s.utf8), into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// A JSON string as moby's `jsonlog` writes it (Go `encoding/json` rules with HTML escaping):
    /// `"` `\` `\n` `\r` `\t` escaped by name, other control bytes and `<` `>` `&` as `\u00XX`,
    /// U+2028/U+2029 as `\u2028`/`\u2029`, invalid UTF-8 as `\ufffd`.
    static func escape(_ bytes: [UInt8], into out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b < 0x80 {
                switch b {
                case UInt8(ascii: "\""): out += [0x5C, 0x22]
                case UInt8(ascii: "\\"): out += [0x5C, 0x5C]
                case 0x0A: out += [0x5C, UInt8(ascii: "n")]
                case 0x0D: out += [0x5C, UInt8(ascii: "r")]
                case 0x09: out += [0x5C, UInt8(ascii: "t")]
                case 0..<0x20, UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "&"):
                    out += Array(#"\u00"#.utf8) + [hex[Int(b >> 4)], hex[Int(b & 0xF)]]
                default: out.append(b)
                }
                i += 1
                continue
            }
            let len = utf8Length(bytes, i)
            if len == 0 {
                out += Array(#"\ufffd"#.utf8)
                i += 1
                continue
            }
            if len == 3 && b == 0xE2 && bytes[i + 1] == 0x80 && (bytes[i + 2] == 0xA8 || bytes[i + 2] == 0xA9) {
                out += Array((bytes[i + 2] == 0xA8 ? #"\u2028"# : #"\u2029"#).utf8)
            } else {
                out += bytes[i..<(i + len)]
            }
            i += len
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Length of a valid UTF-8 sequence at `i`, 0 when invalid.
    private static func utf8Length(_ b: [UInt8], _ i: Int) -> Int {
        let c = b[i]
        func cont(_ k: Int) -> Bool { i + k < b.count && b[i + k] & 0xC0 == 0x80 }
        switch c {
        case 0xC2...0xDF: return cont(1) ? 2 : 0
        case 0xE0: return cont(1) && b[i + 1] >= 0xA0 && cont(2) ? 3 : 0
        case 0xED: return cont(1) && b[i + 1] < 0xA0 && cont(2) ? 3 : 0
        case 0xE1...0xEF: return cont(1) && cont(2) ? 3 : 0
        case 0xF0: return cont(1) && b[i + 1] >= 0x90 && cont(2) && cont(3) ? 4 : 0
        case 0xF4: return cont(1) && b[i + 1] < 0x90 && cont(2) && cont(3) ? 4 : 0
        case 0xF1...0xF3: return cont(1) && cont(2) && cont(3) ? 4 : 0
        default: return 0
        }
    }

    /// Go's `time.RFC3339Nano` in UTC: trailing zeros of the fraction dropped, no fraction when zero.
    static func rfc3339Nano(_ nanos: Int64) -> String {
        let secs = nanos / 1_000_000_000
        let frac = nanos % 1_000_000_000
        var tm = tm()
        var t = time_t(secs)
        gmtime_r(&t, &tm)
        var s = String(format: "%04d-%02d-%02dT%02d:%02d:%02d", Int(tm.tm_year) + 1900, Int(tm.tm_mon) + 1, Int(tm.tm_mday),
                       Int(tm.tm_hour), Int(tm.tm_min), Int(tm.tm_sec))
        if frac != 0 {
            var f = String(format: "%09d", Int(frac))
            while f.hasSuffix("0") { f.removeLast() }
            s += "." + f
        }
        return s + "Z"
    }
}

extension String {
    fileprivate func leftPadded(to n: Int) -> String {
        count >= n ? self : String(repeating: "0", count: n - count) + self
    }
}
