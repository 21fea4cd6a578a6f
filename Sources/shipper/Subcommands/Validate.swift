import ArgumentParser
import ShipperConfig
import ShipperRuntime

extension ShipperCommand {
    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check config files: YAML, keys, types and values of every component.",
            discussion: "Prints each problem as file:line:column: message and exits 2 when any file has one."
        )

        @Argument(help: "Config files (YAML).")
        var files: [String]

        func run() throws {
            var bad = 0
            for file in files {
                do {
                    let config = try ConfigLoader.load(path: file)
                    try RuntimeBuilder.validate(config)
                    StandardStreams.write("\(file): ok\n", to: .standardOutput)
                } catch {
                    bad += 1
                    StandardStreams.write("\(error)\n", to: .standardError)
                }
            }
            if bad > 0 { throw ExitCode(2) }
        }
    }
}
