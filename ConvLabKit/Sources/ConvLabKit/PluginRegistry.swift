/// Every name a spec may use, by kind. Adding a plugin is declaring it and registering it here.
public struct PluginRegistry: Sendable {
    public private(set) var plugins: [Plugin]
    /// Position in `plugins` by kind and name: lookups stay cheap with thousands of plugins.
    private var positions: [Key: Int] = [:]

    private struct Key: Hashable, Sendable {
        var kind: PluginKind
        var name: String
    }

    public init(_ plugins: [Plugin]) {
        self.plugins = []
        for plugin in plugins { register(plugin) }
    }

    public func plugin(_ kind: PluginKind, _ name: String) -> Plugin? {
        positions[Key(kind: kind, name: name)].map { plugins[$0] }
    }

    public func plugins(_ kind: PluginKind) -> [Plugin] { plugins.filter { $0.kind == kind } }
    public func names(_ kind: PluginKind) -> [String] { plugins(kind).map(\.name) }

    /// Adds a plugin; a later registration of the same kind and name replaces the earlier one
    /// (and moves to the end of the list).
    public mutating func register(_ plugin: Plugin) {
        let key = Key(kind: plugin.kind, name: plugin.name)
        if positions[key] != nil {
            plugins.removeAll { $0.kind == plugin.kind && $0.name == plugin.name }
            positions = Dictionary(uniqueKeysWithValues: plugins.enumerated().map { (Key(kind: $1.kind, name: $1.name), $0) })
        }
        positions[key] = plugins.count
        plugins.append(plugin)
    }
}
