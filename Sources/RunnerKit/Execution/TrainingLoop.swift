import Checkpoints
import Foundation
import ConvLabKit
import RunStore

/// The loop of one prepared run: epochs of steps, each step between the probes' hooks. It owns
/// the run's position and summary, calls the probes' `runEnded` exactly once, and returns how
/// the run ended. It knows no probe by name; what it records itself (epoch metrics) goes
/// through the same recorder.
struct TrainingLoop {
    let run: RunPlan
    let runUUID: String
    let trainer: Trainer<Float>
    var sampler: BatchSampler
    let hooks: ProbeHooks
    var checkpoints: CheckpointKeeper
    let data: (validation: LabeledImages?, test: LabeledImages)
    let writer: RunWriter
    let clock: RunClock
    let stop: StopSignal
    var progress: ProgressTicker
    /// A search trial's pruner, asked after each epoch; nil for a matrix run.
    var pruning: TrialPruning?
    private(set) var position: RunPosition
    private var measured: RunSummary

    init(_ prepared: PreparedRun, runUUID: String, writer: RunWriter, clock: RunClock, stop: StopSignal, progress: ProgressTicker) {
        run = prepared.run
        self.runUUID = runUUID
        trainer = prepared.trainer
        sampler = prepared.sampler
        hooks = prepared.hooks
        checkpoints = prepared.checkpoints
        data = prepared.data
        self.writer = writer
        self.clock = clock
        self.stop = stop
        self.progress = progress
        position = prepared.position
        measured = prepared.summary
    }

    /// What the run measured last; the training loss a probe recorded wins over the epoch mean.
    var summary: RunSummary {
        var summary = measured
        summary.trainLoss = hooks.latestTrainLoss ?? measured.trainLoss
        return summary
    }

    /// Trains from the epoch after `position` to the last, and tells the probes how it ended.
    mutating func train() -> RunEnding {
        let status: RunStatus
        let ending: RunEnding
        do throws(RunStop) {
            try epochs()
            (status, ending) = (.completed, .completed)
        } catch {
            // A run another process took over is not this one's to record in; a failed store
            // records nothing more.
            guard let heard = error.probeStatus else { return .stopped(error) }
            (status, ending) = (heard, .stopped(error))
        }
        do throws(RunStop) {
            let context = probeRun
            try hooks.call(step: position.step, epoch: Double(status == .completed ? run.training.epochs : position.epochsDone),
                           wallTime: progress.elapsed) {
                try $0.runEnded(context, status: status, recorder: hooks.recorder)
            }
        } catch {
            if status == .completed { return .stopped(error) }
        }
        return ending
    }

    private mutating func epochs() throws(RunStop) {
        let context = probeRun
        try hooks.call(step: position.step, epoch: Double(position.epochsDone), wallTime: 0) { try $0.runStarted(context, recorder: hooks.recorder) }
        _ = try hooks.savedState()      // state names that clash fail the run now, not at its first checkpoint
        for epoch in (position.epochsDone + 1)..<(run.training.epochs + 1) {
            var totals = LossResult(), images = 0
            let epochStart = clock.now, hookSecondsBefore = hooks.seconds
            for batchIndex in 0..<context.stepsPerEpoch {
                try checkStillOurs(epoch: epoch)
                let (_, _, count) = sampler.nextBatch()     // walks on by itself: its saved position is where the run is
                let rate = run.schedule.rate(base: run.learningRate, step: position.step, totalSteps: context.totalSteps, epoch: epoch - 1)
                guard rate.isFinite else { throw .diverged("learning_rate became \(nonFiniteName(rate)) at step \(position.step + 1) (epoch \(epoch))") }
                let fraction = Double(epoch - 1) + Double(batchIndex + 1) / Double(context.stepsPerEpoch)
                let elapsed = progress.elapsed
                let result = try sampler.images.withUnsafeBufferPointer { batchImages throws(RunStop) in
                    try sampler.labels.withUnsafeBufferPointer { labels throws(RunStop) in
                        var step = TrainingStep(run: context, step: position.step, epoch: epoch, batchIndex: batchIndex, learningRate: rate,
                                                images: batchImages, labels: labels, count: count, loss: nil)
                        try hooks.call(step: position.step, epoch: fraction, wallTime: elapsed) { try $0.beforeStep(step, recorder: hooks.recorder) }
                        let result = trainer.step(images: batchImages, labels: labels, batch: count, learningRate: rate)
                        position.step += 1
                        guard result.sum.isFinite else {
                            throw .diverged("the training loss became \(result.sum.isNaN ? "NaN" : "infinite") at step \(position.step) (epoch \(epoch))")
                        }
                        (step.step, step.loss) = (position.step, result)
                        try hooks.call(step: position.step, epoch: fraction, wallTime: elapsed) { try $0.afterStep(step, recorder: hooks.recorder) }
                        return result
                    }
                }
                totals = totals + result
                images += count
                try writer.commitIfDue(at: position)
                progress.stepDone(epoch: epoch, stepInEpoch: batchIndex + 1, step: position.step, loss: result.sum, images: count,
                                  epochImages: images, epochSeconds: clock.seconds(since: epochStart) - (hooks.seconds - hookSecondsBefore))
            }
            let trainingSeconds = clock.seconds(since: epochStart) - (hooks.seconds - hookSecondsBefore)
            try endEpoch(epoch, totals: totals, images: images, seconds: trainingSeconds)
        }
    }

