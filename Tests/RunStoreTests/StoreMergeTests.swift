import ConvLabKit
import Foundation
import Testing
import GRDB
@testable import RunStore
import TestSupport

/// One run to put in a test store: its UUID, index, status and progress, and how many metric rows.
struct MergeRun {
    var uuid: String = UUID().uuidString.lowercased()
    var index: Int
    var status: RunStatus = .completed
    var epochs: Int = 2
    var steps: Int = 20
    var metrics: Int = 5
    var tag: String? = nil
    var note: String? = nil
    /// A checkpoint file written for the run, with these bytes (nil: none).
    var checkpoint: String? = "weights"
}

/// A store with one experiment of spec hash `hash` (one per entry of `experiments`) and its runs,
/// every per-run table filled, checkpoint files in the artifacts folder.
@discardableResult
func mergeStore(_ path: String, hash: String = "sweep-h", experiments: [[MergeRun]]) throws -> String {
    let store = try RunStore(path: path)
    for runs in experiments {
        let experiment = try store.createExperiment(name: "sweep", specPath: "sweep.json", specJSON: "{\"a\":1}", specHash: hash)
        for run in runs {
            let id = try store.createRun(NewRun(experimentID: experiment, runIndex: run.index, variant: "{\"seed\":\(run.index)}",
                                                variantLabel: "seed=\(run.index)", specJSON: "{}", specHash: "run-\(run.index)",
                                                seed: UInt64(run.index), epochsPlanned: 2, provenance: provenance,
                                                params: [("seed", "\(run.index)", Double(run.index)), ("model.pooling", "max", nil)],
                                                uuid: run.uuid))
            try store.markStarted(run: id)
            var batch = RecordBatch()
            batch.metrics = (0..<run.metrics).map { .init(name: "train_loss", step: $0, epoch: Double($0) / 10, value: 1.0 / Double($0 + run.index), wallTime: 0.1) }
            batch.gradientNorms = [.init(step: 0, layer: 0, layerKind: "conv", tensor: "weight", l2: Double(run.index), maxAbs: 0.5)]
            batch.gradientChecks = [.init(step: 0, layer: 0, layerKind: "conv", tensor: "weight", entry: run.index, analytic: 1, numeric: 1,
                                          absoluteError: 0, relativeError: 0, outcome: "passed")]
            batch.events = [.init(time: 100 + Double(run.index), kind: "started", message: "run \(run.index) (\(run.status.rawValue))")]
            try store.append(batch, run: id, epochsDone: run.epochs, stepsDone: run.steps)
            try store.finish(run: id, status: run.status)
            if let tag = run.tag { try store.tag(runs: [id], with: tag) }
            if let note = run.note { try store.addNote(run: id, text: note, time: 5) }
            if let content = run.checkpoint {
                let folder = store.artifactsFolder(runUUID: run.uuid)
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                let data = Data(content.utf8)
                FileManager.default.createFile(atPath: folder + "/epoch-0002.safetensors", contents: data)
                try store.addCheckpoint(CheckpointRecord(runID: id, epoch: run.epochs, step: run.steps, path: "epoch-0002.safetensors",
                                                         bytes: Int64(data.count), sha256: DataFileHash.sha256(data), createdAt: 7))
            }
            try store.write { db in
                try db.execute(sql: "INSERT OR IGNORE INTO data_files VALUES ('/data/train.gz', 10, 1.5, 'abc')")
                try db.execute(sql: "INSERT INTO run_data_files VALUES (?, '/data/train.gz', 'abc')", arguments: [id])
            }
        }
    }
    try store.checkpointAndClose()
    return path
}

