import Foundation
import RunStore
import Testing
@testable import RunnerKit
import TextKit
import TestSupport

/// Collects what the runner reports.
final class RecordingReporter: ProgressReporter {
    var started: [Int] = []
    var epochs: [(run: Int, epoch: Int)] = []
    var outcomes: [RunOutcome] = []
    func runStarted(_ run: RunPlan, of total: Int, runID: Int64) { started.append(run.index) }
    func step(_ update: ProgressUpdate) {}
    func epochFinished(_ update: ProgressUpdate, metrics: [(name: String, value: Double)]) { epochs.append((update.runIndex, update.epoch)) }
    func runFinished(_ outcome: RunOutcome) { outcomes.append(outcome) }
    func note(_ message: String) {}
}

func count(_ reader: StoreReader, _ table: String, run: Int64? = nil) throws -> Int {
    let sql = "SELECT COUNT(*) FROM \(table)" + (run.map { " WHERE \(table == "runs" ? "id" : "run_id") = \($0)" } ?? "")
    return Int(try reader.query(sql).rows.first?.first?.double ?? -1)
}

@Suite("Training runs end to end into the store")
struct ExperimentRunnerTests {
    @Test("a two-run matrix on synthetic data fills every table and learns")
    func endToEnd() throws {
        let path = temporaryPath("store.sqlite")
        let plan = try SpecLoader.plan(text: smokeSpec { spec in
            spec["training"] = ["epochs": 3, "batch_size": 16]
            spec["optimizer"] = ["plugin": "sgd", "learning_rate": 0.1, "momentum": 0.9]
            spec["dataset"] = ["plugin": "synthetic", "train_size": 240, "test_size": 60, "size": 8, "classes": 3, "noise": 0.1]
            spec["matrix"] = ["model.pooling": ["max", "avg"]]
        }, file: "t.json")
        let reporter = RecordingReporter()
        let runner = ExperimentRunner(store: try RunStore(path: path), reporter: reporter, stop: StopSignal())
        let outcomes = try runner.execute(plan)
        #expect(outcomes.map(\.status.rawValue) == ["completed", "completed"])
        #expect(reporter.epochs.count == 6)
        let reader = try StoreReader(path: path)
        for table in ["experiments", "runs", "params", "metrics", "grad_norms", "grad_checks", "events"] {
            #expect(try count(reader, table) > 0, "\(table) is empty")
        }
        for outcome in outcomes {
            let run = outcome.runID
            // 240 / 16 = 15 steps per epoch, 45 in all: train_loss every 2 steps → 22 rows.
            #expect(try reader.query("SELECT COUNT(*) FROM metrics WHERE run_id = \(run) AND name = 'train_loss'").rows[0][0] == .integer(22))
            #expect(try reader.query("SELECT COUNT(*) FROM metrics WHERE run_id = \(run) AND name = 'test_accuracy'").rows[0][0] == .integer(3))
            // Gradient checks at steps 0, 4, ..., 44: 12 checks; none may fail.
            #expect(try reader.query("SELECT COUNT(DISTINCT step), SUM(outcome = 'failed') FROM grad_checks WHERE run_id = \(run)").rows[0]
                    == [.integer(12), .integer(0)])
            let status = try reader.query("SELECT status, epochs_done, steps_done, finished_at IS NOT NULL, host IS NOT NULL FROM runs WHERE id = \(run)").rows[0]
            #expect(status == [.text("completed"), .integer(3), .integer(45), .integer(1), .integer(1)])
            #expect(try reader.query("SELECT value_real FROM params WHERE run_id = \(run) AND key = 'optimizer.learning_rate'").rows[0][0] == .real(0.1))
            // Chance is 1/3; the strokes are easy to tell apart once the network learns anything.
            #expect((outcome.bestTestAccuracy ?? 0) > 0.6)
            let losses = try reader.query("SELECT value FROM metrics WHERE run_id = \(run) AND name = 'train_loss_epoch' ORDER BY step").rows.compactMap { $0[0].double }
            #expect(losses.count == 3 && losses[2] < losses[0])
            // A share of the run's time (its size is a benchmark's business, not a test's).
            #expect((0...1).contains(outcome.storeFraction))
        }
        #expect(try reader.query("SELECT value_text FROM params WHERE key = 'model.pooling' ORDER BY run_id").rows.map { $0[0] } == [.text("max"), .text("avg")])
    }

    @Test("the same spec and seed give identical losses in two runs")
    func reproducible() throws {
        func losses() throws -> [SQLValue] {
            let path = temporaryPath("store.sqlite")
            let plan = try SpecLoader.plan(text: smokeSpec(), file: "t.json")
            let runner = ExperimentRunner(store: try RunStore(path: path), reporter: RecordingReporter(), stop: StopSignal())
            _ = try runner.execute(plan)
            return try StoreReader(path: path).query("SELECT value FROM metrics WHERE name = 'train_loss' ORDER BY step").rows.map { $0[0] }
        }
        let first = try losses()
        #expect(!first.isEmpty)
        #expect(try losses() == first)
    }

    @Test("a NaN loss marks the run diverged and the next run still runs")
    func divergence() throws {
        let path = temporaryPath("store.sqlite")
        let plan = try SpecLoader.plan(text: smokeSpec { spec in
            spec["matrix"] = ["optimizer.learning_rate": [1e30, 0.1]]
        }, file: "t.json")
        let outcomes = try ExperimentRunner(store: try RunStore(path: path), reporter: RecordingReporter(), stop: StopSignal()).execute(plan)
        #expect(outcomes.map(\.status.rawValue) == ["diverged", "completed"])
        #expect(outcomes[0].error?.contains("lower optimizer.learning_rate") == true)
        let reader = try StoreReader(path: path)
        #expect(try reader.query("SELECT status FROM runs ORDER BY id").rows.map { $0[0] } == [.text("diverged"), .text("completed")])
        #expect(try reader.query("SELECT COUNT(*) FROM events WHERE kind = 'diverged'").rows[0][0] == .integer(1))
    }

    @Test("a NaN test loss after a finite first loss ends that run as diverged, naming the value, and the next run completes")
    func nonFiniteEvaluation() throws {
        let path = temporaryPath("store.sqlite")
        // One step per epoch: the first (and only) training loss is computed before the update, so
        // it is finite; the update by 1e30 blows the weights up and the test loss is NaN.
        let plan = try SpecLoader.plan(text: smokeSpec { spec in
            spec["dataset"] = ["plugin": "synthetic", "train_size": 16, "test_size": 32, "size": 8, "classes": 3]
            spec["training"] = ["epochs": 2, "batch_size": 16]
            spec["probes"] = ["loss": ["every": 1], "grad_norms": ["every": 1], "grad_check": ["every": 1, "samples": 2, "batch": 2]]
            spec["matrix"] = ["optimizer.learning_rate": [1e30, 0.1]]
        }, file: "t.json")
        let reporter = RecordingReporter()
        let outcomes = try ExperimentRunner(store: try RunStore(path: path), reporter: reporter, stop: StopSignal()).execute(plan)
        #expect(outcomes.map(\.status.rawValue) == ["diverged", "completed"])
        let expected = "test_loss became NaN at step 1 (epoch 1); lower optimizer.learning_rate"
        #expect(outcomes[0].error == expected)
        let reader = try StoreReader(path: path)
        #expect(try reader.query("SELECT status, error FROM runs ORDER BY id").rows
                == [[.text("diverged"), .text(expected)], [.text("completed"), .null]])
        #expect(try reader.query("SELECT message FROM events WHERE kind = 'diverged'").rows == [[.text(expected)]])
        // The first loss was finite and is kept, with the epoch's other finite metrics.
        let kept = try reader.query("SELECT name FROM metrics WHERE run_id = 1 AND step = 1 ORDER BY name").rows.compactMap { $0[0].string }
        #expect(kept == ["images_per_second", "learning_rate", "test_accuracy", "train_accuracy_epoch", "train_loss", "train_loss_epoch"])
        #expect(try reader.query("SELECT COUNT(*) FROM metrics WHERE value IS NULL").rows[0][0] == .integer(0))
        #expect(reporter.started == [1, 2])
    }

    @Test("a NaN in a gradient check (weights blown up to infinity) ends the run as diverged, naming the entry")
    func nonFiniteGradientCheck() throws {
        let path = temporaryPath("store.sqlite")
        // 1e39 is infinite in Float32: the first update makes weights infinite, and the check before
        // step 2 (in Float64, on those weights) computes NaN before the training loss can.
        let plan = try SpecLoader.plan(text: smokeSpec { spec in
            spec["dataset"] = ["plugin": "synthetic", "train_size": 32, "test_size": 32, "size": 8, "classes": 3]
            spec["optimizer"] = ["plugin": "sgd", "learning_rate": 1e39]
            spec["probes"] = ["loss": ["every": 1], "grad_norms": ["every": 1], "grad_check": ["every": 1, "samples": 2, "batch": 2]]
            spec["matrix"] = ["seeds": [1, 2]]
        }, file: "t.json")
        let outcomes = try ExperimentRunner(store: try RunStore(path: path), reporter: RecordingReporter(), stop: StopSignal()).execute(plan)
        #expect(outcomes.map(\.status.rawValue) == ["diverged", "diverged"])
        for outcome in outcomes {
            #expect(outcome.error?.hasPrefix("the gradient check at step 1 found a NaN ") == true, "\(outcome.error ?? "")")
            #expect(outcome.error?.hasSuffix("; lower optimizer.learning_rate") == true)
        }
        let reader = try StoreReader(path: path)
        // The check at step 0, before any update, is kept whole.
        #expect(try reader.query("SELECT COUNT(*) > 0, SUM(analytic IS NULL) FROM grad_checks WHERE step = 0").rows[0] == [.integer(1), .integer(0)])
        #expect(try reader.query("SELECT COUNT(*) FROM events WHERE kind = 'diverged'").rows[0][0] == .integer(2))
    }

    @Test("a non-finite value that reaches the store is refused by it, and the runner ends that run as diverged, not the sweep")
    func storeRefusalBecomesDivergence() throws {
        let path = temporaryPath("store.sqlite")
        let plan = try SpecLoader.plan(text: smokeSpec { $0["matrix"] = ["seeds": [1, 2]] }, file: "t.json")
        let runner = ExperimentRunner(store: try RunStore(path: path), reporter: RecordingReporter(), stop: StopSignal())
        var injected = false
        runner.beforeFlush = { batch in
            guard !injected else { return }
            injected = true
            batch.gradientNorms.append(.init(step: 3, layer: 4, layerKind: "dense", tensor: "weight", l2: .infinity, maxAbs: 1))
        }
        let outcomes = try runner.execute(plan)
        #expect(outcomes.map(\.status.rawValue) == ["diverged", "completed"])
        let expected = "the gradient L2 norm of layer 4 (dense) weight at step 3 became +inf; lower optimizer.learning_rate"
        #expect(outcomes[0].error == expected)
        let reader = try StoreReader(path: path)
        #expect(try reader.query("SELECT message FROM events WHERE run_id = 1 AND kind = 'diverged'").rows == [[.text(expected)]])
        // The batch's finite rows were kept.
        #expect(try reader.query("SELECT COUNT(*) > 0 FROM metrics WHERE run_id = 1").rows[0][0] == .integer(1))
        #expect(try reader.query("SELECT COUNT(*) FROM grad_norms WHERE layer = 4 AND step = 3").rows[0][0] == .integer(0))
    }

    @Test("the heartbeat moves on its own timer while the run is busy outside the training loop, and stops when it ends")
    func heartbeatTimer() throws {
        let path = temporaryPath("store.sqlite")
        let plan = try SpecLoader.plan(text: smokeSpec(), file: "t.json")
        /// Loading the data set takes 1.5 s here (the runner announces it with a note): no record is
        /// written meanwhile, so only the timer can move the heartbeat.
        final class SlowLoad: ProgressReporter {
            let path: String
            var during: [Double] = []
            init(path: String) { self.path = path }
            func heartbeat() -> Double { (try? StoreReader(path: path).query("SELECT heartbeat_at FROM runs WHERE id = 1").rows.first?.first?.double) ?? 0 }
            func runStarted(_ run: RunPlan, of total: Int, runID: Int64) {}
            func step(_ update: ProgressUpdate) {}
            func epochFinished(_ update: ProgressUpdate, metrics: [(name: String, value: Double)]) {}
            func runFinished(_ outcome: RunOutcome) {}
            func note(_ message: String) {
                for _ in 0..<3 {
                    during.append(heartbeat())
                    Thread.sleep(forTimeInterval: 0.5)
                }
            }
        }
        let reporter = SlowLoad(path: path)
        let runner = ExperimentRunner(store: try RunStore(path: path), reporter: reporter, stop: StopSignal())
        runner.heartbeatInterval = 0.1
        let outcomes = try runner.execute(plan)
        #expect(outcomes.map(\.status) == [.completed])
        #expect(reporter.during.count == 3 && reporter.during[0] < reporter.during[1] && reporter.during[1] < reporter.during[2],
                "the heartbeat stood still during the load: \(reporter.during)")
        // After the run ends, nothing beats: the heartbeat stays at the finish time.
        let ended = reporter.heartbeat()
        Thread.sleep(forTimeInterval: 0.4)
        #expect(reporter.heartbeat() == ended)
        #expect(try StoreReader(path: path).query("SELECT heartbeat_at = finished_at FROM runs WHERE id = 1").rows[0][0] == .integer(1))
    }

    @Test("a stop request ends the run as interrupted, keeps its records and skips the rest")
    func interruption() throws {
        let path = temporaryPath("store.sqlite")
        let plan = try SpecLoader.plan(text: smokeSpec { $0["matrix"] = ["seeds": [1, 2]] }, file: "t.json")
        let stop = StopSignal()
        stop.request(SIGINT)
        let outcomes = try ExperimentRunner(store: try RunStore(path: path), reporter: RecordingReporter(), stop: stop).execute(plan)
        #expect(outcomes.map(\.status.rawValue) == ["interrupted", "interrupted"])
        let reader = try StoreReader(path: path)
        #expect(try reader.query("SELECT status, error FROM runs ORDER BY id").rows.map { $0[0] } == [.text("interrupted"), .text("interrupted")])
    }
}
