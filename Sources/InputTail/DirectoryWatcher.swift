#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// inotify on the directories that hold tailed files and on the directories the globs search, so
/// that new data wakes ``Tailer/waitForData(timeout:)`` and created, moved or removed files start a
/// scan before `discovery_interval` has passed. Only a hint: stat polling finds everything anyway.
final class DirectoryWatcher {
    struct Activity {
        /// Some watched directory saw a change.
        var any = false
        /// A file was created, moved or removed (or events were lost): scan again.
        var structural = false
    }

    let fd: Int32
    private var byDir: [String: Int32] = [:]
    private var byWatch: [Int32: String] = [:]
    private(set) var failedDirs: Set<String> = []

    static let mask: UInt32 = UInt32(IN_MODIFY | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF)
    static let structuralMask: UInt32 = UInt32(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_Q_OVERFLOW | IN_IGNORED)

    /// nil when inotify is unavailable (ENOSYS, EMFILE …).
    init?() {
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { return nil }
        self.fd = fd
    }

    deinit { close(fd) }

    var watchCount: Int { byDir.count }

    /// Watches exactly `dirs` (adds the new ones, removes the others). Returns the directories that
    /// could not be watched this time (ENOSPC: the user's inotify watch limit).
    @discardableResult
    func update(_ dirs: Set<String>) -> [(String, Int32)] {
        var failures: [(String, Int32)] = []
        for (dir, wd) in byDir where !dirs.contains(dir) {
            inotify_rm_watch(fd, wd)
            byDir[dir] = nil
            byWatch[wd] = nil
        }
        for dir in dirs where byDir[dir] == nil {
            let wd = inotify_add_watch(fd, dir, Self.mask)
            if wd < 0 {
                if !failedDirs.contains(dir) { failures.append((dir, errno)) }
                failedDirs.insert(dir)
                continue
            }
            failedDirs.remove(dir)
            byDir[dir] = wd
            byWatch[wd] = dir
        }
        return failures
    }

    /// Reads every pending event.
    func drain() -> Activity {
        var activity = Activity()
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            activity.any = true
            buffer.withUnsafeBytes { buf in
                var i = 0
                let header = MemoryLayout<inotify_event>.size
                while i + header <= n {
                    let wd = buf.loadUnaligned(fromByteOffset: i, as: Int32.self)
                    let mask = buf.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self)
                    let len = Int(buf.loadUnaligned(fromByteOffset: i + 12, as: UInt32.self))
                    if mask & Self.structuralMask != 0 { activity.structural = true }
                    if mask & UInt32(IN_IGNORED) != 0, let dir = byWatch.removeValue(forKey: wd) { byDir[dir] = nil }
                    i += header + len
                }
            }
        }
        return activity
    }

    /// Whether events are pending, waiting at most `milliseconds`.
    func isReadable(waitingMilliseconds milliseconds: Int32) -> Bool {
        Self.isReadable(fd: fd, waitingMilliseconds: milliseconds)
    }

    static func isReadable(fd: Int32, waitingMilliseconds milliseconds: Int32) -> Bool {
        anyReadable(fds: [fd], waitingMilliseconds: milliseconds)
    }

    /// Whether events are pending on one of `fds`, waiting at most `milliseconds`.
    static func anyReadable(fds: [Int32], waitingMilliseconds milliseconds: Int32) -> Bool {
        var polls = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        return poll(&polls, nfds_t(polls.count), milliseconds) > 0 && polls.contains { ($0.revents & Int16(POLLIN)) != 0 }
    }
}
