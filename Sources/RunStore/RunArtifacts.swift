import Foundation
import GRDB

/// What a run leaves beside the store: checkpoint files in its artifacts folder, and the
/// hashes of the data files it read.
extension RunStore {
    /// `<store path>.artifacts/<run uuid>`: the folder of one run's checkpoints. A UUID that is not
    /// one (a store edited by hand, or merged from elsewhere) could name any folder — "../x" — so it
    /// is replaced by a name no run has, and nothing outside the artifacts folder is ever touched.
    public static func artifactsFolder(storePath: String, runUUID: String) -> String {
        storePath + ".artifacts/" + (isRunUUID(runUUID) ? runUUID : "not-a-uuid")
    }

    public func artifactsFolder(runUUID: String) -> String { Self.artifactsFolder(storePath: path, runUUID: runUUID) }

    /// A UUID as runs carry them: 8-4-4-4-12 lower-case hex digits.
    public static func isRunUUID(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        return parts.map(\.count) == [8, 4, 4, 4, 12] && parts.allSatisfy { $0.allSatisfy { $0.isHexDigit && !$0.isUppercase } }
    }

    /// The file of a recorded checkpoint, refusing a recorded path that would leave the run's
    /// folder (the store may have been edited by hand) or a run UUID that is not one.
    public static func checkpointFile(storePath: String, runUUID: String, path relative: String) throws(StoreError) -> String {
        let parts = relative.split(separator: "/", omittingEmptySubsequences: false)
        guard isRunUUID(runUUID), !relative.isEmpty, !relative.hasPrefix("/"), !parts.contains(".."), !parts.contains("") else {
            throw StoreError(.invalidValue, path: storePath,
                             "the checkpoint recorded as \"\(relative)\" for run \(runUUID) is not inside the run's artifacts folder; the store was changed by hand")
        }
        return artifactsFolder(storePath: storePath, runUUID: runUUID) + "/" + relative
    }

    // MARK: checkpoints

    /// Records a checkpoint file (replacing the record of the same run and epoch). `path` is
    /// relative to the run's artifacts folder and may not leave it.
    public func addCheckpoint(_ checkpoint: CheckpointRecord) throws(StoreError) {
        try check(checkpoint)
        try write { db in try insertCheckpoint(db, checkpoint) }
    }

    /// `addCheckpoint` by the run's claimant: in one immediate transaction (the store's write lock
    /// held, so no other process can claim the run meanwhile) checks that `claimant` still holds
    /// the run, lets `place` put the file in place, and records it. False, with nothing placed or
    /// recorded, once another process has claimed the run; false too when `place` fails.
    public func addCheckpoint(_ checkpoint: CheckpointRecord, claimant: String, identity: ClaimantIdentity? = .current,
                              placing place: () -> Bool) throws(StoreError) -> Bool {
        try check(checkpoint)
        do {
            return try writer.writeWithoutTransaction { db in
                var recorded = false
                try db.inTransaction(.immediate) {
                    guard try Self.holds(db, run: checkpoint.runID, claimant: claimant, identity: identity), place() else { return .rollback }
                    try insertCheckpoint(db, checkpoint)
                    recorded = true
                    return .commit
                }
                return recorded
            }
        } catch {
            throw Self.translate(error, path: path)
        }
    }

    private func check(_ checkpoint: CheckpointRecord) throws(StoreError) {
        let parts = checkpoint.path.split(separator: "/", omittingEmptySubsequences: false)
        guard !checkpoint.path.isEmpty, !checkpoint.path.hasPrefix("/"), !parts.contains(".."), !parts.contains(""),
              !checkpoint.path.unicodeScalars.contains(where: RunLabels.isControl) else {
            throw StoreError(.invalidValue, path: path,
                             "checkpoint path \"\(checkpoint.path)\" must be relative to the run's artifacts folder and stay inside it (e.g. epoch-0003.safetensors)")
        }
        guard checkpoint.epoch >= 0, checkpoint.step >= 0, checkpoint.bytes >= 0, checkpoint.sha256.count == 64,
              checkpoint.sha256.allSatisfy(\.isHexDigit) else {
            throw StoreError(.invalidValue, path: path, "checkpoint \(checkpoint.path) of run \(checkpoint.runID): epoch, step and bytes must be ≥ 0 and sha256 64 hex digits")
        }
    }

