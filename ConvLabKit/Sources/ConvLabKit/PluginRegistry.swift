/// Every name a spec may use, by kind. Adding a plugin is declaring it and listing it here.
public struct PluginRegistry: Sendable {
    public private(set) var plugins: [Plugin]

    public init(_ plugins: [Plugin]) { self.plugins = plugins }

    public func plugin(_ kind: PluginKind, _ name: String) -> Plugin? {
        plugins.first { $0.kind == kind && $0.name == name }
    }

    public func plugins(_ kind: PluginKind) -> [Plugin] { plugins.filter { $0.kind == kind } }
    public func names(_ kind: PluginKind) -> [String] { plugins(kind).map(\.name) }

    /// Adds a plugin; a later registration of the same kind and name replaces the earlier one.
    public mutating func register(_ plugin: Plugin) {
        plugins.removeAll { $0.kind == plugin.kind && $0.name == plugin.name }
        plugins.append(plugin)
    }
}
