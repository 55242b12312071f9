import ConvCore
import ConvLabKit
import Foundation
import RunStore
import Synchronization
import Testing
@testable import RunnerKit
import TextKit
import TestSupport

/// A sampler whose values depend on the history it is shown: the learning rate grows with the
/// number of finished trials and the momentum is the best objective so far (plus a random draw,
/// so the generator matters too). Two searches draw the same trials only if every trial saw
/// the same history.
struct HistorySampler: Sampler {
    func sample(_ request: SampleRequest, random: inout SplitMix64) -> SampledTrial {
        let finished = request.history.filter { $0.state == .completed || $0.state == .pruned }
        let best = finished.compactMap(\.lastValue).max() ?? 0
        let jitter = RandomSampler.unit(&random) * 0.001
        let values: [JSONValue] = [.number(min(0.5, 0.01 * Double(finished.count + 1) + jitter)), .number(min(0.9, best * 0.5)), .number(16)]
        return SampledTrial(values: values, state: .obj([("finished", .int(finished.count))]))
    }
}

/// Gives trial 1 a learning rate that blows the network up, the others a sane one, and records
/// the states of the trials it was shown.
struct DivergingFirstSampler: Sampler {
    func sample(_ request: SampleRequest, random: inout SplitMix64) -> SampledTrial {
        SampledTrial(values: [.number(request.trial == 1 ? 1e30 : 0.01)],
                     state: .obj([("states", .arr(request.history.map { .string($0.state.rawValue) }))]))
    }
}

/// Prunes every trial after `trial` 1 at its first epoch, and keeps what it was asked.
final class RecordingPruner: Pruner, @unchecked Sendable {
    let requests = Mutex<[PruneRequest]>([])
    func decide(_ request: PruneRequest) -> PruneDecision {
        requests.withLock { $0.append(request) }
        return request.trial.number >= 2 ? .prune(reason: "test pruner: trial \(request.trial.number) at epoch \(request.epoch)") : .keepTraining
    }
}

func searchRegistry(pruner: RecordingPruner = RecordingPruner()) -> PluginRegistry {
    var registry = PluginRegistry.builtIn
    registry.register(Plugin(.sampler, "history", "test: depends on the history", factory: .sampler { _ in HistorySampler() }))
    registry.register(Plugin(.sampler, "diverging-first", "test: trial 1 diverges", factory: .sampler { _ in DivergingFirstSampler() }))
    registry.register(Plugin(.pruner, "recording", "test: prunes trials after the first", factory: .pruner { _ in pruner }))
    return registry
}

/// Stops the search (as Ctrl-C would) when `run` finishes its epoch `epoch`.
final class StoppingReporter: ProgressReporter {
    let stop: StopSignal
    let at: (run: Int, epoch: Int)
    init(stop: StopSignal, at: (run: Int, epoch: Int)) { self.stop = stop; self.at = at }
    func runStarted(_ run: RunPlan, of total: Int, runID: Int64) {}
    func step(_ update: ProgressUpdate) {}
    func epochFinished(_ update: ProgressUpdate, metrics: [(name: String, value: Double)]) {
        if update.runIndex == at.run && update.epoch == at.epoch { stop.request(SIGINT) }
    }
    func runFinished(_ outcome: RunOutcome) {}
    func note(_ message: String) {}
}

func rows(_ path: String, _ sql: String) throws -> [[SQLValue]] { try StoreReader(path: path).query(sql).rows }

