import ConvLabKit
import Foundation
import GRDB
import RunStore

/// Store states written directly in SQL, for tests of what reads a store (reports, merges, claims):
/// they need runs in every state without training them. The runner itself writes a run only
/// through the claimed API (`RunStore.append(_:run:epochsDone:stepsDone:claimant:)` and its
/// siblings), whose own tests go through it.
extension RunStore {
    private func fixtureWrite<T>(_ body: (Database) throws -> T) throws -> T {
        var configuration = Configuration()
        configuration.busyMode = .timeout(60)
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        defer { try? queue.close() }
        return try queue.write(body)
    }

    /// A new experiment without runs.
    @discardableResult
    public func createExperiment(name: String, specPath: String?, specJSON: String, specHash: String? = nil) throws -> Int64 {
        try fixtureWrite { db in
            try db.execute(sql: "INSERT INTO experiments(name, spec_path, spec_json, created_at, spec_hash) VALUES (?, ?, ?, ?, ?)",
                           arguments: [name, specPath, specJSON, Date().timeIntervalSince1970, specHash])
            return db.lastInsertedRowID
        }
    }

    /// A queued run with its parameters, and a fresh UUID (or `run.uuid`).
    @discardableResult
    public func createRun(_ run: NewRun) throws -> Int64 {
        try fixtureWrite { db in
            let p = run.provenance
            try db.execute(sql: """
                INSERT INTO runs(uuid, experiment_id, run_index, variant, variant_label, spec_json, spec_hash, seed, status, epochs_planned,
                                 host, os, convlab_version, swift_version, blas, command_line, git_commit, git_dirty, cpu_model)
                VALUES (:uuid, :experiment, :index, :variant, :label, :spec, :hash, :seed, 'queued', :epochs,
                        :host, :os, :convlab, :swift, :blas, :commandLine, :gitCommit, :gitDirty, :cpuModel)
                """, arguments: ["uuid": run.uuid ?? UUID().uuidString.lowercased(), "experiment": run.experimentID, "index": run.runIndex,
                                 "variant": run.variant, "label": run.variantLabel, "spec": run.specJSON, "hash": run.specHash,
                                 "seed": Int64(bitPattern: run.seed), "epochs": run.epochsPlanned, "host": p.host, "os": p.os,
                                 "convlab": p.convlabVersion, "swift": p.swiftVersion, "blas": p.blas, "commandLine": p.commandLine,
                                 "gitCommit": p.gitCommit, "gitDirty": p.gitDirty, "cpuModel": p.cpuModel])
            let id = db.lastInsertedRowID
            for param in run.params {
                try db.execute(sql: "INSERT INTO params(run_id, key, value_text, value_real) VALUES (?, ?, ?, ?)",
                               arguments: [id, param.key, param.text, param.real.flatMap { $0.isFinite ? $0 : nil }])
            }
            return id
        }
    }

    /// The run as a process that started it: running, started and beating now, claimed by no one.
    public func markStarted(run id: Int64) throws {
        let now = Date().timeIntervalSince1970
        try fixtureWrite { db in
            try db.execute(sql: "UPDATE runs SET status = 'running', started_at = ?, heartbeat_at = ? WHERE id = ?", arguments: [now, now, id])
        }
    }

    /// The batch's rows and the run's position, whatever state the run is in.
    public func append(_ batch: RecordBatch, run id: Int64, epochsDone: Int, stepsDone: Int) throws {
        try fixtureWrite { db in
            let metric = try db.makeStatement(sql: "INSERT INTO metrics(run_id, name, step, epoch, value, wall_time) VALUES (?, ?, ?, ?, ?, ?)")
            for m in batch.metrics { try metric.execute(arguments: [id, m.name, m.step, m.epoch, m.value, m.wallTime]) }
            let norm = try db.makeStatement(sql: "INSERT INTO grad_norms(run_id, step, layer, layer_kind, tensor, l2, max_abs) VALUES (?, ?, ?, ?, ?, ?, ?)")
            for g in batch.gradientNorms { try norm.execute(arguments: [id, g.step, g.layer, g.layerKind, g.tensor, g.l2, g.maxAbs]) }
            let check = try db.makeStatement(sql: """
                INSERT INTO grad_checks(run_id, step, layer, layer_kind, tensor, entry, analytic, numeric, abs_error, rel_error, outcome)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for c in batch.gradientChecks {
                try check.execute(arguments: [id, c.step, c.layer, c.layerKind, c.tensor, c.entry, c.analytic, c.numeric, c.absoluteError,
                                              c.relativeError, c.outcome])
            }
            let event = try db.makeStatement(sql: "INSERT INTO events(run_id, time, kind, message) VALUES (?, ?, ?, ?)")
            for e in batch.events { try event.execute(arguments: [id, e.time, e.kind, e.message]) }
            try db.execute(sql: "UPDATE runs SET heartbeat_at = ?, epochs_done = ?, steps_done = ? WHERE id = ?",
                           arguments: [Date().timeIntervalSince1970, epochsDone, stepsDone, id])
        }
    }

    /// The run ended with `status` now; a failed run failed by its spec unless `failureKind` says otherwise.
    public func finish(run id: Int64, status: RunStatus, error: String? = nil, failureKind: FailureKind? = nil) throws {
        let now = Date().timeIntervalSince1970
        try fixtureWrite { db in
            try db.execute(sql: "UPDATE runs SET status = ?, finished_at = ?, heartbeat_at = ?, error = ?, failure_kind = ? WHERE id = ?",
                           arguments: [status.rawValue, now, now, error, status == .failed ? (failureKind ?? .spec).rawValue : nil, id])
        }
    }
}
