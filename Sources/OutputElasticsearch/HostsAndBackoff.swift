import Synchronization

/// Round-robin host choice with a cool-down for hosts that failed. Pure state; the output keeps it
/// behind a lock.
public struct HostRotation: Sendable {
    public let count: Int
    public let cooldown: Duration
    private var next = 0
    private var coolingUntil: [ContinuousClock.Instant?]

    public init(count: Int, cooldown: Duration) {
        precondition(count > 0)
        self.count = count
        self.cooldown = cooldown
        coolingUntil = Array(repeating: nil, count: count)
    }

    /// The next host in turn that is not cooling down; when all are, the one that recovers first.
    public mutating func pick(now: ContinuousClock.Instant) -> Int {
        for step in 0..<count {
            let i = (next + step) % count
            if let until = coolingUntil[i], until > now { continue }
            coolingUntil[i] = nil
            next = (i + 1) % count
            return i
        }
        var best = 0
        for i in 1..<count where coolingUntil[i]! < coolingUntil[best]! { best = i }
        next = (best + 1) % count
        return best
    }

    /// `host` failed to answer: skip it for `cooldown`.
    public mutating func failed(_ host: Int, now: ContinuousClock.Instant) {
        coolingUntil[host] = now + cooldown
    }

    /// `host` answered.
    public mutating func succeeded(_ host: Int) {
        coolingUntil[host] = nil
    }

    /// True when some host is not cooling down.
    public func hasAvailable(now: ContinuousClock.Instant) -> Bool {
        coolingUntil.contains { $0 == nil || $0! <= now }
    }
}

/// Exponential backoff with full jitter: attempt *n* waits a uniformly random time between 0 and
/// `min(max, initial × 2ⁿ)`.
public struct Backoff: Sendable, Equatable {
    public var initial: Duration
    public var maximum: Duration

    public init(initial: Duration, maximum: Duration) {
        self.initial = initial
        self.maximum = maximum
    }

    /// The ceiling for attempt `attempt` (0-based).
    public func ceiling(attempt: Int) -> Duration {
        let initialNs = Self.nanoseconds(initial)
        let maxNs = Self.nanoseconds(maximum)
        let shift = min(max(attempt, 0), 62)
        let (scaled, overflow) = initialNs.multipliedReportingOverflow(by: Int64(1) << shift)
        return .nanoseconds(overflow || scaled > maxNs ? maxNs : scaled)
    }

    /// A random delay for attempt `attempt`.
    public func delay(attempt: Int, using random: inout some RandomNumberGenerator) -> Duration {
        let ceilingNs = Self.nanoseconds(ceiling(attempt: attempt))
        guard ceilingNs > 0 else { return .zero }
        return .nanoseconds(Int64.random(in: 0...ceilingNs, using: &random))
    }

    public func delay(attempt: Int) -> Duration {
        var rng = SystemRandomNumberGenerator()
        return delay(attempt: attempt, using: &rng)
    }

    static func nanoseconds(_ d: Duration) -> Int64 {
        let (s, atto) = d.components
        let (ns, o) = s.multipliedReportingOverflow(by: 1_000_000_000)
        return o ? Int64.max : ns &+ atto / 1_000_000_000
    }
}
