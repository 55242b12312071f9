import Checkpoints
import Foundation
import RunStore
import Testing
@testable import RunnerKit
import TestSupport

/// Asks to stop (as Ctrl-C does) once epoch `after` of a run has finished: the run ends
/// `interrupted` with that epoch's checkpoint recorded.
final class StopAfterEpoch: ProgressReporter {
    let stop: StopSignal, after: Int
    init(_ stop: StopSignal, after: Int) { self.stop = stop; self.after = after }
    func runStarted(_ run: RunPlan, of total: Int, runID: Int64) {}
    func step(_ update: ProgressUpdate) {}
    func epochFinished(_ update: ProgressUpdate, metrics: [(name: String, value: Double)]) { if update.epoch == after { stop.request(SIGINT) } }
    func runFinished(_ outcome: RunOutcome) {}
    func note(_ message: String) {}
}

func checkpointSpec(keep: String = "all", every: Int = 1, seed: Int = 3, dataset: [String: Any]? = nil) -> String {
    smokeSpec { spec in
        spec["seed"] = seed
        spec["training"] = ["epochs": 3, "batch_size": 16]
        spec["optimizer"] = ["plugin": "adam", "learning_rate": 0.01]
        spec["checkpoint"] = ["every_epochs": every, "keep": keep]
        if let dataset {
            spec["dataset"] = dataset
            spec["model"] = ["layers": [["flatten": [:]], ["dense": ["units": 6]], ["dropout": ["rate": 0.3]], ["dense": ["units": 3]]]]
            spec["training"] = ["epochs": 3, "batch_size": 2]
        } else {
            spec["model"] = ["layers": [
                ["conv": ["filters": 2, "kernel": 3, "padding": 1]], ["activation": [:]], ["pool": [:]],
                ["flatten": [:]], ["dense": ["units": 8]], ["dropout": ["rate": 0.3]], ["dense": ["units": 3]],
            ]]
        }
    }
}

struct CheckpointedRun {
    let store: RunStore
    let plan: ExperimentPlan
    let runID: Int64

    /// Runs `spec` on a new store, stopped after epoch `stopAfter` when given.
    init(_ spec: String, stopAfter: Int? = nil) throws {
        store = try RunStore(path: temporaryPath("s.sqlite"))
        plan = try SpecLoader.plan(text: spec, file: "t.json")
        let stop = StopSignal()
        let reporter: any ProgressReporter = stopAfter.map { StopAfterEpoch(stop, after: $0) } ?? RecordingReporter()
        let outcomes = try ExperimentRunner(store: store, reporter: reporter, stop: stop).execute(plan)
        runID = try #require(outcomes.first?.runID)
    }

    var run: StoredRun { get throws { try #require(try store.storedRun(runID)) } }
    var folder: String { get throws { store.artifactsFolder(runUUID: try run.uuid) } }
    func execute() throws -> [RunOutcome] {
        try ExperimentRunner(store: store, reporter: RecordingReporter(), stop: StopSignal()).execute(plan)
    }
    func query(_ sql: String) throws -> [[SQLValue]] {
        try StoreReader(path: store.path).query(sql.replacingOccurrences(of: "$RUN", with: "\(runID)")).rows
    }
    func files() throws -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: try folder)) ?? []).sorted()
    }
}

func sha256(file: String) throws -> String {
    CheckpointFile.sha256([UInt8](try Data(contentsOf: URL(fileURLWithPath: file))))
}

