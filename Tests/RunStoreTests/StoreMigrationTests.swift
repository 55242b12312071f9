import Foundation
import Testing
import GRDB
@testable import RunStore
import TestSupport

/// A store as ConvLab wrote it before the migrator (schema `version`, 1 or 2: meta.schema_version
/// and no grdb_migrations), built from that version's DDL, with rows in every table it has.
func legacyStore(version: Int) throws -> String {
    let path = temporaryStorePath()
    let queue = try DatabaseQueue(path: path)
    try queue.write { db in
        try db.execute(sql: "PRAGMA journal_mode = WAL")
        for sql in StoreSchema.migrations.prefix(version) { try db.execute(sql: sql) }
        try db.execute(sql: "INSERT INTO meta(key, value) VALUES ('schema_version', ?)", arguments: [String(version)])
        try db.execute(sql: "INSERT INTO experiments(id, name, spec_path, spec_json, created_at) VALUES (1, 'old', 'old.json', '{\"a\": 1}', 1.5)")
        for (id, status, error) in [(1, "completed", nil), (2, "failed", "the training set is empty"), (3, "running", nil)] as [(Int, String, String?)] {
            try db.execute(sql: """
                INSERT INTO runs(id, experiment_id, run_index, variant, variant_label, spec_json, spec_hash, seed, status, started_at,
                                 finished_at, heartbeat_at, epochs_planned, epochs_done, steps_done, host, os, convlab_version, swift_version, blas, error)
                VALUES (?, 1, ?, '{"m":1}', 'm=1', '{"r":1}', 'hash\(id)', ?, ?, 10, 20, 19, 3, 2, 40, 'host', 'os', '0.1.0', 'Swift', 'OpenBLAS', ?)
                """, arguments: [id, id, id * 7, status, error])
            try db.execute(sql: "INSERT INTO params VALUES (?, 'optimizer.learning_rate', '0.05', 0.05)", arguments: [id])
            try db.execute(sql: "INSERT INTO metrics VALUES (?, 'test_accuracy', 3, 1, 0.75, 2)", arguments: [id])
            try db.execute(sql: "INSERT INTO grad_norms VALUES (?, 5, 0, 'conv', 'weight', 0.5, 0.25)", arguments: [id])
            try db.execute(sql: "INSERT INTO grad_checks VALUES (?, 0, 0, 'conv', 'weight', 4, 1, 1, 0, 1e-7, 'passed')", arguments: [id])
            try db.execute(sql: "INSERT INTO grad_checks VALUES (?, 0, NULL, 'input', 'input', 5, 0, 0.5, 0.5, 1, 'skipped')", arguments: [id])
            try db.execute(sql: "INSERT INTO events VALUES (?, 11, 'started', 'run \(id)')", arguments: [id])
        }
    }
    try queue.close()
    return path
}

/// Every row of a table or query, as text, in a stable order.
func dump(_ path: String, _ sql: String) throws -> [[SQLValue]] {
    try StoreReader(path: path).query(sql).rows
}

/// The rows of the tables schema 1 and 2 have, in the columns those schemas have.
let legacyContent = [
    "SELECT * FROM meta WHERE key != 'schema_version' ORDER BY key",
    "SELECT id, name, spec_path, spec_json, created_at FROM experiments ORDER BY id",
    """
    SELECT id, experiment_id, run_index, variant, variant_label, spec_json, spec_hash, seed, status, started_at, finished_at,
           heartbeat_at, epochs_planned, epochs_done, steps_done, host, os, convlab_version, swift_version, blas, error FROM runs ORDER BY id
    """,
    "SELECT * FROM params ORDER BY run_id, key",
    "SELECT * FROM metrics ORDER BY run_id, name, step",
    "SELECT * FROM grad_norms ORDER BY run_id, step, layer",
    "SELECT * FROM grad_checks ORDER BY run_id, step, entry",
    "SELECT * FROM events ORDER BY run_id, time",
    "SELECT * FROM run_final_metrics ORDER BY run_id",
    "SELECT * FROM grad_norm_summary ORDER BY run_id",
]

func isVersion4UUID(_ text: String) -> Bool {
    let parts = text.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
    return parts.map(\.count) == [8, 4, 4, 4, 12] && text == text.lowercased()
        && text.allSatisfy { $0 == "-" || $0.isHexDigit } && parts[2].first == "4" && "89ab".contains(parts[3].first ?? "x")
}

