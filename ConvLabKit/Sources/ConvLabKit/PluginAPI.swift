/// The contract between the runner and a plugin library loaded at run time.
///
/// A plugin library exports two C symbols (see the README's "Writing a plugin"):
///
///     @_cdecl("convlab_plugin_api_version") public func apiVersion() -> Int32 { PluginAPI.version }
///     @_cdecl("convlab_plugin_entry") public func entry() -> UnsafeMutableRawPointer {
///         PluginAPI.export { [lpPooling] }
///     }
///
/// The runner calls the first before any Swift code of the plugin: `version` is emitted into the
/// plugin itself when it is compiled, so it reports the API the plugin was built against, and a
/// library built against another version is refused without being called (a changed protocol
/// would otherwise send calls to the wrong functions, silently).
public enum PluginAPI {
    /// Bumped on every change to a public declaration of ConvLabKit that a plugin may use.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 3 }

    /// The name of the C function that returns the plugin's API version.
    public static let versionSymbol = "convlab_plugin_api_version"
    /// The name of the C function that returns the plugin's declarations.
    public static let entrySymbol = "convlab_plugin_entry"

    /// Wraps the plugin's declarations (or the error making them threw) for the runner; the body
    /// of a plugin's `convlab_plugin_entry`.
    public static func export(_ make: () throws -> [Plugin]) -> UnsafeMutableRawPointer {
        let box = PluginExport(Result { try make() })
        return Unmanaged.passRetained(box).toOpaque()
    }

    /// The runner's side of `export`.
    public static func imported(_ pointer: UnsafeMutableRawPointer) -> Result<[Plugin], any Error> {
        Unmanaged<PluginExport>.fromOpaque(pointer).takeRetainedValue().result
    }
}

/// What crosses from a plugin's entry point to the runner.
final class PluginExport {
    let result: Result<[Plugin], any Error>
    init(_ result: Result<[Plugin], any Error>) { self.result = result }
}
