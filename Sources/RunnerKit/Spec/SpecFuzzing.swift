import ConvLabKit
import ConvCore
import Datasets
import TextKit

/// What the fuzzer (`scripts/fuzz`) and the corpus replay test hold true for any input bytes:
/// parsing ends in a value or a positioned error; a value survives the writer and parses back
/// the same; validation ends in a plan or issues, and a plan's recorded JSON parses and holds
/// no `inf` or `nan`. Data sets are described without files, so every input runs in milliseconds.
public enum SpecFuzzing {
    /// Above this many matrix runs, only the first and last are validated (each run builds its
    /// network; ten thousand of them is a valid spec but a slow fuzz input).
    static let fullyValidatedRuns = 8

    /// The broken invariants (empty when the input was handled as it should be).
    public static func check(_ bytes: [UInt8]) -> [String] {
        var problems: [String] = []
        let root: JSONNode
        do {
            root = try JSONParser.parse(bytes: bytes)
        } catch {
            if error.line < 1 || error.column < 1 || error.message.isEmpty { problems.append("a syntax error without a position or message: \(error)") }
            return problems
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { return ["the parser accepted bytes that are not UTF-8"] }
        do {
            let again = try JSONParser.parse(JSONWriter.write(root.value))
            if again.value != root.value { problems.append("the writer's text parses to another value") }
            let compact = try JSONParser.parse(JSONWriter.write(root.value, pretty: false))
            if compact.value != root.value { problems.append("the writer's compact text parses to another value") }
        } catch {
            problems.append("the writer's text does not parse: \(error)")
        }

        switch MatrixExpansion.expand(root) {
        case .failure(let found):
            problems += positionProblems(found.issues)
        case .success(let variants) where variants.count > fullyValidatedRuns:
            for variant in [variants[0], variants[variants.count - 1]] {
                var validator = SpecValidator(registry: registry, defaultName: "fuzz")
                if validator.resolve(variant.document) == nil { problems += positionProblems(validator.issues) }
            }
        case .success:
            do {
                let plan = try SpecLoader.plan(text: text, file: "fuzz.json", registry: registry)
                for run in plan.runs {
                    if (try? JSONParser.parse(run.resolvedJSON)) == nil { problems.append("run \(run.index)'s resolved spec is not JSON") }
                    for param in run.params where param.text == "inf" || param.text == "-inf" || param.text == "nan" {
                        problems.append("param \(param.key) is \(param.text)")
                    }
                }
            } catch {
                if error.issues.isEmpty { problems.append("a spec error without issues") }
                problems += positionProblems(error.issues)
            }
        }
        return problems
    }

    static func positionProblems(_ issues: [SpecIssue]) -> [String] {
        issues.filter { $0.line < 0 || $0.column < 0 || $0.message.isEmpty }.map { "an issue without a position or message: \($0)" }
    }

    /// The built-in plugins, with an `idx` data set that reads no files (28×28, 10 classes).
    static let registry: PluginRegistry = {
        var registry = PluginRegistry.builtIn
        registry.register(Plugin(.dataset, "idx", DatasetPlugins.idx.summary, parameters: DatasetPlugins.idx.parameters, factory: .dataset(DatasetPlugin(
            describe: { _ throws(DatasetError) in .init(sampleShape: Shape(channels: 1, height: 28, width: 28), classes: 10) },
            load: { _, _ throws(DatasetError) in throw DatasetError(file: "fuzz", problem: "the fuzzer loads no data") }))))
        return registry
    }()
}
