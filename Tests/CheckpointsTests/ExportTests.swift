import ConvLabKit
import Checkpoints
import ConvCore
import Datasets
import Foundation
import RunnerKit
import RunStore
import Testing
import TestSupport

/// A store holding one run trained here with ConvCore (until `runner exec` writes checkpoints):
/// the run's row with its resolved spec, its test accuracy after every epoch, and a checkpoint
/// of every epoch in its artifacts folder, recorded in `checkpoints`. What `runner export` and
/// scripts/reference/check_export.py read.
struct ExportFixture {
    var store: String
    var runID: Int64
    var plan: RunPlan
    var split: DatasetSplit
    /// Test accuracy after each epoch (index 0: epoch 1), as recorded.
    var accuracies: [Double]

    static func make(specText: String, store: String) throws -> ExportFixture {
        let experiment = try SpecLoader.plan(text: specText, file: "export-fixture.json")
        let plan = try #require(experiment.runs.first)
        let split = try plan.datasetPlugin.load(plan.datasetParameters, plan.seed)
        let opened = try RunStore(path: store)
        defer { try? opened.checkpointAndClose() }
        let experimentID = try opened.createExperiment(name: experiment.name, specPath: nil, specJSON: specText)
        let runID = try opened.createRun(NewRun(
            experimentID: experimentID, runIndex: 1, variant: "{}", variantLabel: plan.variant.label,
            specJSON: plan.resolvedJSON, specHash: plan.specHash, seed: plan.seed, epochsPlanned: plan.training.epochs,
            provenance: RunProvenance(host: "test", os: "", convlabVersion: Provenance.convlabVersion, swiftVersion: "", blas: ""),
            params: plan.params))
        try opened.markStarted(run: runID)
        let uuid = try #require(try opened.storedRun(runID)).uuid
        let folder = RunStore.artifactsFolder(storePath: store, runUUID: uuid)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)

        let trainer = Trainer(network: try plan.makeNetwork(), loss: plan.loss, optimizer: plan.optimizer.make(Float.self), replicas: plan.training.replicas)
        var sampler = BatchSampler(data: split.train, batchSize: plan.training.batchSize, shuffle: plan.training.shuffle, seed: plan.seed)
        var step = 0
        var accuracies: [Double] = []
        for epoch in 1 ... plan.training.epochs {
            let order = sampler.order(epoch: epoch)
            for batch in 0 ..< sampler.batchesPerEpoch {
                let count = sampler.gather(batch, of: order)
                _ = sampler.images.withUnsafeBufferPointer { images in
                    sampler.labels.withUnsafeBufferPointer { labels in
                        trainer.step(images: images, labels: labels, batch: count, learningRate: plan.learningRate)
                    }
                }
                step += 1
            }
            let accuracy = testAccuracy(trainer, split.test, batchSize: plan.evaluation.batchSize)
            accuracies.append(accuracy)
            var records = RecordBatch()
            records.metrics.append(.init(name: "test_accuracy", step: step, epoch: Double(epoch), value: accuracy, wallTime: 0))
            try opened.append(records, run: runID, epochsDone: epoch, stepsDone: step)
            let name = "epoch-\(String(repeating: "0", count: max(0, 4 - String(epoch).count)))\(epoch).safetensors"
            let checkpoint = CheckpointFile(training: trainer.captureState(epoch: epoch, step: step), metadata: [("run_uuid", uuid)])
            let (bytes, sha256) = try checkpoint.write(to: folder + "/" + name)
            try opened.addCheckpoint(CheckpointRecord(runID: runID, epoch: epoch, step: step, path: name, bytes: Int64(bytes),
                                                      sha256: sha256, createdAt: Date().timeIntervalSince1970))
        }
        try opened.finish(run: runID, status: .completed)
        return ExportFixture(store: store, runID: runID, plan: plan, split: split, accuracies: accuracies)
    }

    static func testAccuracy(_ trainer: Trainer<Float>, _ data: LabeledImages, batchSize: Int) -> Double {
        let result = data.images.withUnsafeBufferPointer { images in
            data.labels.withUnsafeBufferPointer { labels in
                trainer.evaluate(images: images, labels: labels, count: data.count, batchSize: batchSize)
            }
        }
        return Double(result.correct) / Double(data.count)
    }
}

@Suite("Exported weights rebuild the run's network")
struct ExportTests {
    static let syntheticSpec = """
    { "name": "export", "seed": 3,
      "dataset": { "plugin": "synthetic", "train_size": 240, "test_size": 120, "size": 8, "classes": 3 },
      "model": { "layers": [ { "conv": { "filters": 4, "kernel": 3, "padding": 1 } }, { "activation": {} }, { "pool": {} },
                             { "flatten": {} }, { "dense": { "units": 3 } } ] },
      "optimizer": { "plugin": "sgd", "learning_rate": 0.1, "momentum": 0.9 },
      "training": { "epochs": 2, "batch_size": 16 } }
    """

    @Test("the export of each epoch's checkpoint, put into a fresh network of the run's spec, gives the recorded test accuracy exactly")
    func exportReproducesAccuracy() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("convlab-export-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let fixture = try ExportFixture.make(specText: Self.syntheticSpec, store: folder + "/store.sqlite")
        let opened = try RunStore(path: fixture.store)
        defer { try? opened.close() }
        let uuid = try #require(try opened.storedRun(fixture.runID)).uuid
        let records = try opened.checkpoints(run: fixture.runID)
        #expect(records.map(\.epoch) == [1, 2])
        for record in records {
            let path = RunStore.artifactsFolder(storePath: fixture.store, runUUID: uuid) + "/" + record.path
            let checkpoint = try CheckpointFile.read(path: path, expectedSHA256: record.sha256)
            let export = try SafeTensors.decode(checkpoint.weightsExport(metadata: [("spec", fixture.plan.resolvedJSON)]), file: "export")
            // A fresh network (other initial weights) given only the exported tensors.
            let fresh = Trainer(network: try fixture.plan.makeNetwork(), loss: fixture.plan.loss,
                                optimizer: fixture.plan.optimizer.make(Float.self), replicas: fixture.plan.training.replicas)
            var state = fresh.captureState(epoch: record.epoch, step: record.step)
            #expect(state.parameters.map(\.name) == export.tensors.map(\.name))
            for index in state.tensors.indices {
                guard let exported = export[state.tensors[index].name] else { continue }
                #expect(exported.shape == state.tensors[index].shape)
                state.tensors[index].values = try #require(exported.floats)
            }
            try fresh.restore(state)
            let accuracy = ExportFixture.testAccuracy(fresh, fixture.split.test, batchSize: fixture.plan.evaluation.batchSize)
            #expect(accuracy == fixture.accuracies[record.epoch - 1], "epoch \(record.epoch)")
        }
        // Trained: the second epoch's accuracy is better than guessing among 3 classes.
        #expect(fixture.accuracies[1] > 0.5)
    }
}