    /// Whether the run may take its next step: not stopped, not taken over.
    private func checkStillOurs(epoch: Int) throws(RunStop) {
        if !writer.holdsRun { throw .takenOver }
        if let signal = stop.requested {
            writer.event(.interrupted, "stopped by \(Provenance.signalName(signal)) at step \(position.step) (epoch \(epoch))")
            throw .interrupted("stopped by \(Provenance.signalName(signal)) at step \(position.step)")
        }
    }

    /// The epoch's metrics and evaluation, the write that makes the epoch done, its checkpoint.
    private mutating func endEpoch(_ epoch: Int, totals: LossResult, images: Int, seconds: Double) throws(RunStop) {
        progress.epochDone(images: images, seconds: seconds)
        let speed = Double(images) / max(seconds, 1e-9)
        measured.imagesPerSecond = speed
        measured.trainLoss = measured.trainLoss ?? totals.sum / Double(images)
        var metrics: [(name: MetricName, value: Double)] = [
            (.trainLossEpoch, totals.sum / Double(images)),
            (.trainAccuracyEpoch, Double(totals.correct) / Double(images)),
            (.imagesPerSecond, speed),
        ]
        if let validation = data.validation { metrics += evaluate(validation, .validation) }
        if run.evaluation.test { metrics += evaluate(data.test, .test) }
        let elapsed = progress.elapsed
        for (name, value) in metrics { hooks.recorder.step = position.step; hooks.recorder.epoch = Double(epoch); hooks.recorder.metric(name, value) }
        do {
            try hooks.collect(wallTime: elapsed)
        } catch {
            // A NaN evaluation loss (weights blown up by the last update): the epoch's finite metrics are kept.
            position.epochsDone = epoch
            throw error
        }
        if let accuracy = metrics.first(where: { $0.name == .testAccuracy })?.value {
            measured.testAccuracy = accuracy
            measured.bestTestAccuracy = max(measured.bestTestAccuracy ?? 0, accuracy)
        }
        let summary = EpochSummary(run: probeRun, epoch: epoch, step: position.step, metrics: metrics)
        try hooks.call(step: position.step, epoch: Double(epoch), wallTime: elapsed) { try $0.epochEnded(summary, recorder: hooks.recorder) }
        position.epochsDone = epoch
        try writer.commit(at: position)
        // Asked once the epoch is in the store, where the pruner's history comes from.
        let pruneReason = try pruning?.reasonToStop(afterEpoch: epoch, of: run.training.epochs)
        // After the epoch's records are committed: a run killed before its checkpoint is
        // recorded resumes from the one before and trains this epoch again. A pruned trial
        // keeps the checkpoint of its last epoch.
        if run.checkpoint.writes(afterEpoch: epoch, of: run.training.epochs) || (pruneReason != nil && run.checkpoint.everyEpochs > 0) {
            try writeCheckpoint(epoch)
        }
        progress.epochFinished(epoch: epoch, step: position.step, loss: totals.sum / Double(images), metrics: metrics)
        if let pruneReason { throw .pruned(pruneReason) }
    }

    private func evaluate(_ data: LabeledImages, _ split: MetricName.EvaluationSplit) -> [(name: MetricName, value: Double)] {
        guard data.count > 0 else { return [] }
        let result = trainer.evaluate(data, batchSize: run.evaluation.batchSize)
        return [(.loss(of: split), result.sum / Double(data.count)), (.accuracy(of: split), Double(result.correct) / Double(data.count))]
    }

    private mutating func writeCheckpoint(_ epoch: Int) throws(RunStop) {
        let state = try hooks.savedState()
        let file = CheckpointFile(
            training: trainer.captureState(epoch: epoch, step: position.step), sampler: sampler.state,
            runnerGenerators: state.generators.sorted { $0.key < $1.key }.map { NamedGenerator(name: $0.key, words: $0.value.stateWords) },
            runnerCounters: state.counters.sorted { $0.key < $1.key }.map { NamedCounter(name: $0.key, value: $0.value) },
            runnerReals: state.reals.sorted { $0.key < $1.key }.map { NamedReal(name: $0.key, value: $0.value) },
            metadata: [(CheckpointMetadataKey.runUUID.rawValue, runUUID), (CheckpointMetadataKey.specHash.rawValue, run.specHash),
                       (CheckpointMetadataKey.spec.rawValue, run.resolvedJSON)])
        let start = clock.now
        do {
            let written = try checkpoints.write(file, epoch: epoch, step: position.step)
            writer.event(.checkpoint, "checkpoint epoch \(epoch): \(CheckpointKeeper.size(written.bytes)) in \(String(format: "%.3f", clock.seconds(since: start))) s")
        } catch {
            switch error {
            case .store(let error): throw .store(error)
            case .takenOver: throw .takenOver
            case .file(let error):
                throw .crashed("could not write the checkpoint: \(error); once that is fixed (a full disk: free some space), "
                               + "`runner exec` of the spec again resumes the run from its last checkpoint")
            }
        }
    }

    var probeRun: ProbeRun {
        ProbeRun(network: trainer.network, loss: run.loss, inputShape: run.inputShape, classes: run.classes, seed: run.seed,
                 epochs: run.training.epochs, stepsPerEpoch: sampler.batchesPerEpoch, totalSteps: sampler.batchesPerEpoch * run.training.epochs)
    }
}
