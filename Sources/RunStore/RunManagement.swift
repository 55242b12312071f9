import enum ConvLabKit.RunStatus
import Foundation
import GRDB

/// What people do to runs after the fact: tag them, write notes on them, delete them.
public enum RunLabels {
    public static let maximumTagLength = 100
    public static let maximumNoteLength = 10_000

    /// Control characters (C0, C1, DEL), line and paragraph separators, and bidirectional
    /// controls: nothing a label should hide or a terminal should act on.
    public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029, 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }

    /// What is wrong with `tag`, or nil when it is a good tag.
    public static func tagProblem(_ tag: String) -> String? {
        if tag.trimmingCharacters(in: .whitespaces).isEmpty { return "a tag may not be empty" }
        if let bad = tag.unicodeScalars.first(where: isControl) {
            return "a tag may not hold control characters (it holds U+\(String(format: "%04X", bad.value)))"
        }
        if tag != tag.trimmingCharacters(in: .whitespaces) { return "a tag may not start or end with a space" }
        if tag.unicodeScalars.count > maximumTagLength { return "a tag may be at most \(maximumTagLength) characters" }
        return nil
    }

    /// What is wrong with a note's text, or nil. Line breaks and tabs are allowed.
    public static func noteProblem(_ text: String) -> String? {
        if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return "a note may not be empty" }
        if let bad = text.unicodeScalars.first(where: { isControl($0) && $0 != "\n" && $0 != "\t" }) {
            return "a note may not hold control characters other than line breaks and tabs (it holds U+\(String(format: "%04X", bad.value)))"
        }
        if text.unicodeScalars.count > maximumNoteLength { return "a note may be at most \(maximumNoteLength) characters" }
        return nil
    }
}

/// Runs removed by `RunStore.deleteRuns`.
public struct RunDeletion: Sendable, Equatable {
    public var ids: [Int64]
    /// Artifacts folders that were there and are now gone.
    public var removedFolders: [String]
    /// Artifacts folders that could not be removed, with why (the rows are gone all the same).
    public var failures: [String]
}

extension RunStore {
    /// Every table with one or more rows per run, deleted explicitly (no cascades) with the run.
    public static let perRunTables = ["params", "metrics", "grad_norms", "grad_checks", "events", "checkpoints",
                                      "run_tags", "run_notes", "run_data_files", "run_costs", "run_log"]

    static func requireRuns(_ ids: [Int64], _ db: Database, path: String) throws {
        for id in ids where try Bool.fetchOne(db, sql: "SELECT 1 FROM runs WHERE id = ?", arguments: [id]) == nil {
            throw StoreError(.unknownRun, path: path, "no run with id \(id); nothing was changed (see `runner report`)")
        }
    }

    /// Tags the runs (a run that has the tag already keeps it); returns how many runs gained it.
    @discardableResult
    public func tag(runs ids: [Int64], with tag: String) throws(StoreError) -> Int {
        if let problem = RunLabels.tagProblem(tag) { throw StoreError(.invalidValue, path: path, "\(problem); nothing was changed") }
        return try write { db in
            try Self.requireRuns(ids, db, path: path)
            var added = 0
            for id in ids {
                try db.execute(sql: "INSERT OR IGNORE INTO run_tags(run_id, tag) VALUES (?, ?)", arguments: [id, tag])
                added += db.changesCount
            }
            return added
        }
    }

    /// Removes the tag from the runs; returns how many runs had it.
    @discardableResult
    public func untag(runs ids: [Int64], tag: String) throws(StoreError) -> Int {
        if let problem = RunLabels.tagProblem(tag) { throw StoreError(.invalidValue, path: path, "\(problem); nothing was changed") }
        return try write { db in
            try Self.requireRuns(ids, db, path: path)
            var removed = 0
            for id in ids {
                try db.execute(sql: "DELETE FROM run_tags WHERE run_id = ? AND tag = ?", arguments: [id, tag])
                removed += db.changesCount
            }
            return removed
        }
    }

    public func addNote(run id: Int64, text: String, time: Double = Date().timeIntervalSince1970) throws(StoreError) {
        if let problem = RunLabels.noteProblem(text) { throw StoreError(.invalidValue, path: path, "\(problem); nothing was changed") }
        try write { db in
            try Self.requireRuns([id], db, path: path)
            try db.execute(sql: "INSERT INTO run_notes(run_id, time, text) VALUES (?, ?, ?)", arguments: [id, time, text])
        }
    }

    public func tags(run id: Int64) throws(StoreError) -> [String] {
        try read { db in try String.fetchAll(db, sql: "SELECT tag FROM run_tags WHERE run_id = ? ORDER BY tag", arguments: [id]) }
    }

    public func notes(run id: Int64) throws(StoreError) -> [(time: Double, text: String)] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT time, text FROM run_notes WHERE run_id = ? ORDER BY time, rowid", arguments: [id])
                .map { (time: $0[0], text: $0[1]) }
        }
    }

    /// Deletes the runs' rows from every table in one transaction, then their artifacts folders.
    /// A run that is running with a heartbeat newer than `staleAfter` seconds belongs to a live
    /// process: it is refused, by name, and nothing is deleted.
    public func deleteRuns(_ ids: [Int64], staleAfter: Double, now: Double = Date().timeIntervalSince1970) throws(StoreError) -> RunDeletion {
        let uuids: [String] = try write { db in
            var uuids: [String] = []
            for id in ids {
                guard let row = try Row.fetchOne(db, sql: """
                    SELECT uuid, status, heartbeat_at, claimed_by, claimant_boot_id, claimant_pid_namespace, claimant_start_ticks FROM runs WHERE id = ?
                    """, arguments: [id]) else {
                    throw StoreError(.unknownRun, path: path, "no run with id \(id); nothing was deleted (see `runner report`)")
                }
                let uuid: String = row[0], status: String = row[1], heartbeat: Double? = row[2]
                let identity = ClaimantIdentity.stored(bootID: row[4], pidNamespace: row[5], startTicks: row[6])
                // Live: a fresh heartbeat, from a process that is not known to be gone (as exec sees it).
                if status == RunStatus.running.rawValue, let heartbeat, heartbeat >= now - staleAfter, !Self.claimantIsGone(row[3], identity: identity) {
                    throw StoreError(.liveRun, path: path,
                                     "run \(id) (\(uuid.prefix(8))) is running: its heartbeat is \(Int(max(0, now - heartbeat))) s old; stop its `runner exec` first, or wait until it is older than \(Int(staleAfter)) s — nothing was deleted")
                }
                uuids.append(uuid)
            }
            for id in ids {
                for table in Self.perRunTables {
                    try db.execute(sql: "DELETE FROM \(table) WHERE run_id = ?", arguments: [id])
                }
                try db.execute(sql: "DELETE FROM runs WHERE id = ?", arguments: [id])
            }
            return uuids
        }
        // After the commit: a folder whose rows are gone is garbage; rows whose folder is gone would be a broken store.
        var deletion = RunDeletion(ids: ids, removedFolders: [], failures: [])
        for uuid in uuids where Self.isRunUUID(uuid) {     // anything else names no folder of ours
            let folder = artifactsFolder(runUUID: uuid)
            guard FileManager.default.fileExists(atPath: folder) else { continue }
            do {
                try FileManager.default.removeItem(atPath: folder)
                deletion.removedFolders.append(folder)
            } catch {
                deletion.failures.append("\(folder): \(error.localizedDescription)")
            }
        }
        return deletion
    }
}