/// Every table's content, keyed by run UUID instead of local ids, in a stable order: what a merge
/// must preserve whatever ids it gives.
func content(_ path: String) throws -> [String: [[SQLValue]]] {
    let reader = try StoreReader(path: path)
    var result: [String: [[SQLValue]]] = [:]
    result["experiments"] = try reader.query("SELECT name, spec_path, spec_json, created_at, spec_hash FROM experiments ORDER BY id").rows
    result["runs"] = try reader.query("""
        SELECT r.uuid, e.spec_hash, r.run_index, r.variant, r.status, r.epochs_done, r.steps_done, r.seed
        FROM runs r JOIN experiments e ON e.id = r.experiment_id ORDER BY r.uuid
        """).rows
    for table in RunStore.perRunTables {
        let columns = try reader.query("SELECT name FROM pragma_table_info('\(table)') WHERE name != 'run_id' ORDER BY cid").rows.compactMap { $0[0].string }
        let list = columns.map { "t.\($0)" }.joined(separator: ", ")
        result[table] = try reader.query("SELECT r.uuid, \(list) FROM \(table) t JOIN runs r ON r.id = t.run_id ORDER BY r.uuid, \(list)").rows
    }
    result["data_files"] = try reader.query("SELECT * FROM data_files ORDER BY path").rows
    return result
}

func count(_ path: String, _ table: String) throws -> Int {
    Int(try StoreReader(path: path).query("SELECT COUNT(*) FROM \(table)").rows.first?.first?.double ?? -1)
}

func folder(_ path: String) -> String { (path as NSString).deletingLastPathComponent }

@Suite("runner merge's core: stores merged by run UUID, in one transaction")
struct StoreMergeTests {
    @Test("every table with a run_id column is one the merge copies (RunStore.perRunTables)")
    func perRunTablesCoverTheSchema() throws {
        let path = try mergeStore(temporaryStorePath(), experiments: [])
        let reader = try StoreReader(path: path)
        let tables = try reader.query("SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table' AND p.name = 'run_id'")
            .rows.compactMap { $0[0].string }
        #expect(Set(tables) == Set(RunStore.perRunTables), "\(tables)")
    }

    @Test("ids are remapped: runs land after OUT's own, with every row pointing at the right run")
    func remapsIDs() throws {
        let out = try mergeStore(temporaryStorePath(), hash: "other", experiments: [[MergeRun(index: 1), MergeRun(index: 2)]])
        let input = try mergeStore(temporaryStorePath(), experiments: [[MergeRun(index: 1, tag: "best", note: "look"), MergeRun(index: 2, status: .diverged, epochs: 1)]])
        let before = try content(out), incoming = try content(input)
        let summary = try RunStore.merge(into: out, from: [input])
        #expect(summary.runsAdded == 2 && summary.experimentsAdded == 1 && summary.checkpointFilesCopied == 2)
        let ids = try StoreReader(path: out).query("SELECT id FROM runs ORDER BY id").rows.map { $0[0] }
        #expect(ids == [.integer(1), .integer(2), .integer(3), .integer(4)])
        let after = try content(out)
        for (table, rows) in after where table != "experiments" && table != "data_files" {
            let expected = ((before[table] ?? []) + (incoming[table] ?? []))
            #expect(Set(rows.map(\.description)) == Set(expected.map(\.description)), "\(table)")
            #expect(rows.count == expected.count, "\(table)")
        }
        #expect(try count(out, "experiments") == 2)
        // The merged runs' rows reference the new ids 3 and 4, not the input's 1 and 2.
        let metricRuns = try StoreReader(path: out).query("SELECT DISTINCT run_id FROM metrics WHERE run_id IN (SELECT id FROM runs WHERE experiment_id = 2) ORDER BY run_id").rows
        #expect(metricRuns == [[.integer(3)], [.integer(4)]])
    }

    @Test("merging the same inputs again changes nothing, row for row")
    func idempotent() throws {
        let a = try mergeStore(temporaryStorePath(), experiments: [[MergeRun(index: 1, tag: "t", note: "n"), MergeRun(index: 3)]])
        let b = try mergeStore(temporaryStorePath(), experiments: [[MergeRun(index: 2, status: .interrupted, epochs: 1)]])
        let out = temporaryStorePath()
        _ = try RunStore.merge(into: out, from: [a, b])
        let once = try content(out)
        let ids = try StoreReader(path: out).query("SELECT id, uuid, experiment_id FROM runs ORDER BY id").rows
        let summary = try RunStore.merge(into: out, from: [a, b])
        #expect(summary.runsAdded == 0 && summary.runsReplaced == 0 && summary.runsKept == 3 && summary.experimentsAdded == 0 && summary.rowsCopied == 0)
        #expect(try content(out) == once)
        #expect(try StoreReader(path: out).query("SELECT id, uuid, experiment_id FROM runs ORDER BY id").rows == ids)
        // The shards of one sweep (same spec hash, disjoint run indices) are one experiment.
        #expect(try count(out, "experiments") == 1)
        #expect(try StoreReader(path: out).query("SELECT run_index FROM runs ORDER BY run_index").rows == [[.integer(1)], [.integer(2)], [.integer(3)]])
    }

