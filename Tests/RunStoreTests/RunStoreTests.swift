import Foundation
import Testing
import GRDB
@testable import RunStore

func temporaryStorePath() -> String {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("convlab-store-\(UUID().uuidString)").path
    try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    return folder + "/store.sqlite"
}

let provenance = RunProvenance(host: "h", os: "o", convlabVersion: "v", swiftVersion: "s", blas: "b")

/// A store with one experiment and `runs` runs, each with a few metrics.
@discardableResult
func makeStore(_ path: String, runs: Int = 1) throws -> RunStore {
    let store = try RunStore(path: path)
    let experiment = try store.createExperiment(name: "e", specPath: "e.json", specJSON: "{}")
    for index in 1...max(runs, 1) where runs > 0 {
        let id = try store.createRun(NewRun(experimentID: experiment, runIndex: index, variant: "{}", variantLabel: "", specJSON: "{}",
                                            specHash: "0", seed: UInt64(index), epochsPlanned: 1, provenance: provenance,
                                            params: [("optimizer.learning_rate", "0.05", 0.05)]))
        try store.markStarted(run: id)
        var batch = RecordBatch()
        batch.metrics = [.init(name: "train_loss", step: 1, epoch: 0.5, value: 1.5, wallTime: 0.1)]
        try store.append(batch, run: id, epochsDone: 1, stepsDone: 1)
        try store.finish(run: id, status: .completed)
    }
    return store
}

func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

@Suite("The store: schema, refusal of what it cannot read, read-only queries, concurrent writers")
struct RunStoreTests {
    @Test("Schemas/store.sql is the schema the store creates")
    func documentedSchemaIsCurrent() throws {
        var url = URL(fileURLWithPath: #filePath)
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { url.deleteLastPathComponent() }
        let committed = try String(contentsOfFile: url.appendingPathComponent("Schemas/store.sql").path, encoding: .utf8)
        #expect(committed == StoreSchema.documentedSQL, "run `runner schema --store-sql --output Schemas/store.sql`")
    }

    @Test("a new store has every table and view, in WAL mode, at the current version")
    func creates() throws {
        let path = temporaryStorePath()
        try makeStore(path, runs: 0)
        let reader = try StoreReader(path: path)
        let names = try reader.catalog().map(\.name)
        for name in ["experiments", "runs", "params", "metrics", "grad_norms", "grad_checks", "events",
                     "run_final_metrics", "grad_norm_summary", "grad_check_summary"] {
            #expect(names.contains(name), "\(name)")
        }
        // SQLite's header marks WAL mode with 2 in bytes 18 and 19.
        let header = try #require(bytes(path)).prefix(20)
        #expect(header[header.startIndex + 18] == 2 && header[header.startIndex + 19] == 2)
        #expect(try reader.query("SELECT value FROM meta WHERE key = 'schema_version'").rows[0][0] == .text("\(StoreSchema.currentVersion)"))
    }

    @Test("reopening a store keeps what it holds")
    func reopens() throws {
        let path = temporaryStorePath()
        try makeStore(path, runs: 2)
        _ = try RunStore(path: path)
        #expect(try StoreReader(path: path).query("SELECT COUNT(*) FROM runs").rows[0][0] == .integer(2))
    }

    @Test("a store of a newer schema is refused, for writing and reading, and left byte for byte")
    func newerSchemaRefused() throws {
        let path = temporaryStorePath()
        let store = try makeStore(path)
        _ = try store.write { db in try db.execute(sql: "UPDATE meta SET value = '99' WHERE key = 'schema_version'") }
        try store.checkpointAndClose()
        let before = bytes(path)
        for open in [{ _ = try RunStore(path: path) }, { _ = try StoreReader(path: path) }] as [() throws -> Void] {
            #expect {
                try open()
            } throws: { error in
                (error as? StoreError)?.kind == .newerSchema && "\(error)".contains("store schema 99, this build knows up to \(StoreSchema.currentVersion)")
            }
        }
        #expect(bytes(path) == before)
    }

