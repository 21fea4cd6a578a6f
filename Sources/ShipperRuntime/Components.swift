import InputFormats
import OutputFile
import ShipperConfig
import ShipperCore
import StageParsers
import StageTransforms

/// Builds stages from their config entries (`type:` → component).
public enum StageFactory {
    /// Stage types in documentation order.
    public static let names = ["parse", "multiline", "modify", "filter", "timestamp"]

    public static func make(_ spec: ComponentSpec) throws -> any Stage {
        try spec.located {
            switch spec.type {
            case "parse": return ParseStage(config: try spec.decode(ParseStageConfig.self))
            case "multiline": return try MultilineStage(config: try spec.decode(MultilineConfig.self))
            case "modify": return try ModifyStage(config: try spec.decode(ModifyConfig.self))
            case "filter": return FilterStage(config: try spec.decode(FilterConfig.self))
            case "timestamp": return TimestampStage(config: try spec.decode(TimestampConfig.self))
            default:
                throw spec.error("unknown stage type '\(spec.type)'; expected one of: \(names.joined(separator: ", "))")
            }
        }
    }
}

/// A pipeline ready to run: its routing condition and its stages.
public struct Pipeline {
    public let name: String
    public let match: Condition?
    var stages: [any Stage]
    /// Events the stages are done with (joined into another, dropped by a filter), kept for the
    /// worker's ``EventPool`` when ``keepsSpent`` (``MeteredRouter/recycleSpent(into:)``), else
    /// freed after each batch.
    var spent: [LogEvent] = []
    var keepsSpent = false

    public init(name: String, match: Condition?, stages: [any Stage]) {
        self.name = name
        self.match = match
        self.stages = stages
    }

    /// Runs a batch through every stage in order.
    public mutating func process(_ batch: consuming [LogEvent]) -> [LogEvent] {
        var current = batch
        var next: [LogEvent] = []
        next.reserveCapacity(current.count)
        var spent: [LogEvent] = []
        swap(&spent, &self.spent)
        for i in stages.indices {
            next.removeAll(keepingCapacity: true)
            current.drainEvents { stages[i].process($0, into: &next, spent: &spent) }
            swap(&current, &next)
        }
        if !keepsSpent { spent.removeAll(keepingCapacity: true) }
        swap(&spent, &self.spent)
        return current
    }

    /// Flushes held-back events; what stage i releases still goes through stages i+1….
    public mutating func flush(now: Timestamp?) -> [LogEvent] {
        var carried: [LogEvent] = []
        var spent: [LogEvent] = []
        swap(&spent, &self.spent)
        for i in stages.indices {
            var next: [LogEvent] = []
            carried.drainEvents { stages[i].process($0, into: &next, spent: &spent) }
            stages[i].flush(now: now, into: &next)
            carried = next
        }
        if !keepsSpent { spent.removeAll(keepingCapacity: true) }
        swap(&spent, &self.spent)
        return carried
    }
}

/// Sends each event through the first pipeline whose `match` it satisfies; events that no
/// pipeline takes pass on unchanged (never dropped).
public struct Router {
    public private(set) var pipelines: [Pipeline]

    public init(pipelines: [Pipeline]) { self.pipelines = pipelines }

    /// Builds every pipeline of a config (or only `only`, which then takes every event).
    public init(config: ShipperConfiguration, only: String? = nil) throws {
        var built: [Pipeline] = []
        var errors: [ConfigError] = []
        for item in config.pipelines.items where only == nil || item.name == only {
            var stages: [any Stage] = []
            for spec in item.value.stages {
                do {
                    stages.append(try StageFactory.make(spec))
                } catch let e as ConfigError {
                    errors.append(e)
                }
            }
            built.append(Pipeline(name: item.name, match: only == nil ? item.value.match : nil, stages: stages))
        }
        if let only, built.isEmpty {
            throw ConfigError(
                file: config.file, line: 1, column: 1,
                message: "no pipeline named '\(only)'; the file has: \(config.pipelines.items.map(\.name).joined(separator: ", "))")
        }
        if !errors.isEmpty { throw errors.count == 1 ? errors[0] as any Error : ConfigErrors(errors) }
        self.pipelines = built
    }

    /// Routes and processes a batch.
    public mutating func process(_ batch: consuming [LogEvent]) -> [LogEvent] {
        if pipelines.count == 1 && pipelines[0].match == nil { return pipelines[0].process(batch) }
        var groups = [[LogEvent]](repeating: [], count: pipelines.count + 1)
        var events = batch
        events.drainEvents { event in
            var target = pipelines.count
            for (i, p) in pipelines.enumerated() where p.match?.matches(event) ?? true {
                target = i
                break
            }
            groups[target].append(event)
        }
        var out = groups[pipelines.count]
        for i in pipelines.indices where !groups[i].isEmpty {
            var group: [LogEvent] = []
            swap(&group, &groups[i])
            out.append(contentsOf: pipelines[i].process(group))
        }
        return out
    }

    public mutating func flush(now: Timestamp?) -> [LogEvent] {
        var out: [LogEvent] = []
        for i in pipelines.indices { out.append(contentsOf: pipelines[i].flush(now: now)) }
        return out
    }
}

/// Builds outputs from their config entries.
public enum OutputFactory {
    public static let names = ["file", "stdout"]

    public static func make(_ spec: ComponentSpec) throws -> any EventSink {
        try spec.located {
            switch spec.type {
            case "file": return try FileOutput(config: try spec.decode(FileOutputConfig.self))
            case "stdout": return StdoutSink()
            default:
                throw spec.error("unknown output type '\(spec.type)'; expected one of: \(names.joined(separator: ", "))")
            }
        }
    }
}

/// Something that takes batches of finished events.
public protocol EventSink: AnyObject {
    func write(_ events: [LogEvent]) throws
    func close() throws
}

extension FileOutput: EventSink {}

/// Writes events as JSON lines to standard output.
public final class StdoutSink: EventSink {
    public init() {}

    public func write(_ events: [LogEvent]) throws {
        var out: [UInt8] = []
        for e in events {
            JSONWriter.write(e, into: &out)
            out.append(0x0A)
        }
        StandardStreams.write(out, to: .standardOutput)
    }

    public func close() throws {}
}
