import ArgumentParser
import ConvLabKit
import RunnerKit

/// `--plugin PATH`: plugin libraries to load besides those a spec names.
struct PluginOptions: ParsableArguments {
    @Option(name: .customLong("plugin"),
            help: ArgumentHelp("A plugin library (lib<Name>.so built against ConvLabKit) to load; may be repeated. A spec may also list its own under \"plugins\".",
                               valueName: "path"))
    var paths: [String] = []

    /// The built-in plugins, this runner's own (`RunnerCommand.main(plugins:)`) and the loaded
    /// ones. A library that cannot be loaded is one line on standard error and exit code 2.
    func registry() throws -> PluginRegistry {
        do {
            return try PluginRegistry.builtIn.adding(LinkedPlugins.all, from: "this runner").loading(paths)
        } catch {
            Console.error("error: \(error)")
            throw ExitCode(2)
        }
    }
}
