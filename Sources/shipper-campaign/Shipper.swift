import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A campaign's directory: the Docker-like log root, shipper's data directory, its config and the
/// stderr of every shipper run.
final class Workspace: @unchecked Sendable {
    let root: String
    let keep: Bool
    var containers: String { root + "/containers" }
    /// A Kubernetes node's layout: kubelet writes `pods/<ns>_<pod>_<uid>/<container>/0.log`
    /// and links it from `k8s-containers/<pod>_<ns>_<container>-<id>.log` (on a node:
    /// /var/log/pods and /var/log/containers).
    var pods: String { root + "/pods" }
    var kubeContainers: String { root + "/k8s-containers" }
    var state: String { root + "/state" }
    var buffer: String { state + "/buffer" }
    var config: String { root + "/shipper.yaml" }
    var deadLetters: String { state + "/dead-letter/es.ndjson" }
    var checkpoints: String { state + "/checkpoints/docker.json" }
    let telemetryPort: Int

    init(base: String?, name: String, keep: Bool) throws {
        let parent = base ?? NSTemporaryDirectory()
        root = parent + "/shipper-campaign-\(name)-\(getpid())"
        self.keep = keep
        FS.remove(root)
        telemetryPort = freeLocalPort()
        try FS.mkdirs(containers)
        try FS.mkdirs(pods)
        try FS.mkdirs(kubeContainers)
        try FS.mkdirs(state)
    }

    /// Removes the directory (unless asked to keep it, or when the campaign failed).
    func finish(failed: Bool) {
        if keep || failed {
            note("kept \(root)")
        } else {
            FS.remove(root)
        }
    }
}

/// The options of the shipper config a campaign runs with.
struct ShipperSettings {
    var esPort: Int
    var fsync = "100ms"
    var maxSize = "256MiB"
    var segmentSize = "4MiB"
    var batchEvents = 1000
    var batchBytes = "2MiB"
    var batchTimeout = "200ms"
    var requestTimeout = "10s"
    var initialBackoff = "100ms"
    var maxBackoff = "2s"
    var hostCooldown = "1s"
    var rotateWait = "2s"
    var discovery = "200ms"
    var drainTimeout = "5s"
    var maxInFlight = 2
    /// Adds a `cri` source for the Kubernetes layout (``Workspace/kubeContainers``).
    var kubelet = false

    func yaml(_ w: Workspace) -> String {
        let cri = """
              kubernetes:
                type: cri
                paths: ["\(w.kubeContainers)/*.log"]
                discovery_interval: \(discovery)
                rotate_wait: \(rotateWait)
                host_name: campaign-node

            """
        return """
        data_dir: \(w.state)
        drain_timeout: \(drainTimeout)
        log: {level: \(ProcessInfo.processInfo.environment["CAMPAIGN_LOG_LEVEL"] ?? "info"), format: logfmt}
        telemetry: {address: "127.0.0.1:\(w.telemetryPort)"}
        sources:
          docker:
            type: docker
            paths: ["\(w.containers)/*/*-json.log"]
            discovery_interval: \(discovery)
            rotate_wait: \(rotateWait)
            host_name: campaign-node
        \(kubelet ? cri : "")pipelines:
          all:
            stages: []
        buffer:
          path: \(w.buffer)
          fsync: \(fsync)
          max_size: \(maxSize)
          segment_size: \(segmentSize)
        outputs:
          es:
            type: elasticsearch
            hosts: ["http://127.0.0.1:\(esPort)"]
            index: campaign
            batch: {max_events: \(batchEvents), max_bytes: \(batchBytes), timeout: \(batchTimeout)}
            max_in_flight: \(maxInFlight)
            request_timeout: \(requestTimeout)
            host_cooldown: \(hostCooldown)
            retry: {initial_backoff: \(initialBackoff), max_backoff: \(maxBackoff)}

        """
    }

    func write(_ w: Workspace) throws {
        try FS.write(w.config, Array(yaml(w).utf8))
    }
}

/// `shipper run` as a child process, its stderr appended to `<workspace>/shipper.log`.
final class ShipperRun: @unchecked Sendable {
    let binary: String
    let workspace: Workspace
    private(set) var pid: pid_t = 0
    private(set) var starts = 0
    /// Exits the campaign did not ask for (a crash, or an exit on an error).
    private(set) var unexpectedExits: [String] = []
    private var logFD: Int32 = -1
    var logPath: String { workspace.root + "/shipper.log" }

