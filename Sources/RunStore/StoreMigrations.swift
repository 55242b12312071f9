import Foundation
import GRDB

/// The store's migrations, run by GRDB's DatabaseMigrator, which records each applied one in
/// `grdb_migrations` ("v1", "v2", …). meta.schema_version is kept current too: ConvLab builds
/// from before the migrator read it to refuse a newer store.
enum StoreMigrations {
    static let identifiers: [String] = StoreSchema.migrations.indices.map { "v\($0 + 1)" }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for (index, sql) in StoreSchema.migrations.enumerated() {
            let version = index + 1
            migrator.registerMigration(identifiers[index]) { db in
                try db.execute(sql: sql)
                try db.execute(sql: "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", arguments: [String(version)])
            }
        }
        return migrator
    }

    /// meta.schema_version, or 0 when the store has none.
    static func schemaVersion(_ db: Database) throws -> Int {
        guard try db.tableExists("meta") else { return 0 }
        return try Int.fetchOne(db, sql: "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'schema_version'") ?? 0
    }

    /// Why this build must not touch the store (a newer ConvLab wrote it), or nil.
    static func newerStoreReason(_ db: Database) throws -> String? {
        let version = try schemaVersion(db)
        if version > StoreSchema.currentVersion {
            return "store schema \(version), this build knows up to \(StoreSchema.currentVersion)"
        }
        guard try db.tableExists("grdb_migrations") else { return nil }
        let unknown = try migrator.appliedIdentifiers(db).subtracting(identifiers).sorted()
        guard !unknown.isEmpty else { return nil }
        return "store migrations \(unknown.joined(separator: ", ")) are unknown to this build, which knows \(identifiers.joined(separator: ", "))"
    }

    /// A store written before the migrator (schema 1 or 2: meta.schema_version, no grdb_migrations)
    /// has its migrations marked as applied, so that only the later ones run.
    static func adoptStoreWithoutMigrationRecords(_ db: Database) throws {
        guard try !db.tableExists("grdb_migrations") else { return }
        let version = try schemaVersion(db)
        guard version > 0 else { return }
        try db.execute(sql: "CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)")
        for identifier in identifiers.prefix(version) {
            try db.execute(sql: "INSERT INTO grdb_migrations(identifier) VALUES (?)", arguments: [identifier])
        }
    }

    /// Brings the store to the current schema. Two processes opening an old (or new, empty) store
    /// at once may both start the same migration: the migrator picks what to run before each
    /// migration's transaction. The second one's attempt then fails and is rolled back whole; as
    /// long as the other process makes progress, it looks again and carries on from there.
    static func migrate(_ writer: any DatabaseWriter, path: String) throws {
        try writer.write { db in
            if let reason = try newerStoreReason(db) {
                throw StoreError(.newerSchema, path: path, "was written by a newer ConvLab (\(reason)); upgrade ConvLab to use it — the file was not changed")
            }
            try adoptStoreWithoutMigrationRecords(db)
        }
        let migrator = migrator
        func applied() throws -> Set<String> { try writer.read { db in try migrator.appliedIdentifiers(db) } }
        var before = try applied()
        for _ in 0..<100 {
            do {
                try migrator.migrate(writer)
                return
            } catch {
                let after = try applied()
                if Set(identifiers).isSubset(of: after) { return }
                guard after != before else { throw error }     // nobody else is migrating: a real failure
                before = after
            }
        }
        try migrator.migrate(writer)
    }
}
