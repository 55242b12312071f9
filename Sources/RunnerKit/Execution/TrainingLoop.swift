import Checkpoints
import Foundation
import ConvLabKit
import RunStore

/// The loop of one run: epochs of steps, each step between the probes' hooks. It knows no probe
/// by name; what it records itself (epoch metrics) goes through the same recorder.
struct TrainingLoop {
    let run: RunPlan
    let session: RunSession
    let trainer: Trainer<Float>
    var sampler: BatchSampler
    let hooks: ProbeHooks
    var checkpoints: CheckpointKeeper
    let data: (validation: LabeledImages?, test: LabeledImages)
    let stop: StopSignal
    var progress: ProgressTicker
    let runUUID: String

    mutating func run(from firstEpoch: Int) throws(RunStop) {
        let context = probeRun
        try hooks.call(step: session.step, epoch: Double(firstEpoch - 1), wallTime: 0) { try $0.runStarted(context, recorder: hooks.recorder) }
        _ = try hooks.savedState()      // state names that clash fail the run now, not at its first checkpoint
        for epoch in firstEpoch..<(run.training.epochs + 1) {
            var totals = LossResult(), images = 0
            let epochStart = session.now, hookSecondsBefore = hooks.seconds
            for batchIndex in 0..<context.stepsPerEpoch {
                try session.checkStillOurs(stop, epoch: epoch)
                let (_, _, count) = sampler.nextBatch()     // walks on by itself: its saved position is where the run is
                let rate = run.schedule.rate(base: run.learningRate, step: session.step, totalSteps: context.totalSteps, epoch: epoch - 1)
                guard rate.isFinite else { throw .diverged("learning_rate became \(nonFiniteName(rate)) at step \(session.step + 1) (epoch \(epoch))") }
                let position = Double(epoch - 1) + Double(batchIndex + 1) / Double(context.stepsPerEpoch)
                let elapsed = progress.elapsed
                let result = try sampler.images.withUnsafeBufferPointer { batchImages throws(RunStop) in
                    try sampler.labels.withUnsafeBufferPointer { labels throws(RunStop) in
                        var step = TrainingStep(run: context, step: session.step, epoch: epoch, batchIndex: batchIndex, learningRate: rate,
                                                images: batchImages, labels: labels, count: count, loss: nil)
                        try hooks.call(step: session.step, epoch: position, wallTime: elapsed) { try $0.beforeStep(step, recorder: hooks.recorder) }
                        let result = trainer.step(images: batchImages, labels: labels, batch: count, learningRate: rate)
                        session.step += 1
                        guard result.sum.isFinite else {
                            throw .diverged("the training loss became \(result.sum.isNaN ? "NaN" : "infinite") at step \(session.step) (epoch \(epoch))")
                        }
                        (step.step, step.loss) = (session.step, result)
                        try hooks.call(step: session.step, epoch: position, wallTime: elapsed) { try $0.afterStep(step, recorder: hooks.recorder) }
                        return result
                    }
                }
                totals = totals + result
                images += count
                try session.commitIfDue()
                progress.stepDone(epoch: epoch, stepInEpoch: batchIndex + 1, step: session.step, loss: result.sum, images: count,
                                  epochImages: images, epochSeconds: session.seconds(since: epochStart) - (hooks.seconds - hookSecondsBefore))
            }
            let trainingSeconds = session.seconds(since: epochStart) - (hooks.seconds - hookSecondsBefore)
            try endEpoch(epoch, totals: totals, images: images, seconds: trainingSeconds)
        }
        try hooks.call(step: session.step, epoch: Double(run.training.epochs), wallTime: progress.elapsed) {
            try $0.runEnded(context, status: .completed, recorder: hooks.recorder)
        }
    }

    /// The epoch's metrics and evaluation, the write that makes the epoch done, its checkpoint.
    private mutating func endEpoch(_ epoch: Int, totals: LossResult, images: Int, seconds: Double) throws(RunStop) {
        progress.epochDone(images: images, seconds: seconds)
        let speed = Double(images) / max(seconds, 1e-9)
        session.lastSpeed = speed
        session.lastTrainLoss = session.lastTrainLoss ?? totals.sum / Double(images)
        var metrics: [(name: MetricName, value: Double)] = [
            (.trainLossEpoch, totals.sum / Double(images)),
            (.trainAccuracyEpoch, Double(totals.correct) / Double(images)),
            (.imagesPerSecond, speed),
        ]
        if let validation = data.validation { metrics += evaluate(validation, .validation) }
        if run.evaluation.test { metrics += evaluate(data.test, .test) }
        let elapsed = progress.elapsed
        for (name, value) in metrics { hooks.recorder.step = session.step; hooks.recorder.epoch = Double(epoch); hooks.recorder.metric(name, value) }
        do {
            try hooks.collect(wallTime: elapsed)
        } catch {
            // A NaN evaluation loss (weights blown up by the last update): the epoch's finite metrics are kept.
            session.epochsDone = epoch
            throw error
        }
        if let accuracy = metrics.first(where: { $0.name == .testAccuracy })?.value {
            session.lastTestAccuracy = accuracy
            session.bestTestAccuracy = max(session.bestTestAccuracy ?? 0, accuracy)
        }
        let summary = EpochSummary(run: probeRun, epoch: epoch, step: session.step, metrics: metrics)
        try hooks.call(step: session.step, epoch: Double(epoch), wallTime: elapsed) { try $0.epochEnded(summary, recorder: hooks.recorder) }
        session.epochsDone = epoch
        try session.commit()
        // After the epoch's records are committed: a run killed before its checkpoint is
        // recorded resumes from the one before and trains this epoch again.
        if run.checkpoint.writes(afterEpoch: epoch, of: run.training.epochs) { try writeCheckpoint(epoch) }
        progress.epochFinished(epoch: epoch, step: session.step, loss: totals.sum / Double(images), metrics: metrics)
    }

    private func evaluate(_ data: LabeledImages, _ split: MetricName.EvaluationSplit) -> [(name: MetricName, value: Double)] {
        guard data.count > 0 else { return [] }
        let result = trainer.evaluate(data, batchSize: run.evaluation.batchSize)
        return [(.loss(of: split), result.sum / Double(data.count)), (.accuracy(of: split), Double(result.correct) / Double(data.count))]
    }

    private mutating func writeCheckpoint(_ epoch: Int) throws(RunStop) {
        let state = try hooks.savedState()
        let file = CheckpointFile(
            training: trainer.captureState(epoch: epoch, step: session.step), sampler: sampler.state,
            runnerGenerators: state.generators.sorted { $0.key < $1.key }.map { NamedGenerator(name: $0.key, words: $0.value.stateWords) },
            runnerCounters: state.counters.sorted { $0.key < $1.key }.map { NamedCounter(name: $0.key, value: $0.value) },
            runnerReals: state.reals.sorted { $0.key < $1.key }.map { NamedReal(name: $0.key, value: $0.value) },
            metadata: [(CheckpointMetadataKey.runUUID.rawValue, runUUID), (CheckpointMetadataKey.specHash.rawValue, run.specHash),
                       (CheckpointMetadataKey.spec.rawValue, run.resolvedJSON)])
        let start = session.now
        do {
            let written = try checkpoints.write(file, epoch: epoch, step: session.step)
            session.event(.checkpoint, "checkpoint epoch \(epoch): \(CheckpointKeeper.size(written.bytes)) in \(String(format: "%.3f", session.seconds(since: start))) s")
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
