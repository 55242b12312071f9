import Foundation
@testable import RunStore
import TestSupport

/// The `runner` built next to this test bundle ($CONVLAB_TEST_RUNNER overrides it, to run these
/// tests against another build, e.g. the one before a fix).
let runnerPath: String = {
    if let path = ProcessInfo.processInfo.environment["CONVLAB_TEST_RUNNER"], !path.isEmpty { return path }
    let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("runner").path
    if FileManager.default.isExecutableFile(atPath: beside) { return beside }
    return packageRoot + "/.build/debug/runner"
}()

struct Result {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Starts `runner` with the arguments, from the package root.
func launch(_ arguments: [String], stdin: String? = nil) throws -> (Process, Pipe, Pipe) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: runnerPath)
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: packageRoot)
    var environment = ProcessInfo.processInfo.environment
    environment.removeValue(forKey: "CONVLAB_STORE")
    environment.removeValue(forKey: "CONVLAB_TEST_RUNNER")
    environment["COLUMNS"] = "200"
    process.environment = environment
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    if let stdin {
        let input = Pipe()
        process.standardInput = input
        try process.run()
        input.fileHandleForWriting.write(Data(stdin.utf8))
        try input.fileHandleForWriting.close()
    } else {
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }
    return (process, out, err)
}

func finish(_ launched: (Process, Pipe, Pipe)) -> Result {
    let (process, out, err) = launched
    // Read before waiting, so a full pipe cannot block the child.
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                  stderr: String(decoding: stderr, as: UTF8.self))
}

@discardableResult
func runner(_ arguments: String..., stdin: String? = nil) throws -> Result {
    try finish(launch(arguments, stdin: stdin))
}

/// A spec on small synthetic data, trained in a second or two even by a debug build.
func writeSpec(_ folder: String, name: String = "tiny", epochs: Int = 2, trainSize: Int = 256, extra: String = "") -> String {
    let path = folder + "/\(name).json"
    let text = """
    {
      "name": "\(name)",
      "seed": 4,
      "dataset": { "plugin": "synthetic", "train_size": \(trainSize), "test_size": 64, "size": 8, "classes": 3 },
      "model": { "layers": [
        { "conv": { "filters": 3, "kernel": 3, "padding": 1 } }, { "activation": {} }, { "pool": {} },
        { "flatten": {} }, { "dense": { "units": 3 } } ] },
      "optimizer": { "plugin": "sgd", "learning_rate": 0.1, "momentum": 0.9 },
      "training": { "epochs": \(epochs), "batch_size": 32 },
      "probes": { "loss": { "every": 2 }, "grad_norms": { "every": 2 }, "grad_check": { "every": 5, "samples": 2, "batch": 2 } }\(extra)
    }
    """
    FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
    return path
}

func scalar(_ store: String, _ sql: String) throws -> SQLValue {
    try StoreReader(path: store).query(sql).rows.first?.first ?? .null
}

/// Waits until `condition` holds, polling; false after `seconds`.
func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        Thread.sleep(forTimeInterval: 0.1)
    }
    return false
}

/// The bytes of a store's main file and of its WAL (if any): what "unchanged" means for a store.
func storeBytes(_ path: String) throws -> [Data?] {
    // An empty WAL (a reader may create one) is no change.
    [FileManager.default.contents(atPath: path), FileManager.default.contents(atPath: path + "-wal").flatMap { $0.isEmpty ? nil : $0 }]
}
