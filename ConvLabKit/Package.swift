// swift-tools-version:6.1
import PackageDescription

import Foundation

// ConvLabKit is ConvLab's plugin API: the engine (ConvCore), the data sets, the JSON text and the
// plugin protocols, built as ONE shared library. The runner and every plugin link this same
// library, so a plugin loaded at run time with dlopen sees the runner's types: two static copies
// of the protocols would be different types to the Swift runtime (DESIGN §7).
//
// Release builds of the engine target AVX2/FMA (x86-64 from Haswell on; DESIGN §9): without a
// target CPU Swift emits SSE2 only, and the hot loops run about 12 % slower. CONVLAB_PORTABLE=1
// builds for any x86-64.
let portable = ProcessInfo.processInfo.environment["CONVLAB_PORTABLE"] == "1"
let engineFlags: [SwiftSetting] = portable
    ? [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]
    : [.unsafeFlags(["-Ounchecked", "-target-cpu", "haswell"], .when(platforms: [.linux], configuration: .release)),
       .define("CONVLAB_TARGETS_AVX2", .when(platforms: [.linux], configuration: .release))]

let package = Package(
    name: "ConvLabKit",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "ConvLabKit", type: .dynamic, targets: ["ConvLabKit", "ConvCore", "Datasets", "TextKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        // The vector kernels, in C: one source compiled for AVX-512, AVX2 and x86-64, chosen at run
        // time (Swift cannot give one function several target features). Optimised in debug
        // builds too, so the tests that run them many times stay quick.
        .target(name: "ConvKernels", cSettings: [.unsafeFlags(["-O3", "-ffp-contract=fast", "-Wno-psabi"])]),
        .target(
            name: "ConvCore",
            dependencies: ["CBLAS", "ConvKernels", .product(name: "RealModule", package: "swift-numerics")],
            swiftSettings: engineFlags
        ),
        .target(name: "TextKit"),
        .target(name: "Datasets", dependencies: ["ConvCore", "CZlib"]),
        .target(name: "ConvLabKit", dependencies: ["ConvCore", "Datasets", "TextKit"]),
    ],
    swiftLanguageModes: [.v6]
)
