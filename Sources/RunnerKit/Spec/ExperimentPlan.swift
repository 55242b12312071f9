import ConvLabKit
import ConvCore
import Datasets
import Foundation
import TextKit

/// A probe of a run: made fresh for each run (a probe keeps state between steps).
public struct ProbeRecipe: Sendable {
    public var name: String
    public var parameters: ResolvedParameters
    public var make: @Sendable (ResolvedParameters) throws(PluginError) -> any Probe

    public func makeProbe() throws(PluginError) -> any Probe { try make(parameters) }
}

/// When a run saves its training state (spec section `checkpoint`).
public struct CheckpointSettings: Sendable, Equatable {
    public enum Keep: String, Sendable, Equatable { case last, all }
    /// 0: never.
    public var everyEpochs: Int
    public var keep: Keep

    public init(everyEpochs: Int = 1, keep: Keep = .last) {
        self.everyEpochs = everyEpochs
        self.keep = keep
    }

    /// Whether a checkpoint is written after `epoch` (from 1) of `epochs`: every `everyEpochs`
    /// epochs, and after the last one, so the final state is always kept.
    public func writes(afterEpoch epoch: Int, of epochs: Int) -> Bool {
        everyEpochs > 0 && (epoch % everyEpochs == 0 || epoch == epochs)
    }
}

/// One run, fully resolved: everything the training loop needs, and what the store records.
public struct RunPlan: Sendable {
    public var index: Int
    public var variant: MatrixVariant
    public var seed: UInt64
    /// The resolved spec (all defaults filled in) as canonical JSON, and its hash.
    public var resolvedJSON: String
    public var specHash: String
    /// The resolved spec flattened: ("optimizer.learning_rate", "0.05", 0.05).
    public var params: [(key: String, text: String, real: Double?)]

    public var datasetPlugin: DatasetPlugin
    public var datasetName: String
    public var datasetParameters: ResolvedParameters
    public var inputShape: Shape
    public var classes: Int
    public var layers: [any LayerConfiguration]
    public var initializer: any WeightInitializer
    public var loss: any LossFunction
    public var optimizer: any OptimizerRecipe
    public var learningRate: Double
    public var schedule: any LearningRatePolicy
    public var epochs: Int
    public var batchSize: Int
    public var shuffle: Bool
    public var replicas: Int
    public var evaluateTest: Bool
    public var validationSplit: Double
    public var evaluationBatchSize: Int
    /// In the order the spec's `probes` lists them (the built-in ones first when it lists none).
    public var probes: [ProbeRecipe]
    public var checkpoint: CheckpointSettings
    public var summary: [LayerSummary]
    public var parameterCount: Int

    /// A key of `params` to compare runs by, e.g. `model.pooling`.
    public func param(_ key: String) -> String? { params.first { $0.key == key }?.text }

    /// The network this run trains, freshly initialised from its seed.
    public func makeNetwork() throws(NetworkBuildError) -> Network<Float> {
        try Network<Float>(input: inputShape, layers: layers, initializer: initializer, seed: seed)
    }
}

/// A spec file resolved into its runs.
public struct ExperimentPlan: Sendable {
    public var name: String
    public var file: String
    public var text: String
    public var runs: [RunPlan]
}

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

/// Turns one validated variant into a RunPlan, checking it against its data set and building
/// its network once, so shape errors surface with the layer's line.
struct RunPlanBuilder {
    let registry: PluginRegistry
    let defaultName: String
    var descriptions: [String: Result<DatasetPlugin.Description, DatasetError>]
    var issues: [SpecIssue] = []

    init(registry: PluginRegistry, defaultName: String, descriptions: [String: Result<DatasetPlugin.Description, DatasetError>]) {
        self.registry = registry
        self.defaultName = defaultName
        self.descriptions = descriptions
    }

