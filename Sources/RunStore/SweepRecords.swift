import enum ConvLabKit.RunStatus
import Foundation
import GRDB

/// What `runner exec` needs to continue a sweep: the experiment of a spec found or created in
/// one write transaction (so that processes started together share ONE experiment), claims that
/// say what the run was before, and writes that only the run's current claimant may make.
extension RunStore {
    /// One run of a sweep, as `openSweep` inserts it when the experiment is new.
    public struct SweepRun: Sendable {
        public var run: NewRun
        public init(_ run: NewRun) { self.run = run }
    }

    /// The experiment a `runner exec` works on.
    public struct Sweep: Sendable {
        public var experimentID: Int64
        /// True when this call created the experiment (and its runs).
        public var created: Bool
        /// Its runs in matrix order, as they were when the experiment was found or created.
        public var runs: [StoredRun]
        /// The newest older experiment of the same spec path or name whose spec differed, when
        /// a new experiment was created for a changed spec (experiments recorded before schema 3
        /// have no hash, and are never said to have changed).
        public var changedFrom: Int64?
        /// True when `changedFrom` was recorded by a ConvLab from before sweeps were tracked (no
        /// hash): it is not continued, whatever it holds.
        public var changedFromUntracked = false
        /// The newest experiment of the same spec, when `fresh` created a new one beside it.
        public var freshBeside: Int64?
    }

    /// Finds the newest experiment recorded with `specHash`, or creates it with its runs, in one
    /// IMMEDIATE transaction: of several processes starting the same spec on one store at the same
    /// moment, exactly one creates it and the others find it. `fresh` always creates. `runs` may be
    /// a part of the sweep (a shard): only those are inserted, and only those are returned, even
    /// when the experiment found holds others (the rest of the sweep lives in other stores).
    public func openSweep(name: String, specPath: String, specJSON: String, specHash: String, runs: [NewRun],
                          fresh: Bool) throws(StoreError) -> Sweep {
        let wanted = Set(runs.map(\.runIndex))
        func mine(_ stored: [StoredRun]) -> [StoredRun] { stored.filter { wanted.contains($0.runIndex) } }
        do {
            return try writer.writeWithoutTransaction { db in
                var sweep: Sweep?
                try db.inTransaction(.immediate) {
                    let existing = try Int64.fetchOne(db, sql: "SELECT id FROM experiments WHERE spec_hash = ? ORDER BY id DESC LIMIT 1",
                                                      arguments: [specHash])
                    if let existing, !fresh {
                        // A run deleted since (`runner runs rm`) is queued again, so the sweep is whole.
                        let held = Set(try Int.fetchAll(db, sql: "SELECT run_index FROM runs WHERE experiment_id = ?", arguments: [existing]))
                        for var run in runs where !held.contains(run.runIndex) {
                            run.experimentID = existing
                            _ = try Self.insertRun(db, run)
                        }
                        sweep = Sweep(experimentID: existing, created: false,
                                      runs: mine(try Self.storedRuns(db, where: "r.experiment_id = ?", arguments: [existing])))
                        return .commit
                    }
                    let changed = existing == nil ? try Self.previousExperiment(db, name: name, specPath: specPath, specHash: specHash) : nil
                    try db.execute(sql: "INSERT INTO experiments(name, spec_path, spec_json, created_at, spec_hash) VALUES (?, ?, ?, ?, ?)",
                                   arguments: [name, specPath, specJSON, Date().timeIntervalSince1970, specHash])
                    let id = db.lastInsertedRowID
                    for var run in runs {
                        run.experimentID = id
                        _ = try Self.insertRun(db, run)
                    }
                    sweep = Sweep(experimentID: id, created: true,
                                  runs: mine(try Self.storedRuns(db, where: "r.experiment_id = ?", arguments: [id])),
                                  changedFrom: changed?.id, changedFromUntracked: changed?.untracked ?? false, freshBeside: existing)
                    return .commit
                }
                guard let sweep else { throw StoreError(.io, path: path, "internal error: the sweep was neither found nor created") }
                return sweep
            }
        } catch {
            throw Self.translate(error, path: path)
        }
    }

    /// The newest experiment of the same spec file or name whose runs are not this spec's: one of
    /// another hash (the spec was edited), or one from before sweeps were tracked (no hash).
    static func previousExperiment(_ db: Database, name: String, specPath: String, specHash: String) throws -> (id: Int64, untracked: Bool)? {
        try Row.fetchOne(db, sql: """
            SELECT id, spec_hash IS NULL FROM experiments WHERE (spec_path = ? OR name = ?) AND (spec_hash IS NULL OR spec_hash != ?)
            ORDER BY id DESC LIMIT 1
            """, arguments: [specPath, name, specHash]).map { (id: $0[0], untracked: $0[1]) }
    }

