import ConvLabKit
import ArgumentParser
import Reports
import RunnerKit

struct Plugins: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List every plugin a spec may name, with its parameters, types, defaults and ranges.")

    @Option(help: ArgumentHelp("Only this kind: \(PluginKind.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "kind"))
    var kind: String?

    @Option(help: "table, csv, json or markdown.")
    var format: String = "table"

    @OptionGroup var plugins: PluginOptions

    func validate() throws {
        if let kind, PluginKind(rawValue: kind) == nil {
            throw ValidationError("unknown kind \"\(kind)\"; kinds: \(PluginKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if OutputFormat(rawValue: format) == nil { throw ValidationError("--format must be table, csv, json or markdown") }
    }

    func run() throws {
        let format = OutputFormat(rawValue: format) ?? .table
        let kinds = kind.flatMap(PluginKind.init(rawValue:)).map { [$0] } ?? PluginKind.allCases
        let registry = try plugins.registry()
        var rows: [[String]] = []
        for kind in kinds {
            for plugin in registry.plugins(kind) {
                rows.append([kind.rawValue, plugin.name, "", "", "", plugin.summary + (plugin.origin.isEmpty ? "" : " (from \(plugin.origin))")])
                for parameter in plugin.parameters {
                    rows.append([kind.rawValue, plugin.name, parameter.name, parameter.type.summary, parameter.defaultDescription, parameter.summary])
                }
            }
        }
        if kind == nil {
            for (section, declarations) in [("spec", SpecSections.topLevel), ("model", SpecSections.model),
                                            ("training", SpecSections.training), ("evaluation", SpecSections.evaluation),
                                            ("checkpoint", SpecSections.checkpoint), ("search", SearchSection.declarations),
                                            ("search.objective", SearchSection.objective)] {
                for parameter in declarations {
                    let type = section == "search" && parameter.name == "space"
                        ? "{ \"dotted.key\": {\(SearchSection.domains.joined(separator: " | ")): ...} }" : parameter.type.summary
                    rows.append(["section", section, parameter.name, type, parameter.defaultDescription, parameter.summary])
                }
            }
        }
        let table = Table(columns: ["kind", "name", "parameter", "type", "default", "description"], rows: rows)
        if format == .table {
            // Grouped, readable listing.
            var output = ""
            var currentKind = ""
            for row in rows {
                if row[0] != currentKind { currentKind = row[0]; output += "\n\(currentKind.uppercased())\n" }
                if row[2].isEmpty { output += "  \(row[1]) — \(row[5])\n" } else {
                    output += "      \(row[2]): \(row[3]) (default \(row[4])) — \(row[5])\n"
                }
            }
            print(output.dropFirst(), terminator: "")
        } else {
            print(format.render(table, width: Console.width), terminator: "")
        }
    }
}
