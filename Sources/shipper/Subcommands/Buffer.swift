import ArgumentParser
import BufferDisk
import ShipperRuntime

extension ShipperCommand {
    struct Buffer: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Look into a disk buffer.", subcommands: [Inspect.self])

        struct Inspect: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Print segments, bytes, events, the oldest event's age and each output's lag.",
                discussion: "Reads only; safe while shipper is stopped.")

            @Argument(help: "The buffer directory (buffer.path in the config).")
            var path: String

            func run() throws {
                do {
                    StandardStreams.write(try BufferInspector.inspect(path: path) + "\n", to: .standardOutput)
                } catch {
                    StandardStreams.write(
                        "\(error)\ngive the buffer directory: buffer.path in the config, by default <data_dir>/buffer\n",
                        to: .standardError)
                    throw ExitCode(2)
                }
            }
        }
    }
}