@Suite("Store migrations through GRDB's DatabaseMigrator: schema 1 and 2 stores upgrade to 3 without loss; newer stores are refused")
struct StoreMigrationTests {
    @Test("a store of schema 1 or 2 upgrades to the current schema with every row kept, its migrations recorded", arguments: [1, 2])
    func upgrades(version: Int) throws {
        let path = try legacyStore(version: version)
        let before = try legacyContent.map { try dump(path, $0) }
        #expect(try StoreReader(path: path).schemaVersion == version)
        _ = try RunStore(path: path)
        let after = try legacyContent.map { try dump(path, $0) }
        for (sql, (old, new)) in zip(legacyContent, zip(before, after)) { #expect(old == new, "\(sql)") }
        let reader = try StoreReader(path: path)
        #expect(reader.schemaVersion == StoreSchema.currentVersion)
        #expect(try reader.query("SELECT identifier FROM grdb_migrations ORDER BY identifier").rows == StoreMigrations.identifiers.map { [.text($0)] })
        // Every run got its own UUID, version 4, lower case.
        let uuids = try reader.query("SELECT uuid FROM runs ORDER BY id").rows.compactMap { $0[0].string }
        #expect(uuids.count == 3 && Set(uuids).count == 3 && uuids.allSatisfy(isVersion4UUID), "\(uuids)")
        // A failure from before schema 3 was a spec failure: not claimed again.
        #expect(try reader.query("SELECT id, failure_kind FROM runs ORDER BY id").rows == [[.integer(1), .null], [.integer(2), .text("spec")], [.integer(3), .null]])
        #expect(try reader.query("SELECT COUNT(*) FROM pragma_foreign_key_check").rows[0][0] == .integer(0))
        // grad_checks accepts 'trivial' (schema 2) and the upgraded store takes schema-3 records.
        let store = try RunStore(path: path)
        var batch = RecordBatch()
        batch.gradientChecks = [.init(step: 9, layer: 0, layerKind: "conv", tensor: "weight", entry: 1, analytic: 0, numeric: 0,
                                      absoluteError: 0, relativeError: 0, outcome: "trivial")]
        try store.append(batch, run: 1, epochsDone: 3, stepsDone: 9)
        try store.tag(runs: [1], with: "old")
        try store.addCheckpoint(CheckpointRecord(runID: 1, epoch: 1, step: 9, path: "epoch-0001.safetensors", bytes: 10,
                                                 sha256: String(repeating: "a", count: 64), createdAt: 1))
        #expect(try store.tags(run: 1) == ["old"])
        // The uniqueness of uuid survives the rebuild.
        #expect(throws: StoreError.self) { _ = try store.write { db in try db.execute(sql: "UPDATE runs SET uuid = (SELECT uuid FROM runs WHERE id = 1) WHERE id = 2") } }
    }

    @Test("a store from before the migrator has exactly its own schema's migrations marked applied, so only the later ones run", arguments: [1, 2])
    func adoption(version: Int) throws {
        let path = try legacyStore(version: version)
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        let pending = try queue.write { db -> [String] in
            try StoreMigrations.adoptStoreWithoutMigrationRecords(db)
            let applied = try StoreMigrations.migrator.appliedMigrations(db)
            return StoreMigrations.identifiers.filter { !applied.contains($0) }
        }
        #expect(pending == Array(StoreMigrations.identifiers.dropFirst(version)))
        // Marking twice changes nothing.
        try queue.write { db in try StoreMigrations.adoptStoreWithoutMigrationRecords(db) }
        #expect(try queue.read { db in try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier") }
                == Array(StoreMigrations.identifiers.prefix(version)))
    }

    @Test("the schema-3 DDL is plain SQLite: run on its own (as from Schemas/store.sql) it upgrades a store with rows")
    func plainSQL() throws {
        let path = try legacyStore(version: 2)
        var configuration = Configuration()
        configuration.foreignKeysEnabled = false     // SQLite's default, and how the migrator runs it
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        try queue.write { db in try db.execute(sql: StoreSchema.migrations[2]) }
        let uuids = try queue.read { db in try String.fetchAll(db, sql: "SELECT uuid FROM runs") }
        try queue.close()
        #expect(uuids.count == 3 && Set(uuids).count == 3 && uuids.allSatisfy(isVersion4UUID), "\(uuids)")
    }

    @Test("reopening an upgraded store changes none of its rows, UUIDs or migration records")
    func reopeningIsANoOp() throws {
        let path = try legacyStore(version: 2)
        try RunStore(path: path).checkpointAndClose()
        let queries = legacyContent + ["SELECT id, uuid FROM runs ORDER BY id", "SELECT identifier FROM grdb_migrations ORDER BY identifier",
                                       "SELECT * FROM meta ORDER BY key"]
        let before = try queries.map { try dump(path, $0) }
        try RunStore(path: path).checkpointAndClose()
        #expect(try queries.map { try dump(path, $0) } == before)
    }

