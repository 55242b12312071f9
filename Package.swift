// swift-tools-version:6.1
import PackageDescription

import Foundation

// Release builds of the engine target AVX2/FMA (x86-64 from Haswell on; DESIGN §6): without a
// target CPU Swift emits SSE2 only, and the hot loops run about 12 % slower. CONVLAB_PORTABLE=1
// builds for any x86-64.
let portable = ProcessInfo.processInfo.environment["CONVLAB_PORTABLE"] == "1"
let engineFlags: [SwiftSetting] = portable
    ? [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]
    : [.unsafeFlags(["-Ounchecked", "-target-cpu", "haswell"], .when(platforms: [.linux], configuration: .release)),
       .define("CONVLAB_TARGETS_AVX2", .when(platforms: [.linux], configuration: .release))]

let package = Package(
    name: "ConvLab",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "runner", targets: ["runner"]),
        .library(name: "ConvCore", targets: ["ConvCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .target(
            name: "ConvCore",
            dependencies: ["CBLAS", .product(name: "RealModule", package: "swift-numerics")],
            swiftSettings: engineFlags
        ),
        .target(name: "TextKit"),
        .target(name: "Datasets", dependencies: ["ConvCore", "CZlib"]),
        .target(name: "RunStore", dependencies: [.product(name: "GRDB", package: "GRDB.swift"),
                                                .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "Checkpoints", dependencies: ["TextKit", "ConvCore", "Datasets", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "RunnerKit", dependencies: ["ConvCore", "Datasets", "RunStore", "TextKit", "Checkpoints"]),
        .target(name: "Reports", dependencies: ["RunStore", "TextKit"]),
        .executableTarget(
            name: "runner",
            dependencies: ["RunnerKit", "Reports", "RunStore", "ConvCore", "Datasets", "TextKit", "Checkpoints",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(name: "ConvCoreTests", dependencies: ["ConvCore"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "ConvCore", "CZlib"]),
        .testTarget(name: "RunStoreTests", dependencies: ["RunStore"], exclude: ["Fixtures"]),
        .testTarget(name: "CheckpointsTests", dependencies: ["Checkpoints", "ConvCore", "Datasets", "RunnerKit", "RunStore"]),
        .testTarget(name: "RunnerKitTests", dependencies: ["RunnerKit", "RunStore", "Datasets", "ConvCore", "TextKit"]),
        .testTarget(name: "ReportsTests", dependencies: ["Reports", "RunStore", "TextKit"]),
        .testTarget(name: "runnerTests", dependencies: ["RunStore", "Checkpoints", "ConvCore"]),
    ],
    swiftLanguageModes: [.v6]
)
