/// Encodes events to JSON like ``JSONWriter``, remembering the nesting of each field layout it
/// has seen.
///
/// Events from one parser share their layout (the same paths in the same order), so working out
/// how dotted paths nest, which braces to open and close and which keys to write is done once
/// per layout; encoding an event is then copying prepared bytes and writing values. Keep one
/// encoder per worker (it is not thread-safe); its memory is bounded (`maxLayouts`).
public struct EventEncoder {
    /// How to write one layout: before each field's value, `bytes[prefixes[i]]`; at the end, `bytes[suffix]`.
    final class Plan {
        let paths: [ObjectIdentifier]
        let order: [Int]
        let prefixes: [Range<Int>]
        let suffix: Range<Int>
        let bytes: [UInt8]

        init(paths: [ObjectIdentifier], order: [Int], prefixes: [Range<Int>], suffix: Range<Int>, bytes: [UInt8]) {
            self.paths = paths
            self.order = order
            self.prefixes = prefixes
            self.suffix = suffix
            self.bytes = bytes
        }
    }

    private var plans: [Int: Plan] = [:]
    /// Layouts remembered at most; beyond that the cache starts over.
    public var maxLayouts = 512
    /// Layouts planned so far (for tests and metrics).
    public private(set) var planned = 0

    public init() {}

    /// Appends the event as one compact JSON object, byte for byte what ``JSONWriter/write(_:into:)`` writes.
    public mutating func encode(_ event: LogEvent, into out: inout [UInt8]) {
        let n = event.fields.count
        guard n > 0, n <= 256 else {
            JSONWriter.write(event, into: &out)
            return
        }
        var hasher = Hasher()
        event.fields.withUnsafeBufferPointer { fields in
            for i in 0..<n { hasher.combine(ObjectIdentifier(fields[i].path)) }
        }
        let key = hasher.finalize()
        let plan: Plan
        if let hit = plans[key], Self.matches(hit, event) {
            plan = hit
        } else {
            plan = Self.makePlan(event)
            if plans.count >= maxLayouts { plans.removeAll(keepingCapacity: true) }
            plans[key] = plan
            planned += 1
        }
        event.arena.withUnsafeBytes { arena in
            event.fields.withUnsafeBufferPointer { fields in
                plan.bytes.withUnsafeBufferPointer { bytes in
                    for step in 0..<n {
                        let r = plan.prefixes[step]
                        out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[r]))
                        JSONWriter.writeValue(fields[plan.order[step]].value, arena: arena, into: &out)
                    }
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[plan.suffix]))
                }
            }
        }
    }

    private static func matches(_ plan: Plan, _ event: LogEvent) -> Bool {
        guard plan.paths.count == event.fields.count else { return false }
        return event.fields.withUnsafeBufferPointer { fields in
            for i in 0..<fields.count where plan.paths[i] != ObjectIdentifier(fields[i].path) { return false }
            return true
        }
    }

    /// Works out the nesting once: the same grouping as ``JSONWriter``, recorded as byte runs.
    private static func makePlan(_ event: LogEvent) -> Plan {
        let fields = event.fields
        var order = Array(0..<fields.count)
        var bytes: [UInt8] = []
        var prefixes: [Range<Int>] = []
        var steps: [Int] = []
        var runStart = 0

        func group(_ range: Range<Int>, depth: Int) {
            var p = range.lowerBound
            var first = true
            while p < range.upperBound {
                let path = fields[order[p]].path
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                if path.depth <= depth {
                    bytes.append(contentsOf: path.jsonKey)
                    prefixes.append(runStart..<bytes.count)
                    steps.append(order[p])
                    runStart = bytes.count
                    p += 1
                    continue
                }
                let head = path.ancestor(atDepth: depth)
                var q = p + 1
                var j = q
                while j < range.upperBound {
                    let other = fields[order[j]].path
                    if other.depth > depth && other.ancestor(atDepth: depth) == head {
                        let v = order[j]
                        var k = j
                        while k > q {
                            order[k] = order[k - 1]
                            k -= 1
                        }
                        order[q] = v
                        q += 1
                    }
                    j += 1
                }
                bytes.append(contentsOf: head.jsonKey)
                bytes.append(UInt8(ascii: "{"))
                group(p..<q, depth: depth + 1)
                bytes.append(UInt8(ascii: "}"))
                p = q
            }
        }

        bytes.append(UInt8(ascii: "{"))
        group(0..<fields.count, depth: 1)
        bytes.append(UInt8(ascii: "}"))
        let suffix = runStart..<bytes.count
        return Plan(
            paths: fields.map { ObjectIdentifier($0.path) }, order: steps, prefixes: prefixes, suffix: suffix, bytes: bytes)
    }
}
