import enum ConvLabKit.RunStatus
import Foundation
import GRDB

/// The SQLite file every run is recorded in: WAL mode, so readers never block the writer and
/// two `runner exec` processes can share one store; writes wait (up to a minute) for each
/// other instead of failing with "database is locked".
public final class RunStore: @unchecked Sendable {
    public let path: String
    let writer: any DatabaseWriter

    /// Opens (creating if needed) a store for writing, migrating an older schema forward.
    /// A store of a newer schema, or a file that is not a store, is refused and left untouched.
    public init(path: String) throws(StoreError) {
        self.path = path
        // While another process creates the file or switches it to WAL, SQLite can report it busy
        // without waiting; that passes within moments, so opening is tried again for a while.
        var attempts = 0
        while true {
            do {
                writer = try Self.open(path: path)
                return
            } catch where error.kind == .busy && attempts < 100 {
                attempts += 1
                usleep(50_000)
            }
        }
    }

    static func open(path: String) throws(StoreError) -> DatabasePool {
        if FileManager.default.fileExists(atPath: path) {
            _ = try inspect(path: path)     // read-only look first: refuse before touching the file
        }
        try refuseReadOnly(path: path)
        var configuration = Configuration()
        configuration.busyMode = .timeout(60)
        configuration.foreignKeysEnabled = true
        configuration.prepareDatabase { db in Self.addClaimFunctions(db) }
        do {
            let pool = try DatabasePool(path: path, configuration: configuration)
            do {
                try StoreMigrations.migrate(pool, path: path)
            } catch {
                try? pool.close()
                throw error
            }
            return pool
        } catch let error as StoreError {
            throw error
        } catch {
            throw translate(error, path: path)
        }
    }

    /// SQLite opens a store it may not write without a word and fails at the first write, as if a
    /// statement had been refused; a store that cannot be written is named as such first. Its folder
    /// must be writable too: SQLite keeps the store's `-wal` and `-shm` files beside it.
    static func refuseReadOnly(path: String) throws(StoreError) {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        for (target, what) in [(path, "the file"), (folder, "its folder \(folder)")] where access(target, F_OK) == 0 {
            guard access(target, W_OK) != 0 else { continue }
            let code = errno
            guard code == EROFS || code == EACCES || code == EPERM else { continue }
            throw StoreError(.io, path: path, "is read-only: \(what) cannot be written (\(String(cString: strerror(code)))); "
                             + "make it writable, or pass another --store (`runner report` reads a read-only store as it is)")
        }
    }

    /// The schema version of an existing store (nil for an empty file), refusing files that are
    /// not stores or that a newer ConvLab wrote, without changing them.
    static func inspect(path: String) throws(StoreError) -> Int? {
        do {
            var configuration = Configuration()
            configuration.readonly = true
            configuration.busyMode = .timeout(60)
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            defer { try? queue.close() }
            return try queue.read { db throws -> Int? in
                guard try db.tableExists("meta") else {
                    // grdb_migrations alone: another process is creating this store (the migrator makes
                    // that table before the first migration's transaction).
                    let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'grdb_migrations'")
                    if tables.isEmpty { return nil }
                    throw StoreError(.notAStore, path: path, "is a SQLite file but not a ConvLab store (no meta table); choose another --store path")
                }
                if let reason = try StoreMigrations.newerStoreReason(db) {
                    throw StoreError(.newerSchema, path: path, "was written by a newer ConvLab (\(reason)); upgrade ConvLab to use it — the file was not changed")
                }
                return try StoreMigrations.schemaVersion(db)
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw translate(error, path: path)
        }
    }

    static func translate(_ error: any Error, path: String) -> StoreError {
        if let error = error as? StoreError { return error }
        if let error = error as? DatabaseError {
            switch error.resultCode {
            case .SQLITE_NOTADB:
                return StoreError(.notAStore, path: path, "is not a SQLite database; choose another --store path")
            case .SQLITE_READONLY:
                return StoreError(.readOnlyViolation, path: path, "the store is opened read-only: this statement would change it, and was refused")
            case .SQLITE_CANTOPEN:
                return StoreError(.io, path: path, "cannot be opened (does its folder exist, and may it be written?)")
            case .SQLITE_BUSY, .SQLITE_LOCKED:
                return StoreError(.busy, path: path, "is locked by another process for longer than ConvLab waits; try again when it is done")
            case .SQLITE_FULL:
                return StoreError(.io, path: path, "the disk is full (SQLite could not write); free some space on it and run the command again: "
                                  + "what the store recorded is kept, and `runner exec` resumes an unfinished run")
            case .SQLITE_CORRUPT:
                return StoreError(.notAStore, path: path, "is damaged (SQLite reports corruption)")
            default:
                return StoreError(.io, path: path, error.message ?? "\(error)")
            }
        }
        return StoreError(.io, path: path, "\(error)")
    }

    func write<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do { return try writer.write(body) } catch { throw Self.translate(error, path: path) }
    }

    func read<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do { return try writer.read(body) } catch { throw Self.translate(error, path: path) }
    }
}

extension RunStore {
    /// Copies what the WAL holds into the main file, as far as no other process's reader is in
    /// the way (a passive checkpoint never waits), and closes the connections: a store left by a
    /// finished `runner exec` is then whole in its one file, even if someone copies only that.
    public func close() throws(StoreError) {
        do {
            // Reader connections (reads through the pool) go first: SQLite folds the WAL away only
            // when the last connection to close is one that may write.
            (writer as? DatabasePool)?.releaseMemory()
            try writer.writeWithoutTransaction { db in try db.checkpoint(.passive) }
            try writer.close()
        } catch {
            throw Self.translate(error, path: path)
        }
    }

    /// Folds the WAL into the main file and closes the connections (tests compare file bytes).
    public func checkpointAndClose() throws(StoreError) {
        do {
            (writer as? DatabasePool)?.releaseMemory()
            try writer.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
            try writer.close()
        } catch {
            throw Self.translate(error, path: path)
        }
    }
}
