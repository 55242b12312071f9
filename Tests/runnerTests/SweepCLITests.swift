import Foundation
import Testing
@testable import RunStore
import TestSupport

/// Rows of one table for the run at `index` of the store's (only) experiment, as comparable text.
func series(_ store: String, runIndex: Int, _ sql: String) throws -> [[SQLValue]] {
    let id = try scalar(store, "SELECT id FROM runs WHERE run_index = \(runIndex) ORDER BY id DESC LIMIT 1")
    guard case .integer(let run) = id else { return [] }
    return try StoreReader(path: store).query(sql.replacingOccurrences(of: "$RUN", with: String(run))).rows
}

func trainLoss(_ store: String, runIndex: Int) throws -> [[SQLValue]] {
    try series(store, runIndex: runIndex, "SELECT step, value FROM metrics WHERE run_id = $RUN AND name = 'train_loss' ORDER BY step")
}

/// Every metric row of a run except its wall times and speeds, which differ from attempt to attempt.
func metricRows(_ store: String, runIndex: Int) throws -> [[SQLValue]] {
    try series(store, runIndex: runIndex, """
        SELECT name, step, epoch, value FROM metrics WHERE run_id = $RUN AND name != 'images_per_second' ORDER BY name, step
        """)
}

@Suite("runner exec continues sweeps and shares them between processes", .serialized)
struct SweepCLITests {
    @Test("three processes on a six-run sweep: one experiment, every run trained exactly once, by the three together; rows equal a single process's")
    func threeWorkers() throws {
        let folder = temporaryFolder()
        let spec = writeSpec(folder, epochs: 3, trainSize: 2048, extra: #", "matrix": { "seeds": [1, 2, 3, 4, 5, 6] }"#)
        let shared = folder + "/shared.sqlite"
        let launched = try (0..<3).map { _ in try launch(["exec", spec, "--store", shared]) }
        let pids = Set(launched.map { "\(RunStore.hostName):\($0.0.processIdentifier)" })
        let results = launched.map(finish)
        for result in results {
            #expect(result.status == 0, "\(result.stderr)")
        }
        #expect(try scalar(shared, "SELECT COUNT(*) FROM experiments") == .integer(1))
        #expect(try scalar(shared, "SELECT COUNT(*) FROM runs") == .integer(6))
        #expect(try scalar(shared, "SELECT COUNT(*) FROM runs WHERE status = 'completed'") == .integer(6))
        let reader = try StoreReader(path: shared)
        // Each run started once and completed once: no run was trained twice.
        for kind in ["started", "completed"] {
            let perRun = try reader.query("SELECT r.run_index, COUNT(e.run_id) FROM runs r LEFT JOIN events e ON e.run_id = r.id AND e.kind = '\(kind)' GROUP BY r.id ORDER BY r.run_index").rows
            #expect(perRun == (1...6).map { [.integer(Int64($0)), .integer(1)] }, "\(kind): \(perRun)")
        }
        // The three processes trained all six between them (claimed_by is one of them for every run).
        let claimants = try reader.query("SELECT claimed_by FROM runs").rows.compactMap { $0[0].string }
        #expect(claimants.count == 6 && Set(claimants).isSubset(of: pids), "\(claimants) vs \(pids)")
        // Each process's summary lists all six runs; a run it did not train is marked skipped.
        for result in results {
            #expect((1...6).allSatisfy { id in result.stdout.contains("seed=\(id)") }, "\(result.stdout)")
        }
        let trainedBySummaries = results.map { $0.stdout.split(separator: "\n").filter { $0.contains(" completed ") && !$0.contains("skipped") }.count }
        #expect(trainedBySummaries.reduce(0, +) == 6, "\(results.map(\.stdout))")
        // The rows are those of one process training the sweep alone.
        let alone = folder + "/alone.sqlite"
        #expect(try runner("exec", spec, "--store", alone, "--quiet").status == 0)
        for index in 1...6 {
            let rows = try metricRows(shared, runIndex: index)
            #expect(!rows.isEmpty)
            #expect(rows == (try metricRows(alone, runIndex: index)), "run \(index)")
        }
    }

    @Test("kill -9 during run 1, exec again at once: run 1 resumes (or trains again from step 0) with the loss curve of an uninterrupted run, run 2 starts, one experiment")
    func killNineThenResume() throws {
        let folder = temporaryFolder()
        let spec = writeSpec(folder, epochs: 10, trainSize: 4000, extra: #", "matrix": { "seeds": [1, 2] }"#)
        let store = folder + "/s.sqlite"
        let first = try launch(["exec", spec, "--store", store])
        let logged = waitUntil(seconds: 60) { ((try? scalar(store, "SELECT COUNT(*) FROM metrics"))?.double ?? 0) > 0 }
        #expect(logged, "no metrics were written")
        kill(first.0.processIdentifier, SIGKILL)
        _ = finish(first)      // reaped: its pid no longer exists
        #expect(try scalar(store, "SELECT status FROM runs WHERE run_index = 1") == .text("running"))
        #expect(try scalar(store, "SELECT status FROM runs WHERE run_index = 2") == .text("queued"))

        // Default stale limit of a minute: it is the dead pid that frees the run, not the clock.
        let second = try runner("exec", spec, "--store", store)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("continuing experiment 1"), "\(second.stderr)")
        // Killed in epoch 1 it trains again from step 0; killed later, it resumes from its last checkpoint.
        #expect(second.stderr.contains("run 1 (seed=1): resumed") && second.stderr.contains("was running in a process that is gone"), "\(second.stderr)")
        #expect(second.stdout.contains("completed (resumed)"), "\(second.stdout)")
        #expect(try scalar(store, "SELECT COUNT(*) FROM experiments") == .integer(1))
        #expect(try StoreReader(path: store).query("SELECT status FROM runs ORDER BY run_index").rows == [[.text("completed")], [.text("completed")]])
        #expect(try scalar(store, "SELECT COUNT(*) FROM events e JOIN runs r ON r.id = e.run_id WHERE r.run_index = 1 AND kind = 'started'") == .integer(2))

        let uninterrupted = folder + "/u.sqlite"
        #expect(try runner("exec", spec, "--store", uninterrupted, "--quiet").status == 0)
        for index in [1, 2] {
            let losses = try trainLoss(store, runIndex: index)
            #expect(!losses.isEmpty)
            #expect(losses == (try trainLoss(uninterrupted, runIndex: index)), "run \(index)")
            #expect(try metricRows(store, runIndex: index) == (try metricRows(uninterrupted, runIndex: index)), "run \(index)")
            #expect(try series(store, runIndex: index, "SELECT COUNT(*) FROM grad_checks WHERE run_id = $RUN")
                    == (try series(uninterrupted, runIndex: index, "SELECT COUNT(*) FROM grad_checks WHERE run_id = $RUN")))
        }
    }

