// swift-tools-version:6.2
import PackageDescription

// The flow is in the target names: Input → Stage → Buffer → Output (see README.md, "Layout").
// Internal dependencies never point backwards in the flow.

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "shipper",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "shipper", targets: ["shipper"]),
        .executable(name: "es-test-server", targets: ["es-test-server"]),
        .executable(name: "shipper-campaign", targets: ["shipper-campaign"]),
        // For Benchmarks/ (a separate package that depends on this one by path).
        .library(name: "ShipperCore", targets: ["ShipperCore"]),
        .library(name: "InputFormats", targets: ["InputFormats"]),
        .library(name: "StageParsers", targets: ["StageParsers"]),
        .library(name: "BufferDisk", targets: ["BufferDisk"]),
        .library(name: "OutputElasticsearch", targets: ["OutputElasticsearch"]),
        .library(name: "OutputFile", targets: ["OutputFile"]),
        .library(name: "ShipperRuntime", targets: ["ShipperRuntime"]),
        // For Fuzz/ (libFuzzer targets, a separate package too).
        .library(name: "StageTransforms", targets: ["StageTransforms"]),
        .library(name: "ShipperConfig", targets: ["ShipperConfig"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // Shared value types: the event model, JSON reader/writer, timestamps, stage protocols.
        .target(name: "ShipperCore", swiftSettings: swiftSettings),
        // 1. Input: line decoders (docker json-file, CRI, raw) that turn bytes into events.
        .target(name: "InputFormats", dependencies: ["ShipperCore"], swiftSettings: swiftSettings),
        // 2. Stages: parsers (nginx, Jetty, json, regex) and the parse stage.
        .target(name: "StageParsers", dependencies: ["ShipperCore"], swiftSettings: swiftSettings),
        // 2. Stages: multiline, modify, filter, timestamp, match conditions.
        .target(name: "StageTransforms", dependencies: ["ShipperCore"], swiftSettings: swiftSettings),
        // zlib, called directly: gzip members for the file output (and a reusable stream for bulk
        // bodies) without an intermediate ByteBuffer copy. Needs zlib1g-dev.
        .target(name: "CZlib", linkerSettings: [.linkedLibrary("z")]),
        // ISA-L (Intel's storage acceleration library, Debian libisal-dev): igzip level 1 compresses
        // bulk bodies about 7 times faster than zlib level 1 at a better ratio, and its CRC-32C uses
        // the CPU's crc32 instruction (about 10 times the table-driven speed) for buffer records.
        .target(name: "CIsal", linkerSettings: [.linkedLibrary("isal")]),
        // glibc malloc tuning (mallopt is not in Swift's Glibc module): see Daemon.boundMallocMemory.
        .target(name: "CMalloc"),
        // Linux system calls Swift's Glibc module does not declare (statx, for a file's birth time).
        .target(name: "CPosix"),
        // 1. Input: tailing engine (discovery, rotation, checkpoints) for docker, cri and file sources.
        .target(
            name: "InputTail",
            dependencies: ["ShipperCore", "InputFormats", "CZlib", "CPosix", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        // 3. Buffer: durable disk buffer between the stages and the outputs.
        .target(
            name: "BufferDisk",
            dependencies: ["ShipperCore", "CIsal", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        // 4. Output: Elasticsearch bulk (gzip, per-item retry, dead letters, idempotent ids).
        .target(
            name: "OutputElasticsearch",
            dependencies: [
                "ShipperCore", "BufferDisk", "CZlib", "CIsal",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // Prometheus /metrics and /health.
        .target(
            name: "ShipperTelemetry",
            dependencies: [
                "ShipperCore",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // 4. Output: JSON-lines files with rotation and gzip.
        .target(name: "OutputFile", dependencies: ["ShipperCore", "CZlib"], swiftSettings: swiftSettings),
        // YAML → typed config, with file:line:column errors.
        .target(
            name: "ShipperConfig",
            dependencies: ["ShipperCore", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        // Wiring: builds pipelines from config, runs test-pipeline.
        .target(
            name: "ShipperRuntime",
            dependencies: ["ShipperCore", "ShipperConfig", "InputFormats", "InputTail", "StageParsers", "StageTransforms",
                           "BufferDisk", "OutputFile", "OutputElasticsearch", "ShipperTelemetry", "CMalloc",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "Metrics", package: "swift-metrics"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                           .product(name: "UnixSignals", package: "swift-service-lifecycle")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "shipper",
            dependencies: ["ShipperRuntime", "ShipperConfig", "ShipperCore", "BufferDisk", "ShipperTelemetry",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            swiftSettings: swiftSettings,
            // lld with packed relative relocations (DT_RELR, glibc 2.36+: the bookworm images of
            // deploy/Dockerfile): the ~120,000 relocations of the position-independent binary take
            // 43 KB instead of 2.9 MB, which the loader read at every start and which then stayed
            // resident (2.8 MiB; peak RSS fell by 1.2-2.3 MiB). The linker the toolchain uses by
            // default (gold) has no packed relocations; lld comes with the toolchain.
            linkerSettings: [.unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"], .when(platforms: [.linux]))]
        ),
        // An Elasticsearch stand-in that behaves like Elasticsearch for what a shipper touches.
        .target(
            name: "ElasticsearchTestServer",
            dependencies: [
                "CIsal",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "es-test-server",
            dependencies: ["ElasticsearchTestServer", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),
        // Crash, fault, disk and input campaigns: the release `shipper` as a process against the
        // in-process test server and a Docker-like log directory (README, "Campaigns").
        .executableTarget(
            name: "shipper-campaign",
            dependencies: ["ElasticsearchTestServer", "OutputFile", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),

        .testTarget(name: "ShipperCoreTests", dependencies: ["ShipperCore"], swiftSettings: swiftSettings),
        .testTarget(name: "InputFormatsTests", dependencies: ["InputFormats", "ShipperCore"], swiftSettings: swiftSettings),
        .testTarget(name: "StageParsersTests", dependencies: ["StageParsers", "ShipperCore"], swiftSettings: swiftSettings),
        .testTarget(name: "StageTransformsTests", dependencies: ["StageTransforms", "ShipperCore", "ShipperConfig"], swiftSettings: swiftSettings),
        .testTarget(name: "ShipperConfigTests", dependencies: ["ShipperConfig", "ShipperCore"], swiftSettings: swiftSettings),
        .testTarget(name: "OutputFileTests", dependencies: ["OutputFile", "ShipperCore", "ShipperConfig"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ShipperRuntimeTests",
            dependencies: [
                "ShipperRuntime", "ShipperConfig", "ShipperCore", "InputFormats", "StageParsers", "StageTransforms",
                "BufferDisk", "OutputElasticsearch",
                .product(name: "Logging", package: "swift-log"), .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ElasticsearchTestServerTests",
            dependencies: ["ElasticsearchTestServer", .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOPosix", package: "swift-nio"),
                           .product(name: "NIOHTTP1", package: "swift-nio"),
                           .product(name: "CompressNIO", package: "compress-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "InputTailTests", dependencies: ["InputTail", "InputFormats", "ShipperCore", "OutputFile", .product(name: "Logging", package: "swift-log")], swiftSettings: swiftSettings),
        .testTarget(name: "BufferDiskTests", dependencies: ["BufferDisk", "ShipperCore", .product(name: "Logging", package: "swift-log")], swiftSettings: swiftSettings),
        .testTarget(
            name: "OutputElasticsearchTests",
            dependencies: ["OutputElasticsearch", "BufferDisk", "ShipperCore", "ElasticsearchTestServer",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "CoreMetrics", package: "swift-metrics")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ShipperTelemetryTests",
            dependencies: ["ShipperTelemetry", "ShipperCore", .product(name: "AsyncHTTPClient", package: "async-http-client")],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "EndToEndTests", dependencies: ["ShipperCore", "ElasticsearchTestServer"], swiftSettings: swiftSettings),
    ]
)
