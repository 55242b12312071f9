// swift-tools-version:6.1
import PackageDescription

// The other way to add a plugin: a runner of your own with the plugin built in. `lp-runner` is
// the whole ConvLab command line (exec, validate, plugins, report, ...) plus "lp" pooling, no
// --plugin needed.
//
// It uses LpPooling's one dynamic library product as it is: the executable links
// libLpPooling.so (found beside it, like libConvLabKit.so), and main.swift names the `lpPooling`
// declaration that the library exports. One source for both ways, no second product needed. The
// library's two @_cdecl entry points come along unused: a runner only looks them up in files it
// loads with --plugin.
let package = Package(
    name: "CustomRunner",
    platforms: [.macOS(.v15)],
    dependencies: [
        // ConvLab itself, for its RunnerCLI library. `name:` because a path package is otherwise known
        // by its folder's name (a checkout need not be called "ConvLab").
        .package(name: "ConvLab", path: "../.."),
        .package(path: "../LpPooling"),
    ],
    targets: [
        .executableTarget(name: "lp-runner", dependencies: [
            .product(name: "RunnerCLI", package: "ConvLab"),
            .product(name: "LpPooling", package: "LpPooling"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
