import ShipperCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One piece of an access log format string, as produced by a front end (nginx `log_format`,
/// Jetty `CustomRequestLog`) before compilation.
struct AccessLogFormatToken: Sendable {
    enum Kind: Sendable {
        /// Text written as-is.
        case literal([UInt8])
        /// A value. `display` is how the user wrote it (`$remote_addr`, `%{client}a`), `generic`
        /// the field name used under the parser's namespace when the value has no ECS field.
        case variable(display: String, generic: String, role: AccessLogRole)
    }

    var kind: Kind
    /// 1-based character position in the format string (for error messages).
    var position: Int
}

/// A compiled access log format: a list of literal and variable steps, matched against a line by a
/// byte scanner (each variable extends to the next literal) with no regular expression and no
/// allocation besides the fields it emits.
///
/// Quoting: a variable written between double quotes (`"$http_user_agent"`) is a quoted field.
/// It ends at the first `"` that is followed by the literal text after it (so an unescaped quote
/// inside the value does not end it early); a backslash-escaped `\"` is skipped when possible.
/// A quoted field may also be written as a bare `-` (Apache's `- -` for a missing referer/agent).
///
/// An optional tail (used by the built-in formats) is tried first and dropped when it does not
/// match: `combined` accepts a trailing `"$http_x_forwarded_for"`, Jetty's default accepts both the
/// NCSA and the extended NCSA layout.
final class AccessLogProgram: Sendable {
    enum StepKind: UInt8, Sendable {
        case literal
        case field
        case quotedField
    }

    /// What comes after a field: optional literal bytes, then the end, a quoted field, or a field.
    struct Follow: Sendable {
        enum Then: UInt8, Sendable {
            case end
            case quoted
            case unquoted
        }
        var literalStart: Int = 0
        var literalCount: Int = 0
        var then: Then = .end
    }

    struct Step: Sendable {
        var kind: StepKind
        var literalStart: Int = 0
        var literalCount: Int = 0
        var field: Int = 0
        var follow = Follow()
    }

    struct CompiledField: Sendable {
        var display: String
        var role: AccessLogRole
        var isTail: Bool
    }

    /// The per-line view of a field: a small kind code and unmanaged paths, so the hot loop does
    /// no reference counting and no enum payload copies. (The paths stay alive through `fields`.)
    struct HotField: @unchecked Sendable {
        enum Kind: UInt8 {
            case address
            case destinationAddress
            case requestLine
            case requestURI
            case query
            case httpVersion
            case time
            case duration
            case integer
            case string
        }
        var kind: Kind
        var path: Unmanaged<FieldPath>?
        var unit: Int64 = 0
        var timeIndex: Int = 0
    }

    /// Paths the emitter writes, unmanaged (interned paths live for the whole process).
    struct KnownPaths: @unchecked Sendable {
        let timestamp = Unmanaged.passUnretained(AccessLogPaths.timestamp)
        let sourceAddress = Unmanaged.passUnretained(AccessLogPaths.sourceAddress)
        let sourceIP = Unmanaged.passUnretained(AccessLogPaths.sourceIP)
        let destinationAddress = Unmanaged.passUnretained(AccessLogPaths.destinationAddress)
        let destinationIP = Unmanaged.passUnretained(AccessLogPaths.destinationIP)
        let method = Unmanaged.passUnretained(AccessLogPaths.method)
        let version = Unmanaged.passUnretained(AccessLogPaths.version)
        let urlOriginal = Unmanaged.passUnretained(AccessLogPaths.urlOriginal)
        let urlPath = Unmanaged.passUnretained(AccessLogPaths.urlPath)
        let urlQuery = Unmanaged.passUnretained(AccessLogPaths.urlQuery)
        let eventDuration = Unmanaged.passUnretained(AccessLogPaths.eventDuration)
        let remoteIPList: Unmanaged<FieldPath>
        let rawRequest: Unmanaged<FieldPath>
    }

    let steps: [Step]
    let literals: [UInt8]
    let fields: [CompiledField]
    let hot: [HotField]
    /// Layout and zone of each time field (`HotField.timeIndex`).
    let times: [AccessLogTimeLayout]
    let timeZones: [TimeZoneRule]
    /// Field indices of the address chain: X-Forwarded-For fields first, then client addresses.
    let addressOrder: [Int]
    let known: KnownPaths
    /// Index of the first optional-tail step (`steps.count` when there is no tail).
    let tailStart: Int
    /// Index of the first field of the optional tail (`fields.count` when there is none).
    let firstTailField: Int
    /// The step re-matched with ``endFollow`` when the tail does not match.
    let fallbackStep: Int
    let endFollow = Follow()
    /// `nginx.access.remote_ip_list` / `jetty.access.remote_ip_list`.
    let remoteIPList: FieldPath
    /// Where an unparseable request line is kept (`nginx.access.request`).
    let rawRequest: FieldPath
    /// Top-level names of every field the program can write (to find fields of the event it replaces).
    let roots: [FieldPath]
    /// `roots[i].rootID`.
    let rootIDs: [Int]
    /// Bit `rootID % 64` set for each of `roots`.
    let rootMask: UInt64
    /// For each of `roots`, the paths under it the program can write.
    let claimsByRoot: [[FieldPath]]
    /// Upper bound of fields one line adds.
    let maxFields: Int
    let hasAddressChain: Bool

    // MARK: Compiling

    /// Compiles tokens (and an optional tail) into a program.
    ///
    /// - Throws: ``ConfigValueError`` naming the position in `formatText` when the format is empty,
    ///   has no variable, has two unquoted variables with no literal text between them, or two
    ///   variables write the same field.
    init(
        main: [AccessLogFormatToken], tail: [AccessLogFormatToken] = [], namespace: String, formatText: String
    ) throws(ConfigValueError) {
        func fail(_ message: String) -> ConfigValueError {
            ConfigValueError("format '\(formatText)': \(message)")
        }
        // 1. Merge adjacent literals within each segment; drop empty literals.
        func merged(_ tokens: [AccessLogFormatToken]) -> [AccessLogFormatToken] {
            var out: [AccessLogFormatToken] = []
            for t in tokens {
                if case .literal(let b) = t.kind {
                    if b.isEmpty { continue }
                    if let last = out.last, case .literal(let a) = last.kind {
                        out[out.count - 1].kind = .literal(a + b)
                        continue
                    }
                }
                out.append(t)
            }
            return out
        }
        let mainTokens = merged(main)
        let tailTokens = merged(tail)
        let onlyWhitespace = mainTokens.allSatisfy { t in
            if case .literal(let b) = t.kind { return b.allSatisfy { $0 == 32 || $0 == 9 || $0 == 10 || $0 == 13 } }
            return false
        }
        guard !mainTokens.isEmpty, !onlyWhitespace else { throw fail("the format is empty") }
        var tokens = mainTokens + tailTokens
        var segmentStart = [0, mainTokens.count]
        if tailTokens.isEmpty { segmentStart = [0] }

        // 2. Leading/trailing whitespace of the line is ignored: strip it from the format too.
        func isSpace(_ b: UInt8) -> Bool { b == 32 || b == 9 || b == 10 || b == 13 }
        if case .literal(var b) = tokens[0].kind {
            while let f = b.first, isSpace(f) { b.removeFirst() }
            tokens[0].kind = .literal(b)
        }
        for end in [mainTokens.count, tokens.count] where end > 0 {
            if case .literal(var b) = tokens[end - 1].kind {
                while let l = b.last, isSpace(l) { b.removeLast() }
                tokens[end - 1].kind = .literal(b)
            }
        }

        // 3. Quoted fields: a variable between a literal ending in `"` and one starting with `"`.
        var quoted = [Bool](repeating: false, count: tokens.count)
        for i in tokens.indices {
            guard case .variable = tokens[i].kind, i > 0, i + 1 < tokens.count,
                case .literal(var before) = tokens[i - 1].kind, case .literal(var after) = tokens[i + 1].kind,
                before.last == UInt8(ascii: "\""), after.first == UInt8(ascii: "\"")
            else { continue }
            before.removeLast()
            after.removeFirst()
            tokens[i - 1].kind = .literal(before)
            tokens[i + 1].kind = .literal(after)
            quoted[i] = true
        }

        // 4. Steps, literal pool, fields, claims.
        var steps: [Step] = []
        var literals: [UInt8] = []
        var fields: [CompiledField] = []
        var claimed: [String: String] = [:]
        var tailStart = -1
        let tailTokenStart = segmentStart.count > 1 ? segmentStart[1] : tokens.count
        var previousWasUnquotedField: (display: String, position: Int)? = nil
        var hasAddressChain = false
        var claimPaths: [String] = []
        for (i, token) in tokens.enumerated() {
            if i == tailTokenStart { tailStart = steps.count }
            switch token.kind {
            case .literal(let bytes):
                if bytes.isEmpty { continue }
                steps.append(Step(kind: .literal, literalStart: literals.count, literalCount: bytes.count))
                literals.append(contentsOf: bytes)
                previousWasUnquotedField = nil
            case .variable(let display, let generic, var role):
                if let prev = previousWasUnquotedField, !quoted[i] {
                    throw fail(
                        "'\(prev.display)' (position \(prev.position)) and '\(display)' (position \(token.position)) "
                            + "have no literal text between them, so the parser cannot tell where one ends; "
                            + "put a separator (such as a space) between them")
                }
                var paths = role.claims(namespace: namespace)
                let collides = paths.contains { p in
                    if let owner = claimed[p] { return !(role.aggregates && owner == "address chain") }
                    return false
                }
                if collides {
                    let fallback = AccessLogRole.string(FieldPath.intern(namespace + "." + generic))
                    let fallbackPaths = fallback.claims(namespace: namespace)
                    if let owner = claimed[fallbackPaths[0]] {
                        throw fail(
                            "'\(display)' (position \(token.position)) writes field '\(fallbackPaths[0])', "
                                + "which \(owner) already writes; a variable may appear only once")
                    }
                    role = fallback
                    paths = fallbackPaths
                }
                let owner = role.aggregates ? "address chain" : "'\(display)' (position \(token.position))"
                for p in paths { claimed[p] = owner }
                claimPaths.append(contentsOf: paths)
                if role.aggregates { hasAddressChain = true }
                let fieldIndex = fields.count
                fields.append(CompiledField(display: display, role: role, isTail: i >= tailTokenStart))
                steps.append(Step(kind: quoted[i] ? .quotedField : .field, field: fieldIndex))
                previousWasUnquotedField = quoted[i] ? nil : (display, token.position)
            }
        }
        guard !fields.isEmpty else { throw fail("the format has no variables, so there is nothing to parse") }
        if tailStart < 0 { tailStart = steps.count }

        // 5. Follow sets.
        for k in steps.indices where steps[k].kind != .literal {
            steps[k].follow = Self.follow(after: k, steps: steps, limit: steps.count)
        }
        var fallbackStep = tailStart
        if tailStart < steps.count, tailStart > 0, steps[tailStart - 1].kind != .literal {
            fallbackStep = tailStart - 1
        }
        self.steps = steps
        self.literals = literals
        self.fields = fields
        self.tailStart = tailStart
        self.firstTailField = fields.firstIndex { $0.isTail } ?? fields.count
        self.fallbackStep = fallbackStep
        self.remoteIPList = FieldPath.intern(namespace + ".remote_ip_list")
        self.rawRequest = FieldPath.intern(namespace + ".request")
        self.known = KnownPaths(
            remoteIPList: Unmanaged.passUnretained(remoteIPList), rawRequest: Unmanaged.passUnretained(rawRequest))
        var hot: [HotField] = []
        var times: [AccessLogTimeLayout] = []
        var timeZones: [TimeZoneRule] = []
        for f in fields {
            switch f.role {
            case .clientAddress, .forwardedFor: hot.append(HotField(kind: .address))
            case .destinationAddress: hot.append(HotField(kind: .destinationAddress))
            case .requestLine: hot.append(HotField(kind: .requestLine))
            case .requestURI: hot.append(HotField(kind: .requestURI))
            case .query: hot.append(HotField(kind: .query))
            case .httpVersion: hot.append(HotField(kind: .httpVersion))
            case .time(let layout, let zone):
                hot.append(HotField(kind: .time, timeIndex: times.count))
                times.append(layout)
                timeZones.append(zone)
            case .duration(let unit): hot.append(HotField(kind: .duration, unit: unit))
            case .integer(let path): hot.append(HotField(kind: .integer, path: Unmanaged.passUnretained(path)))
            case .string(let path): hot.append(HotField(kind: .string, path: Unmanaged.passUnretained(path)))
            }
        }
        self.hot = hot
        self.times = times
        self.timeZones = timeZones
        self.addressOrder = fields.indices.filter { fields[$0].role == .forwardedFor }
            + fields.indices.filter { fields[$0].role == .clientAddress }
        var roots: [FieldPath] = []
        var claimsByRoot: [[FieldPath]] = []
        for p in claimPaths {
            let path = FieldPath.intern(p)
            let root = path.ancestor(atDepth: 1)
            if let r = roots.firstIndex(where: { $0 === root }) {
                if !claimsByRoot[r].contains(where: { $0 === path }) { claimsByRoot[r].append(path) }
            } else {
                roots.append(root)
                claimsByRoot.append([path])
            }
        }
        self.roots = roots
        self.rootIDs = roots.map(\.rootID)
        self.rootMask = roots.reduce(0) { $0 | 1 &<< (UInt64(truncatingIfNeeded: $1.rootID) & 63) }
        self.claimsByRoot = claimsByRoot
        self.maxFields = claimPaths.count
        self.hasAddressChain = hasAddressChain
    }

    private static func follow(after k: Int, steps: [Step], limit: Int) -> Follow {
        var f = Follow()
        var next = k + 1
        if next < limit && steps[next].kind == .literal {
            f.literalStart = steps[next].literalStart
            f.literalCount = steps[next].literalCount
            next += 1
        }
        if next >= limit {
            f.then = .end
        } else {
            f.then = steps[next].kind == .quotedField ? .quoted : .unquoted
        }
        return f
    }

    // MARK: Matching

    /// A captured value: `[start, end)` in the arena, or `start < 0` when absent.
    struct Span {
        var start: Int
        var end: Int
    }

    /// Matches `p[start..<end]` against the program, filling `spans` (one per field).
    func match(
        _ p: UnsafeRawBufferPointer, _ start: Int, _ end: Int, literals lit: UnsafeRawBufferPointer,
        spans: UnsafeMutableBufferPointer<Span>
    ) -> Bool {
        steps.withUnsafeBufferPointer { steps in match(p, start, end, steps: steps, literals: lit, spans: spans) }
    }

    private func match(
        _ p: UnsafeRawBufferPointer, _ start: Int, _ end: Int, steps: UnsafeBufferPointer<Step>,
        literals lit: UnsafeRawBufferPointer, spans: UnsafeMutableBufferPointer<Span>
    ) -> Bool {
        for i in 0..<spans.count { spans[i] = Span(start: -1, end: -1) }
        var s = start
        var e = end
        while s < e, isSpace(p[s]) { s += 1 }
        while e > s, isSpace(p[e - 1]) { e -= 1 }
        let hasTail = tailStart < steps.count
        var limit = steps.count
        var fellBack = false
        var savedPos = s
        var pos = s
        var k = 0
        while true {
            var ok = true
            while k < limit {
                if k == fallbackStep && !fellBack { savedPos = pos }
                switch steps[k].kind {
                case .literal:
                    let count = steps[k].literalCount
                    ok = hasPrefix(p, pos, e, lit, steps[k].literalStart, count)
                    if ok { pos += count }
                case .field:
                    let follow = fellBack && k == fallbackStep ? endFollow : steps[k].follow
                    if let valueEnd = scanField(p, pos, e, lit, follow) {
                        spans[steps[k].field] = Span(start: pos, end: valueEnd)
                        pos = valueEnd
                    } else {
                        ok = false
                    }
                case .quotedField:
                    let follow = fellBack && k == fallbackStep ? endFollow : steps[k].follow
                    if let (vs, ve, next) = scanQuoted(p, pos, e, lit, follow) {
                        spans[steps[k].field] = Span(start: vs, end: ve)
                        pos = next
                    } else {
                        ok = false
                    }
                }
                if !ok { break }
                k += 1
            }
            if ok && pos == e { return true }
            guard hasTail, !fellBack, k >= fallbackStep else { return false }
            // The optional tail did not match: drop it and re-match from before it.
            fellBack = true
            limit = tailStart
            pos = savedPos
            k = fallbackStep
            for i in firstTailField..<spans.count { spans[i] = Span(start: -1, end: -1) }
            if k < limit, steps[k].kind != .literal { spans[steps[k].field] = Span(start: -1, end: -1) }
        }
    }

    @inline(__always)
    private func isSpace(_ b: UInt8) -> Bool { b == 32 || b == 9 || b == 10 || b == 13 }

    @inline(__always)
    private func hasPrefix(
        _ p: UnsafeRawBufferPointer, _ pos: Int, _ end: Int, _ lit: UnsafeRawBufferPointer, _ ls: Int, _ lc: Int
    ) -> Bool {
        guard end - pos >= lc else { return false }
        var i = 0
        while i < lc {
            if p[pos + i] != lit[ls + i] { return false }
            i += 1
        }
        return true
    }

    /// Whether what follows a field matches at `i`.
    @inline(__always)
    private func followMatches(
        _ p: UnsafeRawBufferPointer, _ i: Int, _ end: Int, _ lit: UnsafeRawBufferPointer, _ f: Follow
    ) -> Bool {
        guard hasPrefix(p, i, end, lit, f.literalStart, f.literalCount) else { return false }
        let j = i + f.literalCount
        switch f.then {
        case .end: return j == end
        case .quoted: return j < end && (p[j] == UInt8(ascii: "\"") || p[j] == UInt8(ascii: "-"))
        case .unquoted: return true
        }
    }

    /// The end of an unquoted field starting at `pos`.
    private func scanField(
        _ p: UnsafeRawBufferPointer, _ pos: Int, _ end: Int, _ lit: UnsafeRawBufferPointer, _ f: Follow
    ) -> Int? {
        if f.literalCount == 0 {
            switch f.then {
            case .end: return end
            case .quoted: return find(UInt8(ascii: "\""), p, pos, end)
            case .unquoted: return nil  // rejected at compile time
            }
        }
        if f.then == .end {
            // The literal ends the line: the field takes everything before it.
            let valueEnd = end - f.literalCount
            guard valueEnd >= pos, hasPrefix(p, valueEnd, end, lit, f.literalStart, f.literalCount) else { return nil }
            return valueEnd
        }
        let first = lit[f.literalStart]
        var i = pos
        while let at = find(first, p, i, end) {
            if followMatches(p, at, end, lit, f) { return at }
            i = at + 1
        }
        return nil
    }

    /// A quoted field at `pos`: `(valueStart, valueEnd, positionAfter)`.
    private func scanQuoted(
        _ p: UnsafeRawBufferPointer, _ pos: Int, _ end: Int, _ lit: UnsafeRawBufferPointer, _ f: Follow
    ) -> (Int, Int, Int)? {
        guard pos < end else { return nil }
        let quote = UInt8(ascii: "\"")
        if p[pos] == quote {
            if f.then == .end {
                // The closing quote sits right before the trailing literal.
                let close = end - f.literalCount - 1
                guard close > pos, p[close] == quote, hasPrefix(p, close + 1, end, lit, f.literalStart, f.literalCount)
                else { return nil }
                return (pos + 1, close, close + 1)
            }
            for pass in 0..<2 {
                let allowEscaped = pass == 1
                var i = pos + 1
                while let q = find(quote, p, i, end) {
                    i = q + 1
                    if !allowEscaped {
                        var backslashes = 0
                        var b = q - 1
                        while b > pos && p[b] == UInt8(ascii: "\\") {
                            backslashes += 1
                            b -= 1
                        }
                        if backslashes & 1 == 1 { continue }
                    }
                    if followMatches(p, q + 1, end, lit, f) { return (pos + 1, q, q + 1) }
                }
            }
            return nil
        }
        if p[pos] == UInt8(ascii: "-") && followMatches(p, pos + 1, end, lit, f) {
            return (pos, pos + 1, pos + 1)
        }
        return nil
    }

    @inline(__always)
    private func find(_ b: UInt8, _ p: UnsafeRawBufferPointer, _ s: Int, _ e: Int) -> Int? {
        guard s < e, let base = p.baseAddress else { return nil }
        guard let hit = memchr(base + s, Int32(b), e - s) else { return nil }
        return base.distance(to: UnsafeRawPointer(hit))
    }

    // MARK: Parsing into an event

    /// Matches the line at `text` and adds its fields to `event`; `.noMatch` leaves `event` as it was.
    func parse(_ text: ArenaSlice, into event: inout LogEvent) -> ParseResult {
        let arena = event.arena
        guard text.start >= 0, text.count >= 0, text.upperBound <= arena.count, text.count > 0 else {
            return .noMatch
        }
        let n0 = event.fields.count
        var timestampIndex = -1
        var replaced: FieldValue? = nil
        let ok: Bool = arena.withUnsafeBytes { p in
            literals.withUnsafeBytes { lit in
                withUnsafeTemporaryAllocation(of: Span.self, capacity: max(fields.count, 1)) { spans in
                    guard match(p, text.lowerBound, text.upperBound, literals: lit, spans: spans) else { return false }
                    event.fields.reserveCapacity(n0 + maxFields)
                    let v0 = event.values.count
                    if emit(
                        p, spans: spans, into: &event.fields, values: &event.values, originalCount: n0,
                        timestampIndex: &timestampIndex, replaced: &replaced)
                    {
                        return true
                    }
                    // Roll back: drop what was appended and restore an @timestamp replaced in place.
                    event.fields.removeSubrange(n0...)
                    event.values.removeSubrange(v0...)
                    if let replaced, timestampIndex >= 0 && timestampIndex < n0 {
                        event.fields[timestampIndex].value = replaced
                    }
                    return false
                }
            }
        }
        guard ok else { return .noMatch }
        if n0 > 0 { replaceConflicting(&event.fields, originalCount: n0, skip: timestampIndex < n0 ? timestampIndex : -1) }
        return .consumed
    }

    /// Converts captured values to fields. False when a value is invalid for its role (a status
    /// that is not a number, a time that does not parse): the line then does not match.
    private func emit(
        _ p: UnsafeRawBufferPointer, spans: UnsafeMutableBufferPointer<Span>, into out: inout [Field],
        values: inout [FieldValue], originalCount: Int, timestampIndex: inout Int, replaced: inout FieldValue?
    ) -> Bool {
        hot.withUnsafeBufferPointer { hot in
            var chainDone = false
            for fi in 0..<hot.count {
                let h = hot[fi]
                if h.kind == .address {
                    if !chainDone {
                        chainDone = true
                        emitAddressChain(p, spans: spans, into: &out, values: &values)
                    }
                    continue
                }
                let span = spans[fi]
                guard span.start >= 0 else { continue }
                let s = span.start
                let e = span.end
                if e <= s || AccessLogBytes.isDash(p, s, e) { continue }
                switch h.kind {
                case .address:
                    continue
                case .destinationAddress:
                    out.append(Field(known.destinationAddress.takeUnretainedValue(), .string(ArenaSlice(start: s, count: e - s))))
                    if IPAddressClassifier.classify(p, s, e) != .notIP {
                        out.append(Field(known.destinationIP.takeUnretainedValue(), .string(ArenaSlice(start: s, count: e - s))))
                    }
                case .requestLine:
                    emitRequestLine(p, s, e, into: &out)
                case .requestURI:
                    emitURL(p, s, e, into: &out)
                case .query:
                    var qs = s
                    if p[qs] == UInt8(ascii: "?") { qs += 1 }
                    // Jetty writes `?null` when there is no query string.
                    if qs == e || (e - qs == 4 && p[qs] == UInt8(ascii: "n") && p[qs + 1] == UInt8(ascii: "u")
                        && p[qs + 2] == UInt8(ascii: "l") && p[qs + 3] == UInt8(ascii: "l"))
                    {
                        continue
                    }
                    out.append(Field(known.urlQuery.takeUnretainedValue(), .string(ArenaSlice(start: qs, count: e - qs))))
                case .httpVersion:
                    let hasPrefix = e - s > 5 && p[s + 4] == UInt8(ascii: "/")
                    let vs = hasPrefix ? s + 5 : s
                    guard vs < e else { continue }
                    out.append(Field(known.version.takeUnretainedValue(), .string(ArenaSlice(start: vs, count: e - vs))))
                case .time:
                    let t = times.withUnsafeBufferPointer { times in
                        timeZones.withUnsafeBufferPointer { zones in
                            AccessLogTimeParser.parse(p, s, e, layout: times[h.timeIndex], zone: zones[h.timeIndex])
                        }
                    }
                    guard let t else { return false }
                    // The event usually has an @timestamp already (the time the line was read):
                    // replace it in place.
                    if timestampIndex < 0 {
                        timestampIndex = Self.index(of: known.timestamp, in: out, below: originalCount)
                        if timestampIndex >= 0 {
                            replaced = out[timestampIndex].value
                            out[timestampIndex].value = .timestamp(t)
                            continue
                        }
                        timestampIndex = out.count
                    }
                    out.append(Field(known.timestamp.takeUnretainedValue(), .timestamp(t)))
                case .duration:
                    guard let ns = AccessLogBytes.duration(p, s, e, unit: h.unit) else { return false }
                    out.append(Field(known.eventDuration.takeUnretainedValue(), .int(ns)))
                case .integer:
                    guard let v = AccessLogBytes.integer(p, s, e), let path = h.path else { return false }
                    out.append(Field(path.takeUnretainedValue(), .int(v)))
                case .string:
                    guard let path = h.path else { continue }
                    out.append(Field(path.takeUnretainedValue(), .string(ArenaSlice(start: s, count: e - s))))
                }
            }
            return true
        }
    }

    /// `METHOD URI PROTOCOL` → method, URL fields, version. Anything else (garbage sent to the port,
    /// a TLS handshake on a plain-text port) is kept whole in `<namespace>.request`.
    private func emitRequestLine(_ p: UnsafeRawBufferPointer, _ s: Int, _ e: Int, into out: inout [Field]) {
        var i = s
        while i < e && AccessLogBytes.isMethodByte(p[i]) { i += 1 }
        let methodEnd = i
        raw: do {
            guard methodEnd > s, methodEnd < e, p[methodEnd] == UInt8(ascii: " "),
                !AccessLogBytes.isDash(p, s, methodEnd)
            else { break raw }
            var urlStart = methodEnd + 1
            while urlStart < e && p[urlStart] == UInt8(ascii: " ") { urlStart += 1 }
            guard urlStart < e else { break raw }
            var lastSpace = e - 1
            while lastSpace >= urlStart && p[lastSpace] != UInt8(ascii: " ") { lastSpace -= 1 }
            var urlEnd = e
            var versionStart = -1
            if lastSpace >= urlStart {
                let ps = lastSpace + 1
                if AccessLogBytes.isProtocol(p, ps, e) {
                    versionStart = ps + 5
                } else if !AccessLogBytes.isDash(p, ps, e) {
                    break raw
                }
                urlEnd = lastSpace
                while urlEnd > urlStart && p[urlEnd - 1] == UInt8(ascii: " ") { urlEnd -= 1 }
            }
            out.append(Field(known.method.takeUnretainedValue(), .string(ArenaSlice(start: s, count: methodEnd - s))))
            if !AccessLogBytes.isDash(p, urlStart, urlEnd) { emitURL(p, urlStart, urlEnd, into: &out) }
            if versionStart >= 0 {
                out.append(Field(known.version.takeUnretainedValue(), .string(ArenaSlice(start: versionStart, count: e - versionStart))))
            }
            return
        }
        out.append(Field(known.rawRequest.takeUnretainedValue(), .string(ArenaSlice(start: s, count: e - s))))
    }

    /// `url.original`, plus `url.path` and `url.query` split at the first `?` (the path only for
    /// origin-form `/…` and absolute-form `http(s)://host/…` targets).
    private func emitURL(_ p: UnsafeRawBufferPointer, _ s: Int, _ e: Int, into out: inout [Field]) {
        out.append(Field(known.urlOriginal.takeUnretainedValue(), .string(ArenaSlice(start: s, count: e - s))))
        let q = AccessLogBytes.find(UInt8(ascii: "?"), p, s, e)
        let pathEnd = q ?? e
        var pathStart = -1
        if p[s] == UInt8(ascii: "/") {
            pathStart = s
        } else if let colon = AccessLogBytes.find(UInt8(ascii: ":"), p, s, pathEnd), colon + 2 < pathEnd,
            p[colon + 1] == UInt8(ascii: "/"), p[colon + 2] == UInt8(ascii: "/")
        {
            pathStart = AccessLogBytes.find(UInt8(ascii: "/"), p, colon + 3, pathEnd) ?? -1
        }
        if pathStart >= 0 && pathStart < pathEnd {
            out.append(Field(known.urlPath.takeUnretainedValue(), .string(ArenaSlice(start: pathStart, count: pathEnd - pathStart))))
        }
        if let q, q + 1 < e {
            out.append(Field(known.urlQuery.takeUnretainedValue(), .string(ArenaSlice(start: q + 1, count: e - q - 1))))
        }
    }

    // MARK: Address chain

    @inline(__always)
    private static func isListSeparator(_ b: UInt8) -> Bool {
        b == UInt8(ascii: ",") || b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") || b == UInt8(ascii: "\"")
    }

    /// Calls `body` with each entry (`[start, end)`) of the address chain: the X-Forwarded-For
    /// entries first, then the client addresses, in format order; `-` entries are skipped.
    @inline(__always)
    private func forEachAddress(
        _ p: UnsafeRawBufferPointer, spans: UnsafeMutableBufferPointer<Span>, _ body: (Int, Int) -> Void
    ) {
        addressOrder.withUnsafeBufferPointer { order in
            for fi in order {
                let span = spans[fi]
                guard span.start >= 0 else { continue }
                var i = span.start
                while i < span.end {
                    while i < span.end && Self.isListSeparator(p[i]) { i += 1 }
                    let entryStart = i
                    while i < span.end && !Self.isListSeparator(p[i]) { i += 1 }
                    if i > entryStart && !AccessLogBytes.isDash(p, entryStart, i) { body(entryStart, i) }
                }
            }
        }
    }

    /// `source.address` (the first public IP of the chain, else its first IP, else its first entry),
    /// `source.ip` when that is an IP address, and the whole chain in `<namespace>.remote_ip_list`.
    private func emitAddressChain(
        _ p: UnsafeRawBufferPointer, spans: UnsafeMutableBufferPointer<Span>, into out: inout [Field],
        values: inout [FieldValue]
    ) {
        // One pass: the entries (the first 16 kept; a longer chain is walked again) and the choice.
        let kept = 16
        withUnsafeTemporaryAllocation(of: Span.self, capacity: kept) { entries in
            var count = 0
            var first = Span(start: -1, end: -1)
            var firstIP = Span(start: -1, end: -1)
            var firstPublic = Span(start: -1, end: -1)
            forEachAddress(p, spans: spans) { s, e in
                if count < kept { entries[count] = Span(start: s, end: e) }
                count += 1
                if first.start < 0 { first = Span(start: s, end: e) }
                if firstPublic.start >= 0 { return }
                switch IPAddressClassifier.classify(p, s, e) {
                case .publicIP: firstPublic = Span(start: s, end: e)
                case .privateIP: if firstIP.start < 0 { firstIP = Span(start: s, end: e) }
                case .notIP: break
                }
            }
            guard count > 0 else { return }
            let chosen = firstPublic.start >= 0 ? firstPublic : (firstIP.start >= 0 ? firstIP : first)
            let slice = ArenaSlice(start: chosen.start, count: chosen.end - chosen.start)
            out.append(Field(known.sourceAddress.takeUnretainedValue(), .string(slice)))
            if firstPublic.start >= 0 || firstIP.start >= 0 {
                out.append(Field(known.sourceIP.takeUnretainedValue(), .string(slice)))
            }
            // The list's elements go to the event's values (no array of its own).
            let list = ValueList(start: values.count, count: count)
            if count <= kept {
                values.append(addingCapacity: count) { span in
                    for k in 0..<count {
                        span.append(.string(ArenaSlice(start: entries[k].start, count: entries[k].end - entries[k].start)))
                    }
                }
            } else {
                forEachAddress(p, spans: spans) { s, e in values.append(.string(ArenaSlice(start: s, count: e - s))) }
            }
            out.append(Field(known.remoteIPList.takeUnretainedValue(), .array(list)))
        }
    }

    // MARK: Fields the event already had

    /// The index of the field at exactly `path` among the first `limit` fields, or -1.
    @inline(__always)
    static func index(of path: Unmanaged<FieldPath>, in fields: [Field], below limit: Int) -> Int {
        fields.withUnsafeBufferPointer { buf in
            let target = path.toOpaque()
            for i in 0..<min(limit, buf.count) {
                unowned(unsafe) let candidate = buf[i].path
                if Unmanaged.passUnretained(candidate).toOpaque() == target { return i }
            }
            return -1
        }
    }

    /// Fields appended after `originalCount` replace the event's earlier fields at the same path
    /// (in place) and remove earlier fields they conflict with (an ancestor or descendant path).
    /// `skip` is the index of a field already replaced in place (the @timestamp), or -1.
    func replaceConflicting(_ fields: inout [Field], originalCount: Int, skip: Int) {
        // Usually no earlier field is under a root the line wrote (a container's metadata, the
        // log file): one pass over root-id bits says so (a bit shared by two roots only costs the
        // full check below).
        let mask = rootMask
        let anyUnderARoot = fields.withUnsafeBufferPointer { buf -> Bool in
            for k in 0..<originalCount where k != skip && mask & (1 &<< (UInt64(truncatingIfNeeded: buf[k].path.rootID) & 63)) != 0 {
                return true
            }
            return false
        }
        if !anyUnderARoot { return }
        var n0 = originalCount
        var i = 0
        var skip = skip
        while i < n0 {
            if i == skip {
                i += 1
                continue
            }
            // Which of `roots` is this field under? (Compares root ids, without walking up or
            // reference counting: this runs for every field of every line.)
            let rootIndex = fields.withUnsafeBufferPointer { buf -> Int in
                let id = buf[i].path.rootID
                return rootIDs.withUnsafeBufferPointer { ids in
                    for r in 0..<ids.count where ids[r] == id { return r }
                    return -1
                }
            }
            guard rootIndex >= 0 else {
                i += 1
                continue
            }
            let path = fields[i].path
            var removeOriginal = false
            for claim in claimsByRoot[rootIndex] {
                let same = claim === path || (!path.interned && claim == path)
                guard same || claim.isPrefix(of: path) || path.isPrefix(of: claim) else { continue }
                // Did this line write `claim`?
                var j = n0
                while j < fields.count && fields[j].path !== claim { j += 1 }
                guard j < fields.count else { continue }
                if same {
                    fields[i].value = fields[j].value
                    fields.remove(at: j)
                } else {
                    removeOriginal = true
                }
            }
            if removeOriginal {
                fields.remove(at: i)
                n0 -= 1
                if skip > i { skip -= 1 }
            } else {
                i += 1
            }
        }
    }
}