    @Test("a new store records every migration and holds every schema-3 table")
    func newStore() throws {
        let path = temporaryStorePath()
        _ = try RunStore(path: path)
        let reader = try StoreReader(path: path)
        #expect(try reader.query("SELECT identifier FROM grdb_migrations ORDER BY identifier").rows.count == StoreSchema.currentVersion)
        let names = try reader.catalog().map(\.name)
        for table in ["data_files", "run_data_files", "checkpoints", "run_tags", "run_notes", "run_costs", "run_log"] { #expect(names.contains(table), "\(table)") }
    }

    @Test("a store with a migration this build does not know is refused, for writing and reading, and left byte for byte")
    func unknownMigrationRefused() throws {
        let path = temporaryStorePath()
        let store = try makeStore(path)
        _ = try store.write { db in try db.execute(sql: "INSERT INTO grdb_migrations(identifier) VALUES ('v99')") }
        try store.checkpointAndClose()
        let before = try storeFileBytes(path)
        for open in [{ _ = try RunStore(path: path) }, { _ = try StoreReader(path: path) }] as [() throws -> Void] {
            #expect {
                try open()
            } throws: { error in
                (error as? StoreError)?.kind == .newerSchema
                    && "\(error)".contains("was written by a newer ConvLab (store migrations v99 are unknown to this build, which knows \(StoreMigrations.identifiers.joined(separator: ", "))); upgrade ConvLab to use it — the file was not changed")
            }
        }
        #expect(try storeFileBytes(path) == before)
    }

    @Test("meta.schema_version follows the migrations, so builds from before the migrator refuse the upgraded store")
    func schemaVersionKeptCurrent() throws {
        let path = try legacyStore(version: 1)
        _ = try RunStore(path: path)
        #expect(try dump(path, "SELECT value FROM meta WHERE key = 'schema_version'") == [[.text("\(StoreSchema.currentVersion)")]])
    }

    @Test("several connections creating one new store at once all succeed")
    func concurrentCreation() throws {
        for _ in 0..<5 {
            let path = temporaryStorePath()
            let failures = Locked<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 4) { _ in
                do { _ = try RunStore(path: path) } catch { failures.mutate { $0.append("\(error)") } }
            }
            #expect(failures.value == [])
            #expect(try dump(path, "SELECT identifier FROM grdb_migrations ORDER BY identifier").count == StoreSchema.currentVersion)
        }
    }

    @Test("several connections opening one old store at once all end with it migrated once")
    func concurrentUpgrade() throws {
        let path = try legacyStore(version: 2)
        let failures = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            do { _ = try RunStore(path: path) } catch { failures.mutate { $0.append("\(error)") } }
        }
        #expect(failures.value == [])
        let reader = try StoreReader(path: path)
        #expect(try reader.query("SELECT COUNT(*) FROM runs").rows[0][0] == .integer(3))
        #expect(try reader.query("SELECT COUNT(DISTINCT uuid) FROM runs").rows[0][0] == .integer(3))
        #expect(try legacyContent.dropFirst().allSatisfy { try !dump(path, $0).isEmpty })
    }
}

/// The main file and a non-empty WAL.
func storeFileBytes(_ path: String) throws -> [Data?] {
    [FileManager.default.contents(atPath: path), FileManager.default.contents(atPath: path + "-wal").flatMap { $0.isEmpty ? nil : $0 }]
}

/// A value shared by threads.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func mutate(_ body: (inout Value) -> Void) { lock.withLock { body(&stored) } }
}

@Suite("The upgrade of a store written by the first ConvLab release")
struct ReleasedStoreUpgradeTests {
    /// `Fixtures/store-v1.sqlite` was written by `runner exec Fixtures/store-v1.json` built from the
    /// first landing (commit a2e25ff, store schema 1): two completed runs with every kind of row.
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/store-v1.sqlite").path

    @Test("a store the first release wrote opens, upgrades to the current schema, and keeps every row")
    func upgradesTheReleasedStore() throws {
        let path = temporaryStorePath()
        try FileManager.default.copyItem(atPath: Self.fixture, toPath: path)
        let before = try legacyContent.map { try dump(path, $0) }
        #expect(try StoreReader(path: path).schemaVersion == 1)
        // The fixture is what it says: two runs, and rows in every per-run table.
        #expect(try dump(path, "SELECT (SELECT COUNT(*) FROM runs), (SELECT COUNT(*) FROM metrics), (SELECT COUNT(*) FROM grad_norms), "
                         + "(SELECT COUNT(*) FROM grad_checks), (SELECT COUNT(*) FROM events), (SELECT COUNT(*) FROM params)")
                == [[.integer(2), .integer(36), .integer(32), .integer(40), .integer(4), .integer(94)]])
        let store = try RunStore(path: path)
        try store.close()
        let after = try legacyContent.map { try dump(path, $0) }
        for (sql, (old, new)) in zip(legacyContent, zip(before, after)) { #expect(old == new, "\(sql)") }
        let reader = try StoreReader(path: path)
        #expect(reader.schemaVersion == StoreSchema.currentVersion)
        let uuids = try reader.query("SELECT uuid FROM runs ORDER BY id").rows.compactMap { $0[0].string }
        #expect(uuids.count == 2 && Set(uuids).count == 2 && uuids.allSatisfy(isVersion4UUID), "\(uuids)")
        #expect(try reader.query("SELECT COUNT(*) FROM pragma_foreign_key_check").rows[0][0] == .integer(0))
    }
}
