import Foundation

/// The package root, found from this file's path.
public let packageRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    while url.path != "/" && !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
        url.deleteLastPathComponent()
    }
    return url.path
}()

/// A fresh folder for one test's files.
public func temporaryFolder() -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("convlab-tests-\(UUID().uuidString)").path
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A path named `name` in a fresh folder.
public func temporaryPath(_ name: String) -> String {
    temporaryFolder() + "/" + name
}

/// A store path in a fresh folder (the store does not exist yet).
public func temporaryStorePath() -> String {
    temporaryPath("store.sqlite")
}