    @Test("exec of a finished sweep skips every run and exits 0; --dry-run says so; --fresh starts a new experiment; an edited spec is a new one, said in one line")
    func rerunFreshEdited() throws {
        let folder = temporaryFolder()
        let spec = writeSpec(folder, epochs: 1, extra: #", "matrix": { "seeds": [1, 2] }"#)
        let store = folder + "/s.sqlite"
        let firstExec = try runner("exec", spec, "--store", store, "--quiet")
        #expect(firstExec.status == 0)
        let before = try storeBytes(store)

        let dry = try runner("exec", spec, "--store", store, "--dry-run")
        #expect(dry.status == 0)
        #expect(dry.stdout.contains("would continue experiment 1, which holds this spec:"), "\(dry.stdout)")
        #expect(dry.stdout.contains("run 1 (seed=1): skip: completed") && dry.stdout.contains("run 2 (seed=2): skip: completed"), "\(dry.stdout)")
        #expect(try storeBytes(store) == before, "--dry-run changed the store")

        let again = try runner("exec", spec, "--store", store)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.components(separatedBy: "skipped: completed").count - 1 == 2, "\(again.stdout)")
        // A skipped run shows its results from the store: train loss, test and best accuracy as when it was trained.
        func results(_ output: String, _ statusWords: Int) -> [[Substring]] {
            var rows: [[Substring]] = []
            for line in output.split(separator: "\n") {
                let words: [Substring] = line.split(separator: " ")
                guard words.count > 6 + statusWords, words[1].hasPrefix("seed=") else { continue }
                rows.append(Array(words[(3 + statusWords)...(5 + statusWords)]))
            }
            return rows
        }
        #expect(results(again.stdout, 1).count == 2 && results(again.stdout, 1) == results(firstExec.stdout, 0), "\(again.stdout)")
        #expect(again.stderr.contains("continuing experiment 1, which holds this spec: 2 completed"), "\(again.stderr)")
        #expect(try scalar(store, "SELECT COUNT(*) FROM experiments") == .integer(1))
        #expect(try scalar(store, "SELECT COUNT(*) FROM events WHERE kind = 'started'") == .integer(2))

        let freshDry = try runner("exec", spec, "--store", store, "--dry-run", "--fresh")
        #expect(freshDry.stdout.contains("--fresh: would start experiment 2; experiment 1 of the same spec stays as it was"), "\(freshDry.stdout)")
        #expect(freshDry.stdout.contains("run 1 (seed=1): start"))
        let fresh = try runner("exec", spec, "--store", store, "--fresh")
        #expect(fresh.status == 0)
        #expect(fresh.stderr.contains("--fresh: starting experiment 2; experiment 1 of the same spec stays as it was"), "\(fresh.stderr)")
        #expect(try scalar(store, "SELECT COUNT(*) FROM runs WHERE status = 'completed'") == .integer(4))

        // Edited: a different learning rate is a different resolved spec.
        var text = try String(contentsOfFile: spec, encoding: .utf8)
        text = text.replacingOccurrences(of: #""learning_rate": 0.1"#, with: #""learning_rate": 0.05"#)
        try text.write(toFile: spec, atomically: true, encoding: .utf8)
        let editedDry = try runner("exec", spec, "--store", store, "--dry-run")
        #expect(editedDry.stdout.contains("\(spec) changed since experiment 2 (its runs stay as they were): would start experiment 3"), "\(editedDry.stdout)")
        let edited = try runner("exec", spec, "--store", store)
        #expect(edited.status == 0)
        let line = "\(spec) changed since experiment 2 (its runs stay as they were): starting experiment 3"
        #expect(edited.stderr.split(separator: "\n").contains { $0 == line }, "\(edited.stderr)")
        #expect(try scalar(store, "SELECT COUNT(*) FROM experiments") == .integer(3))
        #expect(try scalar(store, "SELECT COUNT(*) FROM runs WHERE experiment_id < 3 AND status = 'completed'") == .integer(4))
    }

    @Test("a run failed by its spec is not retried (said so, exit 1); a crashed one and an interrupted one are resumed from their checkpoints")
    func failedBySpecNotRetried() throws {
        let folder = temporaryFolder()
        let spec = writeSpec(folder, epochs: 1, extra: #", "matrix": { "seeds": [1, 2, 3] }"#)
        let store = folder + "/s.sqlite"
        #expect(try runner("exec", spec, "--store", store, "--quiet").status == 0)
        let writable = try RunStore(path: store)
        try writable.write { db in
            try db.execute(sql: "UPDATE runs SET status = 'failed', failure_kind = 'spec', error = 'the training set is empty' WHERE run_index = 1")
            try db.execute(sql: "UPDATE runs SET status = 'failed', failure_kind = 'crash', error = 'the node went away' WHERE run_index = 2")
            try db.execute(sql: "UPDATE runs SET status = 'interrupted', error = 'stopped by SIGINT (Ctrl-C) at step 3' WHERE run_index = 3")
        }
        try writable.close()

        let dry = try runner("exec", spec, "--store", store, "--dry-run")
        #expect(dry.stdout.contains("run 1 (seed=1): skip: failed by its spec or data, not retried (the training set is empty)"), "\(dry.stdout)")
        // Each holds the checkpoint of its only epoch (256 / 32 = 8 steps).
        #expect(dry.stdout.contains("run 2 (seed=2): resume from epoch 1 (step 8; was failed at step 8)"), "\(dry.stdout)")
        #expect(dry.stdout.contains("run 3 (seed=3): resume from epoch 1 (step 8; was interrupted at step 8)"), "\(dry.stdout)")

        let result = try runner("exec", spec, "--store", store)
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("run 1 (seed=1): failed because of its spec or data, not retried: the training set is empty (fix the spec: an edited spec is a new experiment)"), "\(result.stderr)")
        #expect(result.stdout.contains("skipped: failed"), "\(result.stdout)")
        #expect(result.stdout.components(separatedBy: "completed (resumed)").count - 1 == 2, "\(result.stdout)")
        #expect(try StoreReader(path: store).query("SELECT status FROM runs ORDER BY run_index").rows
                == [[.text("failed")], [.text("completed")], [.text("completed")]])
    }