    @Test("one run in two inputs: the more complete copy wins, in either order, its checkpoint with it; tags and notes of both stay")
    func moreCompleteWins() throws {
        let uuid = UUID().uuidString.lowercased()
        let done = try mergeStore(temporaryStorePath(), experiments: [[MergeRun(uuid: uuid, index: 1, status: .completed, epochs: 2, metrics: 7, tag: "done", checkpoint: "final")]])
        let partial = try mergeStore(temporaryStorePath(), experiments: [[MergeRun(uuid: uuid, index: 1, status: .interrupted, epochs: 1, metrics: 3, tag: "partial", note: "stopped", checkpoint: "half")]])
        for order in [[done, partial], [partial, done]] {
            let out = temporaryStorePath()
            let summary = try RunStore.merge(into: out, from: order)
            #expect(summary.runsAdded == 1)
            #expect(summary.runsReplaced == (order[0] == partial ? 1 : 0))
            let reader = try StoreReader(path: out)
            #expect(try reader.query("SELECT uuid, status, epochs_done FROM runs").rows == [[.text(uuid), .text("completed"), .integer(2)]])
            #expect(try count(out, "metrics") == 7)
            #expect(try count(out, "events") == 1)
            #expect(try reader.query("SELECT tag FROM run_tags ORDER BY tag").rows == [[.text("done")], [.text("partial")]])
            #expect(try reader.query("SELECT text FROM run_notes").rows == [[.text("stopped")]])
            let record = try reader.query("SELECT path, sha256 FROM checkpoints").rows
            #expect(record.count == 1)
            let file = RunStore.artifactsFolder(storePath: out, runUUID: uuid) + "/" + (record.first?[0].string ?? "?")
            #expect(FileManager.default.contents(atPath: file) == Data("final".utf8), "\(file)")
            #expect(record.first?[1].string == DataFileHash.sha256(Data("final".utf8)))
            // The replaced copy's file is gone; only the recorded one is left.
            let files = try FileManager.default.contentsOfDirectory(atPath: RunStore.artifactsFolder(storePath: out, runUUID: uuid))
            #expect(files == [record.first?[0].string ?? "?"], "\(files)")
        }
    }

    @Test("how complete a run is: completed, then epochs, then steps, then ended")
    func completenessOrder() {
        let order = [RunCompleteness(status: "queued", epochsDone: 0, stepsDone: 0),
                     RunCompleteness(status: "interrupted", epochsDone: 0, stepsDone: 5),
                     RunCompleteness(status: "failed", epochsDone: 0, stepsDone: 5),
                     RunCompleteness(status: "running", epochsDone: 1, stepsDone: 5),
                     RunCompleteness(status: "diverged", epochsDone: 3, stepsDone: 1),
                     RunCompleteness(status: "completed", epochsDone: 1, stepsDone: 1)]
        for (i, a) in order.enumerated() {
            for (j, b) in order.enumerated() {
                #expect((a < b) == (i < j), "\(i) vs \(j)")
            }
        }
    }

    @Test("two experiments of one spec in one store (--fresh) stay two; a shard joins the sweep of its spec")
    func experimentsMatched() throws {
        let fresh = try mergeStore(temporaryStorePath(), experiments: [[MergeRun(index: 1), MergeRun(index: 2)], [MergeRun(index: 1), MergeRun(index: 2)]])
        let out = temporaryStorePath()
        let first = try RunStore.merge(into: out, from: [fresh])
        #expect(try count(out, "experiments") == 2)
        #expect(first.twins.count == 1, "the second experiment of the spec is reported as a twin")
        #expect(try StoreReader(path: out).query("SELECT experiment_id, COUNT(*) FROM runs GROUP BY experiment_id").rows == [[.integer(1), .integer(2)], [.integer(2), .integer(2)]])
        // A run index the experiments hold already, under another UUID, goes to a new experiment.
        let clash = try mergeStore(temporaryStorePath(), experiments: [[MergeRun(index: 2)]])
        #expect(try RunStore.merge(into: out, from: [clash]).twins.count == 1)
        #expect(try count(out, "experiments") == 3)
        // A different spec hash is always another experiment.
        let other = try mergeStore(temporaryStorePath(), hash: "another", experiments: [[MergeRun(index: 3)]])
        #expect(try RunStore.merge(into: out, from: [other]).twins.isEmpty)
        #expect(try count(out, "experiments") == 4)
        #expect(try count(out, "runs") == 6)
    }

