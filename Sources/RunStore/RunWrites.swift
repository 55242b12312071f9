import enum ConvLabKit.RunStatus
import Foundation
import GRDB

/// The one way a run's rows are written: each write checks, in its own transaction, that the
/// process writing still holds the run (`claimant` and its identity), so a process that lost
/// its run (stopped past the stale limit) never changes the new owner's rows (DESIGN §5).
extension RunStore {
    /// Inserts a run (status `queued`, a fresh UUID unless `run.uuid` is one no run holds) with
    /// its flattened parameters; what `openSweep` and merges create runs with.
    static func insertRun(_ db: Database, _ run: NewRun) throws -> Int64 {
        var uuid = UUID().uuidString.lowercased()
        if let wanted = run.uuid, isRunUUID(wanted),
           try Bool.fetchOne(db, sql: "SELECT 1 FROM runs WHERE uuid = ?", arguments: [wanted]) == nil {
            uuid = wanted
        }
        try NewRunRow(uuid: uuid, run: run).insert(db)
        let id = db.lastInsertedRowID
        for param in run.params { try ParamRow(runID: id, key: param.key, text: param.text, real: param.real).insert(db) }
        return id
    }

    static func insert(_ db: Database, _ batch: RecordBatch, run id: Int64, epochsDone: Int, stepsDone: Int) throws {
        let metric = try db.makeStatement(sql: "INSERT INTO metrics(run_id, name, step, epoch, value, wall_time) VALUES (?, ?, ?, ?, ?, ?)")
        for m in batch.metrics { try metric.execute(arguments: [id, m.name, m.step, m.epoch, m.value, m.wallTime]) }
        let norm = try db.makeStatement(sql: "INSERT INTO grad_norms(run_id, step, layer, layer_kind, tensor, l2, max_abs) VALUES (?, ?, ?, ?, ?, ?, ?)")
        for g in batch.gradientNorms { try norm.execute(arguments: [id, g.step, g.layer, g.layerKind, g.tensor, g.l2, g.maxAbs]) }
        let check = try db.makeStatement(sql: """
            INSERT INTO grad_checks(run_id, step, layer, layer_kind, tensor, entry, analytic, numeric, abs_error, rel_error, outcome)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        for c in batch.gradientChecks {
            try check.execute(arguments: [id, c.step, c.layer, c.layerKind, c.tensor, c.entry, c.analytic, c.numeric,
                                          c.absoluteError, c.relativeError, c.outcome])
        }
        let event = try db.makeStatement(sql: "INSERT INTO events(run_id, time, kind, message) VALUES (?, ?, ?, ?)")
        for e in batch.events { try event.execute(arguments: [id, e.time, e.kind, e.message]) }
        try db.execute(sql: "UPDATE runs SET heartbeat_at = ?, epochs_done = ?, steps_done = ? WHERE id = ?",
                       arguments: [Date().timeIntervalSince1970, epochsDone, stepsDone, id])
    }

    /// Deletes what an earlier attempt of a run recorded past the point a new attempt starts from:
    /// everything for a start from scratch (`checkpointStep` nil); with a checkpoint at step S,
    /// metrics and gradient norms after S and gradient checks from S on (the check at S is made
    /// before step S + 1, so the new attempt makes it again). Events stay: they are the run's history.
    /// Nothing is deleted (and false returned) unless `claimant` still holds the run, checked in
    /// the same transaction: a process that lost its run never erases the new owner's rows.
    @discardableResult
    public func discardRecords(run id: Int64, after checkpointStep: Int?, epochsDone: Int = 0, claimant: String,
                               identity: ClaimantIdentity? = .current) throws(StoreError) -> Bool {
        let step = checkpointStep ?? -1
        let held = Self.heldBy(claimant, identity: identity)
        return try write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM runs WHERE id = ? AND \(held.sql)", arguments: [id] + held.arguments) == nil {
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

    /// Records where and how the run is being trained now (the process that claimed it), only
    /// while `claimant` still holds the run (false otherwise, nothing written).
    @discardableResult
    public func recordProvenance(run id: Int64, _ p: RunProvenance, claimant: String,
                                 identity: ClaimantIdentity? = .current) throws(StoreError) -> Bool {
        let held = Self.heldBy(claimant, identity: identity)
        return try write { db in
            try db.execute(sql: """
                UPDATE runs SET host = ?, os = ?, convlab_version = ?, swift_version = ?, blas = ?, command_line = ?,
                                git_commit = ?, git_dirty = ?, cpu_model = ? WHERE id = ? AND \(held.sql)
                """, arguments: [p.host, p.os, p.convlabVersion, p.swiftVersion, p.blas, p.commandLine, p.gitCommit, p.gitDirty, p.cpuModel, id]
                                + held.arguments)
            return db.changesCount == 1
        }
    }

    /// Writes a batch of records and moves the run's heartbeat and position (`epochsDone`,
    /// `stepsDone`), in one transaction, while `claimant` still holds the run: false (nothing
    /// written) once another process has claimed it. A batch holding a NaN or an infinity is
    /// refused whole (`.nonFiniteValue`, naming the value): SQLite would turn NaN into NULL and
    /// fail the transaction on a NOT NULL column.
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

    /// Ends a run, while `claimant` still holds it: false (nothing changed) otherwise. A `failed`
    /// run is a spec failure (not claimed again) unless `failureKind` says it crashed.
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
    public func finalMetrics(run id: Int64) throws(StoreError) -> FinalMetrics? {
        try read { db in try FinalMetrics.fetchOne(db, sql: "SELECT * FROM run_final_metrics WHERE run_id = ?", arguments: [id]) }
    }

    static func holds(_ db: Database, run id: Int64, claimant: String, identity: ClaimantIdentity?) throws -> Bool {
        let held = heldBy(claimant, identity: identity)
        return try Bool.fetchOne(db, sql: "SELECT 1 FROM runs WHERE id = ? AND status = 'running' AND \(held.sql)", arguments: [id] + held.arguments) != nil
    }
}