    /// What `openSweep` would find, read without changing the store (for `runner exec --dry-run`):
    /// nil when there is no store, or it has never run this spec; `changedFrom` as above.
    public static func previewSweep(storePath: String, name: String, specPath: String,
                                    specHash: String) throws(StoreError) -> (found: (Int64, [StoredRun])?, changedFrom: (id: Int64, untracked: Bool)?, newest: Int64) {
        guard FileManager.default.fileExists(atPath: storePath), let version = try inspect(path: storePath) else { return (nil, nil, 0) }
        do {
            var configuration = Configuration()
            configuration.readonly = true
            configuration.busyMode = .timeout(10)
            configuration.prepareDatabase { db in Self.addClaimFunctions(db) }
            let queue = try DatabaseQueue(path: storePath, configuration: configuration)
            defer { try? queue.close() }
            return try queue.read { db in
                let newest = try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(id), 0) FROM experiments") ?? 0
                guard version >= 3 else {
                    // Not upgraded yet: every experiment of this spec is one from before sweeps were tracked.
                    let old = try Int64.fetchOne(db, sql: "SELECT id FROM experiments WHERE spec_path = ? OR name = ? ORDER BY id DESC LIMIT 1",
                                                 arguments: [specPath, name])
                    return (nil, old.map { (id: $0, untracked: true) }, newest)
                }
                if let id = try Int64.fetchOne(db, sql: "SELECT id FROM experiments WHERE spec_hash = ? ORDER BY id DESC LIMIT 1", arguments: [specHash]) {
                    return ((id, try storedRuns(db, where: "r.experiment_id = ?", arguments: [id])), nil, newest)
                }
                return (nil, try previousExperiment(db, name: name, specPath: specPath, specHash: specHash), newest)
            }
        } catch {
            throw translate(error, path: storePath)
        }
    }

    /// The runs of an experiment in matrix order, as stored now.
    public func storedRuns(experiment id: Int64) throws(StoreError) -> [StoredRun] {
        try read { db in try Self.storedRuns(db, where: "r.experiment_id = ?", arguments: [id]) }
    }

    /// How a claim went: `before` is the run as it was just before this process took it (in the
    /// same transaction); `current` is why it could not be taken.
    public enum ClaimOutcome: Sendable, Equatable {
        case claimed(before: StoredRun)
        case refused(current: StoredRun)
        case unknownRun
    }

    /// `claimRun`, telling what the run was before the claim or why it was refused.
    public func claim(run id: Int64, staleAfter: TimeInterval, claimant: String = RunStore.claimant,
                      identity: ClaimantIdentity? = .current, now: Double = Date().timeIntervalSince1970) throws(StoreError) -> ClaimOutcome {
        do {
            return try writer.writeWithoutTransaction { db in
                var outcome = ClaimOutcome.unknownRun
                try db.inTransaction(.immediate) {
                    guard let before = try Self.storedRuns(db, where: "r.id = ?", arguments: [id]).first else { return .commit }
                    let taken = try Int64.fetchOne(db, sql: "UPDATE runs SET \(Self.claimAssignments) WHERE id = :id AND \(Self.claimableCondition) RETURNING id",
                                                   arguments: ["id": id] + Self.claimArguments(claimant: claimant, identity: identity,
                                                                                               now: now, staleAfter: staleAfter)) != nil
                    outcome = taken ? .claimed(before: before) : .refused(current: before)
                    return .commit
                }
                return outcome
            }
        } catch {
            throw Self.translate(error, path: path)
        }
    }

    /// Marks a run that was never started as `interrupted` with `reason` (a stopped `runner exec`
    /// leaves the rest of its sweep so); does nothing to a run in any other state.
    public func markNotStarted(run id: Int64, reason: String) throws(StoreError) {
        try write { db in
            try db.execute(sql: "UPDATE runs SET status = 'interrupted', error = ?, finished_at = ? WHERE id = ? AND status = 'queued'",
                           arguments: [reason, Date().timeIntervalSince1970, id])
        }
    }

    /// Deletes what an earlier attempt of a run recorded past the point a new attempt starts from:
    /// everything for a start from scratch (`checkpointStep` nil); with a checkpoint at step S,
    /// metrics and gradient norms after S and gradient checks from S on (the check at S is made
    /// before step S + 1, so the new attempt makes it again). Events stay: they are the run's history.
    /// With `claimant`, nothing is deleted (and false returned) unless that process still holds the
    /// run, checked in the same transaction: a process that lost its run never erases the new owner's rows.
    @discardableResult
    public func discardRecords(run id: Int64, after checkpointStep: Int?, epochsDone: Int = 0, claimant: String? = nil,
                               identity: ClaimantIdentity? = .current) throws(StoreError) -> Bool {
        let step = checkpointStep ?? -1
        let held = claimant.map { Self.heldBy($0, identity: identity) }
        return try write { db in
            if let held, try Bool.fetchOne(db, sql: "SELECT 1 FROM runs WHERE id = ? AND \(held.sql)", arguments: [id] + held.arguments) == nil {
                return false
            }
            try db.execute(sql: "DELETE FROM metrics WHERE run_id = ? AND step > ?", arguments: [id, step])
            try db.execute(sql: "DELETE FROM grad_norms WHERE run_id = ? AND step > ?", arguments: [id, step])
            try db.execute(sql: "DELETE FROM grad_checks WHERE run_id = ? AND step >= ?", arguments: [id, max(step, 0)])
            if checkpointStep == nil { try db.execute(sql: "DELETE FROM grad_checks WHERE run_id = ?", arguments: [id]) }
            try db.execute(sql: "UPDATE runs SET epochs_done = ?, steps_done = ? WHERE id = ?", arguments: [epochsDone, max(step, 0), id])
            return true
        }
    }

    /// Records where and how the run is being trained now (the process that claimed it); with
    /// `claimant`, only while that process still holds the run (false otherwise, nothing written).
    @discardableResult
    public func recordProvenance(run id: Int64, _ p: RunProvenance, claimant: String? = nil,
                                 identity: ClaimantIdentity? = .current) throws(StoreError) -> Bool {
        let held = claimant.map { Self.heldBy($0, identity: identity) }
        return try write { db in
            try db.execute(sql: """
                UPDATE runs SET host = ?, os = ?, convlab_version = ?, swift_version = ?, blas = ?, command_line = ?,
                                git_commit = ?, git_dirty = ?, cpu_model = ? WHERE id = ?\(held.map { " AND " + $0.sql } ?? "")
                """, arguments: [p.host, p.os, p.convlabVersion, p.swiftVersion, p.blas, p.commandLine, p.gitCommit, p.gitDirty, p.cpuModel, id]
                                + (held?.arguments ?? []))
            return db.changesCount == 1
        }
    }

    /// `append`, only while `claimant` still holds the run: false (nothing written) once another
    /// process has claimed it.
    public func append(_ batch: RecordBatch, run id: Int64, epochsDone: Int, stepsDone: Int, claimant: String,
                       identity: ClaimantIdentity? = .current) throws(StoreError) -> Bool {
        if let value = batch.firstNonFiniteValue {
            throw StoreError(.nonFiniteValue, path: path, "refused to record a value that is not a number: \(value); nothing of this batch was written")
        }
        return try write { db in
            guard try Self.holds(db, run: id, claimant: claimant, identity: identity) else { return false }
            try Self.insert(db, batch, run: id, epochsDone: epochsDone, stepsDone: stepsDone)
            return true
        }
    }

    /// `finish`, only while `claimant` still holds the run: false (nothing changed) otherwise.
    public func finish(run id: Int64, status: RunStatus, error: String? = nil, failureKind: FailureKind? = nil,
                       claimant: String, identity: ClaimantIdentity? = .current) throws(StoreError) -> Bool {
        let now = Date().timeIntervalSince1970
        let kind = status == .failed ? (failureKind ?? .spec).rawValue : nil
        let held = Self.heldBy(claimant, identity: identity)
        return try write { db in
            try db.execute(sql: """
                UPDATE runs SET status = ?, finished_at = ?, heartbeat_at = ?, error = ?, failure_kind = ?
                WHERE id = ? AND status = 'running' AND \(held.sql)
                """, arguments: [status.rawValue, now, now, error, kind, id] + held.arguments)
            return db.changesCount == 1
        }
    }

    /// The last train loss and test accuracy, the best test accuracy and the mean speed of a run
    /// (`run_final_metrics`), for showing a run this process did not train; nil for an unknown run.
    public func finalMetrics(run id: Int64) throws(StoreError) -> (trainLoss: Double?, testAccuracy: Double?, bestTestAccuracy: Double?, imagesPerSecond: Double?)? {
        try read { db in
            try Row.fetchOne(db, sql: """
                SELECT final_train_loss, final_test_accuracy, best_test_accuracy, images_per_second FROM run_final_metrics WHERE run_id = ?
                """, arguments: [id]).map { row in (row[0], row[1], row[2], row[3]) }
        }
    }

    static func holds(_ db: Database, run id: Int64, claimant: String, identity: ClaimantIdentity?) throws -> Bool {
        let held = heldBy(claimant, identity: identity)
        return try Bool.fetchOne(db, sql: "SELECT 1 FROM runs WHERE id = ? AND status = 'running' AND \(held.sql)", arguments: [id] + held.arguments) != nil
    }
}
