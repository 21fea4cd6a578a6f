import BufferDisk
import CMalloc
import InputFormats
import InputTail
import Logging
import OutputFile
import ServiceLifecycle
import ShipperConfig
import ShipperCore
import ShipperTelemetry
import UnixSignals

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `shipper run`: builds sources, pipelines, the buffer and the outputs from a config and runs
/// them as services until SIGTERM (graceful: drain) or SIGINT (fast).
public enum Daemon {
    public static let sourceKinds: [String: SourceKind] = ["docker": .docker, "cri": .cri, "file": .file]

    /// Runs until stopped. Throws configuration errors before anything starts.
    public static func run(configPath: String, once: Bool = false, logger: Logger) async throws {
        boundMallocMemory()
        let config = try ConfigLoader.load(path: configPath)
        let health = HealthState()
        let registry = Telemetry.bootstrap()
        let parts = try build(config: config, configPath: configPath, once: once, health: health, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let telemetry = parts.telemetry {
            services.append(.init(service: TelemetryServer(config: telemetry, registry: registry, health: health, logger: logger)))
        }
        for runner in parts.outputs {
            services.append(.init(service: OutputService(runner: runner, buffer: parts.buffer, drainTimeout: config.drainTimeout.duration, logger: logger)))
        }
        let monitor = BufferMonitor(buffer: parts.buffer, outputs: parts.outputs.map { ($0.name, $0.type) }, health: health)
        services.append(.init(service: BufferService(buffer: parts.buffer, monitor: monitor, logger: logger)))
        services.append(.init(service: parts.pipeline, successTerminationBehavior: .gracefullyShutdownGroup))
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services, gracefulShutdownSignals: [.sigterm], cancellationSignals: [.sigint], logger: logger))
        logger.info(
            "shipper running",
            metadata: [
                "config": "\(configPath)", "sources": "\(config.sources.items.map(\.name))",
                "pipelines": "\(config.pipelines.items.map(\.name))", "outputs": "\(config.outputs.items.map(\.name))",
            ])
        try await group.run()
        logger.info("shipper stopped")
    }

    struct Parts {
        var telemetry: TelemetryConfig?
        var outputs: [any OutputRunner]
        var buffer: DiskBuffer
        var pipeline: PipelineService
    }

    static func build(config: ShipperConfiguration, configPath: String, once: Bool, health: HealthState, logger: Logger) throws -> Parts {
        guard !config.sources.items.isEmpty else {
            throw ConfigError(file: config.file, line: 1, column: 1, message: "the config has no sources; add one under `sources:`")
        }
        guard !config.outputs.items.isEmpty else {
            throw ConfigError(file: config.file, line: 1, column: 1, message: "the config has no outputs; add one under `outputs:`")
        }
        let router = try Router(config: config)
        let outputs = try config.outputs.items.map { try makeOutput(name: $0.name, spec: $0.value, config: config, logger: logger, health: health) }
        var bufferConfig = try config.buffer.map { try $0.decode(DiskBufferConfig.self) } ?? DiskBufferConfig(path: config.dataDir + "/buffer")
        if bufferConfig.path.isEmpty { bufferConfig.path = config.dataDir + "/buffer" }
        let buffer = try DiskBuffer(config: bufferConfig, readers: outputs.map(\.name), logger: logger)
        let report = buffer.recovery
        if !report.quarantined.isEmpty || report.tornBytes > 0 || !report.readersReset.isEmpty {
            logger.warning("buffer recovered after an unclean stop", metadata: ["report": "\(report)"])
        }
        try makeDirectory(config.dataDir + "/checkpoints")
        var sources: [PipelineWorker.Source] = []
        var options: [LineDecoderOptions] = []
        var checkpointInterval = Duration.seconds(1)
        for item in config.sources.items {
            let spec = item.value
            guard let kind = sourceKinds[spec.type] else {
                throw spec.error("unknown source type '\(spec.type)'; expected one of: \(sourceKinds.keys.sorted().joined(separator: ", "))")
            }
            let tail = try spec.located { try TailConfig(from: spec.optionsDecoder(), kind: kind) }
            let tailer = try spec.located {
                try Tailer(config: tail, checkpointPath: config.dataDir + "/checkpoints/\(item.name).json", logger: logger)
            }
            checkpointInterval = min(checkpointInterval, tail.checkpointInterval.duration)
            sources.append(
                PipelineWorker.Source(
                    name: item.name, tailer: tailer, hostName: tail.hostName ?? hostName(), docker: kind == .docker,
                    metrics: .init(name: item.name, type: spec.type)))
            options.append(LineDecoderOptions(maxLineBytes: tail.maxLineBytes.bytes))
        }
        let worker = PipelineWorker(
            sources: sources, decoderOptions: options, router: router, attributeFields: outputs.flatMap(\.attributeFields), buffer: buffer,
            logger: logger, checkpointInterval: checkpointInterval)
        let telemetry = try config.telemetry.map { try $0.decode(TelemetryConfig.self) } ?? TelemetryConfig.defaults
        return Parts(
            telemetry: telemetry, outputs: outputs, buffer: buffer,
            pipeline: PipelineService(worker: worker, configPath: configPath, started: config, logger: logger, health: health, once: once))
    }

    static func makeOutput(name: String, spec: ComponentSpec, config: ShipperConfiguration, logger: Logger, health: HealthState) throws -> any OutputRunner {
        try spec.located {
            switch spec.type {
            case "file": return try FileOutputRunner(name: name, config: try spec.decode(FileOutputConfig.self), logger: logger, health: health)
            case "stdout": return StdoutOutputRunner(name: name)
            case "elasticsearch":
                return try ElasticsearchOutputRunner(name: name, spec: spec, dataDir: config.dataDir, logger: logger, health: health)
            default:
                throw spec.error("unknown output type '\(spec.type)'; expected one of: elasticsearch, file, stdout")
            }
        }
    }

    /// Decodes an output's options (what `shipper validate` checks), without opening anything.
    static func validateOutput(spec: ComponentSpec) throws {
        try spec.located {
            switch spec.type {
            case "file": _ = try spec.decode(FileOutputConfig.self)
            case "stdout": break
            case "elasticsearch": try ElasticsearchOutputRunner.validate(spec: spec)
            default: throw spec.error("unknown output type '\(spec.type)'; expected one of: elasticsearch, file, stdout")
            }
        }
    }

    static func makeDirectory(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for c in path.split(separator: "/") where !c.isEmpty && c != "." {
            current += "/" + c
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw ConfigError(file: path, line: 0, column: 0, message: "cannot create the directory \(current): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Keeps glibc's malloc from holding on to freed batch memory, so that peak RSS follows the
    /// configured batch and queue sizes. The limits are set before `main` by CMalloc (an arena
    /// limit set now would not take back the arenas threads already made); calling this links
    /// that code in.
    static func boundMallocMemory() {
        shipper_malloc_is_bounded()
    }

    static func hostName() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count) == 0 else { return "unknown" }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
