// swift-tools-version:6.2
import PackageDescription

import struct Foundation.URL

// libFuzzer targets for shipper's decoders, parsers, stages, JSON reader/writer, config loader
// and disk-buffer recovery. A separate package so that neither `swift build` nor CI of the main
// package pays for it. Build and run with `Fuzz/run.sh` (see README.md, "Fuzzing"):
//
//   swift build -c release --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address
//   FUZZ_TARGET=nginx_access .build/release/shipper-fuzz corpus/nginx_access
//
// SwiftPM names a path dependency after its directory: the checkout's folder name.
let shipper = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent.lowercased()

let package = Package(
    name: "ShipperFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // One executable for every target (chosen by FUZZ_TARGET): one build and one link of the
        // instrumented modules instead of fifteen.
        .executableTarget(
            name: "shipper-fuzz",
            dependencies: [
                .product(name: "ShipperCore", package: shipper),
                .product(name: "InputFormats", package: shipper),
                .product(name: "StageParsers", package: shipper),
                .product(name: "StageTransforms", package: shipper),
                .product(name: "BufferDisk", package: shipper),
                .product(name: "ShipperConfig", package: shipper),
                .product(name: "ShipperRuntime", package: shipper),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: [
                .enableUpcomingFeature("MemberImportVisibility"),
                // libFuzzer provides main(); the target only defines LLVMFuzzerTestOneInput.
                .unsafeFlags(["-parse-as-library"]),
            ]
        ),
    ]
)