@Suite("Checkpoints are written at epoch ends and resumed from")
struct CheckpointResumeTests {
    @Test("keep all: one row and one file per epoch, each file's SHA-256 and size the row's; keep last: the last only; every_epochs 0: none")
    func writing() throws {
        let all = try CheckpointedRun(checkpointSpec(keep: "all"))
        let rows = try all.store.checkpoints(run: all.runID)
        #expect(rows.map(\.epoch) == [1, 2, 3])
        #expect(try all.files() == ["epoch-0001.safetensors", "epoch-0002.safetensors", "epoch-0003.safetensors"])
        for row in rows {
            let path = try all.folder + "/" + row.path
            #expect(try sha256(file: path) == row.sha256)
            #expect(Int64((try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? -1) == row.bytes)
            let file = try CheckpointFile.read(path: path, expectedSHA256: row.sha256)
            #expect(file.training.epoch == row.epoch && file.training.step == row.step)
            #expect(file[metadata: "run_uuid"] == (try all.run.uuid) && file[metadata: "spec_hash"] == all.plan.runs[0].specHash)
        }
        #expect(rows.map(\.step) == [6, 12, 18])     // 96 images, batch 16
        #expect(try all.query("SELECT COUNT(*) FROM events WHERE run_id = $RUN AND kind = 'checkpoint' AND message LIKE 'checkpoint epoch % in % s'")
                == [[.integer(3)]])

        let last = try CheckpointedRun(checkpointSpec(keep: "last"))
        #expect(try last.store.checkpoints(run: last.runID).map(\.epoch) == [3])
        #expect(try last.files() == ["epoch-0003.safetensors"])
        #expect(try last.store.checkpoints(run: last.runID).first?.sha256 == (try sha256(file: try last.folder + "/epoch-0003.safetensors")))

