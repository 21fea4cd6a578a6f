import BufferDisk
import InputTail
import ShipperConfig
import ShipperCore
import ShipperTelemetry

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Builds and checks every component of a config without starting anything: `shipper validate`.
public enum RuntimeBuilder {
    public static func validate(_ config: ShipperConfiguration) throws {
        var errors: [ConfigError] = []
        func collect(_ body: () throws -> Void) throws {
            do {
                try body()
            } catch let e as ConfigError {
                errors.append(e)
            } catch let e as ConfigErrors {
                errors.append(contentsOf: e.errors)
            }
        }
        for item in config.sources.items {
            try collect {
                let spec = item.value
                guard let kind = Daemon.sourceKinds[spec.type] else {
                    throw spec.error("unknown source type '\(spec.type)'; expected one of: \(Daemon.sourceKinds.keys.sorted().joined(separator: ", "))")
                }
                _ = try spec.located { try TailConfig(from: spec.optionsDecoder(), kind: kind) }
            }
        }
        try collect { _ = try Router(config: config) }
        for o in config.outputs.items {
            try collect { try Daemon.validateOutput(spec: o.value) }
        }
        if let b = config.buffer { try collect { _ = try b.decode(DiskBufferConfig.self) } }
        if let t = config.telemetry { try collect { _ = try t.decode(TelemetryConfig.self) } }
        if config.pipelines.items.isEmpty && config.tests.isEmpty {
            errors.append(ConfigError(file: config.file, line: 1, column: 1, message: "the config has no pipelines"))
        }
        if !errors.isEmpty { throw errors.count == 1 ? errors[0] as any Error : ConfigErrors(errors) }
    }
}
