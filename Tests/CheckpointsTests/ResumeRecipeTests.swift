import ConvCore
import Datasets
import Foundation
import Testing
@testable import Checkpoints
import TestSupport

/// The runner's loop in miniature — batches from the sampler's walk, a learning-rate schedule,
/// a loss probe whose window spans epoch ends, gradient checks drawing from the runner's own
/// generator, evaluation after each epoch, a checkpoint file after each epoch — stopped without
/// warning in the middle of epoch 2 and resumed from the epoch-1 file in new objects. This is the
/// recipe the runner follows; the test proves it gives the uninterrupted run's records exactly.
@Suite("Resume recipe")
struct ResumeRecipeTests {
    static let data = SyntheticDataset.make(seed: 6, trainCount: 37, testCount: 11, size: 6)
    static let epochs = 3, lossEvery = 5, checkEvery = 4

    struct Records: Equatable {
        var trainLoss: [String] = []      // "step:bits"
        var checks: [String] = []
        var evaluations: [String] = []
    }

    /// Runs epochs `(from checkpoint's epoch + 1)...`, stopping after `stopAfterSteps` steps in
    /// total when given (the kill). Returns the records and the last checkpoint file written.
    static func run(seed: UInt64, optimizer: OptimizerConfiguration, folder: String, resumeFrom path: String?,
                    stopAfterSteps: Int?) throws -> (Records, String?) {
        // 1. Build everything fresh, exactly as for a new run.
        let network = try Network<Float>(input: Shape(channels: 1, height: 6, width: 6), layers: [
            Conv2DConfiguration(filters: 2, kernel: (3, 3)), ActivationConfiguration(.relu), FlattenConfiguration(),
            DenseConfiguration(units: 8), DropoutConfiguration(rate: 0.2), DenseConfiguration(units: 4),
        ], seed: seed)
        let trainer = Trainer(network: network, loss: SoftmaxCrossEntropy(), optimizer: optimizer.make(Float.self), replicas: 2)
        var sampler = BatchSampler(data: data.train, batchSize: 5, shuffle: true, seed: seed)
        var checkRNG = Xoshiro256(seed: seed, stream: 0xC4EC)
        var windowLoss = 0.0, windowImages = 0
        var epochsDone = 0, step = 0

        // 2. Resuming: read the file (the store gives its path and SHA-256), restore the trainer
        //    and the sampler, then the runner's own generator and counters.
        if let path {
            let checkpoint = try CheckpointFile.read(path: path, expectedSHA256: CheckpointFile.sha256([UInt8](Data(contentsOf: URL(fileURLWithPath: path)))))
            try checkpoint.restore(into: trainer, sampler: &sampler)
            checkRNG = try #require(checkpoint.runnerGenerator("grad_check"))
            windowLoss = try #require(checkpoint.runnerReal("loss_window_sum"))
            windowImages = Int(try #require(checkpoint.runnerCounter("loss_window_images")))
            epochsDone = checkpoint.training.epoch
            step = checkpoint.training.step
        }

        var records = Records()
        var lastFile: String?
        let stepsPerEpoch = sampler.batchesPerEpoch
        guard epochsDone < epochs else { return (records, lastFile) }
        for epoch in (epochsDone + 1)...epochs {
            for _ in 0..<stepsPerEpoch {
                if let stop = stopAfterSteps, step == stop { return (records, lastFile) }   // kill -9
                let (walked, _, count) = sampler.nextBatch()
                #expect(walked == epoch)
                if step % checkEvery == 0 {
                    let checked = network.converted(to: Double.self)
                    let batch = min(2, count)
                    let results = GradientChecker.check(network: checked, input: sampler.images[0..<(batch * 36)].map(Double.init),
                                                        labels: Array(sampler.labels[0..<batch]), batch: batch, loss: SoftmaxCrossEntropy(),
                                                        options: GradientCheckOptions(samplesPerTensor: 2), rng: &checkRNG)
                    records.checks += results.map { "\(step):\($0.tensor):\($0.index):\($0.numeric.bitPattern)" }
                }
                let rate = LearningRateSchedule.cosine(minimum: 0.001).rate(base: 0.05, step: step, totalSteps: stepsPerEpoch * epochs, epoch: epoch - 1)
                let result = sampler.images.withUnsafeBufferPointer { images in
                    sampler.labels.withUnsafeBufferPointer { trainer.step(images: images, labels: $0, batch: count, learningRate: rate) }
                }
                step += 1
                windowLoss += result.sum; windowImages += count
                if step % lossEvery == 0 {
                    records.trainLoss.append("\(step):\((windowLoss / Double(windowImages)).bitPattern)")
                    windowLoss = 0; windowImages = 0
                }
            }
            let evaluation = data.test.images.withUnsafeBufferPointer { images in
                data.test.labels.withUnsafeBufferPointer { trainer.evaluate(images: images, labels: $0, count: data.test.count, batchSize: 4) }
            }
            records.evaluations.append("\(epoch):\(evaluation.sum.bitPattern):\(evaluation.correct)")
            // 3. At the epoch's end: capture everything, write atomically, record (path, bytes, SHA-256) in the store.
            let checkpoint = CheckpointFile(
                training: trainer.captureState(epoch: epoch, step: step), sampler: sampler.state,
                runnerGenerators: [NamedGenerator(name: "grad_check", words: checkRNG.stateWords)],
                runnerCounters: [NamedCounter(name: "loss_window_images", value: UInt64(windowImages))],
                runnerReals: [NamedReal(name: "loss_window_sum", value: windowLoss)],
                metadata: [("run_uuid", "00000000-0000-4000-8000-000000000000")])
            let file = String(format: "%@/epoch-%04d.safetensors", folder, epoch)
            try checkpoint.write(to: file)
            lastFile = file
        }
        return (records, lastFile)
    }

    @Test("killed mid-epoch 2 and resumed from the epoch-1 checkpoint: every record and the final file are the uninterrupted run's",
          arguments: [OptimizerConfiguration.sgd(momentum: 0.9, nesterov: true, weightDecay: 1e-4), .adam(weightDecay: 1e-4)])
    func killAndResume(optimizer: OptimizerConfiguration) throws {
        for seed: UInt64 in [1, 2] {
            let straightFolder = temporaryFolder(), resumedFolder = temporaryFolder()
            let (straight, straightFinal) = try Self.run(seed: seed, optimizer: optimizer, folder: straightFolder, resumeFrom: nil, stopAfterSteps: nil)
            let perEpoch = BatchSampler(data: Self.data.train, batchSize: 5, shuffle: true, seed: seed).batchesPerEpoch
            let (beforeKill, _) = try Self.run(seed: seed, optimizer: optimizer, folder: resumedFolder, resumeFrom: nil,
                                               stopAfterSteps: perEpoch + perEpoch / 2)
            let (afterResume, resumedFinal) = try Self.run(seed: seed, optimizer: optimizer, folder: resumedFolder,
                                                           resumeFrom: resumedFolder + "/epoch-0001.safetensors", stopAfterSteps: nil)
            // The records of epoch 1 from before the kill, then everything written after the resume.
            let epoch1Steps = perEpoch
            func upTo(_ records: [String], _ limit: Int) -> [String] { records.filter { (Int($0.split(separator: ":")[0]) ?? 0) <= limit } }
            #expect(upTo(beforeKill.trainLoss, epoch1Steps) + afterResume.trainLoss == straight.trainLoss, "\(optimizer) seed \(seed)")
            #expect(upTo(beforeKill.checks, epoch1Steps - 1) + afterResume.checks == straight.checks, "\(optimizer) seed \(seed)")
            #expect(Array(beforeKill.evaluations.prefix(1)) + afterResume.evaluations == straight.evaluations, "\(optimizer) seed \(seed)")
            #expect(!afterResume.checks.isEmpty && afterResume.evaluations.count == 2)
            let a = try Data(contentsOf: URL(fileURLWithPath: try #require(straightFinal)))
            let b = try Data(contentsOf: URL(fileURLWithPath: try #require(resumedFinal)))
            #expect(CheckpointFile.sha256([UInt8](a)) == CheckpointFile.sha256([UInt8](b)), "\(optimizer) seed \(seed)")
        }
    }
}
