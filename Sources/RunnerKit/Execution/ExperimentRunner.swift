import ConvLabKit
import Checkpoints
import ConvCore
import Datasets
import Foundation
import RunStore
import TextKit

/// Works the sweep of a plan: finds the experiment of the spec in the store, or creates it (one
/// transaction, so processes started together share one), then claims each run before training
/// it, so that several processes never train the same run. Completed, diverged and spec-failed
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
    private var datasetCache: [String: DatasetSplit] = [:]
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
                   uuid: shard == nil ? nil : SweepShard.runUUID(sweepHash: sweepHash, runIndex: run.index))
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
                    // Checked before anything of the run changes: a refusal gives the claim back,
                    // leaving the run as it was, and ends the sweep (the person decides).
                    let resume: ResumePoint?
                    do { resume = try ResumePoint.load(before, run: run, store: store) } catch {
                        try store.releaseClaim(run: before, claimant: claimant)
                        throw error
                    }
                    let resumedFrom = before.startedAt == nil ? nil : before.status
                    if resumedFrom != nil { reporter.sweepMessage(SweepText.resuming(run, before, staleAfter: staleAfter)) }
                    reporter.runStarted(run, of: plan.runs.count, runID: stored.id)
                    var outcome = try train(run, claimed: before, resume: resume, runCount: plan.runs.count, provenance: provenance)
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
        return runs.compactMap { outcomes[$0.index] }
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
        return RunOutcome(runID: current.id, index: run.index, label: run.variant.label, status: current.status,
                          epochsDone: current.epochsDone, finalTrainLoss: final?.trainLoss, finalTestAccuracy: final?.testAccuracy,
                          bestTestAccuracy: final?.bestTestAccuracy, imagesPerSecond: final?.imagesPerSecond,
                          seconds: previous?.seconds ?? 0, storeFraction: previous?.storeFraction ?? 0,
                          error: current.error, disposition: disposition)
    }

    private func dataset(for run: RunPlan) throws(DatasetError) -> DatasetSplit {
        let key = run.datasetName + JSONWriter.write(run.datasetParameters.json, pretty: false)
            + (run.datasetPlugin.usesSeed ? "#\(run.seed)" : "")
        if let cached = datasetCache[key] { return cached }
        reporter.note("loading \(run.datasetName) data set…")
        let split = try run.datasetPlugin.load(run.datasetParameters, run.seed)
        try Self.check(split, of: run)
        datasetCache = [key: split]     // one data set in memory at a time
        return split
    }

    /// What a data set loaded must match: what it described when the spec was checked (the
    /// network was built for that shape and class count), and labels inside the classes, which
    /// the losses index with. A plugin's data set is held to it like the built-in ones.
    static func check(_ split: DatasetSplit, of run: RunPlan) throws(DatasetError) {
        let source = "the \(run.datasetName) data set"
        for (name, part) in [("training", split.train), ("test", split.test)] {
            guard part.sampleShape == run.inputShape else {
                throw DatasetError(file: source, problem: "its \(name) images are \(part.sampleShape), but it described \(run.inputShape) when the spec was checked")
            }
            guard part.classes == run.classes else {
                throw DatasetError(file: source, problem: "its \(name) part has \(part.classes) classes, but it described \(run.classes)")
            }
            if let bad = part.labels.firstIndex(where: { $0 < 0 || Int($0) >= run.classes }) {
                throw DatasetError(file: source, problem: "\(name) label \(bad) is \(part.labels[bad]), outside the \(run.classes) classes 0…\(run.classes - 1)")
            }
        }
    }

    /// One run this process has just claimed, to its final status: its history set straight,
    /// its data and network made, its probes started, then the loop.
    func train(_ run: RunPlan, claimed before: StoredRun, resume: ResumePoint?, runCount: Int, provenance: RunProvenance) throws(StoreError) -> RunOutcome {
        let session = RunSession(runner: self, run: run, runID: before.id, runCount: runCount)
        let runID = before.id
        // Where a claimed run starts: its latest checkpoint (`resume`, already checked), or step
        // 0. What an earlier attempt recorded past that point is discarded, so the run's records
        // are those of one uninterrupted run.
        session.heartbeat = Heartbeat(store: store, run: runID, claimant: claimant, interval: heartbeatInterval)
        defer { session.heartbeat?.stop() }
        // Each with the claim checked in its own transaction: had this process been stopped since
        // the claim long enough to lose the run, it must not touch the new owner's rows.
        guard try store.recordProvenance(run: runID, provenance, claimant: claimant) else { return try session.takenOver() }
        if let resume {
            guard try store.discardRecords(run: runID, after: resume.record.step, epochsDone: resume.record.epoch, claimant: claimant) else {
                return try session.takenOver()
            }
            (session.epochsDone, session.step) = (resume.record.epoch, resume.record.step)
            if let final = try store.finalMetrics(run: runID) {
                (session.lastTrainLoss, session.lastTestAccuracy, session.bestTestAccuracy) = (final.trainLoss, final.testAccuracy, final.bestTestAccuracy)
            }
        } else if before.startedAt != nil {
            guard try store.discardRecords(run: runID, after: nil, claimant: claimant) else { return try session.takenOver() }
        }
        session.event(.started, "run \(run.index) of \(runCount)\(run.variant.label.isEmpty ? "" : " (\(run.variant.label))"), seed \(run.seed)"
              + (resume.map { "; resumed from epoch \($0.record.epoch) (step \($0.record.step)) after an earlier attempt (\(before.status.rawValue), step \(before.stepsDone))" }
                 ?? (before.startedAt == nil ? "" : "; an earlier attempt (\(before.status.rawValue), step \(before.stepsDone)) is trained again from step 0"))
              + ", by \(claimant)")

        // Data.
        var split: DatasetSplit
        do { split = try dataset(for: run) } catch { return try session.fail(error.description) }
        do {
            try store.recordDataFiles(run: runID, files: DataFiles.paths(of: run))
        } catch where error.kind == .io {
            return try session.fail(error.description)
        }
        var validation: LabeledImages?
        if run.evaluation.validationSplit > 0 {
            let parts = split.train.splitValidation(fraction: run.evaluation.validationSplit, seed: run.seed)
            split.train = parts.train
            validation = parts.validation
        }
        guard split.train.count > 0 else { return try session.finish(.failed, "the training set is empty") }

        // Model, sampler and probes, restored from the checkpoint when the run resumes.
        let network: Network<Float>
        do { network = try run.makeNetwork() } catch { return try session.finish(.failed, error.description) }
        let trainer = Trainer(network: network, loss: run.loss, optimizer: run.optimizer.make(Float.self), replicas: run.training.replicas)
        var sampler = BatchSampler(data: split.train, batchSize: run.training.batchSize, shuffle: run.training.shuffle, seed: run.seed)
        var probes: [(name: String, probe: any Probe)] = []
        for recipe in run.probes {
            do { probes.append((recipe.name, try recipe.makeProbe())) } catch { return try session.fail("the \(recipe.name) probe: \(error.message)") }
        }
        let hooks = ProbeHooks(probes, session: session)
        if let resume {
            let checkpoint = resume.checkpoint
            do throws(CheckpointError) { try checkpoint.restore(into: trainer, sampler: &sampler) } catch {
                // Unreachable for a file whose SHA-256 and spec hash matched; ends the run, not the sweep.
                return try session.fail("cannot resume: \(error.description)")
            }
            var saved = ProbeState(counters: Dictionary(checkpoint.runnerCounters.map { ($0.name, $0.value) }) { a, _ in a },
                                   reals: Dictionary(checkpoint.runnerReals.map { ($0.name, $0.value) }) { a, _ in a })
            for generator in checkpoint.runnerGenerators {
                if let rng = Xoshiro256(stateWords: generator.words) { saved.generators[generator.name] = rng }
            }
            do throws(RunStop) { try hooks.restore(saved) } catch { return try session.end(error) }
        }

        var loop = TrainingLoop(
            run: run, session: session, trainer: trainer, sampler: sampler, hooks: hooks,
            checkpoints: CheckpointKeeper(store: store, claimant: claimant, runID: runID, runUUID: before.uuid, settings: run.checkpoint, previous: resume?.record),
            data: (validation, split.test), stop: stop,
            progress: ProgressTicker(reporter: reporter, run: run, runCount: runCount, stepsPerEpoch: sampler.batchesPerEpoch,
                                     interval: progressInterval),
            runUUID: before.uuid)
        do throws(RunStop) {
            try loop.run(from: session.epochsDone + 1)
        } catch {
            // The probes hear how the run ended (what they record then is kept unless it was taken over).
            if case .store = error { throw error.storeError! }
            if case .takenOver = error {} else {
                let status: RunStatus = switch error { case .diverged: .diverged; case .interrupted: .interrupted; default: .failed }
                try? hooks.call(step: session.step, epoch: Double(session.epochsDone), wallTime: loop.progress.elapsed) {
                    try $0.runEnded(loop.probeRun, status: status, recorder: hooks.recorder)
                }
            }
            return try session.end(error)
        }
        session.event(.completed, "\(session.epochsDone) epochs, \(session.step) steps")
        return try session.finish(.completed)
    }

    /// The run's error when `value` (which names a non-finite number) ends it.
    static func divergence(_ value: String) -> String { "\(value); lower optimizer.learning_rate" }
}

extension RunStop {
    var storeError: StoreError? { if case .store(let error) = self { error } else { nil } }
}
