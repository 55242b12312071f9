import enum ConvLabKit.RunStatus
import Foundation
import GRDB

// The store's rows as GRDB records: every column read or written by its name.

extension StoredRun: FetchableRecord {
    /// The columns `init(row:)` reads: the run, and its latest checkpoint (NULL when it has none).
    static let selection = """
        SELECT r.id, r.uuid, r.experiment_id, r.run_index, r.variant, r.variant_label, r.spec_hash, r.status, r.failure_kind,
               r.heartbeat_at, r.claimed_by, r.claimant_boot_id, r.claimant_pid_namespace, r.claimant_start_ticks,
               r.epochs_planned, r.epochs_done, r.steps_done, r.started_at, r.error, r.finished_at,
               c.epoch AS checkpoint_epoch, c.step AS checkpoint_step, c.path AS checkpoint_path, c.bytes AS checkpoint_bytes,
               c.sha256 AS checkpoint_sha256, c.created_at AS checkpoint_created_at
        FROM runs r
        LEFT JOIN checkpoints c ON c.run_id = r.id AND c.epoch = (SELECT MAX(epoch) FROM checkpoints WHERE run_id = r.id)
        """

    public init(row: Row) throws {
        let id: Int64 = row["id"]
        let checkpoint: CheckpointRecord? = (row["checkpoint_epoch"] as Int?).map { epoch in
            CheckpointRecord(runID: id, epoch: epoch, step: row["checkpoint_step"], path: row["checkpoint_path"], bytes: row["checkpoint_bytes"],
                             sha256: row["checkpoint_sha256"], createdAt: row["checkpoint_created_at"])
        }
        self.init(id: id, uuid: row["uuid"], experimentID: row["experiment_id"], runIndex: row["run_index"], variant: row["variant"],
                  variantLabel: row["variant_label"], specHash: row["spec_hash"],
                  status: RunStatus(rawValue: row["status"]) ?? .failed,
                  failureKind: (row["failure_kind"] as String?).flatMap(FailureKind.init(rawValue:)),
                  heartbeatAt: row["heartbeat_at"], claimedBy: row["claimed_by"],
                  claimantIdentity: ClaimantIdentity.stored(bootID: row["claimant_boot_id"], pidNamespace: row["claimant_pid_namespace"],
                                                            startTicks: row["claimant_start_ticks"]),
                  epochsPlanned: row["epochs_planned"], epochsDone: row["epochs_done"], stepsDone: row["steps_done"],
                  latestCheckpoint: checkpoint, startedAt: row["started_at"], error: row["error"], finishedAt: row["finished_at"])
    }
}

extension CheckpointRecord: FetchableRecord {
    public init(row: Row) throws {
        self.init(runID: row["run_id"], epoch: row["epoch"], step: row["step"], path: row["path"], bytes: row["bytes"],
                  sha256: row["sha256"], createdAt: row["created_at"])
    }
}

/// A run's last and best metrics, as the `run_final_metrics` view gives them.
public struct FinalMetrics: Sendable, Equatable, FetchableRecord {
    public var trainLoss: Double?
    public var testAccuracy: Double?
    public var bestTestAccuracy: Double?
    public var imagesPerSecond: Double?

    public init(row: Row) throws {
        trainLoss = row["final_train_loss"]
        testAccuracy = row["final_test_accuracy"]
        bestTestAccuracy = row["best_test_accuracy"]
        imagesPerSecond = row["images_per_second"]
    }
}

/// A new run's row of `runs`: queued, with the provenance of the process that created it.
struct NewRunRow: PersistableRecord {
    static let databaseTableName = "runs"
    var uuid: String
    var run: NewRun

    func encode(to container: inout PersistenceContainer) {
        let p = run.provenance
        container["uuid"] = uuid
        container["experiment_id"] = run.experimentID
        container["run_index"] = run.runIndex
        container["variant"] = run.variant
        container["variant_label"] = run.variantLabel
        container["spec_json"] = run.specJSON
        container["spec_hash"] = run.specHash
        container["seed"] = Int64(bitPattern: run.seed)
        container["status"] = RunStatus.queued.rawValue
        container["epochs_planned"] = run.epochsPlanned
        container["trial"] = run.trial
        container["host"] = p.host
        container["os"] = p.os
        container["convlab_version"] = p.convlabVersion
        container["swift_version"] = p.swiftVersion
        container["blas"] = p.blas
        container["command_line"] = p.commandLine
        container["git_commit"] = p.gitCommit
        container["git_dirty"] = p.gitDirty
        container["cpu_model"] = p.cpuModel
    }
}

/// One key of a run's flattened resolved spec (`params`).
struct ParamRow: PersistableRecord {
    static let databaseTableName = "params"
    var runID: Int64
    var key: String
    var text: String
    var real: Double?

    func encode(to container: inout PersistenceContainer) {
        container["run_id"] = runID
        container["key"] = key
        container["value_text"] = text
        // value_real is for comparing numbers; a non-finite one (which validation refuses) is
        // stored as NULL, with its text kept, rather than as a REAL SQLite cannot compare.
        container["value_real"] = real.flatMap { $0.isFinite ? $0 : nil }
    }
}
