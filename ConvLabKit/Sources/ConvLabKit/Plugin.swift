import ConvCore
import Datasets
import TextKit

/// The kinds of names a spec may use; each name resolves through the one registry.
public enum PluginKind: String, Sendable, CaseIterable {
    case layer, activation, pooling, initializer, loss, optimizer, schedule, dataset, probe, sampler, pruner
}

/// A plugin: its kind, name, a one-line summary, its parameters, and what it builds. This single
/// declaration feeds validation (types, ranges, did-you-mean), `runner plugins` and the JSON
/// Schema, for the built-in plugins and for yours alike.
public struct Plugin: Sendable {
    /// What the plugin makes from its (validated) parameters. A factory throws `PluginError`
    /// for a combination of values its declaration cannot express; the spec's check reports it
    /// at the parameter, and nothing is trained.
    public enum Factory: Sendable {
        case layer(@Sendable (ResolvedParameters) throws(PluginError) -> any LayerConfiguration)
        case activation(@Sendable (ResolvedParameters) throws(PluginError) -> any ActivationRule)
        case pooling(@Sendable (ResolvedParameters) throws(PluginError) -> any PoolingRule)
        case initializer(@Sendable (ResolvedParameters) throws(PluginError) -> any WeightInitializer)
        case loss(@Sendable (ResolvedParameters) throws(PluginError) -> any LossFunction)
        case optimizer(@Sendable (ResolvedParameters) throws(PluginError) -> any OptimizerRecipe)
        case schedule(@Sendable (ResolvedParameters) throws(PluginError) -> any LearningRatePolicy)
        case dataset(DatasetPlugin)
        /// Made fresh for every run.
        case probe(@Sendable (ResolvedParameters) throws(PluginError) -> any Probe)
        /// A search's sampler and pruner, made once per search.
        case sampler(@Sendable (ResolvedParameters) throws(PluginError) -> any Sampler)
        case pruner(@Sendable (ResolvedParameters) throws(PluginError) -> any Pruner)
    }

    public var kind: PluginKind
    public var name: String
    public var summary: String
    public var parameters: [ParameterDeclaration]
    public var factory: Factory
    /// The library file a loaded plugin came from (set by the runner's loader); empty for the
    /// plugins compiled into the runner.
    public var origin = ""

    public init(_ kind: PluginKind, _ name: String, _ summary: String, parameters: [ParameterDeclaration] = [], factory: Factory) {
        self.kind = kind
        self.name = name
        self.summary = summary
        self.parameters = parameters
        self.factory = factory
    }
}

/// A problem a plugin finds in its (already type-checked) parameters, reported at `parameter`.
public struct PluginError: Error, Sendable {
    public var parameter: String?
    public var message: String
    public init(parameter: String? = nil, _ message: String) { self.parameter = parameter; self.message = message }
}

/// What a data-set plugin does: say what it will produce without loading it (for validation),
/// and load it.
public struct DatasetPlugin: Sendable {
    public struct Description: Sendable, Equatable {
        public var sampleShape: Shape
        public var classes: Int

        public init(sampleShape: Shape, classes: Int) {
            self.sampleShape = sampleShape
            self.classes = classes
        }
    }

    public var describe: @Sendable (ResolvedParameters) throws(DatasetError) -> Description
    public var load: @Sendable (ResolvedParameters, UInt64) throws(DatasetError) -> DatasetSplit
    /// Whether the loaded data depends on the run's seed (generated data does, files do not).
    public var usesSeed: Bool

    public init(usesSeed: Bool = false,
                describe: @escaping @Sendable (ResolvedParameters) throws(DatasetError) -> Description,
                load: @escaping @Sendable (ResolvedParameters, UInt64) throws(DatasetError) -> DatasetSplit) {
        self.usesSeed = usesSeed
        self.describe = describe
        self.load = load
    }
}

/// Parameters after validation: every declared one present (but optional ones), each of its
/// declared type, so the typed getters only fall back to a default for absent optional values.
public struct ResolvedParameters: Sendable, Equatable {
    public var values: [(key: String, node: JSONNode)]
    /// Where a parameter that names a plugin (`"mode": "max"`, `"function": {"plugin": "elu"}`)
    /// is looked up: the registry the spec was checked against.
    public var registry: PluginRegistry?

    public init(_ values: [(key: String, node: JSONNode)], registry: PluginRegistry? = nil) {
        self.values = values
        self.registry = registry
    }

    public static func == (a: Self, b: Self) -> Bool { JSONValue.object(a.values) == JSONValue.object(b.values) }

    public subscript(name: String) -> JSONValue? { values.first { $0.key == name }?.node.value }

    public func int(_ name: String, default fallback: Int = 0) -> Int {
        if case .number(let n)? = self[name] { return Int(n) }
        return fallback
    }

    public func optionalInt(_ name: String) -> Int? {
        if case .number(let n)? = self[name] { return Int(n) }
        return nil
    }

    public func double(_ name: String, default fallback: Double = 0) -> Double {
        if case .number(let n)? = self[name] { return n }
        return fallback
    }

    public func bool(_ name: String, default fallback: Bool = false) -> Bool {
        if case .bool(let b)? = self[name] { return b }
        return fallback
    }

    public func string(_ name: String, default fallback: String = "") -> String {
        if case .string(let s)? = self[name] { return s }
        return fallback
    }

    /// A `size` parameter as (height, width).
    public func pair(_ name: String, default fallback: (Int, Int) = (1, 1)) -> (Int, Int) {
        switch self[name] {
        case .number(let n)?: return (Int(n), Int(n))
        case .array(let items)? where items.count == 2:
            if case .number(let h) = items[0].value, case .number(let w) = items[1].value { return (Int(h), Int(w)) }
            return fallback
        default: return fallback
        }
    }

    /// A `plugin` parameter as (name, its own parameters).
    public func plugin(_ name: String) -> (name: String, parameters: ResolvedParameters)? {
        if case .string(let pluginName)? = self[name] { return (pluginName, ResolvedParameters([])) }
        guard case .object(let members)? = self[name], case .string(let pluginName)? = members.first(where: { $0.key == "plugin" })?.node.value else {
            return nil
        }
        return (pluginName, ResolvedParameters(members.filter { $0.key != "plugin" }))
    }

    public var json: JSONValue { .object(values) }

    /// The activation a `plugin` parameter names, made through the registry.
    public func activation(_ name: String) throws(PluginError) -> any ActivationRule {
        let (plugin, parameters) = try referenced(name, .activation)
        guard case .activation(let make) = plugin.factory else { throw PluginError(parameter: name, "\(plugin.name) is not an activation") }
        return try make(parameters)
    }

    /// The pooling rule a `plugin` parameter names, made through the registry.
    public func pooling(_ name: String) throws(PluginError) -> any PoolingRule {
        let (plugin, parameters) = try referenced(name, .pooling)
        guard case .pooling(let make) = plugin.factory else { throw PluginError(parameter: name, "\(plugin.name) is not a pooling rule") }
        return try make(parameters)
    }

    private func referenced(_ name: String, _ kind: PluginKind) throws(PluginError) -> (Plugin, ResolvedParameters) {
        guard let (pluginName, parameters) = plugin(name) else { throw PluginError(parameter: name, "must name a \(kind.rawValue) plugin") }
        guard let registry, let plugin = registry.plugin(kind, pluginName) else {
            throw PluginError(parameter: name, "unknown \(kind.rawValue) plugin \"\(pluginName)\"")
        }
        return (plugin, ResolvedParameters(parameters.values, registry: registry))
    }
}
