import Foundation
import Testing
@testable import RunStore
import TestSupport

/// `runner` with an environment of its own (PATH without sbatch, say).
func runner(environment changes: [String: String], _ arguments: [String]) throws -> Result {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: runnerPath)
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: packageRoot)
    var environment = ProcessInfo.processInfo.environment
    environment.removeValue(forKey: "CONVLAB_STORE")
    environment.merge(changes) { $1 }
    process.environment = environment
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    return finish((process, out, err))
}

/// The rows a killed merge must leave as they were: every table's row count, and the runs.
func snapshot(_ store: String) throws -> [[SQLValue]] {
    let reader = try StoreReader(path: store)
    var rows = try reader.query("SELECT id, uuid, experiment_id, run_index, status, epochs_done, steps_done FROM runs ORDER BY id").rows
    for table in ["experiments"] + RunStore.perRunTables + ["data_files"] {
        rows += try reader.query("SELECT '\(table)', COUNT(*) FROM \(table)").rows
    }
    rows += try reader.query("SELECT name, step, value FROM metrics ORDER BY rowid").rows
    return rows
}

@Suite("runner exec --shard, runner merge and runner slurm, driven as a person would", .serialized)
struct ShardMergeCLITests {
    @Test("three shards of a four-run sweep, merged: one experiment, every run once, rows equal to one process's; shard stores hold only their own runs")
    func shardsMergeIntoOneSweep() throws {
        let folder = temporaryFolder()
        let spec = writeSpec(folder, epochs: 2, trainSize: 256, extra: #", "matrix": { "model.pooling": ["max", "avg"], "seeds": [1, 2] }"#)
        let shards = (0..<3).map { folder + "/shard-\($0).sqlite" }
        for (i, store) in shards.enumerated() {
            let result = try runner("exec", spec, "--shard", "\(i)/3", "--store", store)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("shard \(i)/3: runs \(i == 0 ? "1, 4" : String(i + 1))"), "\(result.stdout)")
        }
        let indices = try shards.map { store in try StoreReader(path: store).query("SELECT run_index FROM runs ORDER BY run_index").rows }
        #expect(indices == [[[.integer(1)], [.integer(4)]], [[.integer(2)]], [[.integer(3)]]])
        // A shard store's report shows its runs, none queued or missing.
        let shardReport = try runner("report", "--store", shards[0])
        #expect(shardReport.status == 0 && !shardReport.stdout.contains("queued"), "\(shardReport.stdout)")
        // Running a shard again resumes it: everything is done, nothing is added.
        let metricsBefore = try scalar(shards[1], "SELECT COUNT(*) FROM metrics")
        let again = try runner("exec", spec, "--shard", "1/3", "--store", shards[1])
        #expect(again.status == 0 && again.stderr.contains("continuing experiment 1"), "\(again.stderr)")
        #expect(try scalar(shards[1], "SELECT COUNT(*) FROM metrics") == metricsBefore)

        let merged = folder + "/merged.sqlite"
        let merge = try runner("merge", merged, shards[0], shards[1], shards[2])
        #expect(merge.status == 0, "\(merge.stderr)")
        #expect(merge.stdout.contains("4 runs added"), "\(merge.stdout)")
        #expect(merge.stderr.contains("merging \(shards[2]) (3 of 3)"), "\(merge.stderr)")
        #expect(try scalar(merged, "SELECT COUNT(*) FROM experiments") == .integer(1))
        #expect(try scalar(merged, "SELECT COUNT(DISTINCT uuid) || ' ' || COUNT(DISTINCT run_index) || ' ' || COUNT(*) FROM runs") == .text("4 4 4"))
        let grouped = try runner("report", "--store", merged, "--group-by", "model.pooling", "--format", "csv")
        #expect(grouped.status == 0, "\(grouped.stderr)")
        let groups = grouped.stdout.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("max,") || $0.hasPrefix("avg,") }
        #expect(groups.count == 2 && groups.allSatisfy { $0.split(separator: ",")[1] == "2" }, "\(grouped.stdout)")

