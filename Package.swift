// swift-tools-version:6.1
import PackageDescription

let kit: Target.Dependency = .product(name: "ConvLabKit", package: "ConvLabKit")

let package = Package(
    name: "ConvLab",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "runner", targets: ["runner"]),
        // A runner of your own with extra plugins: `RunnerCommand.main(plugins: [...])`.
        .library(name: "RunnerCLI", targets: ["RunnerCLI"]),
        // The runner's core (specs, plans, the sweep and its training loop), for programs of your own.
        .library(name: "RunnerKit", targets: ["RunnerKit"]),
    ],
    dependencies: [
        // The engine and the plugin API, one shared library (ConvLabKit/Package.swift says why).
        .package(path: "ConvLabKit"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        // `runner serve`'s HTTP server (no default traits: swift-configuration is not needed).
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
    ],
    targets: [
        // RunStore takes the names it shares with the runner and the reports (run statuses,
        // metric names) from ConvLabKit, nothing of the engine's behaviour.
        .target(name: "RunStore", dependencies: [kit, .product(name: "GRDB", package: "GRDB.swift"),
                                                .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "Checkpoints", dependencies: [kit, .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "RunnerKit", dependencies: [kit, "RunStore", "Checkpoints"]),
        .target(name: "Reports", dependencies: [kit, "RunStore"]),
        // `runner serve`: the read-only web view of a store (pages, JSON API, charts).
        .target(name: "Serve", dependencies: [kit, "Reports", "RunStore",
                                             .product(name: "Hummingbird", package: "hummingbird")]),
        .target(
            name: "RunnerCLI",
            dependencies: [kit, "RunnerKit", "Reports", "RunStore", "Checkpoints", "Serve",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(name: "runner", dependencies: ["RunnerCLI"]),
        // A program ThreadExitTests runs many times under glibc's malloc checking: training on a
        // thread that exits holding the last reference to a store (issue 15's heap corruption).
        .executableTarget(name: "thread-exit-probe", dependencies: [kit, "RunStore"], path: "Tests/ThreadExitProbe"),
        // What the test targets share: scratch paths, the seeded generator, store states written in SQL.
        .target(name: "TestSupport", dependencies: [kit, "RunStore", .product(name: "GRDB", package: "GRDB.swift")], path: "Tests/TestSupport"),
        .testTarget(name: "ConvCoreTests", dependencies: [kit]),
        .testTarget(name: "DatasetsTests", dependencies: [kit, "TestSupport"]),
        .testTarget(name: "RunStoreTests", dependencies: [kit, "RunStore", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "CheckpointsTests", dependencies: [kit, "Checkpoints", "RunnerKit", "RunStore", "TestSupport"]),
        .testTarget(name: "RunnerKitTests", dependencies: [kit, "RunnerKit", "RunStore", "TestSupport"]),
        .testTarget(name: "ReportsTests", dependencies: [kit, "Reports", "RunStore", "TestSupport"]),
        .testTarget(name: "runnerTests", dependencies: [kit, "RunStore", "Checkpoints", "TestSupport"]),
        // The samplers and pruners of a search, against hand-computed cases and reference computations.
        .testTarget(name: "SearchTests", dependencies: [kit, "RunnerKit"]),
        .testTarget(name: "ServeTests", dependencies: ["Serve", "Reports", "RunStore", "TestSupport", .product(name: "GRDB", package: "GRDB.swift")]),
    ],
    swiftLanguageModes: [.v6]
)
