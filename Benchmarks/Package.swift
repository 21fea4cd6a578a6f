// swift-tools-version:6.1
import PackageDescription

import struct Foundation.URL

// Micro-benchmarks of shipper's hot stages (ordo-one/benchmark), kept out of the main package so
// that neither `swift build` nor CI builds them:
//
//   cd Benchmarks && swift package benchmark
//
// See README.md, "Micro-benchmarks".
// SwiftPM names a path dependency after its directory: the checkout's folder name.
let shipper = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent.lowercased()

let package = Package(
    name: "ShipperBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "HotPath",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "ShipperCore", package: shipper),
                .product(name: "InputFormats", package: shipper),
                .product(name: "StageParsers", package: shipper),
                .product(name: "BufferDisk", package: shipper),
                .product(name: "OutputElasticsearch", package: shipper),
                .product(name: "OutputFile", package: shipper),
                .product(name: "ShipperRuntime", package: shipper),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/HotPath",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
