import Foundation
import Testing
@testable import RunStore
import TestSupport

/// `writeSpec`'s tiny synthetic network with a search over the learning rate, momentum and batch size.
func writeSearchSpec(_ folder: String, trials: Int, epochs: Int = 2, trainSize: Int = 256, seed: Int = 0, seeds: [Int]? = nil) -> String {
    writeSpec(folder, name: "search", epochs: epochs, trainSize: trainSize, extra: """
    , "search": {
        "space": { "optimizer.learning_rate": { "log_uniform": [0.001, 0.3] }, "optimizer.momentum": { "uniform": [0, 0.9] },
                   "training.batch_size": { "choice": [16, 32] } },
        "sampler": "random", "trials": \(trials), "seed": \(seed)\(seeds.map { ", \"seeds\": \($0)" } ?? "") }
    """)
}

func table(_ store: String, _ sql: String) throws -> [[SQLValue]] { try StoreReader(path: store).query(sql).rows }

let trialIdentity = "SELECT run_index, trial, variant, variant_label, spec_hash, search_state FROM runs ORDER BY run_index"

@Suite("runner exec with a search: validated, described, resumed after kill -9, shared by processes, sharded and merged", .serialized)
struct SearchCLITests {
    @Test("validate and --dry-run describe the search; matrix and search together is one line, exit 2, the store untouched")
    func describe() throws {
        let folder = temporaryFolder()
        let spec = writeSearchSpec(folder, trials: 5)
        let validate = try runner("validate", spec)
        #expect(validate.status == 0)
        #expect(validate.stdout.contains("valid, a search of 5 trials × 1 seed, sampler random, pruner none, maximize test_accuracy"), "\(validate.stdout)")
        let dry = try runner("exec", spec, "--dry-run", "--store", folder + "/none.sqlite")
        #expect(dry.status == 0 && dry.stdout.contains("search: 5 trials × 1 seed, sampler random"), "\(dry.stdout)")
        #expect(dry.stdout.contains("optimizer.learning_rate: {\"log_uniform\":[0.001,0.3]}"), "\(dry.stdout)")
        #expect(dry.stdout.contains("run 3 (trial 3): start"), "\(dry.stdout)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/none.sqlite"))

        let both = writeSpec(folder, name: "both", extra: #", "matrix": {"seeds": [1, 2]}, "search": {"space": {"optimizer.momentum": {"uniform": [0, 0.9]}}, "sampler": "random", "trials": 2}"#)
        let refused = try runner("exec", both, "--store", folder + "/both.sqlite")
        #expect(refused.status == 2)
        let lines = refused.stderr.split(separator: "\n")
        #expect(lines.count == 2 && lines[0].contains("matrix: a spec has \"matrix\" or \"search\", not both"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/both.sqlite"))
    }

    @Test("kill -9 during a search, exec again: completed trials kept, the interrupted one resumed, exactly the trials and values of an uninterrupted search")
    func killNineThenContinue() throws {
        let folder = temporaryFolder()
        let spec = writeSearchSpec(folder, trials: 4, epochs: 3, trainSize: 2048)
        let store = folder + "/killed.sqlite"
        let first = try launch(["exec", spec, "--store", store])
        let inTrialTwo = waitUntil(seconds: 240) {
            ((try? scalar(store, "SELECT COUNT(*) FROM checkpoints c JOIN runs r ON r.id = c.run_id WHERE r.trial = 2"))?.double ?? 0) > 0
        }
        kill(first.0.processIdentifier, SIGKILL)
        _ = finish(first)
        #expect(inTrialTwo, "trial 2 never wrote a checkpoint")
        #expect(try scalar(store, "SELECT status FROM runs WHERE trial = 1") == .text("completed"))
        #expect(try scalar(store, "SELECT status FROM runs WHERE trial = 2") == .text("running"))

        let second = try runner("exec", spec, "--store", store)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("resumed"), "\(second.stderr)")
        #expect(second.stderr.contains("trial 3/4"), "\(second.stderr)")
        #expect(try scalar(store, "SELECT COUNT(*) FROM runs") == .integer(4))
        #expect(try table(store, "SELECT status FROM runs ORDER BY run_index") == Array(repeating: [.text("completed")], count: 4))
        #expect(try scalar(store, "SELECT COUNT(*) FROM events e JOIN runs r ON r.id = e.run_id WHERE r.trial = 1 AND e.kind = 'started'") == .integer(1))

        let whole = folder + "/whole.sqlite"
        #expect(try runner("exec", spec, "--store", whole, "--quiet").status == 0)
        #expect(try table(store, trialIdentity) == (try table(whole, trialIdentity)))
        // --dry-run of the finished search shows each trial with its values, skipped.
        let dry = try runner("exec", spec, "--store", store, "--dry-run")
        let label = try #require(try scalar(store, "SELECT variant_label FROM runs WHERE trial = 3").string)
        #expect(label.hasPrefix("trial 3: optimizer.learning_rate=") && dry.stdout.contains("run 3 (\(label)): skip"), "\(dry.stdout)")
        for index in 1...4 {
            #expect(try metricRows(store, runIndex: index) == (try metricRows(whole, runIndex: index)), "trial \(index)")
        }
    }

