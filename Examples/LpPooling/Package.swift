// swift-tools-version:6.1
import PackageDescription

// A ConvLab plugin: power-average ("Lp") pooling. `swift build -c release` makes
// .build/release/libLpPooling.so; load it with `runner exec SPEC --plugin PATH` or a spec's
// "plugins" list. It must be a DYNAMIC library linking ConvLabKit dynamically (README, "Writing a
// plugin"): never link ConvLabKit statically and never build with --static-swift-stdlib.
let package = Package(
    name: "LpPooling",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "LpPooling", type: .dynamic, targets: ["LpPooling"]),
    ],
    dependencies: [
        .package(path: "../../ConvLabKit"),
    ],
    targets: [
        .target(name: "LpPooling", dependencies: [.product(name: "ConvLabKit", package: "ConvLabKit")]),
    ],
    swiftLanguageModes: [.v6]
)
