import Foundation
import Testing
import GRDB
@testable import RunStore
import TestSupport

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
            for writer in 0..<2 {
                group.addTask {
                    let store = try RunStore(path: path)
                    let runs = (0..<20).map { index in
                        NewRun(experimentID: 0, runIndex: index, variant: "{}", variantLabel: "", specJSON: "{}", specHash: "0", seed: 0,
                               epochsPlanned: 1, provenance: provenance, params: [])
                    }
                    let sweep = try store.openSweep(name: "c", specPath: "", specJSON: "{}", specHash: "c\(writer)", runs: runs, fresh: true)
                    for run in sweep.runs {
                        #expect(try store.claimRun(run.id, staleAfter: 60, claimant: "w\(writer)"))
                        var batch = RecordBatch()
                        batch.metrics = (0..<50).map { .init(name: "train_loss", step: $0, epoch: 0, value: 1, wallTime: 0) }
                        #expect(try store.append(batch, run: run.id, epochsDone: 0, stepsDone: 50, claimant: "w\(writer)"))
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
        // Written as a run's claimant writes: the old run interrupted, then claimed by this process.
        _ = try store.write { db in try db.execute(sql: "UPDATE runs SET status = 'interrupted' WHERE id = 1") }
        #expect(try store.claimRun(1, staleAfter: 60))
        #expect(try store.append(batch, run: 1, epochsDone: 1, stepsDone: 5, claimant: RunStore.claimant))
        // checked 4: passed, failed, skipped, trivial → (1 + 1) · 2 = 4 ≤ 4: conclusive; worst ignores skipped and trivial.
        let summary = try reader.query("SELECT checked, passed, failed, skipped, trivial, conclusive, worst_rel_error FROM grad_check_summary")
        #expect(summary.rows == [[.integer(4), .integer(1), .integer(1), .integer(1), .integer(1), .integer(1), .real(0.1)]])
        // The CHECK still refuses what is not an outcome.
        batch.gradientChecks[0].outcome = "maybe"
        #expect(throws: StoreError.self) { try store.append(batch, run: 1, epochsDone: 1, stepsDone: 5, claimant: RunStore.claimant) }
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

@Suite("The store never writes a non-finite number")
struct NonFiniteTests {
    @Test("a batch holding NaN or an infinity anywhere is refused whole, naming the value, and nothing of it is written",
          arguments: [Double.nan, .infinity, -.infinity])
    func refused(bad: Double) throws {
        let path = temporaryStorePath()
        let store = try makeStore(path, runs: 1)
        let cases: [(RecordBatch, String)] = {
            var metric = RecordBatch()
            metric.metrics = [.init(name: "train_loss", step: 2, epoch: 1, value: 0.5, wallTime: 0),
                              .init(name: "test_loss", step: 3, epoch: 1, value: bad, wallTime: 0)]
            var norm = RecordBatch()
            norm.gradientNorms = [.init(step: 4, layer: 2, layerKind: "dense", tensor: "bias", l2: 1, maxAbs: bad)]
            var check = RecordBatch()
            check.gradientChecks = [.init(step: 5, layer: 0, layerKind: "conv", tensor: "weight", entry: 7, analytic: bad, numeric: 1,
                                          absoluteError: 1, relativeError: 1, outcome: "failed")]
            var input = RecordBatch()
            input.gradientChecks = [.init(step: 6, layer: nil, layerKind: "input", tensor: "input", entry: 1, analytic: 1, numeric: bad,
                                          absoluteError: 1, relativeError: 1, outcome: "failed")]
            var epoch = RecordBatch()
            epoch.metrics = [.init(name: "learning_rate", step: 1, epoch: bad, value: 0.1, wallTime: 0)]
            let name = nonFiniteName(bad)
            return [(metric, "test_loss became \(name) at step 3 (epoch 1)"),
                    (norm, "the gradient max-abs of layer 2 (dense) bias at step 4 became \(name)"),
                    (check, "the gradient check at step 5 found a \(name) analytic gradient for layer 0 (conv) weight[7]"),
                    (input, "the gradient check at step 6 found a \(name) numeric gradient for the network input[1]"),
                    (epoch, "the epoch of learning_rate at step 1 is \(name)")]
        }()
        let reader = try StoreReader(path: path)
        let before = try reader.query("SELECT (SELECT COUNT(*) FROM metrics), (SELECT COUNT(*) FROM grad_norms), (SELECT COUNT(*) FROM grad_checks), (SELECT steps_done FROM runs)").rows
        for (batch, message) in cases {
            #expect(batch.firstNonFiniteValue == message)
            #expect {
                try store.append(batch, run: 1, epochsDone: 1, stepsDone: 99, claimant: RunStore.claimant)
            } throws: { error in
                (error as? StoreError)?.kind == .nonFiniteValue && "\(error)".contains(message) && "\(error)".contains("nothing of this batch was written")
            }
            var cleaned = batch
            cleaned.removeNonFiniteValues()
            #expect(cleaned.firstNonFiniteValue == nil && cleaned.count == batch.count - 1)
        }
        #expect(try reader.query("SELECT (SELECT COUNT(*) FROM metrics), (SELECT COUNT(*) FROM grad_norms), (SELECT COUNT(*) FROM grad_checks), (SELECT steps_done FROM runs)").rows == before)
    }

    @Test("a non-finite parameter keeps its text and gets no value_real")
    func nonFiniteParameter() throws {
        let path = temporaryStorePath()
        let store = try RunStore(path: path)
        let experiment = try store.createExperiment(name: "e", specPath: nil, specJSON: "{}")
        _ = try store.createRun(NewRun(experimentID: experiment, runIndex: 1, variant: "{}", variantLabel: "", specJSON: "{}", specHash: "",
                                       seed: 1, epochsPlanned: 1, provenance: provenance,
                                       params: [("a", "inf", .infinity), ("b", "nan", .nan), ("c", "0.5", 0.5)]))
        #expect(try StoreReader(path: path).query("SELECT key, value_text, value_real FROM params ORDER BY key").rows
                == [[.text("a"), .text("inf"), .null], [.text("b"), .text("nan"), .null], [.text("c"), .text("0.5"), .real(0.5)]])
    }

    @Test("a beat moves the heartbeat of a running run only")
    func beat() throws {
        let path = temporaryStorePath()
        let store = try makeStore(path, runs: 1)     // run 1 is completed
        let reader = try StoreReader(path: path)
        let finished = try reader.query("SELECT heartbeat_at FROM runs WHERE id = 1").rows
        Thread.sleep(forTimeInterval: 0.01)
        _ = try store.beat(run: 1, claimant: RunStore.claimant)
        #expect(try reader.query("SELECT heartbeat_at FROM runs WHERE id = 1").rows == finished)
        _ = try store.write { db in try db.execute(sql: "UPDATE runs SET status = 'interrupted' WHERE id = 1") }
        #expect(try store.claimRun(1, staleAfter: 60, now: 1))     // running since t = 1, by this process
        _ = try store.beat(run: 1, claimant: RunStore.claimant)
        let moved = try #require(try reader.query("SELECT heartbeat_at FROM runs WHERE id = 1").rows.first?.first?.double)
        #expect(abs(moved - Date().timeIntervalSince1970) < 60)
    }
}

@Suite("Queries the reader refuses or stops")
struct QueryLimitTests {
    @Test("SQL text: statements, comments and quotes as SQLite reads them")
    func sqlText() {
        #expect(SQLText("-- note\nSELECT 1").statements == ["-- note\nSELECT 1"])
        #expect(SQLText("-- note\nSELECT 1").firstKeyword == "SELECT")
        #expect(SQLText("  -- only a comment").isBlank)
        #expect(SQLText("/* a; b */ ; ;\n-- c; d").isBlank)
        #expect(SQLText("SELECT ';', \"a;b\", [x;y], `p;q` -- ; not here\n").statements.count == 1)
        #expect(SQLText("SELECT 'it''s; fine'; SELECT 2").statements.count == 2)
        #expect(SQLText("/* x */ attach 'f' as g").firstKeyword == "ATTACH")
        #expect(SQLText("SELECT 1; /* trailing */").statements.count == 1)
        #expect(SQLText("SELECT 1 /* unterminated; comment").statements.count == 1)
        #expect(SQLText("SELECT 'unterminated; string").statements.count == 1)
    }

    @Test("a query past its row limit or its time limit is stopped with a clear error")
    func limits() throws {
        let path = temporaryStorePath()
        try makeStore(path)
        let reader = try StoreReader(path: path)
        let endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c"
        #expect {
            _ = try reader.query(endless, limits: QueryLimits(maxRows: 1000, seconds: 30))
        } throws: { error in
            (error as? StoreError)?.kind == .queryLimit && "\(error)".contains("returned more than 1000 rows")
        }
        #expect(try reader.query(endless + " LIMIT 1000", limits: QueryLimits(maxRows: 1000, seconds: 30)).rows.count == 1000)
        let clock = ContinuousClock()
        let start = clock.now
        #expect {
            _ = try reader.query("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT COUNT(*) FROM c",
                                 limits: QueryLimits(maxRows: 10, seconds: 0.3))
        } throws: { error in
            (error as? StoreError)?.kind == .queryLimit && "\(error)".contains("ran longer than 0.3 s")
        }
        #expect(clock.now - start < .seconds(10))
        // The connection works again after an interrupted query.
        #expect(try reader.query("SELECT COUNT(*) FROM runs", limits: QueryLimits()).rows == [[.integer(1)]])
    }

    @Test("several statements, ATTACH and DETACH are refused before anything runs")
    func refusedStatements() throws {
        let path = temporaryStorePath()
        try makeStore(path).checkpointAndClose()
        let before = bytes(path)
        let reader = try StoreReader(path: path)
        for (sql, message) in [("SELECT 1; SELECT 2", "one statement at a time: this text holds 2 statements"),
                               ("ATTACH '\(path)' AS again", "ATTACH is refused"), ("detach main", "DETACH is refused")] {
            #expect(throws: StoreError.self) { _ = try reader.query(sql) }
            do { _ = try reader.query(sql) } catch { #expect(error.message.contains(message), "\(error)") }
        }
        #expect(bytes(path) == before)
    }
}
