import ConvLabKit
import Checkpoints
import ConvCore
import Datasets
import Foundation
import RunStore
import TextKit

/// The sweep worker: finds the experiment of a plan's spec in the store, or creates it (one
/// transaction, so processes started together share one), then claims each run and hands it to
/// `ClaimedRun`, so that several processes never train the same run. Completed, diverged and spec-failed
/// runs are skipped; queued, interrupted, crash-failed and dead-process runs are trained; a run
/// live in another process is waited for (and taken over if that process dies). A failed or
/// diverged run does not stop the next; a stop request (Ctrl-C, SIGTERM) ends the current run as
/// `interrupted` with everything logged so far kept, and leaves the never-started runs after it
/// `interrupted` too.
public final class ExperimentRunner {
    public let store: RunStore
    public let reporter: any ProgressReporter
    public let stop: StopSignal
    /// Records are written at least this often (seconds), together with the heartbeat.
    public var flushInterval: Double = 2
    /// Progress is reported this often (seconds); the reporter decides what to show.
    public var progressInterval: Double = 0.25
    /// A running run's heartbeat is refreshed this often (seconds) on a timer of its own, between
    /// flushes too; `runner report` calls a run stale after a minute of silence.
    public var heartbeatInterval: Double = 5
    /// A running run whose heartbeat is older than this (seconds) may be claimed by this process.
    public var staleAfter: Double = 60
    /// How often (seconds) the runs live in other processes are looked at while waiting for them.
    public var pollInterval: Double = 1
    /// Start a new experiment even when the store already holds this spec.
    public var fresh = false
    /// "host:pid", as `runs.claimed_by` records it.
    public var claimant = RunStore.claimant
    /// Only this part of the plan's runs (`runner exec --shard I/N`), created with the UUIDs every
    /// store gives them (`SweepShard.runUUID`); nil for the whole plan.
    public var shard: SweepShard?
    private let datasets = DatasetCache()
    /// Tests only: edits each batch just before it is written, to reach the store's own refusal
    /// of non-finite values, which the checks where values are made leave no other way to reach.
    var beforeFlush: ((inout RecordBatch) -> Void)?

    public init(store: RunStore, reporter: any ProgressReporter, stop: StopSignal) {
        self.store = store
        self.reporter = reporter
        self.stop = stop
    }

