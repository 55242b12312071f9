import ConvLabKit
import Foundation

/// Finds the spec file a person meant: the path as given; the same path matched without regard
/// to case (so `experiments/lenet.json` finds `Experiments/lenet.json` on Linux too); or a bare
/// name looked up as `Experiments/<name>.json`.
public enum SpecLocator {
    public static func locate(_ argument: String, in directory: String = FileManager.default.currentDirectoryPath) throws(SpecError) -> String {
        let fm = FileManager.default
        func absolute(_ path: String) -> String { path.hasPrefix("/") ? path : (directory as NSString).appendingPathComponent(path) }
        var candidates = [argument]
        if !argument.hasSuffix(".json") { candidates.append(argument + ".json") }
        if !argument.contains("/") {
            candidates.append("Experiments/" + argument)
            if !argument.hasSuffix(".json") { candidates.append("Experiments/\(argument).json") }
        }
        for candidate in candidates {
            var isDirectory: ObjCBool = false
            if fm.fileExists(atPath: absolute(candidate), isDirectory: &isDirectory), !isDirectory.boolValue { return candidate }
            if let found = caseInsensitive(candidate, base: directory) { return found }
        }
        let available = ((try? fm.contentsOfDirectory(atPath: absolute("Experiments"))) ?? [])
            .filter { $0.hasSuffix(".json") }.sorted().map { "Experiments/\($0)" }
        let hint = available.isEmpty ? "" : "; available: \(available.joined(separator: ", "))"
        throw SpecError(file: argument, issues: [SpecIssue(path: "", line: 0, column: 0, message: "no such spec file\(hint)")])
    }

    /// Resolves each path component against the directory listing, ignoring case.
    static func caseInsensitive(_ path: String, base: String) -> String? {
        let fm = FileManager.default
        var current = path.hasPrefix("/") ? "/" : base
        var resolved: [String] = []
        for component in path.split(separator: "/").map(String.init) {
            if component == "." || component == ".." {
                current = (current as NSString).appendingPathComponent(component)
                resolved.append(component)
                continue
            }
            guard let entries = try? fm.contentsOfDirectory(atPath: current),
                  let match = entries.first(where: { $0 == component }) ?? entries.first(where: { $0.lowercased() == component.lowercased() })
            else { return nil }
            current = (current as NSString).appendingPathComponent(match)
            resolved.append(match)
        }
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: current, isDirectory: &isDirectory), !isDirectory.boolValue else { return nil }
        return (path.hasPrefix("/") ? "/" : "") + resolved.joined(separator: "/")
    }
}
