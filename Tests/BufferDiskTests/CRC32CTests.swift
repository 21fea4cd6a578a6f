import ShipperCore
import Testing

@testable import BufferDisk

@Suite struct CRC32CTests {
    @Test(arguments: [
        ("", 0x0000_0000 as UInt32),
        ("a", 0xC1D0_4330),
        ("abc", 0x364B_3FB7),
        ("123456789", 0xE306_9283),
        ("The quick brown fox jumps over the lazy dog", 0x2262_0404),
    ])
    func knownVectors(text: String, expected: UInt32) {
        #expect(CRC32C.checksum(Array(text.utf8)) == expected)
        #expect(CRC32C.reference(Array(text.utf8)) == expected)
    }

    @Test func iSCSIVectors() {
        // RFC 3720 B.4
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }) == 0x113F_DB5C)
    }

    @Test func hardwareAndSlicingMatchBitwiseAndAreIncremental() {
        var rng = SplitMix64(seed: 1)
        for length in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000, 4099] {
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let whole = CRC32C.checksum(bytes)
            #expect(whole == CRC32C.reference(bytes), "length \(length)")
            #expect(whole == bytes.withUnsafeBytes { CRC32C.softwareUpdate(0, $0) }, "length \(length)")
            let cut = length / 3
            let part = bytes.withUnsafeBytes { b in
                CRC32C.update(CRC32C.update(0, UnsafeRawBufferPointer(rebasing: b[..<cut])), UnsafeRawBufferPointer(rebasing: b[cut...]))
            }
            #expect(part == whole, "length \(length) split at \(cut)")
        }
    }
}