    @Test("a file that is not a store is refused and left alone")
    func notAStore() throws {
        let path = temporaryStorePath()
        FileManager.default.createFile(atPath: path, contents: Data("hello, this is text".utf8))
        #expect {
            _ = try RunStore(path: path)
        } throws: { error in
            (error as? StoreError)?.kind == .notAStore && "\(error)".contains("is not a SQLite database")
        }
        #expect(bytes(path) == Data("hello, this is text".utf8))
    }

    @Test("a missing store is a clear error for the reader")
    func missing() {
        #expect {
            _ = try StoreReader(path: "/nonexistent/convlab.sqlite")
        } throws: { error in
            "\(error)" == "/nonexistent/convlab.sqlite: no store here; run `runner exec Experiments/smoke.json` to create one, or pass --store PATH"
        }
    }

    @Test("the reader refuses statements that would write, and the store is unchanged",
          arguments: ["DELETE FROM runs", "DROP TABLE metrics", "UPDATE runs SET status = 'failed'",
                      "INSERT INTO events VALUES (1, 0, 'x', 'y')", "CREATE TABLE x (a)", "PRAGMA journal_mode = DELETE"])
    func readOnly(statement: String) throws {
        let path = temporaryStorePath()
        try makeStore(path).checkpointAndClose()
        let before = bytes(path)
        let reader = try StoreReader(path: path)
        #expect {
            _ = try reader.query(statement)
        } throws: { error in
            (error as? StoreError)?.kind == .readOnlyViolation || (error as? StoreError)?.kind == .badQuery
        }
        #expect(try reader.query("SELECT COUNT(*) FROM runs").rows[0][0] == .integer(1))
        #expect(bytes(path) == before)
    }

    @Test("malformed SQL says what SQLite said")
    func badSQL() throws {
        let path = temporaryStorePath()
        try makeStore(path)
        #expect {
            _ = try StoreReader(path: path).query("SELEC * FROM runs")
        } throws: { error in
            (error as? StoreError)?.kind == .badQuery && "\(error)".contains("near \"SELEC\": syntax error")
        }
    }

    @Test("two writers on separate connections both finish")
    func concurrentWriters() async throws {
        let path = temporaryStorePath()
        try makeStore(path, runs: 0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<2 {
                group.addTask {
                    let store = try RunStore(path: path)
                    let experiment = try store.createExperiment(name: "c", specPath: nil, specJSON: "{}")
                    for index in 0..<20 {
                        let id = try store.createRun(NewRun(experimentID: experiment, runIndex: index, variant: "{}", variantLabel: "",
                                                            specJSON: "{}", specHash: "0", seed: 0, epochsPlanned: 1,
                                                            provenance: provenance, params: []))
                        var batch = RecordBatch()
                        batch.metrics = (0..<50).map { .init(name: "train_loss", step: $0, epoch: 0, value: 1, wallTime: 0) }
                        try store.append(batch, run: id, epochsDone: 0, stepsDone: 50)
                    }
                }
            }
            try await group.waitForAll()
        }
        let reader = try StoreReader(path: path)
        #expect(try reader.query("SELECT COUNT(*) FROM runs").rows[0][0] == .integer(40))
        #expect(try reader.query("SELECT COUNT(*) FROM metrics").rows[0][0] == .integer(2000))
    }
}

