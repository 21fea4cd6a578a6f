/// Recognises the first line of a Java stack trace: `java.lang.IllegalStateException: boom`,
/// `com.foo.MyException`, `org.x.Y$Inner: msg` (what `Throwable.toString()` prints).
///
/// A qualified class name (at least two dot-separated Java identifiers, the last starting with an
/// upper-case letter), then either the end of the line, when its simple name (or a `$` part of it)
/// ends in `Exception`, `Error` or `Throwable`, or `:` and a message, when it also ends so or is an
/// inner class (`$`). Used by the `multiline` stage's `java` mode and the `jetty_server` parser.
public enum JavaExceptionLine {
    /// `typeEnd`: end of the class name; `message`: the message range (after `: `), if any.
    public static func read(_ p: UnsafeRawBufferPointer, _ s: Int, _ e: Int) -> (typeEnd: Int, message: Range<Int>?)? {
        var i = s
        var segments = 0
        var lastSegmentStart = s
        while true {
            let segStart = i
            guard i < e, isIdentifierStart(p[i]) else { return nil }
            i += 1
            while i < e, isIdentifierPart(p[i]) { i += 1 }
            segments += 1
            lastSegmentStart = segStart
            if i < e, p[i] == UInt8(ascii: ".") {
                i += 1
                continue
            }
            break
        }
        guard segments >= 2 else { return nil }
        let first = p[lastSegmentStart]
        guard first >= UInt8(ascii: "A") && first <= UInt8(ascii: "Z") else { return nil }
        let typeEnd = i
        let throwableName = hasThrowableSuffix(p, lastSegmentStart, typeEnd)
        if i == e {
            return throwableName ? (typeEnd, nil) : nil
        }
        guard p[i] == UInt8(ascii: ":"), i + 1 == e || p[i + 1] == UInt8(ascii: " ") else { return nil }
        var inner = false
        for k in lastSegmentStart..<typeEnd where p[k] == UInt8(ascii: "$") { inner = true }
        guard throwableName || inner else { return nil }
        let messageStart = min(i + 2, e)
        return (typeEnd, messageStart..<e)
    }

    public static func isIdentifierStart(_ b: UInt8) -> Bool {
        let l = b | 0x20
        return (l >= UInt8(ascii: "a") && l <= UInt8(ascii: "z")) || b == UInt8(ascii: "_") || b == UInt8(ascii: "$")
            || b >= 0x80
    }

    static func isIdentifierPart(_ b: UInt8) -> Bool {
        isIdentifierStart(b) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
    }

    /// True when the simple name, or one of its `$`-separated parts, ends in Exception/Error/Throwable.
    static func hasThrowableSuffix(_ p: UnsafeRawBufferPointer, _ s: Int, _ e: Int) -> Bool {
        var partEnd = e
        var k = e
        while k >= s {
            if k == s || p[k - 1] == UInt8(ascii: "$") {
                if endsWith(p, k, partEnd, "Exception") || endsWith(p, k, partEnd, "Error")
                    || endsWith(p, k, partEnd, "Throwable")
                {
                    return true
                }
                partEnd = k - 1
            }
            k -= 1
        }
        return false
    }

    static func endsWith(_ p: UnsafeRawBufferPointer, _ s: Int, _ e: Int, _ suffix: StaticString) -> Bool {
        let count = suffix.utf8CodeUnitCount
        guard e - s >= count else { return false }
        let base = suffix.utf8Start
        for j in 0..<count where p[e - count + j] != base[j] { return false }
        return true
    }
}
