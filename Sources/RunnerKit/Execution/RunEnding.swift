import ConvLabKit
import RunStore

/// Why a run ends before its last epoch, raised anywhere in its setup or its loop.
enum RunStop: Error {
    /// A value became NaN or infinite (described: which, where).
    case diverged(String)
    /// The run cannot go on (its data, a checkpoint, a probe); the message says why.
    case failed(String)
    /// The run cannot start (an empty training set, a network that cannot be built): failed,
    /// with no event beside its status and error.
    case unusable(String)
    /// The machine failed the run (a checkpoint could not be written: a full disk, an I/O
    /// error), not its spec: it ends failed as a crash, which the next `runner exec` retries.
    case crashed(String)
    /// Ctrl-C or SIGTERM.
    case interrupted(String)
    /// The search's pruner stopped the trial after an epoch (the reason it gave): a normal end.
    case pruned(String)
    /// Another process claimed the run (this one was silent past the stale limit).
    case takenOver
    /// The store failed: the sweep ends.
    case store(StoreError)

    /// The status the probes' `runEnded` hears; nil when nothing more may be written (the run
    /// was taken over) or nothing can be (the store failed).
    var probeStatus: RunStatus? {
        switch self {
        case .diverged: .diverged
        case .interrupted: .interrupted
        case .pruned: .pruned
        case .failed, .unusable, .crashed: .failed
        case .takenOver, .store: nil
        }
    }

    /// The run's error when `value` (which names a non-finite number) ends it.
    static func divergence(_ value: String) -> String { "\(value); lower optimizer.learning_rate" }
}

/// How a run ended, as the training loop (or its setup) returns it: completed, or stopped.
enum RunEnding {
    case completed
    case stopped(RunStop)
}

/// Where a run is: epochs whose records are committed, and optimisation steps taken.
struct RunPosition {
    var epochsDone = 0
    var step = 0
}

/// What a run measured last, for the line that ends it: the latest training loss (the loss
/// probe's, or the epoch mean before it records one), test accuracy, best test accuracy and speed.
struct RunSummary {
    var trainLoss: Double?
    var testAccuracy: Double?
    var bestTestAccuracy: Double?
    var imagesPerSecond: Double?
}
