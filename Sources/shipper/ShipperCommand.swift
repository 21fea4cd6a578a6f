import ArgumentParser

@main
struct ShipperCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shipper",
        abstract: "Ships container logs: tail → parse → buffer → Elasticsearch or files.",
        version: ShipperVersion.text,
        subcommands: [Run.self, TestPipeline.self, Validate.self, Bench.self]
    )
}

enum ShipperVersion {
    static let text = "0.1.0"
}
