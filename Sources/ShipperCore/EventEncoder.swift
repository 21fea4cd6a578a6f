#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Encodes events to JSON like ``JSONWriter``, remembering the nesting of each field layout it
/// has seen.
///
/// Events from one parser share their layout (the same paths in the same order), so working out
/// how dotted paths nest, which braces to open and close and which keys to write is done once
/// per layout; encoding an event is then copying prepared bytes and writing values. Keep one
/// encoder per worker (it is not thread-safe); its memory is bounded (512 layouts).
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

    /// Plans by a hash of their paths: a plan goes in the first free slot of the four from its
    /// hash, or replaces the first when they are all taken (layouts are few; a collision costs one
    /// re-plan).
    private var table: [Plan?] = Array(repeating: nil, count: EventEncoder.tableSize)
    static let tableSize = 512
    private static let probes = 4
    /// Layouts held now (at most 512).
    public var cachedLayouts: Int { table.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }
    private var lastPlan: Plan?
    /// The text of the last second written (events in a row mostly share it).
    private var seconds = SecondText()
    /// Layouts planned so far (for tests and metrics).
    public private(set) var planned = 0

    /// The JSON of a block's fields (``FieldBlock``) in one layout, values included, written once
    /// and copied for every event whose block fields are still as ``LogEvent/add(_:)`` put them:
    /// the plan's steps from `firstStep`, one per field of the block (the layout has them in a row
    /// from field `index`). `firstStep` is -1 when they are not consecutive steps of the plan (then
    /// they are written one by one). Plain values, found without reference counting: the bytes
    /// are in ``runBytes``, the text and slices the run was made from in ``runText`` and
    /// ``runSlices`` (an event's block fields are compared with them).
    struct BlockRun {
        var plan: ObjectIdentifier
        var block: UInt64
        var index: Int
        var firstStep: Int
        var steps: Int
        var bytes: Range<Int>
        var text: Range<Int>
        var slices: Range<Int>
    }

    /// At most `maxRuns` runs and `maxRunBytes` of their bytes and text, then all are dropped and
    /// made again as events need them (a chunk of a file's lines shares one: a node with more
    /// containers than that makes one run per chunk).
    private var runs: [BlockRun] = []
    private var runBytes: [UInt8] = []
    private var runText: [UInt8] = []
    private var runSlices: [ArenaSlice] = []
    /// The plans of the runs, held so that no other plan takes their address while they are here.
    private var runPlans: [Plan] = []
    private var lastRun = -1
    static let maxRuns = 256
    static let maxRunBytes = 512 << 10
    /// Events whose block fields were written as a prepared run (for tests and metrics).
    public private(set) var blockRunsWritten = 0

    public init() {}

    /// Appends the event as one compact JSON object, byte for byte what ``JSONWriter/write(_:into:)`` writes.
    public mutating func encode(_ event: LogEvent, into out: inout [UInt8]) {
        let n = event.fields.count
        guard n > 0, n <= 256 else {
            JSONWriter.write(event, into: &out)
            return
        }
        let plan = self.plan(for: event)
        // The most bytes the event takes, or -1 when a value holds an object (the general path).
        // (+16: runs of the plan are copied 16 bytes at a time, see `copyRun`.)
        var bound = plan.bytes.count &+ 2 &+ 16
        event.fields.withUnsafeBufferPointer { fields in
            for i in 0..<n {
                let b: Int
                switch fields[i].value {
                case .string(let s): b = 2 &+ 6 &* Int(s.count)
                case .int, .double, .bool, .null: b = 32
                case .timestamp: b = Timestamp.maxTextCount &+ 2
                case .array, .object: b = Self.bound(fields[i].value, values: event.values)
                }
                if b < 0 {
                    bound = -1
                    return
                }
                bound &+= b
            }
        }
        guard bound >= 0 else {
            event.withStorage { Self.write(event.fields, plan: plan, storage: $0, into: &out) }
            return
        }
        // A block's fields still as added: one copy of their prepared JSON (the bound counts them).
        if event.blockMark.block != 0, let run = blockRun(plan, event), intact(run, event) {
            blockRunsWritten &+= 1
            runBytes.withUnsafeBufferPointer { prepared in
                Self.append(event, bound: bound, to: &out) { fields, storage, base in
                    Self.write(fields, storage: storage, plan: plan, run: run, prepared: prepared.baseAddress!, seconds: &seconds, to: base)
                }
            }
            return
        }
        Self.append(event, bound: bound, to: &out) { fields, storage, base in
            Self.write(fields, storage: storage, plan: plan, seconds: &seconds, to: base)
        }
    }

    /// Appends what `write` writes of the event (at most `bound` bytes) straight into the array's
    /// spare capacity: one capacity check per event, no copy. (The closures see the event's storage
    /// through pointers: capturing the event copied it.)
    @inline(__always)
    private static func append(
        _ event: LogEvent, bound: Int, to out: inout [UInt8],
        _ write: (UnsafeBufferPointer<Field>, ValueStorage, UnsafeMutablePointer<UInt8>) -> Int
    ) {
        event.withStorage { storage in
            event.fields.withUnsafeBufferPointer { fields in
                out.append(addingCapacity: bound) { span in
                    span.withUnsafeMutableBufferPointer { buffer, initialized in
                        initialized = write(fields, storage, buffer.baseAddress!)
                        assert(initialized <= bound, "EventEncoder wrote \(initialized) bytes, bound \(bound)")
                    }
                }
            }
        }
    }

    /// The plan of the event's layout (its paths in order), made the first time it is seen.
    @inline(__always)
    private mutating func plan(for event: LogEvent) -> Plan {
        // Consecutive events often share a layout: try the last one before hashing.
        if let last = lastPlan, Self.matches(last, event) { return last }
        // A multiplicative hash of the path identities (they are interned objects' addresses).
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15
        event.fields.withUnsafeBufferPointer { fields in
            for i in 0..<fields.count {
                h = (h ^ UInt64(UInt(bitPattern: ObjectIdentifier(fields[i].path)))) &* 0xBF58_476D_1CE4_E5B9
                h ^= h >> 29
            }
        }
        // Up to `probes` slots from the hashed one: a free one takes a new plan; when all are
        // taken, the first is replaced (memory stays bounded by the table).
        let first = Int(truncatingIfNeeded: h >> 32) & (Self.tableSize - 1)
        var free = -1
        for k in 0..<Self.probes {
            let slot = (first &+ k) & (Self.tableSize - 1)
            guard let hit = table[slot] else {
                if free < 0 { free = slot }
                continue
            }
            if Self.matches(hit, event) {
                lastPlan = hit
                return hit
            }
        }
        let plan = Self.makePlan(event)
        table[free >= 0 ? free : first] = plan
        lastPlan = plan
        planned += 1
        return plan
    }

    /// The run of the event's block in `plan` (its layout), made the first time; nil when the
    /// layout does not have the block's fields as consecutive steps.
    @inline(__always)
    private mutating func blockRun(_ plan: Plan, _ event: LogEvent) -> BlockRun? {
        let id = ObjectIdentifier(plan)
        let block = event.blockMark.block
        let found: BlockRun? = runs.withUnsafeBufferPointer { runs in
            if lastRun >= 0, runs[lastRun].plan == id, runs[lastRun].block == block { return runs[lastRun] }
            for i in runs.indices where runs[i].plan == id && runs[i].block == block {
                lastRun = i
                return runs[i]
            }
            return nil
        }
        if let found { return found.firstStep >= 0 ? found : nil }
        if runs.count >= Self.maxRuns || runBytes.count + runText.count > Self.maxRunBytes {
            runs.removeAll(keepingCapacity: true)
            runBytes.removeAll(keepingCapacity: true)
            runText.removeAll(keepingCapacity: true)
            runSlices.removeAll(keepingCapacity: true)
            runPlans.removeAll(keepingCapacity: true)
        }
        let made = makeRun(plan, event)
        runs.append(made)
        runPlans.append(plan)
        lastRun = runs.count - 1
        return made.firstStep >= 0 ? made : nil
    }

    /// Prepares the run of the event's block in the layout of `plan` (the event's), from the
    /// event's own block fields: `blockMark.fields` fields in a row, each a string in the
    /// arena from `blockMark.base` on, back to back, as ``LogEvent/add(_:)`` appended them
    /// (fields before them may have gone since).
    private mutating func makeRun(_ plan: Plan, _ event: LogEvent) -> BlockRun {
        let mark = event.blockMark
        let k = Int(mark.fields)
        let base = Int(mark.base)
        var run = BlockRun(plan: ObjectIdentifier(plan), block: mark.block, index: -1, firstStep: -1, steps: 0, bytes: 0..<0, text: 0..<0, slices: 0..<0)
        let fields = event.fields
        // The block's fields: k strings whose text runs from `base` to `base + mark.bytes`.
        guard k > 0, base >= 0, base + Int(mark.bytes) <= event.arena.count,
            let index = fields.firstIndex(where: { if case .string(let s) = $0.value { return s.lowerBound == base } else { return false } }),
            index + k <= fields.count
        else { return run }
        var next = base
        var slices: [ArenaSlice] = []
        for j in index..<(index + k) {
            guard case .string(let s) = fields[j].value, s.lowerBound == next else { return run }
            slices.append(ArenaSlice(start: s.lowerBound - base, count: Int(s.count)))
            next = s.upperBound
        }
        guard next == base + Int(mark.bytes) else { return run }
        // Grouping may order the block's fields among themselves; nothing else may come between.
        let ofBlock = index..<(index + k)
        guard let first = plan.order.firstIndex(where: { ofBlock.contains($0) }), first + k <= plan.order.count else { return run }
        for step in first..<(first + k) where !ofBlock.contains(plan.order[step]) { return run }
        let bytesStart = runBytes.count
        event.withStorage { storage in
            for step in first..<(first + k) {
                runBytes.append(contentsOf: plan.bytes[plan.prefixes[step]])
                JSONWriter.writeValue(fields[plan.order[step]].value, storage: storage, into: &runBytes)
            }
        }
        let textStart = runText.count
        runText.append(contentsOf: event.arena[base..<next])
        let slicesStart = runSlices.count
        runSlices.append(contentsOf: slices)
        run.index = index
        run.firstStep = first
        run.steps = k
        run.bytes = bytesStart..<runBytes.count
        run.text = textStart..<runText.count
        run.slices = slicesStart..<runSlices.count
        return run
    }

    /// True when the event's block fields (at `run.index`, where the plan, which matched the
    /// event, has the paths the run was made with) hold the text the run was made from, where
    /// ``LogEvent/add(_:)`` put it.
    @inline(__always)
    private func intact(_ run: BlockRun, _ event: LogEvent) -> Bool {
        let base = Int(event.blockMark.base)
        let count = run.text.count
        guard Int(event.blockMark.bytes) == count, base >= 0, base + count <= event.arena.count else { return false }
        let slicesMatch = event.fields.withUnsafeBufferPointer { fields in
            runSlices.withUnsafeBufferPointer { slices in
                var i = run.index
                for j in run.slices {
                    guard case .string(let s) = fields[i].value, s.lowerBound == base &+ slices[j].lowerBound, s.count == slices[j].count else { return false }
                    i &+= 1
                }
                return true
            }
        }
        guard slicesMatch, count > 0 else { return slicesMatch }
        return event.arena.withUnsafeBytes { arena in
            runText.withUnsafeBytes { memcmp(arena.baseAddress! + base, $0.baseAddress! + run.text.lowerBound, count) == 0 }
        }
    }

    /// Writes the event (no object values) by its plan at `base`, which has room for the bound.
    @inline(__always)
    private static func write(
        _ fields: UnsafeBufferPointer<Field>, storage: ValueStorage, plan: Plan, seconds: inout SecondText,
        to base: UnsafeMutablePointer<UInt8>
    ) -> Int {
        withPlan(plan, to: base) { planBase, prefixes, order, p in
            for step in 0..<fields.count {
                writeStep(step, fields, storage, planBase, prefixes, order, &seconds, base, &p)
            }
        }
    }

    /// ``write(_:storage:plan:seconds:to:)`` with the steps of `run` as its prepared bytes (in
    /// `prepared`).
    @inline(__always)
    private static func write(
        _ fields: UnsafeBufferPointer<Field>, storage: ValueStorage, plan: Plan, run: BlockRun, prepared: UnsafePointer<UInt8>,
        seconds: inout SecondText, to base: UnsafeMutablePointer<UInt8>
    ) -> Int {
        withPlan(plan, to: base) { planBase, prefixes, order, p in
            var step = 0
            while step < fields.count {
                if step == run.firstStep {
                    (base + p).update(from: prepared + run.bytes.lowerBound, count: run.bytes.count)
                    p &+= run.bytes.count
                    step &+= run.steps
                    continue
                }
                writeStep(step, fields, storage, planBase, prefixes, order, &seconds, base, &p)
                step &+= 1
            }
        }
    }

    /// Calls `steps` with the plan's bytes, prefixes and order and the count written at `base`
    /// (0), then writes the plan's suffix; returns the count.
    @inline(__always)
    private static func withPlan(
        _ plan: Plan, to base: UnsafeMutablePointer<UInt8>,
        _ steps: (UnsafePointer<UInt8>, UnsafeBufferPointer<Range<Int>>, UnsafeBufferPointer<Int>, inout Int) -> Void
    ) -> Int {
        var p = 0
        plan.bytes.withUnsafeBufferPointer { bytes in
            plan.prefixes.withUnsafeBufferPointer { prefixes in
                plan.order.withUnsafeBufferPointer { order in
                    steps(bytes.baseAddress!, prefixes, order, &p)
                    let r = plan.suffix
                    copyRun(from: bytes.baseAddress! + r.lowerBound, count: r.count, to: base + p)
                    p &+= r.count
                }
            }
        }
        return p
    }

    /// Writes the plan's step `step` (its prefix, then its field's value) at `base + p`.
    @inline(__always)
    private static func writeStep(
        _ step: Int, _ fields: UnsafeBufferPointer<Field>, _ storage: ValueStorage, _ planBase: UnsafePointer<UInt8>,
        _ prefixes: UnsafeBufferPointer<Range<Int>>, _ order: UnsafeBufferPointer<Int>, _ seconds: inout SecondText,
        _ base: UnsafeMutablePointer<UInt8>, _ p: inout Int
    ) {
        let r = prefixes[step]
        copyRun(from: planBase + r.lowerBound, count: r.count, to: base + p)
        p &+= r.count
        let k = order[step]
        switch fields[k].value {
        case .string(let s):
            p = RawJSON.writeString(storage.arena, s.range, to: base, at: p)
        case .int(let v):
            p = RawJSON.writeInt(v, to: base, at: p)
        case .timestamp(let t):
            base[p] = 0x22
            p = seconds.write(t, to: base, at: p &+ 1)
            base[p] = 0x22
            p &+= 1
        default:
            p = Self.writeRaw(fields[k].value, storage: storage, to: base, at: p)
        }
    }

    /// Copies a run of a plan's bytes 16 at a time (runs are short: a memmove call per key cost
    /// more than the copy). Reads and writes up to 15 bytes past the run: plans end with 16 bytes
    /// of padding, and the bound of an event has 16 bytes to spare.
    @inline(__always)
    private static func copyRun(from source: UnsafePointer<UInt8>, count: Int, to destination: UnsafeMutablePointer<UInt8>) {
        let s = UnsafeRawPointer(source)
        let d = UnsafeMutableRawPointer(destination)
        var k = 0
        repeat {
            d.storeBytes(of: s.loadUnaligned(fromByteOffset: k, as: UInt64.self), toByteOffset: k, as: UInt64.self)
            d.storeBytes(of: s.loadUnaligned(fromByteOffset: k &+ 8, as: UInt64.self), toByteOffset: k &+ 8, as: UInt64.self)
            k &+= 16
        } while k < count
    }

    /// The most bytes ``writeRaw(_:storage:to:at:)`` writes for `value`, or -1 when it contains an
    /// object (written by the general path).
    @inline(__always)
    static func bound(_ value: FieldValue, values: [FieldValue], depth: Int = 0) -> Int {
        switch value {
        case .string(let s): return 2 &+ 6 &* Int(s.count)
        case .int, .double, .bool, .null: return 32
        case .timestamp: return Timestamp.maxTextCount &+ 2
        case .array(let list):
            // Deep nesting goes the general way (JSON from input can nest arrays deeply).
            guard depth < 32, list.start >= 0, list.count >= 0, list.range.upperBound <= values.count else { return -1 }
            var total = 2
            for v in values[list.range] {
                let b = bound(v, values: values, depth: depth &+ 1)
                if b < 0 { return -1 }
                total &+= b &+ 1
            }
            return total
        case .object: return -1
        }
    }

    /// Writes a value (no objects) at `start` into memory with ``bound(_:)`` bytes of room.
    static func writeRaw(_ value: FieldValue, storage: ValueStorage, to base: UnsafeMutablePointer<UInt8>, at start: Int) -> Int {
        switch value {
        case .string(let s):
            return RawJSON.writeString(storage.arena, s.range, to: base, at: start)
        case .int(let v):
            return RawJSON.writeInt(v, to: base, at: start)
        case .timestamp(let t):
            base[start] = 0x22
            let p = t.write(to: base, at: start &+ 1)
            base[p] = 0x22
            return p &+ 1
        case .array(let list):
            base[start] = 0x5B
            var p = start &+ 1
            for (i, v) in storage.values[list.range].enumerated() {
                if i > 0 {
                    base[p] = 0x2C
                    p &+= 1
                }
                p = writeRaw(v, storage: storage, to: base, at: p)
            }
            base[p] = 0x5D
            return p &+ 1
        case .bool(true):
            base[start] = 0x74; base[start + 1] = 0x72; base[start + 2] = 0x75; base[start + 3] = 0x65
            return start &+ 4
        case .bool(false):
            base[start] = 0x66; base[start + 1] = 0x61; base[start + 2] = 0x6C; base[start + 3] = 0x73; base[start + 4] = 0x65
            return start &+ 5
        case .null:
            base[start] = 0x6E; base[start + 1] = 0x75; base[start + 2] = 0x6C; base[start + 3] = 0x6C
            return start &+ 4
        case .double, .object:
            var tmp: [UInt8] = []
            JSONWriter.writeValue(value, storage: storage, into: &tmp)
            tmp.withUnsafeBufferPointer { (base + start).update(from: $0.baseAddress!, count: $0.count) }
            return start &+ tmp.count
        }
    }

    /// Writes fields by a plan, appending with checks (the general path: arrays, objects).
    static func write(_ fields: [Field], plan: Plan, storage: ValueStorage, into out: inout [UInt8]) {
        fields.withUnsafeBufferPointer { fields in
            plan.bytes.withUnsafeBufferPointer { bytes in
                for step in 0..<fields.count {
                    let r = plan.prefixes[step]
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[r]))
                    JSONWriter.writeValue(fields[plan.order[step]].value, storage: storage, into: &out)
                }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[plan.suffix]))
            }
        }
    }

    @inline(__always)
    private static func matches(_ plan: Plan, _ event: LogEvent) -> Bool {
        guard plan.paths.count == event.fields.count else { return false }
        return event.fields.withUnsafeBufferPointer { fields in
            plan.paths.withUnsafeBufferPointer { paths in
                for i in 0..<fields.count where paths[i] != ObjectIdentifier(fields[i].path) { return false }
                return true
            }
        }
    }

    /// Works out the nesting once: the same grouping as ``JSONWriter``, recorded as byte runs.
    static func makePlan(_ event: LogEvent) -> Plan { makePlan(event.fields) }

    static func makePlan(_ fields: [Field]) -> Plan {
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
        // Padding read (never written out) by `copyRun`.
        bytes.append(contentsOf: repeatElement(0, count: 16))
        return Plan(
            paths: fields.map { ObjectIdentifier($0.path) }, order: steps, prefixes: prefixes, suffix: suffix, bytes: bytes)
    }
}