        let none = try CheckpointedRun(checkpointSpec(every: 0))
        #expect(try none.store.checkpoints(run: none.runID).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: try none.folder))
    }

    @Test("stopped after epoch 1 and resumed: the run continues from epoch 1 and ends with the uninterrupted run's records and final file",
          arguments: [1, 2])
    func resumeIsBitIdentical(stopAfter: Int) throws {
        let straight = try CheckpointedRun(checkpointSpec())
        let resumed = try CheckpointedRun(checkpointSpec(), stopAfter: stopAfter)
        #expect(try resumed.run.status == .interrupted)
        #expect(try resumed.store.checkpoints(run: resumed.runID).map(\.epoch) == Array(1...stopAfter))
        let outcomes = try resumed.execute()
        #expect(outcomes.map(\.status) == [.completed])
        #expect(try resumed.query("SELECT COUNT(*) FROM events WHERE run_id = $RUN AND kind = 'started' AND message LIKE '%resumed from epoch \(stopAfter) (step \(6 * stopAfter))%'")
                == [[.integer(1)]])
        let series = "SELECT name, step, epoch, value FROM metrics WHERE run_id = $RUN AND name NOT IN ('images_per_second') ORDER BY name, step"
        #expect(try resumed.query(series) == (try straight.query(series)))
        let checks = "SELECT step, layer, tensor, entry, numeric, analytic FROM grad_checks WHERE run_id = $RUN ORDER BY step, layer, tensor, entry"
        #expect(try resumed.query(checks) == (try straight.query(checks)))
        #expect(try !resumed.query(checks).isEmpty)
        let a = try #require(try straight.store.latestCheckpoint(run: straight.runID))
        let b = try #require(try resumed.store.latestCheckpoint(run: resumed.runID))
        #expect(a.epoch == 3 && b.epoch == 3)
        // The files differ only in run_uuid: compare what was trained.
        let fa = try CheckpointFile.read(path: try straight.folder + "/" + a.path, expectedSHA256: a.sha256)
        let fb = try CheckpointFile.read(path: try resumed.folder + "/" + b.path, expectedSHA256: b.sha256)
        #expect(fa.training == fb.training && fa.sampler == fb.sampler && fa.runnerGenerators == fb.runnerGenerators)
        #expect(fa.runnerReals.map(\.value.bitPattern) == fb.runnerReals.map(\.value.bitPattern))
    }

    /// Each damages an interrupted run's resume point in its own way; `expected` is in the line.
    nonisolated(unsafe) static let damages: [(String, (CheckpointedRun) throws -> String)] = [
        ("missing file", { run in
            let path = try run.folder + "/epoch-0001.safetensors"
            try FileManager.default.removeItem(atPath: path)
            return path + ": does not exist"
        }),
        ("truncated file", { run in
            let path = try run.folder + "/epoch-0001.safetensors"
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
            return path + ": SHA-256 is"
        }),
        ("tampered file", { run in
            let path = try run.folder + "/epoch-0001.safetensors"
            var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            bytes[bytes.count - 3] ^= 0x01
            try bytes.write(to: URL(fileURLWithPath: path))
            return path + ": SHA-256 is"
        }),
        ("artifacts folder moved", { run in
            let folder = run.store.path + ".artifacts"
            try FileManager.default.moveItem(atPath: folder, toPath: folder + ".moved")
            return try run.folder + "/epoch-0001.safetensors: does not exist"
        }),
        ("another run's checkpoint", { run in
            let other = try CheckpointedRun(checkpointSpec(seed: 4))
            let source = try other.folder + "/epoch-0001.safetensors", target = try run.folder + "/epoch-0001.safetensors"
            try FileManager.default.removeItem(atPath: target)
            try FileManager.default.copyItem(atPath: source, toPath: target)
            var record = try #require(try run.store.latestCheckpoint(run: run.runID))
            record.sha256 = try sha256(file: target)
            record.step = try #require(try other.store.checkpoints(run: other.runID).first?.step)
            try run.store.addCheckpoint(record)
            return target + ": is a checkpoint of run \(try other.run.uuid), not of run \(try run.run.uuid)"
        }),
        ("another spec's checkpoint", { run in
            let target = try run.folder + "/epoch-0001.safetensors"
            var record = try #require(try run.store.latestCheckpoint(run: run.runID))
            var file = try CheckpointFile.read(path: target, expectedSHA256: record.sha256)
            file.metadata = file.metadata.map { $0.key == "spec_hash" ? (key: $0.key, value: String(repeating: "0", count: 64)) : $0 }
            record.sha256 = try file.write(to: target).sha256
            try run.store.addCheckpoint(record)
            return target + ": was written for spec hash " + String(repeating: "0", count: 64)
        }),
    ]

    @Test("a missing, truncated, tampered, moved, another run's or another spec's checkpoint: refused naming the file, the run left as it was",
          arguments: 0..<6)
    func refusal(index: Int) throws {
        let (name, damage) = Self.damages[index]
        let run = try CheckpointedRun(checkpointSpec(), stopAfter: 1)
        let expected = try damage(run)
        let before = try run.run
        let metrics = try run.query("SELECT COUNT(*) FROM metrics")
        let error = try #require(throws: StoreError.self) { try run.execute() }
        #expect(error.kind == .cannotResume, "\(name)")
        #expect(error.description.contains(expected), "\(name): \(error.description)")
        #expect(error.description.contains("--fresh") && !error.description.contains("\n"), "\(name)")
        #expect(try run.run == before, "\(name)")
        #expect(try run.query("SELECT COUNT(*) FROM metrics") == metrics, "\(name)")
    }

    @Test("data whose SHA-256 differs from the one the run was trained on: refused naming the data file, the run left as it was")
    func changedData() throws {
        let folder = idxFolder(train: 12, test: 4)
        let run = try CheckpointedRun(checkpointSpec(dataset: ["plugin": "idx", "path": folder]), stopAfter: 1)
        #expect(try run.run.status == .interrupted && run.store.dataFiles(run: run.runID).count == 4)
        let changed = folder + "/train-images-idx3-ubyte"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: changed))
        bytes[bytes.count - 1] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: changed))
        let before = try run.run
        let hashes = try run.store.dataFiles(run: run.runID).map(\.sha256)
        let error = try #require(throws: StoreError.self) { try run.execute() }
        #expect(error.kind == .cannotResume)
        #expect(error.description.hasPrefix(changed + ": has SHA-256 "), "\(error.description)")
        #expect(try run.run == before)
        #expect(try run.store.dataFiles(run: run.runID).map(\.sha256) == hashes)

        // The data put back, the run resumes and completes.
        bytes[bytes.count - 1] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: changed))
        #expect(try run.execute().map(\.status) == [.completed])
    }
}
