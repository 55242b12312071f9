import ConvLabKit
import ArgumentParser
import Reports
import RunnerKit

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check experiment specs without training: syntax, keys, types, ranges, plugins, shapes, data set.",
        discussion: "Exits with 0 when every spec is valid, 2 otherwise, listing every problem with file:line:column and JSON path.")

    @Argument(help: ArgumentHelp("Experiment spec files or names.", valueName: "spec"))
    var specs: [String]

    @OptionGroup var plugins: PluginOptions

    func run() throws {
        for plan in try loadPlans(specs, registry: plugins.registry()) {
            if let search = plan.search {
                print("\(plan.file.terminalSafe): valid, a search of \(search.summary.terminalSafe)")
            } else {
                print("\(plan.file.terminalSafe): valid, \(plan.runs.count) run\(plan.runs.count == 1 ? "" : "s")")
            }
        }
    }
}
