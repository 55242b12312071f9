import ConvLabKit
import Foundation
import RunStore

/// Why a run ends before its last epoch, raised anywhere in the training loop.
enum RunStop: Error {
    /// A value became NaN or infinite (described: which, where).
    case diverged(String)
    /// The run cannot go on (its data, a checkpoint, a probe); the message says why.
    case failed(String)
    /// The machine failed the run (a checkpoint could not be written: a full disk, an I/O
    /// error), not its spec: it ends failed as a crash, which the next `runner exec` retries.
    case crashed(String)
    /// Ctrl-C or SIGTERM.
    case interrupted(String)
    /// Another process claimed the run (this one was silent past the stale limit).
    case takenOver
    /// The store failed: the sweep ends.
    case store(StoreError)
}

/// One claimed run's bookkeeping: the rows waiting to be written, where the run is, what it
/// measured last, and how it ends. Every write checks that this process still holds the run.
final class RunSession {
    let store: RunStore
    let claimant: String
    let reporter: any ProgressReporter
    let run: RunPlan
    let runID: Int64
    let runCount: Int
    let staleAfter: Double
    let flushInterval: Double
    /// Tests only (see `ExperimentRunner.beforeFlush`).
    let beforeFlush: ((inout RecordBatch) -> Void)?

    var records = RecordBatch()
    var epochsDone = 0, step = 0
    var lastTrainLoss: Double?, lastTestAccuracy: Double?, bestTestAccuracy: Double?, lastSpeed: Double?
    var heartbeat: Heartbeat?
    /// Set when the store refused a batch for a NaN or an infinity the checks missed.
    private var unrecordable: String?
    /// Set when another process claimed the run.
    private var claimLost = false
    private let clock = ContinuousClock()
    private let started: ContinuousClock.Instant
    private var lastFlush: ContinuousClock.Instant
    private var storeSeconds = 0.0

    init(runner: ExperimentRunner, run: RunPlan, runID: Int64, runCount: Int) {
        store = runner.store
        claimant = runner.claimant
        reporter = runner.reporter
        staleAfter = runner.staleAfter
        flushInterval = runner.flushInterval
        beforeFlush = runner.beforeFlush
        self.run = run
        self.runID = runID
        self.runCount = runCount
        started = clock.now
        lastFlush = clock.now
    }

    func seconds(since instant: ContinuousClock.Instant) -> Double {
        let d = clock.now - instant
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    var now: ContinuousClock.Instant { clock.now }

    func event(_ kind: EventKind, _ message: String) {
        records.events.append(.init(time: Date().timeIntervalSince1970, kind: kind.rawValue, message: message))
    }

    /// Whether the run may take its next step: not stopped, not taken over.
    func checkStillOurs(_ stop: StopSignal, epoch: Int) throws(RunStop) {
        if claimLost || heartbeat?.lost == true { throw .takenOver }
        if let signal = stop.requested {
            event(.interrupted, "stopped by \(Provenance.signalName(signal)) at step \(step) (epoch \(epoch))")
            throw .interrupted("stopped by \(Provenance.signalName(signal)) at step \(step)")
        }
    }

    /// Writes what is waiting, in one transaction.
    func flush() throws(StoreError) {
        let t = clock.now
        beforeFlush?(&records)
        do throws(StoreError) {
            claimLost = try !store.append(records, run: runID, epochsDone: epochsDone, stepsDone: step, claimant: claimant) || claimLost
        } catch {
            // Defence in depth: every value is checked where it is made, but should one slip
            // through, the store refuses the batch whole; keep its finite rows and end the run.
            guard error.kind == .nonFiniteValue, let value = records.firstNonFiniteValue else { throw error }
            unrecordable = unrecordable ?? value
            records.removeNonFiniteValues()
            claimLost = try !store.append(records, run: runID, epochsDone: epochsDone, stepsDone: step, claimant: claimant) || claimLost
        }
        records = RecordBatch()
        lastFlush = clock.now
        storeSeconds += seconds(since: t)
    }

    /// Writes, and checks the run is still this process's and still finite.
    func commit() throws(RunStop) {
        do { try flush() } catch { throw .store(error) }
        if claimLost { throw .takenOver }
        if let unrecordable { throw .diverged(unrecordable) }
    }

    /// `commit` when the last write is `flushInterval` old.
    func commitIfDue() throws(RunStop) {
        if seconds(since: lastFlush) >= flushInterval { try commit() }
    }

    /// Ends the run with `status`, or as diverged when the store refused a value meanwhile.
    func finish(_ status: RunStatus, _ error: String? = nil, failureKind: FailureKind? = nil) throws(StoreError) -> RunOutcome {
        var status = status, error = error
        try flush()
        if claimLost { return try takenOver() }
        if let value = unrecordable, status != .diverged {
            let message = ExperimentRunner.divergence(value)
            event(.diverged, message)
            try flush()
            (status, error) = (.diverged, message)
        }
        heartbeat?.stop()
        let t = clock.now
        guard try store.finish(run: runID, status: status, error: error, failureKind: failureKind, claimant: claimant) else { return try takenOver() }
        storeSeconds += seconds(since: t)
        let total = seconds(since: started)
        return RunOutcome(runID: runID, index: run.index, label: run.variant.label, status: status, epochsDone: epochsDone,
                          finalTrainLoss: lastTrainLoss, finalTestAccuracy: lastTestAccuracy, bestTestAccuracy: bestTestAccuracy,
                          imagesPerSecond: lastSpeed, seconds: total, storeFraction: total > 0 ? storeSeconds / total : 0, error: error)
    }

    /// Ends the run as diverged because `value` (a description naming it) is not finite.
    func diverge(_ value: String) throws(StoreError) -> RunOutcome {
        let message = ExperimentRunner.divergence(value)
        event(.diverged, message)
        return try finish(.diverged, message)
    }

    func fail(_ message: String) throws(StoreError) -> RunOutcome {
        event(.failed, message)
        return try finish(.failed, message)
    }

    func crash(_ message: String) throws(StoreError) -> RunOutcome {
        event(.failed, message)
        return try finish(.failed, message, failureKind: .crash)
    }

    /// Another process claimed the run: stop without writing anything more to it.
    func takenOver() throws(StoreError) -> RunOutcome {
        heartbeat?.stop()
        let current = try store.storedRun(runID)
        let other = current?.claimedBy ?? "another process"
        reporter.sweepMessage("run \(run.index)\(run.variant.label.isEmpty ? "" : " (\(run.variant.label))") was taken over by \(other) "
                              + "(this process was silent for longer than the stale limit of \(Int(staleAfter)) s): stopped at step \(step) without writing more")
        return RunOutcome(runID: runID, index: run.index, label: run.variant.label, status: current?.status ?? .running,
                          epochsDone: epochsDone, seconds: seconds(since: started), storeFraction: 0, error: nil,
                          disposition: .takenOver(by: other))
    }

    /// How a stop raised in the loop ends the run.
    func end(_ stop: RunStop) throws(StoreError) -> RunOutcome {
        switch stop {
        case .diverged(let value): try diverge(value)
        case .failed(let message): try fail(message)
        case .crashed(let message): try crash(message)
        case .interrupted(let message): try finish(.interrupted, message)
        case .takenOver: try takenOver()
        case .store(let error): throw error
        }
    }
}