    init(binary: String, workspace: Workspace) {
        self.binary = binary
        self.workspace = workspace
    }

    var isRunning: Bool { pid > 0 && checkExited() == nil }

    func start() throws {
        precondition(pid == 0, "shipper already running")
        if logFD < 0 { logFD = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644) }
        starts += 1
        let banner = "\n===== campaign: start \(starts) =====\n"
        _ = banner.withCString { write(logFD, $0, strlen($0)) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, logFD, 2)
        // Nothing else: SwiftNIO's sockets are not close-on-exec, and a shipper holding the test
        // server's listening socket would keep the port "up" (and bound) through a down period.
        Self.closeFrom3(&actions)
        let args = [binary, "run", "--config", workspace.config]
        var cargs = args.map { strdup($0) } + [nil]
        defer { for a in cargs { free(a) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, binary, &actions, nil, &cargs, environ)
        guard rc == 0 else { throw CampaignError("cannot start \(binary): \(String(cString: strerror(rc)))") }
        pid = child
        EventLog.add("shipper start \(starts): pid \(child)")
    }

    /// Closes every descriptor from 3 up in the child: `posix_spawn_file_actions_addclosefrom_np`
    /// (glibc 2.34, not in Swift's Glibc module), else close-on-exec set on every open one.
    private static func closeFrom3(_ actions: inout posix_spawn_file_actions_t) {
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        if let handle = dlopen(nil, RTLD_NOW), let sym = dlsym(handle, "posix_spawn_file_actions_addclosefrom_np") {
            let closeFrom = unsafeBitCast(sym, to: CloseFrom.self)
            if closeFrom(&actions, 3) == 0 { return }
        }
        for name in FS.list("/proc/self/fd") {
            guard let fd = Int32(name), fd > 2 else { continue }
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
        }
    }

    /// The exit description if the process has exited (reaped), nil while it runs.
    private var exitText: String?
    private func checkExited() -> String? {
        if let exitText { return exitText }
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        guard r == pid else { return nil }
        exitText = Self.describe(status)
        return exitText
    }

    static func describe(_ status: Int32) -> String {
        if status & 0x7f == 0 { return "exit \((status >> 8) & 0xff)" }
        return "signal \(status & 0x7f)"
    }

    /// Checks that a running shipper has not exited by itself; records it (and restarts it, as a
    /// supervisor would) when it has.
    @discardableResult
    func checkAlive(restart: Bool = true) -> Bool {
        guard pid > 0, let how = checkExited() else { return true }
        unexpectedExits.append(how)
        note("shipper exited by itself (\(how)); see \(logPath)")
        pid = 0
        exitText = nil
        // Like a supervisor, but giving up on a crash loop (the campaign fails anyway).
        if restart && unexpectedExits.count <= 20 { try? start() }
        return false
    }

    /// SIGKILL and reap.
    func kill9() {
        guard pid > 0 else { return }
        if checkExited() == nil {
            EventLog.add("shipper SIGKILL: pid \(pid)")
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        pid = 0
        exitText = nil
    }

    /// SIGTERM and wait (up to `timeout`, then SIGKILL); returns the exit description.
    @discardableResult
    func stop(timeout: Double = 60) async -> String {
        guard pid > 0 else { return "not running" }
        if let done = checkExited() {
            unexpectedExits.append(done)
            pid = 0
            exitText = nil
            return done
        }
        // A SIGTERM before shipper has installed its handlers ends it by the default action:
        // wait until it serves /metrics (a supervisor rarely stops what it just started).
        _ = await waitUntil(timeout: 10, every: 0.02) { httpGet(port: self.workspace.telemetryPort, path: "/metrics", timeout: 1) != nil }
        kill(pid, SIGTERM)
        let deadline = monotonicSeconds() + timeout
        while monotonicSeconds() < deadline {
            if let how = checkExited() {
                pid = 0
                exitText = nil
                if how != "exit 0" { unexpectedExits.append("after SIGTERM: \(how)") }
                return how
            }
            await pause(0.02)
        }
        kill9()
        unexpectedExits.append("did not stop within \(Int(timeout)) s of SIGTERM")
        return "killed after timeout"
    }

    /// shipper's stderr so far.
    var log: String { String(decoding: FS.read(logPath) ?? [], as: UTF8.self) }

    deinit {
        if pid > 0 { kill(pid, SIGKILL) }
        if logFD >= 0 { close(logFD) }
    }
}
