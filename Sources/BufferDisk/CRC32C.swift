import CIsal

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every buffer record and
/// ledger file.
///
/// ISA-L's implementation (the CPU's crc32 instruction, chosen at run time), with a software
/// slicing-by-8 version kept for comparison in tests. Check value:
/// `CRC32C.checksum("123456789") == 0xE3069283`.
public enum CRC32C {
    /// The eight lookup tables, table `k` at `k * 256`.
    static let tables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
            t[i] = c
        }
        for k in 1..<8 {
            for i in 0..<256 {
                let prev = t[(k - 1) * 256 + i]
                t[k * 256 + i] = (prev >> 8) ^ t[Int(prev & 0xFF)]
            }
        }
        return t
    }()

    /// The CRC-32C of `bytes`.
    @inlinable
    public static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        if let c = bytes.withContiguousStorageIfAvailable({ update(0, UnsafeRawBufferPointer($0)) }) { return c }
        return Array(bytes).withUnsafeBytes { update(0, $0) }
    }

    /// Continues `crc` (the result of an earlier call, or 0 to start) over `bytes`.
    public static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        return shipper_crc32c_update(crc, base, bytes.count)
    }

    /// The same as ``update(_:_:)`` in software (slicing-by-8: eight 256-entry tables, eight bytes per step).
    static func softwareUpdate(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        return tables.withUnsafeBufferPointer { t in
            var c = ~crc
            var p = base
            var n = bytes.count
            while n >= 8 {
                let v = UInt64(littleEndian: p.loadUnaligned(as: UInt64.self)) ^ UInt64(c)
                c = t[7 * 256 + Int(v & 0xFF)] ^ t[6 * 256 + Int((v >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((v >> 16) & 0xFF)] ^ t[4 * 256 + Int((v >> 24) & 0xFF)]
                    ^ t[3 * 256 + Int((v >> 32) & 0xFF)] ^ t[2 * 256 + Int((v >> 40) & 0xFF)]
                    ^ t[1 * 256 + Int((v >> 48) & 0xFF)] ^ t[Int(v >> 56)]
                p += 8
                n -= 8
            }
            while n > 0 {
                c = t[Int((c ^ UInt32(p.load(as: UInt8.self))) & 0xFF)] ^ (c >> 8)
                p += 1
                n -= 1
            }
            return ~c
        }
    }

    /// Bit-by-bit reference implementation (tests compare the fast path against it).
    static func reference(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        }
        return ~c
    }
}
