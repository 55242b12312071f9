import ArgumentParser
import Foundation
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
        """)

    @Flag(help: "Print the store's SQL schema (tables, indexes, views) instead.")
    var storeSql = false

    @Option(help: ArgumentHelp("Write to this file instead of standard output.", valueName: "file"))
    var output: String?

    func run() throws {
        let text = storeSql ? StoreSchema.documentedSQL : SchemaGenerator.text()
        if let output {
            do { try text.write(toFile: output, atomically: true, encoding: .utf8) } catch {
                Console.error("error: cannot write \(output): \(error.localizedDescription)")
                throw ExitCode(2)
            }
        } else {
            print(text, terminator: "")
        }
    }
}