@Suite("a search's trials are runs: drawn at claim, recorded, resumed, pruned", .serialized)
struct SearchRunnerTests {
    @Test("each trial's values are drawn once, recorded in variant, label, params, resolved spec and search_state; the same seed draws the same trials")
    func trialsAsRuns() throws {
        let text = searchSpec(["trials": 3])
        var variants: [[[SQLValue]]] = []
        for _ in 0..<2 {
            let path = temporaryPath("search.sqlite")
            let plan = try SpecLoader.plan(text: text, file: "s.json")
            let outcomes = try ExperimentRunner(store: try RunStore(path: path), reporter: RecordingReporter(), stop: StopSignal()).execute(plan)
            #expect(outcomes.map(\.status) == [.completed, .completed, .completed])
            #expect(outcomes[1].label.hasPrefix("trial 2: optimizer.learning_rate="))
            #expect(try rows(path, "SELECT trial FROM runs ORDER BY run_index") == [[.integer(1)], [.integer(2)], [.integer(3)]])
            let stored = try rows(path, "SELECT variant, spec_json, search_state, spec_hash FROM runs ORDER BY run_index")
            variants.append(stored.map { [$0[0]] })
            for (offset, row) in stored.enumerated() {
                let search = try #require(plan.search)
                let variant = try #require(row[0].string), specText = try #require(row[1].string), stateText = try #require(row[2].string)
                let values = try #require(search.values(fromVariant: variant))
                // The resolved spec holds the values in place, and the search section.
                let spec = try JSONParser.parse(specText).value
                #expect(spec["optimizer"]?.value["learning_rate"]?.value == values[0])
                #expect(spec["training"]?.value["batch_size"]?.value == values[2])
                #expect(spec["search"]?.value["objective"]?.value["metric"]?.value == .string("test_accuracy"))
                let state = try JSONParser.parse(stateText).value
                #expect(state["sampler"]?.value == .string("random"))
                #expect(state["trial"]?.value == .number(Double(offset + 1)))
                #expect(state["seen"]?.value == .arr((0..<offset).map { .int($0 + 1) }))
                #expect(state["phase"]?.value == .string("random"))
                let param = try rows(path, "SELECT value_real FROM params p JOIN runs r ON r.id = p.run_id WHERE r.run_index = \(offset + 1) AND p.key = 'optimizer.momentum'")
                let momentum = try #require(values[1].numberValue)
                #expect(param == [[.real(momentum)]] || param == [[.integer(Int64(momentum))]])
            }
            #expect(Set(stored.map { "\($0[3])" }).count == 3, "each trial has its own spec hash")
        }
        #expect(variants[0] == variants[1])
        #expect(Set(variants[0].map { "\($0)" }).count == 3)
    }

    @Test("stopped in the middle of trial 2 and run again: trial 2 resumes with its values, the rest are drawn as in an uninterrupted search (a history-dependent sampler)")
    func resumeDrawsTheSameTrials() throws {
        let text = searchSpec(["trials": 4, "sampler": "history"]) { $0["training"] = ["epochs": 2, "batch_size": 16] }
        let registry = searchRegistry()
        let plan = try SpecLoader.plan(text: text, file: "s.json", registry: registry)
        let uninterrupted = temporaryPath("whole.sqlite")
        _ = try ExperimentRunner(store: try RunStore(path: uninterrupted), reporter: RecordingReporter(), stop: StopSignal()).execute(plan)

        let stopped = temporaryPath("stopped.sqlite")
        let stop = StopSignal()
        let first = try ExperimentRunner(store: try RunStore(path: stopped), reporter: StoppingReporter(stop: stop, at: (2, 1)), stop: stop).execute(plan)
        #expect(first.map(\.status) == [.completed, .interrupted, .interrupted, .interrupted])
        #expect(try rows(stopped, "SELECT COUNT(*) FROM runs WHERE search_state IS NOT NULL") == [[.integer(2)]], "trials 3 and 4 were never drawn")
        #expect(try rows(stopped, "SELECT variant_label FROM runs WHERE run_index = 3") == [[.text("trial 3")]])
        let second = try ExperimentRunner(store: try RunStore(path: stopped), reporter: RecordingReporter(), stop: StopSignal()).execute(plan)
        #expect(second.map(\.status) == [.completed, .completed, .completed, .completed])
        #expect(second[1].disposition == .resumed(from: .interrupted))
        let sql = "SELECT run_index, trial, variant, variant_label, spec_hash, search_state FROM runs ORDER BY run_index"
        #expect(try rows(stopped, sql) == (try rows(uninterrupted, sql)))
        let metrics = "SELECT r.run_index, m.name, m.step, m.value FROM metrics m JOIN runs r ON r.id = m.run_id WHERE m.name != 'images_per_second' ORDER BY 1, 2, 3"
        #expect(try rows(stopped, metrics) == (try rows(uninterrupted, metrics)))
        // The sampler saw the finished trials: the learning rate grows trial by trial.
        let rates = try rows(stopped, "SELECT value_real FROM params p JOIN runs r ON r.id = p.run_id WHERE p.key = 'optimizer.learning_rate' ORDER BY r.run_index")
            .compactMap { $0[0].double }
        #expect(rates.count == 4 && zip(rates, rates.dropFirst()).allSatisfy { $0 < $1 }, "\(rates)")
    }

