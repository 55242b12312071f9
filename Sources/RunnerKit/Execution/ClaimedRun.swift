import ConvLabKit
import RunStore

/// One run this process has claimed, from its setup to the row that ends it: `RunSetup`
/// prepares it, `TrainingLoop` trains it and says how it ended, and the end is written here,
/// through the run's `RunWriter`, once.
struct ClaimedRun {
    let run: RunPlan
    let claimed: StoredRun
    let resume: ResumePoint?
    let runCount: Int
    let provenance: RunProvenance
    let runner: ExperimentRunner
    let datasets: DatasetCache
    /// The search's pruner for a trial run; nil for a matrix run.
    var pruning: TrialPruning? = nil

    func train() throws(StoreError) -> RunOutcome {
        let clock = RunClock()
        let heartbeat = Heartbeat(store: runner.store, run: claimed.id, claimant: runner.claimant, interval: runner.heartbeatInterval)
        defer { heartbeat.stop() }
        let writer = RunWriter(store: runner.store, runID: claimed.id, claimant: runner.claimant, heartbeat: heartbeat,
                               flushInterval: runner.flushInterval, clock: clock, beforeFlush: runner.beforeFlush)
        var setup = RunSetup(run: run, claimed: claimed, resume: resume, runCount: runCount, writer: writer, clock: clock,
                             datasets: datasets, reporter: runner.reporter)
        let ending: RunEnding, position: RunPosition, summary: RunSummary
        do throws(RunStop) {
            let prepared = try setup.prepare(provenance: provenance)
            var loop = TrainingLoop(prepared, runUUID: claimed.uuid, writer: writer, clock: clock, stop: runner.stop,
                                    progress: ProgressTicker(reporter: runner.reporter, run: run, runCount: runCount,
                                                             stepsPerEpoch: prepared.sampler.batchesPerEpoch,
                                                             interval: runner.progressInterval, clock: clock))
            loop.pruning = pruning
            ending = loop.train()
            (position, summary) = (loop.position, loop.summary)
        } catch {
            (ending, position, summary) = (.stopped(error), setup.position, setup.summary)
        }
        return try end(ending, at: position, summary: summary, writer: writer, clock: clock)
    }

    /// Writes how the run ended (its event, then its status), and what this process says of it.
    private func end(_ ending: RunEnding, at position: RunPosition, summary: RunSummary, writer: RunWriter,
                     clock: RunClock) throws(StoreError) -> RunOutcome {
        let status: RunStatus, error: String?, failureKind: FailureKind?
        switch ending {
        case .completed:
            writer.event(.completed, "\(position.epochsDone) epochs, \(position.step) steps")
            (status, error, failureKind) = (.completed, nil, nil)
        case .stopped(.diverged(let value)):
            let message = RunStop.divergence(value)
            writer.event(.diverged, message)
            (status, error, failureKind) = (.diverged, message, nil)
        case .stopped(.failed(let message)):
            writer.event(.failed, message)
            (status, error, failureKind) = (.failed, message, nil)
        case .stopped(.unusable(let message)):
            (status, error, failureKind) = (.failed, message, nil)
        case .stopped(.crashed(let message)):
            writer.event(.failed, message)
            (status, error, failureKind) = (.failed, message, .crash)
        case .stopped(.interrupted(let message)):
            (status, error, failureKind) = (.interrupted, message, nil)
        case .stopped(.pruned(let reason)):
            writer.event(.pruned, reason)
            (status, error, failureKind) = (.pruned, nil, nil)
        case .stopped(.takenOver):
            return try takenOver(at: position, writer: writer, clock: clock)
        case .stopped(.store(let error)):
            throw error
        }
        guard let written = try writer.finish(status, error: error, failureKind: failureKind, at: position) else {
            return try takenOver(at: position, writer: writer, clock: clock)
        }
        let total = clock.elapsed
        var said = written.error
        if case .stopped(.pruned(let reason)) = ending { said = reason }
        return RunOutcome(runID: claimed.id, index: run.index, label: run.variant.label, status: written.status, epochsDone: position.epochsDone,
                          finalTrainLoss: summary.trainLoss, finalTestAccuracy: summary.testAccuracy, bestTestAccuracy: summary.bestTestAccuracy,
                          imagesPerSecond: summary.imagesPerSecond, seconds: total,
                          storeFraction: total > 0 ? writer.storeSeconds / total : 0, error: said)
    }

    /// Another process claimed the run: stop without writing anything more to it.
    private func takenOver(at position: RunPosition, writer: RunWriter, clock: RunClock) throws(StoreError) -> RunOutcome {
        writer.heartbeat.stop()
        let current = try runner.store.storedRun(claimed.id)
        let other = current?.claimedBy ?? "another process"
        runner.reporter.sweepMessage("\(SweepText.name(run)) was taken over by \(other) "
                                     + "(this process was silent for longer than the stale limit of \(Int(runner.staleAfter)) s): "
                                     + "stopped at step \(position.step) without writing more")
        return RunOutcome(runID: claimed.id, index: run.index, label: run.variant.label, status: current?.status ?? .running,
                          epochsDone: position.epochsDone, seconds: clock.elapsed, storeFraction: 0, error: nil,
                          disposition: .takenOver(by: other))
    }
}
