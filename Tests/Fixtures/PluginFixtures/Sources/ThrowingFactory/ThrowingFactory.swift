import ConvLabKit

struct SetupFailure: Error, CustomStringConvertible {
    var description: String { "fixture setup failed: the lookup table is missing" }
}

// The entry point's closure throws: the runner reports the error's text and registers nothing.
@_cdecl("convlab_plugin_api_version") public func convlabPluginAPIVersion() -> Int32 { PluginAPI.version }
@_cdecl("convlab_plugin_entry") public func convlabPluginEntry() -> UnsafeMutableRawPointer {
    PluginAPI.export { throw SetupFailure() }
}
