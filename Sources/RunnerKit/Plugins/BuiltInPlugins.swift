import ConvLabKit

extension PluginRegistry {
    /// The plugins every runner has, written against the same API as anyone's.
    public static let builtIn = PluginRegistry(
        LayerPlugins.all + FunctionPlugins.activations + FunctionPlugins.pooling + FunctionPlugins.initializers
            + FunctionPlugins.losses + FunctionPlugins.optimizers + FunctionPlugins.schedules
            + DatasetPlugins.all + FunctionPlugins.probes + SearchPlugins.samplers + SearchPlugins.pruners)
}
