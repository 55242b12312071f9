/// What a pruner is asked after each epoch of a trial.
public struct PruneRequest: Sendable {
    /// The trial being trained, its `intermediate` holding the epoch just done.
    public var trial: TrialRecord
    /// The epoch just done, 1-based.
    public var epoch: Int
    /// The trial's planned epochs.
    public var epochs: Int
    public var direction: ObjectiveDirection
    /// Every other trial of the search, whatever its state, in number order.
    public var history: [TrialRecord]

    public init(trial: TrialRecord, epoch: Int, epochs: Int, direction: ObjectiveDirection, history: [TrialRecord]) {
        self.trial = trial
        self.epoch = epoch
        self.epochs = epochs
        self.direction = direction
        self.history = history
    }
}

public enum PruneDecision: Sendable, Equatable {
    case keepTraining
    /// Stop the trial now; `reason` is recorded with it, e.g. "below the median 0.81 of 4 trials at epoch 2".
    case prune(reason: String)
}

/// Stops hopeless trials early (a `pruner` plugin: built in are `none`, `median` and `asha`).
public protocol Pruner: Sendable {
    func decide(_ request: PruneRequest) -> PruneDecision
}
