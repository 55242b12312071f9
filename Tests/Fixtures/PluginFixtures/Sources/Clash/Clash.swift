import ConvLabKit

// A pooling plugin named like the built-in "max": refused as a clash.
@_cdecl("convlab_plugin_api_version") public func convlabPluginAPIVersion() -> Int32 { PluginAPI.version }
@_cdecl("convlab_plugin_entry") public func convlabPluginEntry() -> UnsafeMutableRawPointer {
    PluginAPI.export { [Plugin(.pooling, "max", "a second max", factory: .pooling { _ in PoolingMode.max })] }
}
