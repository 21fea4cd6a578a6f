import ShipperCore

/// Options of the `filter` stage: keep only the events that match, or drop those that match.
///
/// ```yaml
/// - type: filter
///   drop: {url.path: {prefix: /healthz}}
/// ```
/// Exactly one of `keep` and `drop`. Dropped events are counted, never silently lost: they are
/// what the user asked to discard.
public struct FilterConfig: Decodable, Sendable {
    public var keep: Condition?
    public var drop: Condition?

    enum CodingKeys: String, CodingKey, CaseIterable { case keep, drop }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        keep = try c.decodeIfPresent(Condition.self, forKey: .keep)
        drop = try c.decodeIfPresent(Condition.self, forKey: .drop)
        if (keep == nil) == (drop == nil) { throw ConfigValueError("a filter stage needs exactly one of 'keep' or 'drop'") }
    }
}

/// Keeps or drops events by a condition.
public struct FilterStage: Stage {
    let condition: Condition
    let keepMatching: Bool
    /// Events this stage discarded.
    public private(set) var discarded = 0

    public init(config: FilterConfig) {
        if let keep = config.keep {
            condition = keep
            keepMatching = true
        } else {
            condition = config.drop!
            keepMatching = false
        }
    }

    public mutating func process(_ event: consuming LogEvent, into output: inout [LogEvent]) {
        var spent: [LogEvent] = []
        process(event, into: &output, spent: &spent)
    }

    public mutating func process(_ event: consuming LogEvent, into output: inout [LogEvent], spent: inout [LogEvent]) {
        let event = event
        if condition.matches(event) == keepMatching {
            output.append(event)
        } else {
            discarded += 1
            spent.append(event)
        }
    }
}
