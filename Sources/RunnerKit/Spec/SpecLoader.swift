import ConvLabKit
import Datasets
import Foundation
import TextKit

/// Reads and resolves spec files.
public enum SpecLoader {
    /// Reads, validates and expands a spec file. Every problem found is reported at once.
    public static func load(file: String, registry: PluginRegistry = .builtIn, loadsPlugins: Bool = true) throws(SpecError) -> ExperimentPlan {
        try plan(text: try SpecFile.text(of: file), file: file, registry: registry, loadsPlugins: loadsPlugins)
    }

    /// `loadsPlugins`: whether the spec's `plugins` libraries are loaded (the fuzzer's specs must
    /// not make it dlopen what they name).
    public static func plan(text: String, file: String, registry: PluginRegistry = .builtIn,
                            loadsPlugins: Bool = false) throws(SpecError) -> ExperimentPlan {
        let root: JSONNode
        do {
            root = try JSONParser.parse(text)
        } catch {
            throw SpecError(file: file, issues: [SpecIssue(path: "", line: error.line, column: error.column, message: "JSON syntax error: \(error.message)")])
        }
        let registry = try withSpecPlugins(root, file: file, registry: registry, loads: loadsPlugins)
        if root.value["search"] != nil { return try searchPlan(root, text: text, file: file, registry: registry) }
        let variants: [MatrixVariant]
        switch MatrixExpansion.expand(root) {
        case .success(let v): variants = v
        case .failure(let problems): throw SpecError(file: file, issues: problems.issues)
        }
        let defaultName = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        var datasetDescriptions: [String: Result<DatasetPlugin.Description, DatasetError>] = [:]
        var runs: [RunPlan] = []
        for (offset, variant) in variants.enumerated() {
            var builder = RunPlanBuilder(registry: registry, defaultName: defaultName, descriptions: datasetDescriptions)
            let run = builder.build(variant, index: offset + 1)
            datasetDescriptions = builder.descriptions
            guard let run, builder.issues.isEmpty else {
                throw SpecError(file: file, issues: builder.issues, variant: variants.count > 1 ? variant.label : nil)
            }
            runs.append(run)
        }
        return ExperimentPlan(name: runs.first?.param("name") ?? defaultName, file: file, text: text, runs: runs)
    }
}

extension SpecLoader {
    /// A spec with a `search`: its trials × seeds runs, each a placeholder until its trial is drawn.
    static func searchPlan(_ root: JSONNode, text: String, file: String, registry: PluginRegistry) throws(SpecError) -> ExperimentPlan {
        let defaultName = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        var parser = SearchParser(registry: registry, defaultName: defaultName, file: file)
        guard let search = parser.parse(root), parser.issues.isEmpty else { throw SpecError(file: file, issues: parser.issues) }
        var runs: [RunPlan] = []
        for trial in 1...search.trials {
            for position in 0..<search.seedsPerTrial { runs.append(try search.run(trial: trial, seedPosition: position, values: nil)) }
        }
        return ExperimentPlan(name: runs.first?.param("name") ?? defaultName, file: file, text: text, runs: runs, search: search)
    }

    /// The registry with the libraries of the spec's `plugins` list, each path relative to the
    /// spec file. A list that is not a list of strings is left to validation to report.
    static func withSpecPlugins(_ root: JSONNode, file: String, registry: PluginRegistry, loads: Bool) throws(SpecError) -> PluginRegistry {
        guard let list = root.value.members.first(where: { $0.key == "plugins" })?.node, case .array(let items) = list.value else { return registry }
        let folder = URL(fileURLWithPath: file).deletingLastPathComponent()
        var extended = registry
        for (i, item) in items.enumerated() {
            guard case .string(let path) = item.value else { return registry }
            guard loads else {
                throw SpecError(file: file, issues: [SpecIssue(path: "plugins[\(i)]", line: item.line, column: item.column, message: "plugins are not loaded here")])
            }
            let resolved = path.hasPrefix("/") ? path : folder.appendingPathComponent(path).standardizedFileURL.path
            do { extended = try extended.loading([resolved]) } catch {
                throw SpecError(file: file, issues: [SpecIssue(path: "plugins[\(i)]", line: item.line, column: item.column, message: error.description)])
            }
        }
        return extended
    }
}
