import ConvLabKit
import Foundation
import RunStore

/// The rows a claimed run is waiting to write, and the writes themselves: one transaction at
/// least every `flushInterval` seconds, each checking that this process still holds the run
/// (DESIGN §5). It knows nothing of training: it is given the position to record.
final class RunWriter {
    let store: RunStore
    let runID: Int64
    let claimant: String
    let heartbeat: Heartbeat
    private let flushInterval: Double
    private let clock: RunClock
    /// Tests only (see `ExperimentRunner.beforeFlush`).
    private let beforeFlush: ((inout RecordBatch) -> Void)?

    private var records = RecordBatch()
    private var lastFlush: ContinuousClock.Instant
    /// Set when a write found the run claimed by another process.
    private var claimLost = false
    /// Set when the store refused a batch for a NaN or an infinity the checks missed.
    private var unrecordable: String?
    /// Seconds spent writing.
    private(set) var storeSeconds = 0.0

    init(store: RunStore, runID: Int64, claimant: String, heartbeat: Heartbeat, flushInterval: Double, clock: RunClock,
         beforeFlush: ((inout RecordBatch) -> Void)?) {
        self.store = store
        self.runID = runID
        self.claimant = claimant
        self.heartbeat = heartbeat
        self.flushInterval = flushInterval
        self.clock = clock
        self.beforeFlush = beforeFlush
        lastFlush = clock.now
    }

    /// False once a write or a heartbeat found the run claimed by another process.
    var holdsRun: Bool { !claimLost && !heartbeat.lost }

    func event(_ kind: EventKind, _ message: String) {
        records.events.append(.init(time: Date().timeIntervalSince1970, kind: kind.rawValue, message: message))
    }

    /// Rows the probes recorded, already checked finite.
    func add(metrics: [RecordBatch.Metric], gradientNorms: [RecordBatch.GradientNorm], gradientChecks: [RecordBatch.GradientCheck]) {
        records.metrics += metrics
        records.gradientNorms += gradientNorms
        records.gradientChecks += gradientChecks
    }

    /// Writes what is waiting, with the run's position, in one transaction.
    func flush(at position: RunPosition) throws(StoreError) {
        let start = clock.now
        beforeFlush?(&records)
        do throws(StoreError) {
            claimLost = try !store.append(records, run: runID, epochsDone: position.epochsDone, stepsDone: position.step, claimant: claimant) || claimLost
        } catch {
            // Defence in depth: every value is checked where it is made, but should one slip
            // through, the store refuses the batch whole; keep its finite rows and end the run.
            guard error.kind == .nonFiniteValue, let value = records.firstNonFiniteValue else { throw error }
            unrecordable = unrecordable ?? value
            records.removeNonFiniteValues()
            claimLost = try !store.append(records, run: runID, epochsDone: position.epochsDone, stepsDone: position.step, claimant: claimant) || claimLost
        }
        records = RecordBatch()
        lastFlush = clock.now
        storeSeconds += clock.seconds(since: start)
    }

    /// Writes, and checks the run is still this process's and still finite.
    func commit(at position: RunPosition) throws(RunStop) {
        do { try flush(at: position) } catch { throw .store(error) }
        if claimLost { throw .takenOver }
        if let unrecordable { throw .diverged(unrecordable) }
    }

    /// `commit` when the last write is `flushInterval` old.
    func commitIfDue(at position: RunPosition) throws(RunStop) {
        if clock.seconds(since: lastFlush) >= flushInterval { try commit(at: position) }
    }

    /// Writes what is waiting and ends the run with `status`, or as diverged when the store
    /// refused a value meanwhile: the status and error written, or nil when another process
    /// holds the run (nothing more was written).
    func finish(_ status: RunStatus, error: String?, failureKind: FailureKind?,
                at position: RunPosition) throws(StoreError) -> (status: RunStatus, error: String?)? {
        var status = status, error = error
        try flush(at: position)
        if claimLost { return nil }
        if let value = unrecordable, status != .diverged {
            let message = RunStop.divergence(value)
            event(.diverged, message)
            try flush(at: position)
            (status, error) = (.diverged, message)
        }
        heartbeat.stop()
        let start = clock.now
        guard try store.finish(run: runID, status: status, error: error, failureKind: failureKind, claimant: claimant) else { return nil }
        storeSeconds += clock.seconds(since: start)
        return (status, error)
    }
}
