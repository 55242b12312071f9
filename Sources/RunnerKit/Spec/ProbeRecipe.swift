import ConvLabKit

/// A probe of a run: made fresh for each run (a probe keeps state between steps).
public struct ProbeRecipe: Sendable {
    public var name: String
    public var parameters: ResolvedParameters
    public var make: @Sendable (ResolvedParameters) throws(PluginError) -> any Probe

    public func makeProbe() throws(PluginError) -> any Probe { try make(parameters) }
}
