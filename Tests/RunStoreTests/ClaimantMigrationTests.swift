import Foundation
import Testing
import GRDB
@testable import RunStore
import TestSupport

/// A store of schema 3 as the migrator left it (grdb_migrations v1–v3), with `legacyStore`'s rows;
/// its run 3 is running, claimed a moment ago by a process of this host that no longer exists.
func schemaThreeStore() throws -> (path: String, claimant: String, heartbeat: Double) {
    let path = try legacyStore(version: 2)
    let queue = try DatabaseQueue(path: path)
    try queue.write { db in try StoreMigrations.adoptStoreWithoutMigrationRecords(db) }
    try StoreMigrations.migrator.migrate(queue, upTo: "v3")
    let claimant = "\(RunStore.hostName):\(try deadPid())"
    let heartbeat = Date().timeIntervalSince1970
    try queue.write { db in
        try db.execute(sql: "UPDATE runs SET claimed_by = ?, heartbeat_at = ? WHERE id = 3", arguments: [claimant, heartbeat])
    }
    try queue.close()
    return (path, claimant, heartbeat)
}

@Suite("Schema 4: the claimant's identity beside claimed_by, in upgraded and merged stores")
struct ClaimantMigrationTests {
    @Test("a schema-3 store is read as it is, then upgraded to 4 with every row kept and no identity for its claims, which wait for their heartbeat")
    func upgradesFromThree() throws {
        let (path, claimant, heartbeat) = try schemaThreeStore()
        let reader = try StoreReader(path: path)
        #expect(reader.schemaVersion == 3)
        // A reader of the old store asks for NULLs instead of the columns it lacks.
        #expect(try reader.query("SELECT claimed_by, \(ClaimantIdentity.columns(schemaVersion: reader.schemaVersion)) FROM runs WHERE id = 3").rows
                == [[.text(claimant), .null, .null, .null]])
        let content = legacyContent + ["SELECT id, uuid, claimed_by, failure_kind FROM runs ORDER BY id"]
        let before = try content.map { try dump(path, $0) }

        let store = try RunStore(path: path)
        let after = try content.map { try dump(path, $0) }
        for (sql, (old, new)) in zip(content, zip(before, after)) { #expect(old == new, "\(sql)") }
        let upgraded = try StoreReader(path: path)
        #expect(upgraded.schemaVersion == StoreSchema.currentVersion)
        #expect(try upgraded.query("SELECT identifier FROM grdb_migrations ORDER BY identifier").rows.last == [.text("v\(StoreSchema.currentVersion)")])
        #expect(try upgraded.query("SELECT claimant_boot_id, claimant_pid_namespace, claimant_start_ticks FROM runs WHERE id = 3").rows
                == [[.null, .null, .null]])
        // The claim from before schema 4 has no identity: a dead local pid does not make it claimable before the stale limit.
        let run = try #require(try store.storedRun(3))
        #expect(run.claimedBy == claimant && run.claimantIdentity == nil)
        #expect(!run.isClaimable(now: heartbeat + 1, staleAfter: 60) && run.isClaimable(now: heartbeat + 61, staleAfter: 60))
        #expect(try !store.claimRun(3, staleAfter: 60, now: heartbeat + 1))
        #expect(try store.claimRun(3, staleAfter: 60, now: heartbeat + 61))
        #expect(try store.storedRun(3)?.claimantIdentity == ClaimantIdentity.current)
    }

    @Test("the schema-4 DDL is plain SQLite: run on its own (as from Schemas/store.sql) it upgrades a schema-3 store")
    func plainSQL() throws {
        let (path, _, _) = try schemaThreeStore()
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in try db.execute(sql: StoreSchema.migrations[3]) }
        let columns = try queue.read { db in try String.fetchAll(db, sql: "SELECT name FROM pragma_table_info('runs') WHERE name LIKE 'claimant%' ORDER BY cid") }
        try queue.close()
        #expect(columns == ["claimant_boot_id", "claimant_pid_namespace", "claimant_start_ticks"])
    }

    @Test("merge copies the claimant's identity, and takes a schema-3 input as it is (no --upgrade-inputs, not changed), its claims without identity")
    func mergeCarriesIdentity() throws {
        let (old, claimant, _) = try schemaThreeStore()
        let oldBytes = try storeFileBytes(old)
        let (current, _, ids) = try queuedStore(runs: 1)
        let identity = ClaimantIdentity(bootID: "boot-b", pidNamespace: "pid:[9]", startTicks: 99)
        #expect(try RunStore(path: current).claimRun(ids[0], staleAfter: 60, claimant: "b:9", identity: identity))

        let out = folder(temporaryStorePath()) + "/out.sqlite"
        let summary = try RunStore.merge(into: out, from: [old, current])
        #expect(summary.runsAdded == 4)
        #expect(try storeFileBytes(old) == oldBytes)
        #expect(try StoreReader(path: old).schemaVersion == 3)
        let rows = try dump(out, "SELECT claimed_by, claimant_boot_id, claimant_pid_namespace, claimant_start_ticks FROM runs WHERE claimed_by IS NOT NULL ORDER BY id")
        #expect(rows == [[.text(claimant), .null, .null, .null], [.text("b:9"), .text("boot-b"), .text("pid:[9]"), .integer(99)]])
        // Merging again changes nothing.
        let again = try RunStore.merge(into: out, from: [old, current])
        #expect(again.runsAdded == 0 && again.runsKept == 4)
    }
}
