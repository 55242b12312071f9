import ConvLabKit
import ArgumentParser
import Foundation
import Reports
import RunnerKit
import RunStore

struct Schema: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the JSON Schema (2020-12) of experiment specs, generated from the plugin registry.",
        discussion: """
        Schemas/experiment.schema.json is this output; regenerate it with
          runner schema --output Schemas/experiment.schema.json
        and the store's documented DDL with
          runner schema --store-sql --output Schemas/store.sql
        --output never overwrites a SQLite file (a store) and writes through a temporary file.
        """)

    @Flag(help: "Print the store's SQL schema (tables, indexes, views) instead.")
    var storeSql = false

    @Option(help: ArgumentHelp("Write to this file instead of standard output.", valueName: "file"))
    var output: String?

    @OptionGroup var plugins: PluginOptions

    func run() throws {
        let text = storeSql ? StoreSchema.documentedSQL : SchemaGenerator.text(registry: try plugins.registry())
        if let output {
            // Never over a SQLite file (a store), and never half written.
            do { try OutputFile.write(text, to: output) } catch {
                Console.error("error: \(error)")
                throw ExitCode(2)
            }
        } else {
            print(text, terminator: "")
        }
    }
}
