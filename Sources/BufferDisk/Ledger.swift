/// A reader's acknowledged position: the ledger file `reader-<name>.ledger` (format at the top of
/// `DiskBuffer.swift`).
struct Ledger: Equatable, Sendable {
    static let magic: [UInt8] = Array("SBLG".utf8)
    static let version: UInt8 = 1

    var reader: String
    var position: BufferPosition

    func encode() -> [UInt8] {
        let name = Array(reader.utf8.prefix(Int(UInt16.max)))
        var b: [UInt8] = []
        b.reserveCapacity(30 + name.count)
        b += Self.magic
        b += [Self.version, 0, 0, 0]
        appendLE(&b, position.segment)
        appendLE(&b, UInt64(bitPattern: position.offset))
        appendLE(&b, UInt16(name.count))
        b += name
        appendLE(&b, CRC32C.checksum(b))
        return b
    }

    /// The ledger in `bytes`, nil when they are not a valid ledger.
    static func decode(_ b: [UInt8]) -> Ledger? {
        guard b.count >= 30, Array(b[0..<4]) == magic, b[4] == version else { return nil }
        let nameLength = Int(readLE(b, 24, as: UInt16.self))
        guard b.count == 26 + nameLength + 4 else { return nil }
        guard CRC32C.checksum(b[0..<(26 + nameLength)]) == readLE(b, 26 + nameLength, as: UInt32.self) else { return nil }
        guard let name = String(validating: b[26..<(26 + nameLength)], as: UTF8.self) else { return nil }
        let offset = Int64(bitPattern: readLE(b, 16, as: UInt64.self))
        guard offset >= 0 else { return nil }
        return Ledger(reader: name, position: BufferPosition(segment: readLE(b, 8, as: UInt64.self), offset: offset))
    }

    // MARK: File names

    static let prefix = "reader-"
    static let suffix = ".ledger"

    /// The ledger file name of `reader`: bytes outside `[A-Za-z0-9_-]` (and `.`) are written `%XX`.
    static func fileName(for reader: String) -> String {
        var s = prefix
        for (i, byte) in reader.utf8.enumerated() {
            let c = Character(Unicode.Scalar(byte))
            if byte < 0x80 && (c.isLetter || c.isNumber || c == "_" || c == "-" || (c == "." && i > 0)) {
                s.append(c)
            } else {
                s += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return s + suffix
    }

    /// The reader name a ledger file name stands for, nil for other files.
    static func readerName(fromFileName name: String) -> String? {
        guard name.hasPrefix(prefix), name.hasSuffix(suffix), name.count > prefix.count + suffix.count else { return nil }
        let escaped = Array(name.utf8.dropFirst(prefix.utf8.count).dropLast(suffix.utf8.count))
        var bytes: [UInt8] = []
        var i = 0
        while i < escaped.count {
            if escaped[i] == UInt8(ascii: "%") {
                guard i + 2 < escaped.count,
                    let v = UInt8(String(decoding: escaped[(i + 1)...(i + 2)], as: UTF8.self), radix: 16)
                else { return nil }
                bytes.append(v)
                i += 3
            } else {
                bytes.append(escaped[i])
                i += 1
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}

func appendLE<T: FixedWidthInteger>(_ b: inout [UInt8], _ v: T) {
    withUnsafeBytes(of: v.littleEndian) { b.append(contentsOf: $0) }
}

func readLE<T: FixedWidthInteger>(_ b: [UInt8], _ at: Int, as: T.Type) -> T {
    var v: T = 0
    for i in 0..<(T.bitWidth / 8) { v |= T(b[at + i]) << (8 * i) }
    return v
}

extension String {
    func leftPadded(to n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
