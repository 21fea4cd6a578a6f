import Foundation
import ShipperCore
import Testing

@testable import BufferDisk

@Suite struct DiskBufferConfigTests {
    func decode(_ json: String) throws -> DiskBufferConfig {
        try JSONDecoder().decode(DiskBufferConfig.self, from: Data(json.utf8))
    }

    @Test func defaults() throws {
        let c = try decode(#"{"path": "/var/lib/shipper/buffer"}"#)
        #expect(c.path == "/var/lib/shipper/buffer")
        #expect(c.maxSize.bytes == 256 << 20)
        #expect(c.segmentSize.bytes == 16 << 20)
        #expect(c.fsync == .interval(.milliseconds(500)))
        #expect(c.effectiveSegmentSize == 16 << 20)
        #expect(DiskBufferConfig.CodingKeys.allCases.map(\.stringValue).sorted() == ["fsync", "max_size", "path", "segment_size"])
    }

    @Test(arguments: [
        (#""always""#, DiskBufferFsync.always),
        (#""never""#, .never),
        (#""interval""#, .interval(.milliseconds(500))),
        (#""Always""#, .always),
        (#""250ms""#, .interval(.milliseconds(250))),
        (#""2s""#, .interval(.milliseconds(2000))),
        ("1", .interval(.milliseconds(1000))),
        ("0.1", .interval(.milliseconds(100))),
    ])
    func fsyncPolicies(json: String, expected: DiskBufferFsync) throws {
        #expect(try decode(#"{"path": "b", "fsync": \#(json)}"#).fsync == expected)
    }

    @Test func sizes() throws {
        let c = try decode(#"{"path": "b", "max_size": "1GiB", "segment_size": "64MiB"}"#)
        #expect(c.maxSize.bytes == 1 << 30 && c.segmentSize.bytes == 64 << 20)
        // Segments are at most a quarter of max_size.
        let small = try decode(#"{"path": "b", "max_size": "8MiB"}"#)
        #expect(small.effectiveSegmentSize == 2 << 20)
    }

    @Test(arguments: [
        #"{}"#,
        #"{"path": ""}"#,
        #"{"path": "b", "fsync": "sometimes"}"#,
        #"{"path": "b", "fsync": "0ms"}"#,
        #"{"path": "b", "fsync": -1}"#,
        #"{"path": "b", "fsync": true}"#,
        #"{"path": "b", "max_size": "12"}"#,
        #"{"path": "b", "max_size": "lots"}"#,
        #"{"path": "b", "segment_size": 100}"#,
        #"{"path": "b", "segment_size": "2GiB"}"#,
    ])
    func invalidConfigs(json: String) {
        #expect(throws: (any Error).self) { try decode(json) }
    }

    @Test func errorMessagesSayWhatIsExpected() {
        do {
            _ = try decode(#"{"path": "b", "fsync": "sometimes"}"#)
            Issue.record("no error")
        } catch let e as ConfigValueError {
            #expect(e.message.contains("always, never, interval"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}