@Suite("Store migrations: version 1 to 2 (gradient-check outcome 'trivial')")
struct MigrationTests {
    /// The schema as version 1 of ConvLab wrote it, with a few rows in every table it has.
    func versionOneStore() throws -> String {
        let path = temporaryStorePath()
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: StoreSchema.migrations[0])
            try db.execute(sql: "INSERT INTO meta(key, value) VALUES ('schema_version', '1')")
            try db.execute(sql: "INSERT INTO experiments(id, name, spec_json, created_at) VALUES (1, 'old', '{}', 1)")
            try db.execute(sql: """
                INSERT INTO runs(id, experiment_id, run_index, variant, variant_label, spec_json, spec_hash, seed, status, epochs_planned)
                VALUES (1, 1, 1, '{}', '', '{}', 'h', 1, 'completed', 1)
                """)
            for (entry, outcome) in [(0, "passed"), (1, "failed"), (2, "skipped")] {
                try db.execute(sql: """
                    INSERT INTO grad_checks(run_id, step, layer, layer_kind, tensor, entry, analytic, numeric, abs_error, rel_error, outcome)
                    VALUES (1, 0, 0, 'conv', 'weight', ?, 0.5, 0.5, 0, ?, ?)
                    """, arguments: [entry, Double(entry) / 10, outcome])
            }
            try db.execute(sql: "INSERT INTO metrics VALUES (1, 'test_accuracy', 3, 1, 0.75, 2)")
        }
        try queue.close()
        return path
    }

    @Test("a version-1 store upgrades without loss, and then accepts 'trivial' outcomes")
    func upgradesVersionOne() throws {
        let path = try versionOneStore()
        let store = try RunStore(path: path)
        let reader = try StoreReader(path: path)
        #expect(try reader.query("SELECT value FROM meta WHERE key = 'schema_version'").rows[0][0] == .text("\(StoreSchema.currentVersion)"))
        let rows = try reader.query("SELECT entry, rel_error, outcome FROM grad_checks ORDER BY entry").rows
        #expect(rows == [[.integer(0), .real(0), .text("passed")], [.integer(1), .real(0.1), .text("failed")], [.integer(2), .real(0.2), .text("skipped")]])
        #expect(try reader.query("SELECT value FROM metrics").rows == [[.real(0.75)]])
        var batch = RecordBatch()
        batch.gradientChecks = [.init(step: 5, layer: 0, layerKind: "conv", tensor: "weight", entry: 3, analytic: 0, numeric: 1e-9,
                                      absoluteError: 1e-9, relativeError: 1e-4, outcome: "trivial")]
        try store.append(batch, run: 1, epochsDone: 1, stepsDone: 5)
        // checked 4: passed, failed, skipped, trivial → (1 + 1) · 2 = 4 ≤ 4: conclusive; worst ignores skipped and trivial.
        let summary = try reader.query("SELECT checked, passed, failed, skipped, trivial, conclusive, worst_rel_error FROM grad_check_summary")
        #expect(summary.rows == [[.integer(4), .integer(1), .integer(1), .integer(1), .integer(1), .integer(1), .real(0.1)]])
        // The CHECK still refuses what is not an outcome.
        batch.gradientChecks[0].outcome = "maybe"
        #expect(throws: StoreError.self) { try store.append(batch, run: 1, epochsDone: 1, stepsDone: 5) }
        #expect(try reader.query("SELECT COUNT(*) FROM grad_checks").rows[0][0] == .integer(4))
        // The index survives the rebuild.
        #expect(try reader.query("SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'grad_checks_by_run'").rows[0][0] == .integer(1))
    }

    @Test("a check is inconclusive when more than half of its entries are skipped or trivial")
    func conclusiveRule() throws {
        let path = temporaryStorePath()
        let store = try makeStore(path, runs: 2)
        for (run, outcomes) in [(Int64(1), ["passed", "skipped", "trivial"]), (Int64(2), ["passed", "passed", "trivial", "skipped"])] {
            var batch = RecordBatch()
            batch.gradientChecks = outcomes.enumerated().map { entry, outcome in
                .init(step: 0, layer: 0, layerKind: "dense", tensor: "weight", entry: entry, analytic: 1, numeric: 1,
                      absoluteError: 0, relativeError: outcome == "passed" ? 1e-6 : 0.9, outcome: outcome)
            }
            try store.append(batch, run: run, epochsDone: 1, stepsDone: 1)
        }
        let summary = try StoreReader(path: path).query("SELECT run_id, conclusive, worst_rel_error FROM grad_check_summary ORDER BY run_id")
        // Run 1: 2 of 3 skipped or trivial (4 > 3) → inconclusive; run 2: 2 of 4 (4 ≤ 4) → conclusive.
        #expect(summary.rows == [[.integer(1), .integer(0), .real(1e-6)], [.integer(2), .integer(1), .real(1e-6)]])
    }
}
