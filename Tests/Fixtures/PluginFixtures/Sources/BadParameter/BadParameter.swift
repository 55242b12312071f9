import ConvLabKit

// A parameter whose default (0.5) lies outside its declared range (≥ 1): the declaration check
// refuses the library.
let badDefault = Plugin(
    .pooling, "bad_default", "a pooling rule with an impossible default",
    parameters: [ParameterDeclaration("p", .number(minimum: 1), default: .number(0.5), "the power")],
    factory: .pooling { _ in PoolingMode.avg }
)

@_cdecl("convlab_plugin_api_version") public func convlabPluginAPIVersion() -> Int32 { PluginAPI.version }
@_cdecl("convlab_plugin_entry") public func convlabPluginEntry() -> UnsafeMutableRawPointer { PluginAPI.export { [badDefault] } }
