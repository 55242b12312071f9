import enum ConvLabKit.RunStatus
import Foundation

/// A run as the store holds it: what resuming and claiming a sweep need to know.
public struct StoredRun: Sendable, Equatable {
    public var id: Int64
    public var uuid: String
    public var experimentID: Int64
    public var runIndex: Int
    public var variant: String
    public var variantLabel: String
    /// FNV-1a (64 bits, hex) of the run's resolved spec without its checkpoint section (DESIGN §4).
    public var specHash: String
    public var status: RunStatus
    public var failureKind: FailureKind?
    public var heartbeatAt: Double?
    public var claimedBy: String?
    /// Who `claimedBy` is beyond its host name and pid; nil in a claim from before schema 4.
    public var claimantIdentity: ClaimantIdentity?
    public var epochsPlanned: Int
    public var epochsDone: Int
    public var stepsDone: Int
    public var latestCheckpoint: CheckpointRecord?
    /// When a process first claimed it; nil for a run that never started.
    public var startedAt: Double?
    /// Why it failed, diverged or was interrupted.
    public var error: String?
    /// When it last ended; nil while running or never started.
    public var finishedAt: Double?

    public init(id: Int64, uuid: String, experimentID: Int64, runIndex: Int, variant: String, variantLabel: String, specHash: String,
                status: RunStatus, failureKind: FailureKind? = nil, heartbeatAt: Double? = nil, claimedBy: String? = nil,
                claimantIdentity: ClaimantIdentity? = nil,
                epochsPlanned: Int, epochsDone: Int = 0, stepsDone: Int = 0, latestCheckpoint: CheckpointRecord? = nil,
                startedAt: Double? = nil, error: String? = nil, finishedAt: Double? = nil) {
        self.id = id; self.uuid = uuid; self.experimentID = experimentID; self.runIndex = runIndex; self.variant = variant
        self.variantLabel = variantLabel; self.specHash = specHash; self.status = status; self.failureKind = failureKind
        self.heartbeatAt = heartbeatAt; self.claimedBy = claimedBy; self.claimantIdentity = claimantIdentity; self.epochsPlanned = epochsPlanned; self.epochsDone = epochsDone
        self.stepsDone = stepsDone; self.latestCheckpoint = latestCheckpoint
        self.startedAt = startedAt; self.error = error; self.finishedAt = finishedAt
    }

    /// Running, with a heartbeat newer than `staleAfter` seconds, and not claimed by a process
    /// known to be gone (`RunStore.claimantIsGone`): a live process owns it.
    public func isLive(now: Double = Date().timeIntervalSince1970, staleAfter: Double) -> Bool {
        status == .running && (heartbeatAt.map { $0 >= now - staleAfter } ?? false)
            && !RunStore.claimantIsGone(claimedBy, identity: claimantIdentity)
    }

    /// Whether `RunStore.claimRun` would claim it now: the same rule as its SQL.
    public func isClaimable(now: Double = Date().timeIntervalSince1970, staleAfter: Double) -> Bool {
        switch status {
        case .queued, .interrupted: true
        case .failed: failureKind == .crash
        case .running: !isLive(now: now, staleAfter: staleAfter)
        case .completed, .diverged, .pruned: false
        }
    }
}

/// One checkpoint file of a run, as recorded in the `checkpoints` table.
public struct CheckpointRecord: Sendable, Equatable {
    public var runID: Int64
    /// Epochs done when it was written.
    public var epoch: Int
    /// Optimisation steps done when it was written.
    public var step: Int
    /// Relative to the run's artifacts folder (`RunStore.artifactsFolder(storePath:runUUID:)`).
    public var path: String
    public var bytes: Int64
    public var sha256: String
    public var createdAt: Double

    public init(runID: Int64, epoch: Int, step: Int, path: String, bytes: Int64, sha256: String, createdAt: Double) {
        self.runID = runID; self.epoch = epoch; self.step = step; self.path = path; self.bytes = bytes
        self.sha256 = sha256; self.createdAt = createdAt
    }
}
