import ConvLabKit
import Foundation
import Synchronization

/// A plugin library that cannot be used: one line naming the file and what to do.
public struct PluginLoadError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var message: String
    public var description: String { "\(file): \(message)" }
}

/// Loads plugin libraries (`.so` files built against ConvLabKit) with dlopen, at most once per
/// file and never unloaded (a plugin's types and closures live as long as the process).
///
/// Before any Swift code of the library runs, the loader checks that the file is an ELF shared
/// object, that it exports `convlab_plugin_api_version` and `convlab_plugin_entry`, and that the
/// version it was compiled against is the runner's (DESIGN §7: a changed protocol would otherwise
/// send calls to the wrong functions, silently). Only files a spec or a command line names are
/// loaded: a plugin is code and runs with the user's rights.
public enum PluginLoader {
    private static let loaded = Mutex<[String: [Plugin]]>([:])

    /// The plugins of the library at `path` (relative paths against the working directory).
    public static func load(_ path: String) throws(PluginLoadError) -> [Plugin] {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        // The file itself, every symlink resolved: one library reached by two paths (a symlink,
        // a symlinked folder) is one library.
        guard let real = realpath(absolute, nil) else {
            let reason = errno == ELOOP ? "is a loop of symbolic links" : errno == ENOENT
                ? "no such file; build the plugin first (swift build -c release in its package) and give the path to its lib<Name>.so"
                : "cannot be opened: \(String(cString: strerror(errno)))"
            throw PluginLoadError(file: path, message: reason)
        }
        let key = String(cString: real)
        free(real)
        var status = stat()
        guard stat(key, &status) == 0 else { throw PluginLoadError(file: path, message: "cannot be opened: \(String(cString: strerror(errno)))") }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            let what = (status.st_mode & S_IFMT) == S_IFDIR ? "a folder" : "not a regular file (a FIFO, a device or a socket)"
            throw PluginLoadError(file: path, message: "is \(what); give the path to the plugin's lib<Name>.so")
        }
        // A hard link is the same file too: keyed by device and inode.
        let identity = "\(status.st_dev):\(status.st_ino)"
        if let plugins = loaded.withLock({ $0[identity] }) { return plugins }

        guard let handle = FileHandle(forReadingAtPath: key) else { throw PluginLoadError(file: path, message: "cannot be read") }
        let header = (try? handle.read(upToCount: ELFCheck.headerBytes)) ?? Data()
        try? handle.close()
        if let problem = ELFCheck.problem(header, fileSize: UInt64(status.st_size)) { throw PluginLoadError(file: path, message: problem) }
        // RTLD_NOW: a missing symbol is an error here, not a crash at the first call.
        guard let library = dlopen(key, RTLD_NOW | RTLD_LOCAL) else {
            throw PluginLoadError(file: path, message: "cannot be loaded: \(lastError())")
        }
        guard let versionSymbol = dlsym(library, PluginAPI.versionSymbol) else {
            throw PluginLoadError(file: path, message: "is not a ConvLab plugin: it exports no \(PluginAPI.versionSymbol) (see the README's \"Writing a plugin\")")
        }
        let version = unsafeBitCast(versionSymbol, to: (@convention(c) () -> Int32).self)()
        guard version == PluginAPI.version else {
            throw PluginLoadError(file: path, message: "was built against plugin API version \(version), but this runner has version \(PluginAPI.version); rebuild the plugin against this ConvLab")
        }
        guard let entrySymbol = dlsym(library, PluginAPI.entrySymbol) else {
            throw PluginLoadError(file: path, message: "exports no \(PluginAPI.entrySymbol) (see the README's \"Writing a plugin\")")
        }
        let exported = unsafeBitCast(entrySymbol, to: (@convention(c) () -> UnsafeMutableRawPointer).self)()
        var plugins: [Plugin]
        switch PluginAPI.imported(exported) {
        case .success(let list): plugins = list
        case .failure(let error): throw PluginLoadError(file: path, message: "its plugins could not be made: \(error)")
        }
        guard !plugins.isEmpty else { throw PluginLoadError(file: path, message: "declares no plugins") }
        for plugin in plugins {
            if let problem = PluginDeclarationCheck.problem(in: plugin) {
                throw PluginLoadError(file: path, message: "\(plugin.kind.rawValue) plugin \"\(plugin.name)\": \(problem)")
            }
        }
        for i in plugins.indices { plugins[i].origin = key }
        loaded.withLock { $0[identity] = plugins }
        return plugins
    }

    private static func lastError() -> String {
        dlerror().map { String(cString: $0) } ?? "unknown dlopen error"
    }
}

extension PluginRegistry {
    /// This registry with `plugins` (from `source`, a file or "this runner") added; a name that
    /// is already registered for the same kind is refused.
    public func adding(_ plugins: [Plugin], from source: String) throws(PluginLoadError) -> PluginRegistry {
        var registry = self
        for plugin in plugins {
            if let problem = PluginDeclarationCheck.problem(in: plugin) {
                throw PluginLoadError(file: source, message: "\(plugin.kind.rawValue) plugin \"\(plugin.name)\": \(problem)")
            }
            if let existing = registry.plugin(plugin.kind, plugin.name) {
                // The same library named twice (by the spec and by --plugin): loaded once, registered once.
                if !plugin.origin.isEmpty && existing.origin == plugin.origin { continue }
                throw PluginLoadError(file: source, message: "\(plugin.kind.rawValue) plugin \"\(plugin.name)\" clashes with \(existing.origin.isEmpty ? "the one compiled into this runner" : "the one from \(existing.origin)") of that name; rename it")
            }
            registry.register(plugin)
        }
        return registry
    }

    /// This registry with the plugins of these library files.
    public func loading(_ paths: [String]) throws(PluginLoadError) -> PluginRegistry {
        var registry = self
        for path in paths { registry = try registry.adding(try PluginLoader.load(path), from: path) }
        return registry
    }
}
