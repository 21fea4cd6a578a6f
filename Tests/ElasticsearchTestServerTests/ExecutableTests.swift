import Foundation
import Testing

/// Drives the `es-test-server` executable the way scripts do: start on port 0, read the port from the
/// first stdout line, talk to it, stop it with SIGTERM.
@Suite("es-test-server executable")
struct ExecutableTests {
    static func binary() -> URL? {
        let fm = FileManager.default
        var candidates: [URL] = []
        // Next to the running test binary (works for debug and release builds).
        let me = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        var dir = me.deletingLastPathComponent()
        for _ in 0..<4 {
            candidates.append(dir.appendingPathComponent("es-test-server"))
            dir = dir.deletingLastPathComponent()
        }
        candidates.append(RestSpec.repoRoot.appendingPathComponent(".build/debug/es-test-server"))
        return candidates.first { fm.isExecutableFile(atPath: $0.path) }
    }

    @Test func startsOnPortZeroAndStopsOnSIGTERM() async throws {
        let exe = try #require(Self.binary(), "es-test-server was not built (run `swift build --build-tests`)")
        let process = Process()
        process.executableURL = exe
        process.arguments = ["--host", "127.0.0.1", "--port", "0", "--user", "u", "--password", "p", "--reject-share", "1", "--seed", "9"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let pid = process.processIdentifier
        defer { if process.isRunning { kill(pid, SIGKILL) } }

        let handle = out.fileHandleForReading
        let firstLine = try await withDeadline(30, "first stdout line") { () -> String in
            var data = Data()
            while !data.contains(0x0A) {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                data.append(chunk)
            }
            return String(decoding: data, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
        }
        #expect(firstLine.hasPrefix("listening on 127.0.0.1:"), "\(firstLine)")
        let port = try #require(Int(firstLine.split(separator: ":").last ?? ""))
        #expect(port > 0)

        var r = try await TestClient.send(port: port, "GET", "/")
        #expect(r.status == 401)
        let auth = [("Authorization", "Basic " + Data("u:p".utf8).base64EncodedString())]
        r = try await TestClient.send(port: port, "GET", "/", headers: auth)
        #expect(r.status == 200)
        #expect(r.value("version.number") as? String == "9.1.0")
        r = try await TestClient.bulk(port: port, "{\"index\":{\"_index\":\"x\"}}\n{}\n", headers: auth)
        #expect(r.itemStatuses == [429], "--reject-share 1")

        kill(pid, SIGTERM)
        let status = try await withDeadline(30, "exit after SIGTERM") { () -> Int32 in
            process.waitUntilExit()
            return process.terminationStatus
        }
        #expect(status == 0)
        #expect(await TestClient.canConnect(port: port) == false)
    }
}