/// Writes timestamps like ``Timestamp/write(to:at:)``, keeping the text up to the seconds of the
/// last one written (`2025-11-25T08:15:00.`): timestamps of consecutive events mostly share their
/// second, and then only the fraction is worked out.
struct SecondText {
    private var second: Int64 = .min
    private var head: (UInt64, UInt64, UInt32) = (0, 0, 0)

    /// Writes `t` at `start` (room: ``Timestamp/maxTextCount``); returns the position after it.
    @inline(__always)
    mutating func write(_ t: Timestamp, to base: UnsafeMutablePointer<UInt8>, at start: Int) -> Int {
        var secs = t.nanoseconds / 1_000_000_000
        var nanos = t.nanoseconds % 1_000_000_000
        if nanos < 0 {
            nanos += 1_000_000_000
            secs -= 1
        }
        let p = UnsafeMutableRawPointer(base + start)
        if secs != second {
            // The whole text; its head is kept for the next timestamps of this second.
            _ = t.write(to: base, at: start)
            head = (p.loadUnaligned(as: UInt64.self), p.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
                    p.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
            second = secs
        } else {
            p.storeBytes(of: head.0, as: UInt64.self)
            p.storeBytes(of: head.1, toByteOffset: 8, as: UInt64.self)
            p.storeBytes(of: head.2, toByteOffset: 16, as: UInt32.self)
        }
        let digits = t.precision > 6 ? 9 : (t.precision > 3 ? 6 : 3)
        var v = Int(nanos)
        if digits == 3 {
            v /= 1_000_000
        } else if digits == 6 {
            v /= 1_000
        }
        let f = base + start
        var q = 20 &+ digits
        while q > 20 {
            q &-= 1
            f[q] = UInt8(truncatingIfNeeded: v % 10) &+ 48
            v /= 10
        }
        f[20 &+ digits] = 0x5A
        return start &+ 21 &+ digits
    }
}

/// JSON text written straight into memory whose capacity the caller guaranteed.
enum RawJSON {
    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// Writes `arena[range]` quoted and escaped (as ``JSONWriter/writeString(_:into:)`` does) at
    /// `start`; needs `2 + 6 * range.count` bytes of room. Returns the position after it.
    ///
    /// Plain bytes are copied 8 at a time while they are checked (one pass, no `memmove` per
    /// run): a word is stored whole, and the position moves to its first byte that needs care,
    /// which the next store overwrites. (8 bytes stored for 8 read stay within the room.) The
    /// last 1 to 7 bytes are one word too when it can be read within `arena` (the bytes after the
    /// string, or the string's last 8 bytes shifted down) and stored within the room: most
    /// strings end there, and byte by byte their tails cost as much as the rest of the string.
    @inline(__always)
    static func writeString(
        _ arena: UnsafeRawBufferPointer, _ range: Range<Int>, to base: UnsafeMutablePointer<UInt8>, at start: Int
    ) -> Int {
        let bytes = UnsafeRawBufferPointer(rebasing: arena[range])
        var p = start
        base[p] = 0x22
        p &+= 1
        let n = bytes.count
        // Bytes readable from the string's start (within the arena).
        let readable = arena.count &- range.lowerBound
        let roomEnd = start &+ 2 &+ 6 &* n
        let out = UnsafeMutableRawPointer(base)
        var i = 0
        while i < n {
            while i &+ 8 <= n {
                let w = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                out.storeBytes(of: w, toByteOffset: p, as: UInt64.self)
                let special = JSONBytes.specialMask(w)
                if special != 0 {
                    // The lowest flagged byte is exact (see `specialMask`).
                    let plain = special.trailingZeroBitCount >> 3
                    i &+= plain
                    p &+= plain
                    break
                }
                i &+= 8
                p &+= 8
            }
            guard i < n else { break }
            let rest = n &- i
            if rest < 8 && p &+ 8 <= roomEnd {
                // The tail as one word: its bytes low, whatever follows them above (borrows in
                // `specialMask` run upwards, so the masked low bytes are exact).
                var w: UInt64 = 0
                var loaded = true
                if i &+ 8 <= readable {
                    w = arena.loadUnaligned(fromByteOffset: range.lowerBound &+ i, as: UInt64.self)
                } else if n >= 8 {
                    w = bytes.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self) &>> UInt64((8 &- rest) &* 8)
                } else {
                    loaded = false
                }
                if loaded {
                    let special = JSONBytes.specialMask(w) & ((1 &<< UInt64(rest &* 8)) &- 1)
                    out.storeBytes(of: w, toByteOffset: p, as: UInt64.self)
                    if special == 0 {
                        p &+= rest
                        break
                    }
                    // As in the loop above: the plain bytes before the first that needs care stay.
                    let plain = special.trailingZeroBitCount >> 3
                    i &+= plain
                    p &+= plain
                }
            }
            let b = bytes[i]
            if b >= 0x20 && b < 0x80 && b != 0x22 && b != 0x5C {
                base[p] = b
                p &+= 1
                i &+= 1
                continue
            }
            if b >= 0x80 {
                let len = UTF8Validation.sequenceLength(bytes, at: i)
                if len > 0 {
                    for k in 0..<len { base[p &+ k] = bytes[i &+ k] }
                    p &+= len
                    i &+= len
                    continue
                }
            }
            switch b {
            case 0x22: base[p] = 0x5C; base[p + 1] = 0x22; p &+= 2
            case 0x5C: base[p] = 0x5C; base[p + 1] = 0x5C; p &+= 2
            case 0x0A: base[p] = 0x5C; base[p + 1] = UInt8(ascii: "n"); p &+= 2
            case 0x0D: base[p] = 0x5C; base[p + 1] = UInt8(ascii: "r"); p &+= 2
            case 0x09: base[p] = 0x5C; base[p + 1] = UInt8(ascii: "t"); p &+= 2
            case 0x08: base[p] = 0x5C; base[p + 1] = UInt8(ascii: "b"); p &+= 2
            case 0x0C: base[p] = 0x5C; base[p + 1] = UInt8(ascii: "f"); p &+= 2
            case ..<0x20:
                base[p] = 0x5C; base[p + 1] = UInt8(ascii: "u"); base[p + 2] = 0x30; base[p + 3] = 0x30
                base[p + 4] = hex[Int(b >> 4)]; base[p + 5] = hex[Int(b & 0xF)]
                p &+= 6
            default:
                base[p] = 0xEF; base[p + 1] = 0xBF; base[p + 2] = 0xBD
                p &+= 3
            }
            i &+= 1
        }
        base[p] = 0x22
        return p &+ 1
    }

    /// Writes a decimal integer at `p` (room: 20 bytes). Returns the position after it.
    @inline(__always)
    static func writeInt(_ value: Int64, to base: UnsafeMutablePointer<UInt8>, at start: Int) -> Int {
        var p = start
        if value == 0 {
            base[p] = 0x30
            return p &+ 1
        }
        var magnitude = value.magnitude
        if value < 0 {
            base[p] = 0x2D
            p &+= 1
        }
        var digits = 0
        var m = magnitude
        while m > 0 {
            digits &+= 1
            m /= 10
        }
        var q = p &+ digits
        let end = q
        while magnitude > 0 {
            q &-= 1
            base[q] = UInt8(truncatingIfNeeded: magnitude % 10) &+ 48
            magnitude /= 10
        }
        return end
    }
}
