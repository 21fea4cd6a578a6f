import Logging
import OutputElasticsearch
import ShipperConfig
import ShipperCore

/// `shipper dead-letter replay`.
public enum DeadLetterReplay {
    public static func run(config: ShipperConfiguration, output: String?, file: String, logger: Logger) async throws -> String {
        let candidates = config.outputs.items.filter { $0.value.type == "elasticsearch" && (output == nil || $0.name == output) }
        guard candidates.count == 1, let item = candidates.first else {
            let names = config.outputs.items.filter { $0.value.type == "elasticsearch" }.map(\.name)
            throw ConfigError(
                file: config.file, line: 1, column: 1,
                message: names.isEmpty
                    ? "the config has no elasticsearch output to replay into; give the config of the shipper that wrote the dead letters"
                    : output.map { "no elasticsearch output named '\($0)'; the file has: \(names.joined(separator: ", "))" }
                        ?? "the config has \(names.count) elasticsearch outputs (\(names.joined(separator: ", "))); choose one with --output")
        }
        let es = try item.value.located {
            try ElasticsearchOutput(name: item.name, config: try item.value.decode(ElasticsearchOutputConfig.self), dataDirectory: config.dataDir, logger: logger)
        }
        defer { Task { try? await es.shutdown() } }
        let report = try await es.replayDeadLetters(path: file)
        try await es.shutdown()
        return "records: \(report.records), delivered: \(report.delivery.delivered), already there: \(report.delivery.duplicates), dead-lettered again: \(report.delivery.deadLettered), unreadable lines: \(report.unreadableLines)"
            + (report.movedTo.map { "; the replayed file was moved to \($0)" } ?? "")
    }
}
