import enum ConvLabKit.RunStatus
import Foundation
import GRDB

/// What `runner exec` needs to continue a sweep: the experiment of a spec found or created in
/// one write transaction (so that processes started together share ONE experiment), claims that
/// say what the run was before, and writes that only the run's current claimant may make.
extension RunStore {
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
}