    @Test("checkpoint files are copied beside OUT, byte for byte, and checked against the input's SHA-256")
    func copiesArtifacts() throws {
        let uuid = UUID().uuidString.lowercased()
        let input = try mergeStore(temporaryStorePath(), experiments: [[MergeRun(uuid: uuid, index: 1, checkpoint: String(repeating: "w", count: 3_000_000))]])
        let out = temporaryStorePath()
        _ = try RunStore.merge(into: out, from: [input])
        let copied = RunStore.artifactsFolder(storePath: out, runUUID: uuid) + "/epoch-0002.safetensors"
        #expect(FileManager.default.contents(atPath: copied) == FileManager.default.contents(atPath: RunStore.artifactsFolder(storePath: input, runUUID: uuid) + "/epoch-0002.safetensors"))
        // A changed file in an input stops the merge; OUT stays as it was.
        let other = UUID().uuidString.lowercased()
        let damaged = try mergeStore(temporaryStorePath(), experiments: [[MergeRun(uuid: other, index: 2, checkpoint: "original")]])
        FileManager.default.createFile(atPath: RunStore.artifactsFolder(storePath: damaged, runUUID: other) + "/epoch-0002.safetensors", contents: Data("changed!".utf8))
        let before = try content(out)
        #expect { try RunStore.merge(into: out, from: [damaged]) } throws: { error in
            (error as? StoreError)?.kind == .cannotResume && "\(error)".contains("epoch-0002.safetensors") && "\(error)".contains("nothing was merged")
        }
        #expect(try content(out) == before)
        let left = (try? FileManager.default.contentsOfDirectory(atPath: RunStore.artifactsFolder(storePath: out, runUUID: other))) ?? []
        #expect(left.isEmpty, "\(left)")
    }

    @Test("an error in the second input leaves OUT as it was: no rows of the first, no files of it")
    func rollsBackWhole() throws {
        let out = try mergeStore(temporaryStorePath(), hash: "mine", experiments: [[MergeRun(index: 1)]])
        let good = UUID().uuidString.lowercased()
        let first = try mergeStore(temporaryStorePath(), experiments: [[MergeRun(uuid: good, index: 1)]])
        let missingFile = UUID().uuidString.lowercased()
        let second = try mergeStore(temporaryStorePath(), experiments: [[MergeRun(uuid: missingFile, index: 2)]])
        try FileManager.default.removeItem(atPath: RunStore.artifactsFolder(storePath: second, runUUID: missingFile) + "/epoch-0002.safetensors")
        let before = try content(out)
        #expect { try RunStore.merge(into: out, from: [first, second]) } throws: { error in
            (error as? StoreError)?.kind == .cannotResume && "\(error)".contains("cannot be read")
        }
        // Every row as it was. (Not every byte: opening a store for writing moves SQLite's change
        // counter and schema cookie in the header, as `runner exec` does.)
        #expect(try content(out) == before)
        #expect(try StoreReader(path: out).query("PRAGMA integrity_check").rows == [[.text("ok")]])
        #expect(!FileManager.default.fileExists(atPath: RunStore.artifactsFolder(storePath: out, runUUID: good) + "/epoch-0002.safetensors"))
        // A new OUT is not left behind.
        let fresh = folder(temporaryStorePath()) + "/new.sqlite"
        #expect(throws: StoreError.self) { try RunStore.merge(into: fresh, from: [first, second]) }
        #expect(!FileManager.default.fileExists(atPath: fresh))
        #expect(!FileManager.default.fileExists(atPath: fresh + ".artifacts"))
    }

    @Test("refused, nothing written: a missing input, a non-store, an empty or newer store, OUT among the inputs (also by symlink or hard link), an input twice")
    func refusesBadInput() throws {
        let input = try mergeStore(temporaryStorePath(), experiments: [[MergeRun(index: 1)]])
        let out = try mergeStore(temporaryStorePath(), hash: "mine", experiments: [[MergeRun(index: 1)]])
        let dir = folder(temporaryStorePath())
        let text = dir + "/notes.txt"
        FileManager.default.createFile(atPath: text, contents: Data("not a database at all, just some text that is long enough".utf8))
        let empty = dir + "/empty.sqlite"
        FileManager.default.createFile(atPath: empty, contents: Data())
        let newer = dir + "/newer.sqlite"
        try FileManager.default.copyItem(atPath: input, toPath: newer)
        let queue = try DatabaseQueue(path: newer)
        try queue.write { db in try db.execute(sql: "UPDATE meta SET value = '99' WHERE key = 'schema_version'") }
        try queue.close()
        let foreign = dir + "/foreign.sqlite"
        let other = try DatabaseQueue(path: foreign)
        try other.write { db in try db.execute(sql: "CREATE TABLE t(x)") }
        try other.close()
        let symlink = dir + "/link.sqlite", hardlink = dir + "/hard.sqlite"
        try FileManager.default.createSymbolicLink(atPath: symlink, withDestinationPath: out)
        try FileManager.default.linkItem(atPath: out, toPath: hardlink)
        let inputLink = dir + "/input-link.sqlite"
        try FileManager.default.createSymbolicLink(atPath: inputLink, withDestinationPath: input)
        let outLink = dir + "/out-link.sqlite"
        try FileManager.default.createSymbolicLink(atPath: outLink, withDestinationPath: input)

        let cases: [(inputs: [String], output: String, kind: StoreError.Kind, says: String)] = [
            ([input, dir + "/missing.sqlite"], out, .missing, "no such file"),
            ([text], out, .notAStore, "not a SQLite database"),
            ([empty], out, .notAStore, "empty SQLite file"),
            ([foreign], out, .notAStore, "not a ConvLab store"),
            ([newer], out, .newerSchema, "newer ConvLab"),
            ([input, out], out, .invalidValue, "is the input"),
            ([input, symlink], out, .invalidValue, "symlink or hard link"),
            ([hardlink], out, .invalidValue, "symlink or hard link"),
            ([input], outLink, .invalidValue, "symlink or hard link"),
            ([input, input], out, .invalidValue, "given twice"),
            ([input, inputLink], out, .invalidValue, "the same file as"),
            ([dir], out, .notAStore, "not a regular file"),
        ]
        for (number, test) in cases.enumerated() {
            let before = try content(out), raw = bytes(out)
            #expect { try RunStore.merge(into: test.output, from: test.inputs) } throws: { error in
                guard let error = error as? StoreError else { return false }
                return error.kind == test.kind && error.description.contains(test.says)
            }
            #expect(try content(out) == before, "case \(number)")
            #expect(bytes(out) == raw, "case \(number)")
        }
        // Nothing is created for a refused merge into a new OUT.
        let fresh = dir + "/fresh.sqlite"
        #expect(throws: StoreError.self) { try RunStore.merge(into: fresh, from: [newer]) }
        #expect(!FileManager.default.fileExists(atPath: fresh))
    }

    @Test("a store from an older ConvLab is refused, or upgraded in place with upgradeOlderInputs and then merged again idempotently")
    func olderInputs() throws {
        let old = try legacyStore(version: 2)
        let out = temporaryStorePath()
        let raw = bytes(old)
        #expect { try RunStore.merge(into: out, from: [old]) } throws: { error in
            "\(error)".contains("older ConvLab") && "\(error)".contains("--upgrade-inputs")
        }
        #expect(bytes(old) == raw)
        #expect(!FileManager.default.fileExists(atPath: out))
        let summary = try RunStore.merge(into: out, from: [old], upgradeOlderInputs: true)
        #expect(summary.runsAdded == 3)
        let again = try RunStore.merge(into: out, from: [old])
        #expect(again.runsAdded == 0 && again.runsKept == 3)
    }
}