    mutating func build(_ variant: MatrixVariant, index: Int) -> RunPlan? {
        var validator = SpecValidator(registry: registry, defaultName: defaultName)
        guard let resolvedNode = validator.resolve(variant.document) else {
            issues = validator.issues
            return nil
        }
        let spec = ResolvedParameters(resolvedNode.value.members, registry: registry)
        let model = ResolvedParameters(spec["model"]?.members ?? [], registry: registry)
        let training = ResolvedParameters(spec["training"]?.members ?? [])
        let evaluation = ResolvedParameters(spec["evaluation"]?.members ?? [])
        let probes = spec["probes"]?.members ?? []
        let checkpoint = ResolvedParameters(spec["checkpoint"]?.members ?? [])
        let positions = Positions(resolvedNode)

        func plugin(_ value: ResolvedParameters, _ key: String, _ kind: PluginKind) -> (Plugin, ResolvedParameters)? {
            guard let (name, parameters) = value.plugin(key), let plugin = registry.plugin(kind, name) else { return nil }
            return (plugin, ResolvedParameters(parameters.values, registry: registry))
        }
        /// A factory's refusal, reported at the parameter it names.
        func made<Made>(_ path: String, _ make: () throws(PluginError) -> Made) -> Made? {
            do { return try make() } catch {
                issues.append(positions.issue(path + (error.parameter.map { ".\($0)" } ?? ""), error.message))
                return nil
            }
        }
        guard let (datasetPlugin, datasetParameters) = plugin(spec, "dataset", .dataset), case .dataset(let dataset) = datasetPlugin.factory,
              let (lossPlugin, _) = plugin(spec, "loss", .loss), case .loss(let makeLoss) = lossPlugin.factory,
              let (optimizerPlugin, optimizerParameters) = plugin(spec, "optimizer", .optimizer), case .optimizer(let makeOptimizer) = optimizerPlugin.factory,
              let (initPlugin, _) = plugin(model, "init", .initializer), case .initializer(let makeInitializer) = initPlugin.factory
        else {
            issues.append(SpecIssue(path: "", line: 0, column: 0, message: "internal error: a validated plugin reference did not resolve"))
            return nil
        }
        let (schedulePlugin, scheduleParameters) = plugin(optimizerParameters, "schedule", .schedule) ?? (FunctionPlugins.schedules[0], ResolvedParameters([]))
        guard case .schedule(let makeSchedule) = schedulePlugin.factory else { return nil }
        let loss = made("loss") { () throws(PluginError) in try makeLoss(ResolvedParameters([])) }
        let optimizer = made("optimizer") { () throws(PluginError) in try makeOptimizer(optimizerParameters) }
        let schedule = made("optimizer.schedule") { () throws(PluginError) in try makeSchedule(scheduleParameters) }
        let initializer = made("model.init") { () throws(PluginError) in try makeInitializer(ResolvedParameters([])) }
        var probeRecipes: [ProbeRecipe] = []
        for (name, node) in probes {
            guard let probePlugin = registry.plugin(.probe, name), case .probe(let make) = probePlugin.factory else {
                issues.append(positions.issue("probes.\(name)", "internal error: probe plugin \"\(name)\" does not make a probe"))
                continue
            }
            let recipe = ProbeRecipe(name: name, parameters: ResolvedParameters(node.value.members, registry: registry), make: make)
            // Made once here so that a factory's refusal is a spec error, not a failed run.
            _ = made("probes.\(name)") { () throws(PluginError) in try recipe.makeProbe() }
            probeRecipes.append(recipe)
        }
        // Layers.
        var layers: [any LayerConfiguration] = []
        for (i, layerNode) in (model["layers"]?.elements ?? []).enumerated() {
            guard let member = layerNode.value.members.first, let layerPlugin = registry.plugin(.layer, member.key),
                  case .layer(let make) = layerPlugin.factory else {
                issues.append(positions.issue("model.layers[\(i)]", "internal error: this layer's plugin does not make a layer"))
                continue
            }
            do {
                layers.append(try make(ResolvedParameters(member.node.value.members, registry: registry)))
            } catch {
                let path = "model.layers[\(i)].\(member.key)" + (error.parameter.map { ".\($0)" } ?? "")
                issues.append(positions.issue(path, error.message))
            }
        }

        // The data set, described once per distinct configuration.
        let datasetKey = JSONWriter.write(datasetParameters.json, pretty: false) + datasetPlugin.name
        let description: DatasetPlugin.Description
        switch descriptions[datasetKey] ?? Result(catching: { () throws(DatasetError) in try dataset.describe(datasetParameters) }) {
        case .success(let d):
            descriptions[datasetKey] = .success(d)
            description = d
        case .failure(let error):
            descriptions[datasetKey] = .failure(error)
            let path = datasetParameters["path"] != nil ? "dataset.path" : "dataset"
            issues.append(positions.issue(path, error.description))
            return nil
        }

        var inputShape = description.sampleShape
        if case .array(let dims)? = model["input"] {
            let declared = Shape(dims.compactMap { if case .number(let n) = $0.value { Int(n) } else { nil } })
            if declared != description.sampleShape {
                issues.append(positions.issue("model.input", "is \(declared) but the data set's images are \(description.sampleShape); remove model.input or set it to \(description.sampleShape.dimensions)"))
            }
            inputShape = declared
        }
        guard issues.isEmpty, let loss, let optimizer, let schedule, let initializer else { return nil }

        let seed = UInt64(spec.int("seed"))
        let network: Network<Float>
        do {
            network = try Network<Float>(input: inputShape, layers: layers, initializer: initializer, seed: seed)
        } catch {
            let kind = layers.indices.contains(error.layerIndex) ? layers[error.layerIndex].kind : "layer"
            issues.append(positions.issue("model.layers[\(error.layerIndex)].\(kind)", error.description))
            return nil
        }
        if network.outputShape.count != description.classes {
            let last = layers.count - 1
            issues.append(positions.issue("model.layers[\(last)].\(layers[last].kind)",
                                          "the network ends with \(network.outputShape.count) outputs but the data set has \(description.classes) classes; make the last layer a dense layer with \(description.classes) units"))
            return nil
        }

        var canonical = resolvedNode.value
        canonical.removeMember("matrix")
        canonical.removeMember("$schema")
        let resolvedJSON = JSONWriter.write(canonical)
        // How often to checkpoint does not change what a run computes: left out of the hash, so
        // that changing it neither makes a new experiment nor stops a sweep from resuming.
        var hashed = canonical
        hashed.removeMember("checkpoint")
        return RunPlan(
            index: index, variant: variant, seed: seed, resolvedJSON: resolvedJSON,
            specHash: fnv1a64Hex(JSONWriter.write(hashed, pretty: false)), params: flatten(canonical),
            datasetPlugin: dataset, datasetName: datasetPlugin.name, datasetParameters: datasetParameters,
            inputShape: inputShape, classes: description.classes, layers: layers, initializer: initializer,
            loss: loss, optimizer: optimizer,
            learningRate: optimizerParameters.double("learning_rate", default: 0.01), schedule: schedule,
            epochs: training.int("epochs", default: 1), batchSize: training.int("batch_size", default: 64),
            shuffle: training.bool("shuffle", default: true), replicas: training.int("replicas", default: 2),
            evaluateTest: evaluation.bool("test", default: true), validationSplit: evaluation.double("validation_split"),
            evaluationBatchSize: evaluation.int("batch_size", default: 1000),
            probes: probeRecipes,
            checkpoint: CheckpointSettings(everyEpochs: checkpoint.int("every_epochs", default: 1),
                                           keep: CheckpointSettings.Keep(rawValue: checkpoint.string("keep", default: "last")) ?? .last),
            summary: network.summary, parameterCount: network.parameterCount)
    }
}