        let alone = folder + "/alone.sqlite"
        #expect(try runner("exec", spec, "--store", alone, "--quiet").status == 0)
        for index in 1...4 {
            let rows = try metricRows(merged, runIndex: index)
            #expect(!rows.isEmpty)
            #expect(rows == (try metricRows(alone, runIndex: index)), "run \(index)")
        }
        let checkpoints = try StoreReader(path: merged).query("SELECT r.uuid, c.path, c.sha256 FROM checkpoints c JOIN runs r ON r.id = c.run_id").rows
        #expect(checkpoints.count == 4)
        for row in checkpoints {
            let file = RunStore.artifactsFolder(storePath: merged, runUUID: row[0].string ?? "") + "/" + (row[1].string ?? "")
            #expect(try DataFileHash.sha256(file: file) == row[2].string)
        }
        let twice = try runner("merge", merged, shards[0], shards[1], shards[2], "--quiet")
        #expect(twice.status == 0 && twice.stdout.contains("0 runs added") && twice.stdout.contains("4 already there"), "\(twice.stdout)")
        #expect(twice.stderr.isEmpty, "\(twice.stderr)")
    }

    @Test("kill -9 during a shard, then the shard again: it resumes and completes, and its store still holds only its runs")
    func shardResumesAfterKill() throws {
        let folder = temporaryFolder()
        let spec = writeSpec(folder, epochs: 20, trainSize: 4000, extra: #", "matrix": { "seeds": [1, 2, 3] }"#)
        let store = folder + "/shard.sqlite"
        let first = try launch(["exec", spec, "--shard", "1/2", "--store", store])
        let logged = waitUntil(seconds: 60) { ((try? scalar(store, "SELECT COUNT(*) FROM metrics"))?.double ?? 0) > 0 }
        #expect(logged)
        kill(first.0.processIdentifier, SIGKILL)
        _ = finish(first)
        #expect(try scalar(store, "SELECT status FROM runs") == .text("running"), "the shard was not killed mid-run")
        let second = try runner("exec", spec, "--shard", "1/2", "--store", store)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("continuing experiment 1") && second.stderr.contains("run 2"), "\(second.stderr)")
        #expect(try scalar(store, "SELECT COUNT(*) FROM events WHERE kind = 'started'") == .integer(2))
        #expect(try StoreReader(path: store).query("SELECT run_index, status FROM runs").rows == [[.integer(2), .text("completed")]])
        // Named as every store names the run of this sweep: an RFC 9562 version-8 UUID made from the spec.
        let uuid = try #require(try scalar(store, "SELECT uuid FROM runs").string)
        #expect(RunStore.isRunUUID(uuid) && uuid.split(separator: "-")[2].hasPrefix("8"), "\(uuid)")
    }

    @Test("bad --shard values, several specs, --fresh: exit 2 with the reason; an empty shard says so and exits 0 without a store")
    func shardRefusals() throws {
        let folder = temporaryFolder()
        let spec = writeSpec(folder, epochs: 1, extra: #", "matrix": { "seeds": [1, 2, 3] }"#)
        let store = folder + "/s.sqlite"
        for (value, message) in [("3/3", "from 0 to N − 1 = 2"), ("0/0", "from 1 to"), ("-1/3", "must be I/N"), ("x", "must be I/N"), ("1/2/3", "must be I/N")] {
            let result = try runner("exec", spec, "--shard=\(value)", "--store", store)
            #expect(result.status == 2, "\(value): \(result.stderr)")
            #expect(result.stderr.contains(message), "\(value): \(result.stderr)")
        }
        let two = try runner("exec", spec, spec, "--shard", "0/2", "--store", store)
        #expect(two.status == 2 && two.stderr.contains("exactly one spec"), "\(two.stderr)")
        let fresh = try runner("exec", spec, "--shard", "0/2", "--fresh", "--store", store)
        #expect(fresh.status == 2 && fresh.stderr.contains("--fresh"), "\(fresh.stderr)")
        let empty = try runner("exec", spec, "--shard", "4/6", "--store", store)
        #expect(empty.status == 0, "\(empty.stderr)")
        #expect(empty.stdout.contains("shard 4/6") && empty.stdout.contains("has no runs"), "\(empty.stdout)")
        #expect(!FileManager.default.fileExists(atPath: store))
    }

    @Test("a merge killed with SIGKILL in the middle leaves OUT as it was, and a merge afterwards works")
    func killedMergeLeavesOutput() throws {
        let folder = temporaryFolder()
        let big = folder + "/big.sqlite"
        do {
            let store = try RunStore(path: big)
            let experiment = try store.createExperiment(name: "big", specPath: "big.json", specJSON: "{}", specHash: "big")
            let provenance = RunProvenance(host: "h", os: "o", convlabVersion: "v", swiftVersion: "s", blas: "b")
            for index in 1...4 {
                let run = try store.createRun(NewRun(experimentID: experiment, runIndex: index, variant: "{}", variantLabel: "", specJSON: "{}",
                                                     specHash: "r\(index)", seed: 1, epochsPlanned: 1, provenance: provenance, params: []))
                var batch = RecordBatch()
                batch.metrics = (0..<150_000).map { .init(name: "train_loss", step: $0, epoch: Double($0) / 1000, value: 1 / Double($0 + 1), wallTime: 0) }
                try store.append(batch, run: run, epochsDone: 1, stepsDone: 150_000)
            }
            try store.checkpointAndClose()
        }
        let out = folder + "/out.sqlite"
        let small = folder + "/small.sqlite"
        let spec = writeSpec(folder, epochs: 1)
        #expect(try runner("exec", spec, "--store", small, "--quiet").status == 0)
        #expect(try runner("merge", out, small, "--quiet").status == 0)
        let before = try snapshot(out)

        let merge = try launch(["merge", out, big])
        // The transaction has written pages into the WAL: the merge is in the middle of copying.
        let busy = waitUntil(seconds: 60) {
            var info = stat()
            return stat(out + "-wal", &info) == 0 && info.st_size > 2_000_000
        }
        kill(merge.0.processIdentifier, SIGKILL)
        let result = finish(merge)
        #expect(busy, "the merge never got going: \(result.stderr)")
        #expect(merge.0.terminationReason == .uncaughtSignal, "the merge ended before it was killed (make the input bigger): \(result.stdout)")
        #expect(try snapshot(out) == before)
        #expect(try StoreReader(path: out).query("PRAGMA integrity_check").rows == [[.text("ok")]])

        let again = try runner("merge", out, big, "--quiet")
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try scalar(out, "SELECT COUNT(*) FROM metrics") == .integer(Int64(600_000) + (before.first { $0.first == .text("metrics") }?.last?.double.map { Int64($0) } ?? 0)))
    }

    @Test("runner merge refuses bad input with exit 2 and one line saying why; the inputs and OUT are untouched")
    func mergeRefusals() throws {
        let folder = temporaryFolder()
        let spec = writeSpec(folder, epochs: 1)
        let store = folder + "/s.sqlite"
        #expect(try runner("exec", spec, "--store", store, "--quiet").status == 0)
        let raw = try storeBytes(store)
        let cases: [([String], String)] = [
            (["merge", folder + "/out.sqlite"], "name one or more stores"),
            (["merge", folder + "/out.sqlite", folder + "/nope.sqlite"], "no such file"),
            (["merge", folder + "/out.sqlite", spec], "not a SQLite database"),
            (["merge", store, store], "is the input"),
            (["merge", folder + "/out.sqlite", store, store], "given twice"),
        ]
        for (arguments, message) in cases {
            let result = try runner(environment: [:], arguments)
            #expect(result.status == 2, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
            #expect(try storeBytes(store) == raw)
        }
        #expect(!FileManager.default.fileExists(atPath: folder + "/out.sqlite"))
    }

    @Test("runner slurm prints the array script with absolute paths; refuses bad values with exit 2; --submit without sbatch says so")
    func slurmCommand() throws {
        let folder = temporaryFolder()
        let spec = writeSpec(folder, epochs: 1, extra: #", "matrix": { "seeds": [1, 2, 3] }"#)
        let result = try runner("slurm", spec, "--tasks", "2", "--store-dir", folder + "/out", "--time", "30", "--partition", "cpu")
        #expect(result.status == 0, "\(result.stderr)")
        let binary = URL(fileURLWithPath: runnerPath).resolvingSymlinksInPath().path
        for line in ["#SBATCH --array=0-1", "#SBATCH --time=30", "#SBATCH --partition=cpu", "#SBATCH --cpus-per-task=2",
                     #"exec \#(binary) exec \#(spec) --shard "${SLURM_ARRAY_TASK_ID}/2" --store "\#(folder)/out/shard-${SLURM_ARRAY_TASK_ID}.sqlite""#] {
            #expect(result.stdout.split(separator: "\n").contains(Substring(line)), "\(line)\n\(result.stdout)")
        }
        #expect(result.stdout.contains("--dependency=afterok:$jobid"))
        #expect(!FileManager.default.fileExists(atPath: folder + "/out"))
        for (arguments, message) in [(["--tasks", "0"], "at least 1"), (["--tasks", "4"], "use --tasks 3 or fewer"), (["--tasks", "2", "--time", "1h"], "--time"),
                                     (["--tasks", "2", "--partition", "a b"], "--partition"), (["--tasks", "2", "--cpus-per-task", "0"], "--cpus-per-task"),
                                     (["--tasks", "2", "--store-dir", "/tmp/100%"], "\"%\"")] {
            let refused = try runner(environment: [:], ["slurm", spec] + arguments)
            #expect(refused.status == 2, "\(arguments): \(refused.stderr)")
            #expect(refused.stderr.contains(message), "\(arguments): \(refused.stderr)")
        }
        let noSbatch = try runner(environment: ["PATH": folder], ["slurm", spec, "--tasks", "2", "--store-dir", folder + "/sub", "--submit"])
        #expect(noSbatch.status == 1 && noSbatch.stderr.contains("sbatch is not on PATH"), "\(noSbatch.stderr)")
        #expect(FileManager.default.fileExists(atPath: folder + "/sub/tiny.sbatch"))
    }
}
