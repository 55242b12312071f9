import Checkpoints
import Foundation
import Testing
@testable import RunStore
import TestSupport

/// A 3-epoch run whose every piece of state matters on resume: Adam's moments and step count,
/// dropout's generators, the gradient check's generator, the shuffle, a loss window spanning
/// epoch ends (3000 / 25 = 120 steps an epoch, a loss every 7). An epoch takes a few seconds in a
/// debug build, longer than the store's flush interval, so epoch 2 is seen in the store before it ends.
func writeResumeSpec(_ folder: String) -> String {
    let path = folder + "/resume.json"
    let text = """
    {
      "name": "resume",
      "seed": 7,
      "dataset": { "plugin": "synthetic", "train_size": 30000, "test_size": 200, "size": 12, "classes": 4 },
      "model": { "layers": [
        { "conv": { "filters": 4, "kernel": 3, "padding": 1 } }, { "activation": {} }, { "pool": {} },
        { "flatten": {} }, { "dense": { "units": 16 } }, { "dropout": { "rate": 0.3 } }, { "dense": { "units": 4 } } ] },
      "optimizer": { "plugin": "adam", "learning_rate": 0.005 },
      "training": { "epochs": 3, "batch_size": 25 },
      "probes": { "loss": { "every": 7 }, "grad_norms": { "every": 5 }, "grad_check": { "every": 97, "samples": 2, "batch": 2 } },
      "checkpoint": { "every_epochs": 1, "keep": "all" }
    }
    """
    FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
    return path
}

/// The run's final checkpoint, read and checked against the store's SHA-256.
func finalCheckpoint(_ store: String) throws -> (file: CheckpointFile, sha256: String, bytes: [UInt8]) {
    let uuid = try #require(try scalar(store, "SELECT uuid FROM runs WHERE run_index = 1").string)
    let path = try #require(try scalar(store, "SELECT path FROM checkpoints WHERE epoch = 3").string)
    let sha = try #require(try scalar(store, "SELECT sha256 FROM checkpoints WHERE epoch = 3").string)
    let full = RunStore.artifactsFolder(storePath: store, runUUID: uuid) + "/" + path
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: full)))
    #expect(CheckpointFile.sha256(bytes) == sha)
    return (try CheckpointFile.read(path: full, expectedSHA256: sha), sha, bytes)
}

@Suite("runner exec resumes a killed run from its checkpoint, bit for bit", .serialized)
struct ResumeCLITests {
    @Test("kill -9 in the middle of epoch 2, exec again: resumed from epoch 1, the final checkpoint and the whole loss curve equal an uninterrupted run's")
    func killNineMidEpochTwo() throws {
        let folder = temporaryFolder()
        let spec = writeResumeSpec(folder)
        let store = folder + "/killed.sqlite"
        let first = try launch(["exec", spec, "--store", store])
        let inEpochTwo = waitUntil(seconds: 240) {
            (try? scalar(store, "SELECT epochs_done FROM runs"))?.double == 1
                && ((try? scalar(store, "SELECT COUNT(*) FROM metrics WHERE name = 'train_loss' AND epoch > 1"))?.double ?? 0) > 0
        }
        kill(first.0.processIdentifier, SIGKILL)
        _ = finish(first)
        #expect(inEpochTwo, "epoch 2 was never seen in progress")
        #expect(try scalar(store, "SELECT epochs_done FROM runs") == .integer(1), "the kill came after epoch 2 ended")
        #expect(try scalar(store, "SELECT status FROM runs") == .text("running"))
        #expect(try scalar(store, "SELECT group_concat(epoch) FROM checkpoints") == .text("1"))

        let dry = try runner("exec", spec, "--store", store, "--dry-run")
        #expect(dry.stdout.contains("run 1: resume from epoch 1 (step 1200; was running in a process that is gone at step"), "\(dry.stdout)")

        let second = try runner("exec", spec, "--store", store)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("run 1: resumed from epoch 1 (step 1200"), "\(second.stderr)")
        #expect(try scalar(store, "SELECT message FROM events WHERE kind = 'started' ORDER BY time DESC LIMIT 1").string?
                    .contains("resumed from epoch 1 (step 1200) after an earlier attempt (running, step ") == true)
        #expect(try scalar(store, "SELECT status || ' ' || epochs_done || ' ' || steps_done FROM runs") == .text("completed 3 3600"))

        let straight = folder + "/straight.sqlite"
        let uninterrupted = try runner("exec", spec, "--store", straight, "--quiet")
        #expect(uninterrupted.status == 0, "\(uninterrupted.stderr)")

        let losses = try trainLoss(store, runIndex: 1)
        #expect(losses.count == 3600 / 7)
        #expect(losses == (try trainLoss(straight, runIndex: 1)))
        #expect(try metricRows(store, runIndex: 1) == (try metricRows(straight, runIndex: 1)))
        let checks = "SELECT step, layer, tensor, entry, analytic, numeric FROM grad_checks WHERE run_id = $RUN ORDER BY step, layer, tensor, entry"
        #expect(try series(store, runIndex: 1, checks) == (try series(straight, runIndex: 1, checks)))

        // Every checkpoint of the resumed run is the uninterrupted run's, byte for byte, apart from
        // the run's UUID in the metadata (each store gives its run its own): with the UUID swapped,
        // the SHA-256 of the whole file is equal.
        let resumed = try finalCheckpoint(store), reference = try finalCheckpoint(straight)
        #expect(resumed.file.training == reference.file.training && resumed.file.sampler == reference.file.sampler)
        var relabelled = resumed.file
        relabelled.metadata = relabelled.metadata.map { $0.key == "run_uuid" ? (key: $0.key, value: reference.file[metadata: "run_uuid"] ?? "") : $0 }
        #expect(CheckpointFile.sha256(relabelled.encoded()) == reference.sha256)
        #expect(try scalar(store, "SELECT group_concat(epoch) FROM checkpoints") == .text("1,2,3"))
    }

    @Test("a tampered checkpoint: exec refuses in one line naming the file, exit 2, the store as it was")
    func tamperedRefused() throws {
        let folder = temporaryFolder()
        let spec = writeSpec(folder, epochs: 2, extra: #", "checkpoint": { "keep": "all" }"#)
        let store = folder + "/s.sqlite"
        #expect(try runner("exec", spec, "--store", store, "--quiet").status == 0)
        let opened = try RunStore(path: store)
        try opened.write { db in try db.execute(sql: "UPDATE runs SET status = 'interrupted'") }
        try opened.checkpointAndClose()
        let uuid = try #require(try scalar(store, "SELECT uuid FROM runs").string)
        let file = RunStore.artifactsFolder(storePath: store, runUUID: uuid) + "/epoch-0002.safetensors"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        bytes[bytes.count - 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: file))
        let runRow = "SELECT * FROM runs"
        let before = try StoreReader(path: store).query(runRow).rows
        let result = try runner("exec", spec, "--store", store, "--quiet")
        #expect(result.status == 2, "\(result.stderr)")
        // The sweep's opening line, then the refusal: nothing says the run resumed.
        let lines = result.stderr.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(lines.count == 2 && lines[0].hasPrefix("continuing experiment 1") && lines[1].hasPrefix("error: \(file): SHA-256 is "),
                "\(result.stderr)")
        #expect(result.stderr.contains("--fresh"))
        #expect(try StoreReader(path: store).query(runRow).rows == before)
    }
}
