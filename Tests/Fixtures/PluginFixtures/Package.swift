// swift-tools-version:6.1
import PackageDescription

// Broken plugin libraries for the loader's bad-input tests (Tests/runnerTests/PluginLoadingTests):
// each product is one lib<Name>.so that the runner must refuse with one clear line, or (for
// WrongBackward) load and then catch through the gradient-check probe; FirstChoice is a working
// sampler and pruner for the search's tests. scripts/build-plugins
// builds them and tells the tests where through CONVLAB_PLUGIN_FIXTURES.
let names = ["WrongVersion", "NoEntry", "ThrowingFactory", "BadParameter", "Clash", "WrongBackward", "FirstChoice"]

let package = Package(
    name: "PluginFixtures",
    platforms: [.macOS(.v15)],
    products: names.map { .library(name: $0, type: .dynamic, targets: [$0]) },
    dependencies: [.package(path: "../../../ConvLabKit")],
    targets: names.map { .target(name: $0, dependencies: [.product(name: "ConvLabKit", package: "ConvLabKit")]) },
    swiftLanguageModes: [.v6]
)