/// Where each path of a resolved document stood in the file, for errors found after validation.
struct Positions {
    var table: [String: (Int, Int)] = [:]

    init(_ root: JSONNode) { visit(root, "") }

    private mutating func visit(_ node: JSONNode, _ path: String) {
        table[path] = (node.line, node.column)
        switch node.value {
        case .object(let members): for m in members { visit(m.node, path.isEmpty ? m.key : "\(path).\(m.key)") }
        case .array(let items): for (i, item) in items.enumerated() { visit(item, "\(path)[\(i)]") }
        default: break
        }
    }

    func issue(_ path: String, _ message: String) -> SpecIssue {
        var probe = path
        while table[probe] == nil, let cut = probe.lastIndex(where: { $0 == "." || $0 == "[" }) { probe = String(probe[..<cut]) }
        let (line, column) = table[probe] ?? (0, 0)
        return SpecIssue(path: path, line: line, column: column, message: message)
    }
}

extension JSONValue {
    var members: [(key: String, node: JSONNode)] { if case .object(let m) = self { m } else { [] } }
    var elements: [JSONNode] { if case .array(let a) = self { a } else { [] } }
    mutating func removeMember(_ key: String) {
        if case .object(let m) = self { self = .object(m.filter { $0.key != key }) }
    }
}

/// The resolved spec as (dotted key, text, number) rows. A plugin with parameters also gets a
/// row of its own under its key, so `model.activation` is "leaky_relu" whether or not it has a slope.
func flatten(_ value: JSONValue, prefix: String = "") -> [(key: String, text: String, real: Double?)] {
    switch value {
    case .null: return [(prefix, "null", nil)]
    case .bool(let b): return [(prefix, b ? "true" : "false", b ? 1 : 0)]
    case .number(let n): return [(prefix, JSONWriter.number(n), n)]
    case .string(let s): return [(prefix, s, nil)]
    case .array(let items):
        return items.enumerated().flatMap { flatten($1.value, prefix: "\(prefix)[\($0)]") }
    case .object(let members):
        var rows: [(key: String, text: String, real: Double?)] = []
        for member in members {
            let key = prefix.isEmpty ? member.key : "\(prefix).\(member.key)"
            if member.key == "plugin", case .string(let name) = member.node.value, !prefix.isEmpty {
                rows.append((prefix, name, nil))
            }
            rows += flatten(member.node.value, prefix: key)
        }
        return rows
    }
}

/// FNV-1a, 64 bits, as hex: identifies a resolved spec (not a security hash).
func fnv1a64Hex(_ text: String) -> String {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in text.utf8 {
        hash ^= UInt64(byte)
        hash &*= 0x0000_0100_0000_01B3
    }
    return String(format: "%016llx", hash)
}
