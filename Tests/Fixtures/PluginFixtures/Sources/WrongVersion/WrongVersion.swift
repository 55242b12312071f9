import ConvLabKit

// Claims an API version no runner has: must be refused before its entry point is called.
@_cdecl("convlab_plugin_api_version") public func convlabPluginAPIVersion() -> Int32 { 999 }
@_cdecl("convlab_plugin_entry") public func convlabPluginEntry() -> UnsafeMutableRawPointer {
    PluginAPI.export { [Plugin(.pooling, "never_seen", "must not be registered", factory: .pooling { _ in PoolingMode.avg })] }
}