    @Test("three processes on one store finish a 12-trial search: every trial drawn once and trained once, by the three together")
    func threeProcesses() throws {
        let folder = temporaryFolder()
        let spec = writeSearchSpec(folder, trials: 12, epochs: 1, trainSize: 512)
        let shared = folder + "/shared.sqlite"
        let launched = try (0..<3).map { _ in try launch(["exec", spec, "--store", shared]) }
        let pids = Set(launched.map { "\(RunStore.hostName):\($0.0.processIdentifier)" })
        let results = launched.map(finish)
        for result in results { #expect(result.status == 0, "\(result.stderr)") }
        #expect(try scalar(shared, "SELECT COUNT(*) FROM experiments") == .integer(1))
        #expect(try table(shared, "SELECT trial, status FROM runs ORDER BY run_index") == (1...12).map { [.integer(Int64($0)), .text("completed")] })
        for kind in ["started", "completed"] {
            let perRun = try table(shared, "SELECT r.trial, COUNT(e.run_id) FROM runs r LEFT JOIN events e ON e.run_id = r.id AND e.kind = '\(kind)' GROUP BY r.id ORDER BY r.trial")
            #expect(perRun == (1...12).map { [.integer(Int64($0)), .integer(1)] }, "\(kind): \(perRun)")
        }
        #expect(try scalar(shared, "SELECT COUNT(DISTINCT variant) FROM runs") == .integer(12))
        #expect(try scalar(shared, "SELECT COUNT(*) FROM runs WHERE search_state IS NULL") == .integer(0))
        let claimants = Set(try table(shared, "SELECT claimed_by FROM runs").compactMap { $0[0].string })
        #expect(claimants.isSubset(of: pids), "\(claimants) vs \(pids)")
        // A trial's search_state lists the trials drawn before it (its history), each number below its own.
        for row in try table(shared, "SELECT trial, search_state FROM runs") {
            let trial = try #require(row[0].double), state = try #require(row[1].string)
            let seen = try #require((try JSONSerialization.jsonObject(with: Data(state.utf8)) as? [String: Any])?["seen"] as? [Int])
            #expect(!seen.contains(Int(trial)), "\(state)")
        }
    }

    @Test("--shard I/N divides a search by trials (t − 1 mod N = I), each store drawing its own; merged, trial, search_state and statuses are kept")
    func shardsAndMerge() throws {
        let folder = temporaryFolder()
        let spec = writeSearchSpec(folder, trials: 5, epochs: 1, seeds: [1, 2])
        let shards = (0..<2).map { folder + "/shard-\($0).sqlite" }
        for (i, store) in shards.enumerated() {
            let result = try runner("exec", spec, "--shard", "\(i)/2", "--store", store)
            #expect(result.status == 0, "\(result.stderr)")
        }
        // Both seeds of a trial in one store, drawn once there.
        #expect(try table(shards[0], "SELECT trial, COUNT(*), COUNT(DISTINCT search_state) FROM runs GROUP BY trial ORDER BY trial")
                == [1, 3, 5].map { [.integer($0), .integer(2), .integer(1)] })
        #expect(try table(shards[1], "SELECT trial, COUNT(*), COUNT(DISTINCT search_state) FROM runs GROUP BY trial ORDER BY trial")
                == [2, 4].map { [.integer($0), .integer(2), .integer(1)] })
        // Shard 1's sampler saw only its own store: trial 4 saw trial 2 alone.
        let state = try #require(try scalar(shards[1], "SELECT search_state FROM runs WHERE trial = 4 LIMIT 1").string)
        #expect(state.contains("\"seen\":[2]"), "\(state)")
        let merged = folder + "/merged.sqlite"
        let merge = try runner("merge", merged, shards[0], shards[1])
        #expect(merge.status == 0, "\(merge.stderr)")
        let columns = "SELECT run_index, trial, variant, search_state, status, spec_hash FROM runs"
        let fromShards = try (table(shards[0], columns) + table(shards[1], columns)).sorted { ($0[0].double ?? 0) < ($1[0].double ?? 0) }
        #expect(fromShards.count == 10)
        #expect(try table(merged, columns + " ORDER BY run_index") == fromShards)
        #expect(try scalar(merged, "SELECT COUNT(*) FROM experiments") == .integer(1))
        let slurm = try runner("slurm", spec, "--tasks", "6", "--store-dir", folder + "/slurm")
        #expect(slurm.status == 2 && slurm.stderr.contains("more than the 5 trials"), "\(slurm.stderr)")
    }
}