    public func execute(_ plan: ExperimentPlan) throws(StoreError) -> [RunOutcome] {
        var provenance = Provenance.current
        if let git = Provenance.git(forSpecAt: plan.file) { (provenance.gitCommit, provenance.gitDirty) = (git.commit, git.dirty) }
        let runs = shard?.runs(of: plan) ?? plan.runs
        let sweepHash = plan.sweepHash
        let newRuns = runs.map { run in
            NewRun(experimentID: 0, runIndex: run.index, variant: JSONWriter.write(run.variant.json, pretty: false),
                   variantLabel: run.variant.label, specJSON: run.resolvedJSON, specHash: run.specHash, seed: run.seed,
                   epochsPlanned: run.training.epochs, provenance: provenance, params: run.params,
                   uuid: shard == nil ? nil : SweepShard.runUUID(sweepHash: sweepHash, runIndex: run.index), trial: run.variant.trial)
        }
        let sweep = try store.openSweep(name: plan.name, specPath: plan.file, specJSON: plan.text, specHash: sweepHash,
                                        runs: newRuns, fresh: fresh)
        reporter.sweepMessage(SweepText.opening(sweep, plan: plan, shard: shard))
        guard sweep.runs.map(\.runIndex) == runs.map(\.index) else {
            throw StoreError(.invalidValue, path: store.path, "experiment \(sweep.experimentID) has runs \(sweep.runs.map(\.runIndex)) but \(plan.file) expands to \(runs.count); run it with --fresh to start a new experiment")
        }
        var outcomes: [Int: RunOutcome] = [:]
        while true {
            var waiting = false
            for (run, stored) in zip(runs, sweep.runs) where outcomes[run.index]?.isSettled != true {
                if let signal = stop.requested {
                    guard outcomes[run.index] == nil else { continue }
                    try store.markNotStarted(run: stored.id, reason: "not started: the experiment was stopped by \(Provenance.signalName(signal))")
                    let current = try store.storedRun(stored.id) ?? stored
                    outcomes[run.index] = current.status == .interrupted && current.startedAt == nil
                        ? RunOutcome(runID: stored.id, index: run.index, label: run.variant.label, status: .interrupted, epochsDone: 0,
                                     seconds: 0, storeFraction: 0, error: "not started", disposition: .notStarted)
                        : try skipped(run, current, previous: nil)
                    continue
                }
                // While waiting for a run live elsewhere, look before trying to claim: a claim is a write.
                if outcomes[run.index] != nil, let current = try store.storedRun(stored.id), current.isLive(staleAfter: staleAfter) {
                    waiting = true
                    continue
                }
                switch try store.claim(run: stored.id, staleAfter: staleAfter, claimant: claimant) {
                case .claimed(let before):
                    var run = run
                    var pruning: TrialPruning?
                    if let search = plan.search {
                        switch TrialDraw(search: search, store: store, claimant: claimant).run(for: run, claimed: before) {
                        case .success(let drawn):
                            run = drawn
                            pruning = TrialPruning(search: search, store: store, experimentID: sweep.experimentID, trial: search.trial(ofRun: run.index))
                        case .failure(.store(let error)):
                            throw error
                        case .failure(.notHeld):
                            outcomes[run.index] = try skipped(run, try store.storedRun(stored.id) ?? before, previous: outcomes[run.index])
                            continue
                        case .failure(.unusable(let message)):
                            _ = try store.finish(run: before.id, status: .failed, error: message, failureKind: .spec, claimant: claimant)
                            reporter.sweepMessage("\(SweepText.name(run)): \(message)")
                            outcomes[run.index] = try skipped(run, try store.storedRun(stored.id) ?? before, previous: nil)
                            continue
                        }
                    }
                    // Checked before anything of the run changes: a refusal gives the claim back,
                    // leaving the run as it was, and ends the sweep (the person decides).
                    let resume: ResumePoint?
                    do { resume = try ResumePoint.load(before, run: run, store: store) } catch {
                        try store.releaseClaim(run: before, claimant: claimant)
                        throw error
                    }
                    let resumedFrom = before.startedAt == nil ? nil : before.status
                    if resumedFrom != nil { reporter.sweepMessage(SweepText.resuming(run, before, staleAfter: staleAfter)) }
                    let runCount = plan.search?.trials ?? plan.runs.count
                    reporter.runStarted(run, of: runCount, runID: stored.id)
                    var outcome = try ClaimedRun(run: run, claimed: before, resume: resume, runCount: runCount, provenance: provenance,
                                                 runner: self, datasets: datasets, pruning: pruning).train()
                    if let resumedFrom, outcome.disposition == .started { outcome.disposition = .resumed(from: resumedFrom) }
                    reporter.runFinished(outcome)
                    outcomes[run.index] = outcome
                    if !outcome.isSettled { waiting = true }
                case .refused(let current):
                    let outcome = try skipped(run, current, previous: outcomes[run.index])
                    if outcomes[run.index] == nil { reporter.sweepMessage(SweepText.skipping(run, current)) }
                    outcomes[run.index] = outcome
                    if !outcome.isSettled { waiting = true }
                case .unknownRun:
                    // Deleted (`runner runs rm`) while this sweep ran: said once, and the sweep goes on.
                    let message = "run \(stored.id) of experiment \(sweep.experimentID) was deleted while this sweep ran; it is not trained"
                    if outcomes[run.index] == nil { reporter.sweepMessage(message) }
                    outcomes[run.index] = RunOutcome(runID: stored.id, index: run.index, label: run.variant.label, status: .interrupted,
                                                     epochsDone: 0, seconds: 0, storeFraction: 0, error: "deleted while the sweep ran",
                                                     disposition: .skipped)
                }
            }
            guard waiting, stop.requested == nil else { break }
            Thread.sleep(forTimeInterval: pollInterval)
        }
        return runs.compactMap { run in
            outcomes[run.index].map { var outcome = $0; outcome.trial = run.variant.trial; return outcome }
        }
    }

    /// The outcome of a run this process did not claim, from its state in the store.
    private func skipped(_ run: RunPlan, _ current: StoredRun, previous: RunOutcome?) throws(StoreError) -> RunOutcome {
        var disposition = RunDisposition.skipped
        switch previous?.disposition {
        case .skippedLive(let claimant)?: disposition = .skippedLive(claimant: claimant)
        case .takenOver(let by)?: disposition = .takenOver(by: by)
        default: if current.status == .running { disposition = .skippedLive(claimant: current.claimedBy ?? "another process") }
        }
        let final = current.status == .running ? nil : try store.finalMetrics(run: current.id)
        // A trial drawn by another process: its label with the values, as the store has it.
        let label = run.variant.trial == nil ? run.variant.label : current.variantLabel
        return RunOutcome(runID: current.id, index: run.index, label: label, status: current.status,
                          epochsDone: current.epochsDone, finalTrainLoss: final?.trainLoss, finalTestAccuracy: final?.testAccuracy,
                          bestTestAccuracy: final?.bestTestAccuracy, imagesPerSecond: final?.imagesPerSecond,
                          seconds: previous?.seconds ?? 0, storeFraction: previous?.storeFraction ?? 0,
                          error: current.error, disposition: disposition)
    }
}
