import ConvLabKit

// The version symbol only: no convlab_plugin_entry.
@_cdecl("convlab_plugin_api_version") public func convlabPluginAPIVersion() -> Int32 { PluginAPI.version }
