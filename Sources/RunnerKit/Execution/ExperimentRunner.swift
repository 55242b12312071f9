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
        let newRuns = plan.runs.map { run in
            NewRun(experimentID: 0, runIndex: run.index, variant: JSONWriter.write(run.variant.json, pretty: false),
                   variantLabel: run.variant.label, specJSON: run.resolvedJSON, specHash: run.specHash, seed: run.seed,
                   epochsPlanned: run.epochs, provenance: provenance, params: run.params)
        }
        let sweep = try store.openSweep(name: plan.name, specPath: plan.file, specJSON: plan.text, specHash: plan.sweepHash,
                                        runs: newRuns, fresh: fresh)
        reporter.sweepMessage(SweepText.opening(sweep, plan: plan))
        guard sweep.runs.map(\.runIndex) == plan.runs.map(\.index) else {
            throw StoreError(.invalidValue, path: store.path, "experiment \(sweep.experimentID) has runs \(sweep.runs.map(\.runIndex)) but \(plan.file) expands to \(plan.runs.count); run it with --fresh to start a new experiment")
        }
        var outcomes: [Int: RunOutcome] = [:]
        while true {
            var waiting = false
            for (run, stored) in zip(plan.runs, sweep.runs) where outcomes[run.index]?.isSettled != true {
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
        return plan.runs.compactMap { outcomes[$0.index] }
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
        datasetCache = [key: split]     // one data set in memory at a time
        return split
    }

    /// One run this process has just claimed, to its final status.
    func train(_ run: RunPlan, claimed before: StoredRun, resume: ResumePoint?, runCount: Int, provenance: RunProvenance) throws(StoreError) -> RunOutcome {
        let runID = before.id
        let clock = ContinuousClock()
        let started = clock.now
        func seconds(since instant: ContinuousClock.Instant) -> Double {
            let d = clock.now - instant
            return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        }
        var storeSeconds = 0.0
        var records = RecordBatch()
        var epochsDone = 0, step = 0
        var lastTrainLoss: Double?, lastTestAccuracy: Double?, bestTestAccuracy: Double?, lastSpeed: Double?
        var heartbeat: Heartbeat?
        /// Set when the store refused a batch for a NaN or an infinity the checks below missed.
        var unrecordable: String?
        /// Set when another process claimed the run (this one was silent past the stale limit).
        var claimLost = false

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

        func event(_ kind: String, _ message: String) {
            records.events.append(.init(time: Date().timeIntervalSince1970, kind: kind, message: message))
        }
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
            storeSeconds += seconds(since: t)
        }
        func finish(_ status: RunStatus, _ error: String? = nil) throws(StoreError) -> RunOutcome {
            var status = status, error = error
            try flush()
            if claimLost { return try takenOver() }
            if let value = unrecordable, status != .diverged {
                let message = Self.divergence(value)
                event("diverged", message)
                try flush()
                (status, error) = (.diverged, message)
            }
            heartbeat?.stop()
            let t = clock.now
            guard try store.finish(run: runID, status: status, error: error, claimant: claimant) else { return try takenOver() }
            storeSeconds += seconds(since: t)
            let total = seconds(since: started)
            return RunOutcome(runID: runID, index: run.index, label: run.variant.label, status: status, epochsDone: epochsDone,
                              finalTrainLoss: lastTrainLoss, finalTestAccuracy: lastTestAccuracy, bestTestAccuracy: bestTestAccuracy,
                              imagesPerSecond: lastSpeed, seconds: total, storeFraction: total > 0 ? storeSeconds / total : 0, error: error)
        }

        // Where a claimed run starts: its latest checkpoint (`resume`, already checked), or step
        // 0. What an earlier attempt recorded past that point is discarded, so the run's records
        // are those of one uninterrupted run.
        heartbeat = Heartbeat(store: store, run: runID, claimant: claimant, interval: heartbeatInterval)
        defer { heartbeat?.stop() }
        // Each with the claim checked in its own transaction: had this process been stopped since
        // the claim long enough to lose the run, it must not touch the new owner's rows.
        guard try store.recordProvenance(run: runID, provenance, claimant: claimant) else { return try takenOver() }
        if let resume {
            guard try store.discardRecords(run: runID, after: resume.record.step, epochsDone: resume.record.epoch, claimant: claimant) else {
                return try takenOver()
            }
            (epochsDone, step) = (resume.record.epoch, resume.record.step)
            if let final = try store.finalMetrics(run: runID) {
                (lastTrainLoss, lastTestAccuracy, bestTestAccuracy) = (final.trainLoss, final.testAccuracy, final.bestTestAccuracy)
            }
        } else if before.startedAt != nil {
            guard try store.discardRecords(run: runID, after: nil, claimant: claimant) else { return try takenOver() }
        }
        /// Ends the run as diverged because `value` (a description naming it) is not finite.
        func diverge(_ value: String) throws(StoreError) -> RunOutcome {
            let message = Self.divergence(value)
            event("diverged", message)
            return try finish(.diverged, message)
        }
        /// Keeps the finite rows; the first non-finite one, described, is returned to end the run.
        func admit<Row>(_ rows: [Row], into list: inout [Row], _ describe: (Row) -> String?) -> String? {
            list += rows.filter { describe($0) == nil }
            return rows.lazy.compactMap(describe).first
        }
        event("started", "run \(run.index) of \(runCount)\(run.variant.label.isEmpty ? "" : " (\(run.variant.label))"), seed \(run.seed)"
              + (resume.map { "; resumed from epoch \($0.record.epoch) (step \($0.record.step)) after an earlier attempt (\(before.status.rawValue), step \(before.stepsDone))" }
                 ?? (before.startedAt == nil ? "" : "; an earlier attempt (\(before.status.rawValue), step \(before.stepsDone)) is trained again from step 0"))
              + ", by \(claimant)")

        // Data.
        var split: DatasetSplit
        do {
            split = try dataset(for: run)
        } catch {
            event("failed", error.description)
            return try finish(.failed, error.description)
        }
        do {
            try store.recordDataFiles(run: runID, files: DataFiles.paths(of: run))
        } catch where error.kind == .io {
            event("failed", error.description)
            return try finish(.failed, error.description)
        }
        var validation: LabeledImages?
        if run.validationSplit > 0 {
            let parts = split.train.splitValidation(fraction: run.validationSplit, seed: run.seed)
            split.train = parts.train
            validation = parts.validation
        }
        guard split.train.count > 0 else { return try finish(.failed, "the training set is empty") }

        // Model.
        let network: Network<Float>
        do { network = try run.makeNetwork() } catch { return try finish(.failed, error.description) }
        let trainer = Trainer(network: network, loss: run.loss, optimizer: run.optimizer.make(Float.self), replicas: run.replicas)
        var sampler = BatchSampler(data: split.train, batchSize: run.batchSize, shuffle: run.shuffle, seed: run.seed)
        let stepsPerEpoch = sampler.batchesPerEpoch
        let totalSteps = stepsPerEpoch * run.epochs
        var checkRNG = Xoshiro256(seed: run.seed, stream: 0xC4EC)
        var windowLoss = 0.0, windowImages = 0
        if let resume {
            let checkpoint = resume.checkpoint
            var problem: String?
            do throws(CheckpointError) { try checkpoint.restore(into: trainer, sampler: &sampler) } catch { problem = error.description }
            if problem == nil, let generator = checkpoint.runnerGenerator("grad_check"), let sum = checkpoint.runnerReal("loss_window_sum"),
               let images = checkpoint.runnerCounter("loss_window_images"), images <= UInt64(Int.max) {
                (checkRNG, windowLoss, windowImages) = (generator, sum, Int(images))
            } else {
                problem = problem ?? "\(checkpoint.path ?? "checkpoint"): has no runner state (rng.runner.grad_check, runner.loss_window_sum, runner.loss_window_images)"
            }
            // Unreachable for a file whose SHA-256 and spec hash matched; ends the run, not the sweep.
            if let problem {
                event("failed", "cannot resume: \(problem)")
                return try finish(.failed, "cannot resume: \(problem)")
            }
        }
        var checkpoints = CheckpointKeeper(store: store, runID: runID, runUUID: before.uuid, settings: run.checkpoint,
                                           previous: resume?.record)
        let wallStart = clock.now
        var lastFlush = clock.now
        var lastProgress = clock.now
        var progressLoss = 0.0, progressImages = 0
        var trainingSeconds = 0.0, trainedImages = 0

        for epoch in (epochsDone + 1)..<(run.epochs + 1) {
            var epochLoss = 0.0, epochCorrect = 0, epochImages = 0
            let epochStart = clock.now
            var epochProbeSeconds = 0.0
            for batchIndex in 0..<stepsPerEpoch {
                if claimLost || heartbeat?.lost == true { return try takenOver() }
                if let signal = stop.requested {
                    event("interrupted", "stopped by \(Provenance.signalName(signal)) at step \(step) (epoch \(epoch))")
                    return try finish(.interrupted, "stopped by \(Provenance.signalName(signal)) at step \(step)")
                }
                // The sampler walks on by itself, so that its saved position is where the run is.
                let (_, _, count) = sampler.nextBatch()
                if run.probes.gradientCheckEvery > 0 && step % run.probes.gradientCheckEvery == 0 {
                    let t = clock.now
                    let checks = gradientCheck(network, run: run, images: sampler.images, labels: sampler.labels,
                                               available: count, step: step, rng: &checkRNG)
                    epochProbeSeconds += seconds(since: t)
                    // A non-finite analytic or numeric gradient means the network itself has blown
                    // up at these weights: the run has diverged (the finite entries are kept).
                    if let bad = admit(checks, into: &records.gradientChecks, \.nonFiniteDescription) { return try diverge(bad) }
                }
                let rate = run.schedule.rate(base: run.learningRate, step: step, totalSteps: totalSteps, epoch: epoch - 1)
                guard rate.isFinite else {
                    return try diverge("learning_rate became \(nonFiniteName(rate)) at step \(step + 1) (epoch \(epoch))")
                }
                let result = sampler.images.withUnsafeBufferPointer { images in
                    sampler.labels.withUnsafeBufferPointer { labels in
                        trainer.step(images: images, labels: labels, batch: count, learningRate: rate)
                    }
                }
                step += 1
                guard result.sum.isFinite else {
                    let message = "the training loss became \(result.sum.isNaN ? "NaN" : "infinite") at step \(step) (epoch \(epoch)); lower optimizer.learning_rate"
                    event("diverged", message)
                    return try finish(.diverged, message)
                }
                windowLoss += result.sum; windowImages += count
                progressLoss += result.sum; progressImages += count
                epochLoss += result.sum; epochCorrect += result.correct; epochImages += count
                let elapsed = seconds(since: wallStart)
                if step % run.probes.lossEvery == 0 {
                    let epochPosition = Double(epoch - 1) + Double(batchIndex + 1) / Double(stepsPerEpoch)
                    let metrics: [RecordBatch.Metric] = [
                        .init(name: "train_loss", step: step, epoch: epochPosition, value: windowLoss / Double(windowImages), wallTime: elapsed),
                        .init(name: "learning_rate", step: step, epoch: epochPosition, value: rate, wallTime: elapsed),
                    ]
                    if let bad = admit(metrics, into: &records.metrics, \.nonFiniteDescription) { return try diverge(bad) }
                    lastTrainLoss = windowLoss / Double(windowImages)
                    windowLoss = 0; windowImages = 0
                }
                if run.probes.gradientNormsEvery > 0 && step % run.probes.gradientNormsEvery == 0 {
                    let norms = gradientNorms(network, step: step)
                    if let bad = admit(norms, into: &records.gradientNorms, \.nonFiniteDescription) { return try diverge(bad) }
                }
                if seconds(since: lastFlush) >= flushInterval {
                    try flush()
                    lastFlush = clock.now
                    if claimLost { return try takenOver() }
                    if let value = unrecordable { return try diverge(value) }
                }
                if seconds(since: lastProgress) >= progressInterval {
                    lastProgress = clock.now
                    let speed = Double(trainedImages + epochImages) / max(trainingSeconds + seconds(since: epochStart) - epochProbeSeconds, 1e-9)
                    reporter.step(ProgressUpdate(
                        runIndex: run.index, runCount: runCount, epoch: epoch, epochs: run.epochs, stepInEpoch: batchIndex + 1,
                        stepsPerEpoch: stepsPerEpoch, step: step, totalSteps: totalSteps,
                        recentLoss: progressLoss / Double(max(progressImages, 1)), imagesPerSecond: speed, elapsed: elapsed,
                        remaining: Double((totalSteps - step) * run.batchSize) / max(speed, 1e-9)))
                    progressLoss = 0; progressImages = 0
                }
            }
            let epochSeconds = seconds(since: epochStart) - epochProbeSeconds
            trainingSeconds += epochSeconds
            trainedImages += epochImages
            lastSpeed = Double(epochImages) / max(epochSeconds, 1e-9)
            lastTrainLoss = lastTrainLoss ?? epochLoss / Double(epochImages)

            var epochMetrics: [(name: String, value: Double)] = [
                ("train_loss_epoch", epochLoss / Double(epochImages)),
                ("train_accuracy_epoch", Double(epochCorrect) / Double(epochImages)),
                ("images_per_second", lastSpeed ?? 0),
            ]
            func evaluate(_ data: LabeledImages, _ name: String) {
                guard data.count > 0 else { return }
                let result = trainer.evaluate(data, batchSize: run.evaluationBatchSize)
                epochMetrics.append(("\(name)_loss", result.sum / Double(data.count)))
                epochMetrics.append(("\(name)_accuracy", Double(result.correct) / Double(data.count)))
            }
            if let validation { evaluate(validation, "validation") }
            if run.evaluateTest { evaluate(split.test, "test") }
            let elapsed = seconds(since: wallStart)
            // A NaN evaluation loss (weights blown up by the last update) ends the run as diverged,
            // with the epoch's finite metrics kept.
            let measured = epochMetrics.map { RecordBatch.Metric(name: $0.name, step: step, epoch: Double(epoch), value: $0.value, wallTime: elapsed) }
            if let bad = admit(measured, into: &records.metrics, \.nonFiniteDescription) {
                epochsDone = epoch
                return try diverge(bad)
            }
            if let accuracy = epochMetrics.first(where: { $0.name == "test_accuracy" })?.value {
                lastTestAccuracy = accuracy
                bestTestAccuracy = max(bestTestAccuracy ?? 0, accuracy)
            }
            epochsDone = epoch
            try flush()
            lastFlush = clock.now
            if claimLost { return try takenOver() }
            if let value = unrecordable { return try diverge(value) }
            // After the epoch's records are committed: a run killed before its checkpoint is
            // recorded resumes from the one before and trains this epoch again.
            if run.checkpoint.writes(afterEpoch: epoch, of: run.epochs) {
                let file = CheckpointFile(
                    training: trainer.captureState(epoch: epoch, step: step), sampler: sampler.state,
                    runnerGenerators: [NamedGenerator(name: "grad_check", words: checkRNG.stateWords)],
                    runnerCounters: [NamedCounter(name: "loss_window_images", value: UInt64(windowImages))],
                    runnerReals: [NamedReal(name: "loss_window_sum", value: windowLoss)],
                    metadata: [("run_uuid", before.uuid), ("spec_hash", run.specHash), ("spec", run.resolvedJSON)])
                let t = clock.now
                do {
                    let written = try checkpoints.write(file, epoch: epoch, step: step)
                    event("checkpoint", "checkpoint epoch \(epoch): \(CheckpointKeeper.size(written.bytes)) in \(String(format: "%.3f", seconds(since: t))) s")
                } catch {
                    switch error {
                    case .store(let error): throw error
                    case .file(let error):
                        event("failed", "could not write the checkpoint: \(error)")
                        return try finish(.failed, "could not write the checkpoint: \(error)")
                    }
                }
            }
            reporter.epochFinished(ProgressUpdate(
                runIndex: run.index, runCount: runCount, epoch: epoch, epochs: run.epochs, stepInEpoch: stepsPerEpoch,
                stepsPerEpoch: stepsPerEpoch, step: step, totalSteps: totalSteps,
                recentLoss: epochLoss / Double(epochImages), imagesPerSecond: lastSpeed ?? 0, elapsed: elapsed,
                remaining: Double((totalSteps - step) * run.batchSize) / max(lastSpeed ?? 1, 1e-9)), metrics: epochMetrics)
        }
        event("completed", "\(epochsDone) epochs, \(step) steps")
        return try finish(.completed)
    }

    /// The run's error when `value` (which names a non-finite number) ends it.
    static func divergence(_ value: String) -> String { "\(value); lower optimizer.learning_rate" }

    /// L2 and max-abs of every parameter gradient (the full batch's, after the replicas are summed).
    func gradientNorms(_ network: Network<Float>, step: Int) -> [RecordBatch.GradientNorm] {
        network.namedParameters.map { layer, kind, parameter, gradient in
            var sumOfSquares = 0.0, maxAbs = 0.0
            for g in gradient.readable {
                let v = Double(g)
                sumOfSquares += v * v
                maxAbs = max(maxAbs, abs(v))
            }
            return .init(step: step, layer: layer, layerKind: kind, tensor: parameter.name, l2: sumOfSquares.squareRoot(), maxAbs: maxAbs)
        }
    }

    /// The engine's gradient check on the first samples of the current batch, in Float64.
    func gradientCheck(_ network: Network<Float>, run: RunPlan, images: [Float], labels: [Int32], available: Int, step: Int,
                       rng: inout Xoshiro256) -> [RecordBatch.GradientCheck] {
        let batch = min(run.probes.gradientCheckBatch, available)
        let size = run.inputShape.count
        let checked = network.converted(to: Double.self)
        let records = GradientChecker.check(network: checked, input: images[0..<(batch * size)].map(Double.init),
                                            labels: Array(labels[0..<batch]), batch: batch, loss: run.loss,
                                            options: run.probes.gradientCheck, rng: &rng)
        return records.map {
            .init(step: step, layer: $0.layerIndex, layerKind: $0.layerKind, tensor: $0.tensor, entry: $0.index, analytic: $0.analytic,
                  numeric: $0.numeric, absoluteError: $0.absoluteError, relativeError: $0.relativeError, outcome: $0.outcome.rawValue)
        }
    }
}
