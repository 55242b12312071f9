import ConvLabKit
import Datasets
import Foundation
import TextKit

/// Turns one validated variant into a RunPlan, checking it against its data set and building
/// its network once, so shape errors surface with the layer's line.
struct RunPlanBuilder {
    let registry: PluginRegistry
    let defaultName: String
    var descriptions: [String: Result<DatasetPlugin.Description, DatasetError>]
    var issues: [SpecIssue] = []
    /// The resolved `search` section a trial's run records in its spec (nil for a matrix run).
    var search: JSONValue?

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
        let probes = spec["probes"]?.members ?? []
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
        canonical.removeMember("search")
        // The params are the run's own keys; the search that drew them is recorded in the spec only.
        let params = flatten(canonical)
        if let search, search != .null, case .object(var members) = canonical {
            members.append((key: "search", node: JSONNode(search)))
            canonical = .object(members)
        }
        // Every section decoded once, from the resolved spec: the defaults are the declarations'
        // (SpecSections, the plugins' parameters), filled in by validation.
        func section(_ name: String) -> ResolvedParameters { ResolvedParameters(spec[name]?.members ?? []) }
        return RunPlan(
            index: index, variant: variant, seed: seed, resolvedJSON: JSONWriter.write(canonical),
            specHash: RunPlan.specHash(of: canonical), params: params,
            datasetPlugin: dataset, datasetName: datasetPlugin.name, datasetParameters: datasetParameters,
            inputShape: inputShape, classes: description.classes, layers: layers, initializer: initializer,
            loss: loss, optimizer: optimizer,
            learningRate: optimizerParameters.double(FunctionPlugins.learningRate.name), schedule: schedule,
            training: TrainingSection(resolved: section("training")), evaluation: EvaluationSection(resolved: section("evaluation")),
            probes: probeRecipes, checkpoint: CheckpointSettings(resolved: section("checkpoint")),
            summary: network.summary, parameterCount: network.parameterCount)
    }
}