    @Test("a pruned trial ends pruned after its epoch, with an event carrying the reason, a log line, its checkpoint and metrics kept; the pruner sees the other trials' objective per epoch, the mean over seeds")
    func pruning() throws {
        let pruner = RecordingPruner()
        let text = searchSpec(["trials": 2, "pruner": "recording", "seeds": [1, 2]]) { $0["training"] = ["epochs": 3, "batch_size": 16] }
        let plan = try SpecLoader.plan(text: text, file: "s.json", registry: searchRegistry(pruner: pruner))
        let path = temporaryPath("pruned.sqlite")
        let store = try RunStore(path: path)
        let reporter = RunCostRecorder(wrapping: RecordingReporter(), store: store, onFailure: { Issue.record("\($0)") })
        let outcomes = try ExperimentRunner(store: store, reporter: reporter, stop: StopSignal()).execute(plan)
        #expect(outcomes.map(\.status) == [.completed, .completed, .pruned, .pruned])
        #expect(outcomes[2].error == "test pruner: trial 2 at epoch 1")
        #expect(outcomes.allSatisfy { $0.endedNormally }, "a pruned trial is a normal end: exec exits 0")
        #expect(try rows(path, "SELECT epochs_done, status, error FROM runs WHERE trial = 2 ORDER BY run_index")
                == [[.integer(1), .text("pruned"), .null], [.integer(1), .text("pruned"), .null]])
        #expect(try rows(path, "SELECT e.message FROM events e JOIN runs r ON r.id = e.run_id WHERE r.run_index = 3 AND e.kind = 'pruned'")
                == [[.text("test pruner: trial 2 at epoch 1")]])
        #expect(try rows(path, "SELECT c.epoch FROM checkpoints c JOIN runs r ON r.id = c.run_id WHERE r.run_index = 3") == [[.integer(1)]])
        #expect(try rows(path, "SELECT COUNT(*) FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.run_index = 3 AND m.name = 'test_accuracy'") == [[.integer(1)]])
        let opening = try rows(path, "SELECT l.line FROM run_log l JOIN runs r ON r.id = l.run_id WHERE r.run_index = 3 ORDER BY l.rowid LIMIT 1")
        #expect(opening.first?.first?.string?.hasPrefix("trial 2/2 (run 3, id 3): trial 2: optimizer.learning_rate=") == true, "\(opening)")
        #expect(try rows(path, "SELECT l.level, l.line FROM run_log l JOIN runs r ON r.id = l.run_id WHERE r.run_index = 3 AND l.line LIKE 'pruned%'")
                == [[.text("info"), .text("pruned after 1 epochs: test pruner: trial 2 at epoch 1")]])
        // Trial 1 was asked after epochs 1 and 2 (never after its last); trial 2 after epoch 1, seeing trial 1 whole.
        let asked = pruner.requests.withLock { $0 }
        #expect(asked.map { [$0.trial.number, $0.epoch] } == [[1, 1], [1, 2], [1, 1], [1, 2], [2, 1], [2, 1]])
        let trialTwo = try #require(asked.last)
        let history = try #require(trialTwo.history.first)
        #expect(trialTwo.history.count == 1 && history.number == 1 && history.state == .completed)
        let accuracies = try rows(path, "SELECT m.epoch, AVG(m.value) FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.trial = 1 AND m.name = 'test_accuracy' GROUP BY m.epoch ORDER BY m.epoch")
        #expect(accuracies.count == 3)
        for row in accuracies {
            let epoch = Int(try #require(row[0].double)), mean = try #require(row[1].double)
            #expect(abs((history.intermediate[epoch] ?? -1) - mean) < 1e-12, "epoch \(epoch)")
        }
        // Both seeds of a trial share its values, drawn once.
        let perTrial = try rows(path, "SELECT trial, COUNT(DISTINCT search_state), COUNT(DISTINCT json_remove(variant, '$.seed')) FROM runs GROUP BY trial ORDER BY trial")
        #expect(perTrial == [[.integer(1), .integer(1), .integer(1)], [.integer(2), .integer(1), .integer(1)]])
    }

    @Test("a trial that diverges is recorded diverged, the search goes on, the sampler sees it as failed, and it is a normal end of the search")
    func divergedTrial() throws {
        let text = searchSpec(["trials": 3, "sampler": "diverging-first", "space": ["optimizer.learning_rate": ["log_uniform": [0.001, 1e30]]]])
        let plan = try SpecLoader.plan(text: text, file: "s.json", registry: searchRegistry())
        let path = temporaryPath("diverged.sqlite")
        let outcomes = try ExperimentRunner(store: try RunStore(path: path), reporter: RecordingReporter(), stop: StopSignal()).execute(plan)
        #expect(outcomes.map(\.status) == [.diverged, .completed, .completed])
        #expect(outcomes.allSatisfy { $0.endedNormally }, "a diverged trial does not fail the search")
        #expect(try rows(path, "SELECT json_extract(search_state, '$.states') FROM runs ORDER BY run_index")
                == [[.text("[]")], [.text("[\"failed\"]")], [.text("[\"failed\",\"completed\"]")]])
        // A matrix run that diverges still fails the sweep.
        var matrixRun = outcomes[0]
        matrixRun.trial = nil
        #expect(!matrixRun.endedNormally)
    }
}
