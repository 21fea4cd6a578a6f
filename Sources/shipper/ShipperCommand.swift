import ArgumentParser

@main
struct ShipperCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shipper",
        abstract: "Ships container logs: tail → parse → buffer → Elasticsearch or files.",
        version: ShipperVersion.text,
        subcommands: [Run.self, TestPipeline.self, Validate.self, Buffer.self, DeadLetter.self, Health.self, Bench.self]
    )
}

enum ShipperVersion {
    static let text = "0.1.0"
}