    private func insertCheckpoint(_ db: Database, _ checkpoint: CheckpointRecord) throws {
        guard try Bool.fetchOne(db, sql: "SELECT 1 FROM runs WHERE id = ?", arguments: [checkpoint.runID]) != nil else {
            throw StoreError(.unknownRun, path: path, "no run with id \(checkpoint.runID); the checkpoint was not recorded")
        }
        try db.execute(sql: """
            INSERT OR REPLACE INTO checkpoints(run_id, epoch, step, path, bytes, sha256, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
            """, arguments: [checkpoint.runID, checkpoint.epoch, checkpoint.step, checkpoint.path, checkpoint.bytes,
                             checkpoint.sha256.lowercased(), checkpoint.createdAt])
    }

    /// The run's checkpoints, oldest epoch first.
    public func checkpoints(run id: Int64) throws(StoreError) -> [CheckpointRecord] {
        try read { db in
            try CheckpointRecord.fetchAll(db, sql: "SELECT * FROM checkpoints WHERE run_id = ? ORDER BY epoch", arguments: [id])
        }
    }

    /// The checkpoint of the run's highest epoch, or nil when it has none.
    public func latestCheckpoint(run id: Int64) throws(StoreError) -> CheckpointRecord? {
        try checkpoints(run: id).last
    }

    /// Forgets one checkpoint record (with `keep: last`, once a newer file has replaced it).
    public func deleteCheckpoint(run id: Int64, epoch: Int) throws(StoreError) {
        try write { db in try db.execute(sql: "DELETE FROM checkpoints WHERE run_id = ? AND epoch = ?", arguments: [id, epoch]) }
    }

    // MARK: data files

    /// The SHA-256 of a data file, from the cache when a hash of the same path, size and mtime is
    /// there; otherwise `compute()`d (outside any transaction: it may take a while) and cached.
    public func dataFileHash(path file: String, size: Int64, mtime: Double,
                             compute: () throws(StoreError) -> String) throws(StoreError) -> String {
        let cached = try read { db in
            try String.fetchOne(db, sql: "SELECT sha256 FROM data_files WHERE path = ? AND size = ? AND mtime = ?",
                                arguments: [file, size, mtime])
        }
        if let cached { return cached }
        let hash = try compute()
        try write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO data_files(path, size, mtime, sha256) VALUES (?, ?, ?, ?)",
                           arguments: [file, size, mtime, hash])
        }
        return hash
    }

    /// The SHA-256 of the file at `file` (made absolute), through the cache.
    public func dataFileHash(path file: String) throws(StoreError) -> String {
        let absolute = URL(fileURLWithPath: file).standardizedFileURL.path
        var info = stat()
        guard stat(absolute, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw StoreError(.io, path: absolute, "is not a readable file, so its SHA-256 cannot be recorded")
        }
        let mtime = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) * 1e-9
        return try dataFileHash(path: absolute, size: Int64(info.st_size), mtime: mtime) { () throws(StoreError) -> String in
            try DataFileHash.sha256(file: absolute)
        }
    }

    /// Records the data files a run read, hashing each (once per path, size and mtime).
    /// Returns the recorded (absolute path, SHA-256) pairs.
    @discardableResult
    public func recordDataFiles(run id: Int64, files: [String]) throws(StoreError) -> [(path: String, sha256: String)] {
        var hashed: [(path: String, sha256: String)] = []
        for file in files {
            let absolute = URL(fileURLWithPath: file).standardizedFileURL.path
            hashed.append((absolute, try dataFileHash(path: absolute)))
        }
        try write { db in
            for (file, hash) in hashed {
                try db.execute(sql: "INSERT OR REPLACE INTO run_data_files(run_id, path, sha256) VALUES (?, ?, ?)", arguments: [id, file, hash])
            }
        }
        return hashed
    }

    /// The data files recorded for a run, by path.
    public func dataFiles(run id: Int64) throws(StoreError) -> [(path: String, sha256: String)] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT path, sha256 FROM run_data_files WHERE run_id = ? ORDER BY path", arguments: [id])
                .map { (path: $0[0], sha256: $0[1]) }
        }
    }
}
