import ConvLabKit
import Foundation
import GRDB
import RunStore
import Testing
import TestSupport

/// The store's SQL is frozen in its migrations, so it cannot take its names from ConvLabKit; these
/// tests hold the names the views and CHECK constraints spell equal to the ones the runner writes.
@Suite("The store's SQL uses the names ConvLabKit declares")
struct SharedNamesTests {
    /// The schema of a fresh store, as SQLite keeps it: name → SQL.
    static func schema() throws -> [String: String] {
        let path = temporaryStorePath()
        try RunStore(path: path).close()
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { db in
            Dictionary(try Row.fetchAll(db, sql: "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL").map { ($0[0], $0[1]) }) { a, _ in a }
        }
    }

    /// Every 'quoted' word of `sql` after `prefix` (e.g. "m.name = ").
    static func quoted(after prefix: String, in sql: String) -> Set<String> {
        var found: Set<String> = []
        var rest = sql[...]
        while let range = rest.range(of: prefix + "'") {
            let tail = rest[range.upperBound...]
            guard let end = tail.firstIndex(of: "'") else { break }
            found.insert(String(tail[..<end]))
            rest = tail[end...]
        }
        return found
    }

    /// The words of the first `column IN ('a', 'b', …)` list of `sql` (a line break may follow IN).
    static func list(of column: String, in sql: String) -> [String] {
        guard let keyword = sql.range(of: "\(column) IN"), let open = sql[keyword.upperBound...].firstIndex(of: "("),
              let end = sql[open...].firstIndex(of: ")") else { return [] }
        return sql[sql.index(after: open)..<end].split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " '\n")) }
    }

    @Test("run_final_metrics reads the metric names the training loop and the loss probe record")
    func finalMetricNames() throws {
        let view = try #require(try Self.schema()["run_final_metrics"])
        #expect(Self.quoted(after: "m.name = ", in: view) == Set([MetricName.trainLoss, .testLoss, .testAccuracy, .imagesPerSecond].map(\.rawValue)))
    }

    @Test("the runs table accepts exactly the run statuses, and grad_checks exactly the check outcomes")
    func statusesAndOutcomes() throws {
        let schema = try Self.schema()
        #expect(Self.list(of: "status", in: try #require(schema["runs"])) == RunStatus.allCases.map(\.rawValue))
        #expect(Self.list(of: "outcome", in: try #require(schema["grad_checks"])) == GradientCheckRecord.Outcome.allCases.map(\.rawValue))
    }
}
