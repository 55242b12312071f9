import ConvLabKit
import RunStore
import Synchronization

/// Where training progress goes: the command line draws it; tests collect it.
public protocol ProgressReporter: AnyObject {
    func runStarted(_ run: RunPlan, of total: Int, runID: Int64)
    /// Called after every step; a reporter decides how often to show it.
    func step(_ update: ProgressUpdate)
    func epochFinished(_ update: ProgressUpdate, metrics: [(name: String, value: Double)])
    func runFinished(_ outcome: RunOutcome)
    func note(_ message: String)
    /// What happens to the sweep as a whole: which experiment, runs skipped, resumed, taken over.
    func sweepMessage(_ message: String)
}

extension ProgressReporter {
    public func sweepMessage(_ message: String) {}
}

public struct ProgressUpdate: Sendable {
    public var runIndex: Int, runCount: Int
    public var epoch: Int, epochs: Int
    public var stepInEpoch: Int, stepsPerEpoch: Int
    public var step: Int, totalSteps: Int
    /// Mean training loss over the steps since the last update.
    public var recentLoss: Double
    public var imagesPerSecond: Double
    public var elapsed: Double
    /// Seconds left in this run at the current speed.
    public var remaining: Double
    /// A search's trial: `runIndex` is then the trial's number and `runCount` the search's trials.
    public var trial: Int? = nil
}

/// How a run ended.
public struct RunOutcome: Sendable {
    public var runID: Int64
    public var index: Int
    public var label: String
    public var status: RunStatus
    public var epochsDone: Int
    public var finalTrainLoss: Double?
    public var finalTestAccuracy: Double?
    public var bestTestAccuracy: Double?
    public var imagesPerSecond: Double?
    public var seconds: Double
    /// Time spent writing to the store, as a fraction of the run's time.
    public var storeFraction: Double
    public var error: String?
    /// What this process did with the run.
    public var disposition: RunDisposition = .started

    /// The search trial the run belongs to; nil for a matrix run.
    public var trial: Int? = nil

    /// Whether the run ended as it should: completed, or a search's trial stopped by its pruner or
    /// diverged (a result of the search, the worst value for its sampler, not a failure of it).
    /// `runner exec` exits 0 only when every run of the sweep did.
    public var endedNormally: Bool {
        status == .completed || status == .pruned || (trial != nil && status == .diverged)
    }

    /// Whether the run has ended for good (a run live in another process has not).
    public var isSettled: Bool {
        switch disposition {
        case .skippedLive, .takenOver: status != .running
        default: true
        }
    }
}

/// What a `runner exec` did with one run of its sweep.
public enum RunDisposition: Sendable, Equatable {
    /// Trained here, its first attempt.
    case started
    /// Trained here after an earlier attempt that ended in this status (interrupted, failed by a
    /// crash, or running in a process that died).
    case resumed(from: RunStatus)
    /// Not trained: already completed, diverged, or failed because of its spec or data.
    case skipped
    /// Not trained: another process (host:pid) was training it.
    case skippedLive(claimant: String)
    /// Trained here until another process claimed it (this one was silent past the stale limit).
    case takenOver(by: String)
    /// The sweep was stopped before this run started.
    case notStarted
}

/// Set by a signal handler, read by the training loop between steps.
public final class StopSignal: Sendable {
    private let signal = Atomic<Int32>(0)
    public init() {}
    public func request(_ number: Int32) { signal.store(number, ordering: .relaxed) }
    /// The signal that asked to stop, if any.
    public var requested: Int32? {
        let value = signal.load(ordering: .relaxed)
        return value == 0 ? nil : value
    }
}