    @Test("a spec inside a git repository: the run records its commit, clean and then dirty")
    func gitProvenance() throws {
        let folder = temporaryFolder()
        func git(_ arguments: String...) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["git", "-C", folder, "-c", "user.name=t", "-c", "user.email=t@t"] + arguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "git \(arguments)")
        }
        let spec = writeSpec(folder, epochs: 1)
        try git("init", "-q")
        try git("add", "tiny.json")
        try git("commit", "-q", "-m", "spec")
        let head = try String(contentsOfFile: folder + "/.git/" + String(contentsOfFile: folder + "/.git/HEAD", encoding: .utf8)
            .replacingOccurrences(of: "ref: ", with: "").trimmingCharacters(in: .whitespacesAndNewlines), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(head.count == 40)
        let store = folder + "/s.sqlite"     // untracked: does not make the repository dirty
        #expect(try runner("exec", spec, "--store", store, "--quiet").status == 0)
        #expect(try StoreReader(path: store).query("SELECT git_commit, git_dirty FROM runs").rows == [[.text(head), .integer(0)]])
        // A tracked change makes it dirty (an edited spec is a new experiment, with a new run).
        try (String(contentsOfFile: spec, encoding: .utf8) + " ").write(toFile: spec, atomically: true, encoding: .utf8)
        try (String(contentsOfFile: spec, encoding: .utf8).replacingOccurrences(of: #""seed": 4"#, with: #""seed": 5"#)).write(toFile: spec, atomically: true, encoding: .utf8)
        #expect(try runner("exec", spec, "--store", store, "--quiet").status == 0)
        #expect(try StoreReader(path: store).query("SELECT git_commit, git_dirty FROM runs ORDER BY id").rows
                == [[.text(head), .integer(0)], [.text(head), .integer(1)]])
        // Outside a repository: nothing recorded.
        let outside = temporaryFolder()
        let plain = writeSpec(outside, epochs: 1)
        #expect(try runner("exec", plain, "--store", outside + "/s.sqlite", "--quiet").status == 0)
        #expect(try StoreReader(path: outside + "/s.sqlite").query("SELECT git_commit, git_dirty FROM runs").rows == [[.null, .null]])
    }

    @Test("an idx spec records its four data files with their SHA-256; synthetic data records none")
    func dataFileHashes() throws {
        let folder = temporaryFolder()
        let data = folder + "/data"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        var expected: [String: String] = [:]
        for (name, contents) in HostileCase.dataset(train: 8, test: 4) {
            let path = data + "/" + name
            try contents.write(to: URL(fileURLWithPath: path))
            expected[path] = try sha256sum(path)
        }
        let spec = folder + "/idx.json"
        try HostileCase.idxSpec.replacingOccurrences(of: "$DIR", with: folder).write(toFile: spec, atomically: true, encoding: .utf8)
        let store = folder + "/s.sqlite"
        let result = try runner("exec", spec, "--store", store, "--quiet")
        #expect(result.status == 0, "\(result.stderr)")
        let recorded = try StoreReader(path: store).query("SELECT path, sha256 FROM run_data_files ORDER BY path").rows
        #expect(recorded.count == 4)
        #expect(Dictionary(uniqueKeysWithValues: recorded.compactMap { row in row[0].string.map { ($0, row[1].string ?? "") } }) == expected)
        let synthetic = folder + "/synthetic.sqlite"
        #expect(try runner("exec", writeSpec(folder, epochs: 1), "--store", synthetic, "--quiet").status == 0)
        #expect(try scalar(synthetic, "SELECT COUNT(*) FROM run_data_files") == .integer(0))
    }

    @Test("--stale-after that is not a sane number of seconds, or not longer than the heartbeat interval, is refused before anything runs",
          arguments: [["--stale-after", "nan"], ["--stale-after", "0"], ["--stale-after", "1e300"], ["--stale-after", "2", "--heartbeat-interval", "5"]])
    func badStaleAfter(arguments: [String]) throws {
        let folder = temporaryFolder()
        let result = try finish(launch(["exec", writeSpec(folder), "--store", folder + "/s.sqlite"] + arguments))
        #expect(result.status == 2)
        #expect(result.stderr.contains("--stale-after must be a number of seconds from 1 to 31536000"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/s.sqlite"))
    }
}

/// The SHA-256 of a file as `sha256sum` prints it.
func sha256sum(_ path: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["sha256sum", path]
    let out = Pipe()
    process.standardOutput = out
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(String(decoding: data, as: UTF8.self).prefix(64))
}
