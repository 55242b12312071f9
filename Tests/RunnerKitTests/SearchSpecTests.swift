import ConvLabKit
import Foundation
@testable import RunnerKit
import Testing
import TextKit

/// A `search` over the small synthetic spec: learning rate, momentum and batch size.
func searchSpace() -> [String: Any] { [
    "optimizer.learning_rate": ["log_uniform": [0.001, 0.5]],
    "optimizer.momentum": ["uniform": [0, 0.9]],
    "training.batch_size": ["choice": [8, 16]],
] }

func searchSpec(_ search: [String: Any] = [:], _ edit: (inout [String: Any]) -> Void = { _ in }) -> String {
    smokeSpec { spec in
        var section: [String: Any] = ["space": searchSpace(), "sampler": "random", "trials": 4]
        section.merge(search) { _, new in new }
        spec["search"] = section
        edit(&spec)
    }
}

/// The one issue a spec has, as "path: message".
func onlyIssue(_ text: String, registry: PluginRegistry = .builtIn) -> String {
    do {
        _ = try SpecLoader.plan(text: text, file: "spec.json", registry: registry)
        return "(no issue)"
    } catch {
        return error.issues.count == 1 ? error.issues[0].description : "\(error.issues.count) issues: \(error.issues)"
    }
}

@Suite("the search section of a spec: parsed, resolved and validated")
struct SearchSpecTests {
    @Test("trials × seeds placeholder runs, indexed (trial − 1)·seeds + position + 1, labelled \"trial N\", with the resolved search in their spec")
    func placeholders() throws {
        let plan = try SpecLoader.plan(text: searchSpec(["trials": 3, "seeds": [5, 6]]), file: "spec.json")
        let search = try #require(plan.search)
        #expect(plan.runs.count == 6)
        #expect(plan.runs.map(\.index) == [1, 2, 3, 4, 5, 6])
        #expect(plan.runs.map(\.variant.trial) == [1, 1, 2, 2, 3, 3])
        #expect(plan.runs.map(\.seed) == [5, 6, 5, 6, 5, 6])
        #expect(plan.runs.map { search.trial(ofRun: $0.index) } == [1, 1, 2, 2, 3, 3])
        #expect(plan.runs[2].variant.label == "trial 2, seed=5")
        #expect(search.space.dimensions.map(\.key) == ["optimizer.learning_rate", "optimizer.momentum", "training.batch_size"])
        #expect(search.space.dimensions[0].domain == .logUniform(low: 0.001, high: 0.5))
        #expect(search.summary == "3 trials × 2 seeds, sampler random, pruner none, maximize test_accuracy")
        let resolved = try JSONParser.parse(plan.runs[0].resolvedJSON).value
        let section = try #require(resolved["search"]?.value)
        #expect(section["objective"]?.value == .obj([("metric", .string("test_accuracy")), ("direction", .string("maximize"))]))
        #expect(section["pruner"]?.value == .string("none"))
        #expect(section["trials"]?.value == .number(3))
        // The params are the run's keys, not the search's.
        #expect(!plan.runs[0].params.contains { $0.key.hasPrefix("search") })
        #expect(plan.runs[0].param("optimizer.momentum") == "0")
    }

    @Test("defaults: validation_accuracy with a validation split, minimize for a metric ending in _loss; another search seed is another experiment")
    func defaults() throws {
        let withSplit = try #require(try SpecLoader.plan(text: searchSpec { $0["evaluation"] = ["validation_split": 0.2] }, file: "s.json").search)
        #expect(withSplit.metric == "validation_accuracy" && withSplit.direction == .maximize)
        let loss = try #require(try SpecLoader.plan(text: searchSpec(["objective": ["metric": "test_loss"]]), file: "s.json").search)
        #expect(loss.direction == .minimize)
        let a = try SpecLoader.plan(text: searchSpec(["seed": 1]), file: "s.json")
        let b = try SpecLoader.plan(text: searchSpec(["seed": 2]), file: "s.json")
        #expect(a.sweepHash != b.sweepHash)
    }

    @Test("a drawn trial's run: the values in place, its label with numbers printed short, its variant the sampled keys")
    func drawnRun() throws {
        let plan = try SpecLoader.plan(text: searchSpec(), file: "spec.json")
        let search = try #require(plan.search)
        let run = try search.run(trial: 3, seedPosition: 0, values: [.number(0.012345678), .number(0.5), .number(16)])
        #expect(run.index == 3)
        #expect(run.variant.label == "trial 3: optimizer.learning_rate=0.0123, optimizer.momentum=0.5, training.batch_size=16")
        #expect(run.learningRate == 0.012345678)
        #expect(run.training.batchSize == 16)
        #expect(run.param("optimizer.momentum") == "0.5")
        #expect(search.values(fromVariant: JSONWriter.write(run.variant.json, pretty: false)) == [.number(0.012345678), .number(0.5), .number(16)])
        #expect(run.specHash != plan.runs[2].specHash)
        // A list index written with a dot, as in "model.layers.0.conv.filters", sets the layer.
        let layered = try SpecLoader.plan(text: searchSpec(["space": ["model.layers.0.conv.filters": ["int": [1, 4]]]]), file: "s.json")
        let filters = try #require(layered.search).run(trial: 1, seedPosition: 0, values: [.number(4)])
        #expect(filters.param("model.layers[0].conv.filters") == "4")
    }

    @Test("every problem of a search at once: a range the key refuses beside a malformed range and an unknown sampler")
    func allAtOnce() throws {
        let text = searchSpec(["sampler": "randon", "space": ["optimizer.learning_rate": ["log_uniform": [0, 1]], "optimizer.momentum": ["uniform": [0, 1.5]]]])
        var issues: [String] = []
        do { _ = try SpecLoader.plan(text: text, file: "spec.json") } catch { issues = error.issues.map(\.path) }
        #expect(issues.sorted() == ["search.sampler", "search.space.optimizer.learning_rate.log_uniform", "search.space.optimizer.momentum"])
    }

    @Test("bad search input: one issue each, at its path, saying what is wrong and how to fix it", arguments: [
        (#"{"matrix": {"seeds": [1, 2]}}"#, "matrix: a spec has \"matrix\" or \"search\", not both"),
        (#"{"space": {"optimizer.momentum": {"uniform": [0.5, 0.1]}}}"#, "search.space.optimizer.momentum.uniform: is an empty range: lo 0.5 must be below hi 0.1"),
        (#"{"space": {"optimizer.momentum": {"uniform": [0.5, 0.5]}}}"#, "is an empty range"),
        (#"{"space": {"optimizer.learning_rate": {"log_uniform": [0, 1]}}}"#, "search.space.optimizer.learning_rate.log_uniform: log_uniform needs lo > 0"),
        (#"{"space": {"training.epochs": {"int": [1.5, 4]}}}"#, "search.space.training.epochs.int: int bounds must be whole numbers"),
        (#"{"space": {"training.batch_size": {"choice": []}}}"#, "search.space.training.batch_size.choice: must be a non-empty list"),
        (#"{"space": {"optimizer.momentum": {"uniforn": [0, 1]}}}"#, "unknown domain \"uniforn\"; did you mean \"uniform\"?"),
        (#"{"space": {"optimizer.momentun": {"uniform": [0, 0.9]}}}"#, "unknown key \"momentun\"; did you mean \"momentum\"?"),
        (#"{"space": {"optimzer.momentum": {"uniform": [0, 0.9]}}}"#, "does not start with a spec section; did you mean \"optimizer\"?"),
        (#"{"space": {"optimizer.momentum": {"uniform": [0, 1.5]}}}"#, "search.space.optimizer.momentum: {\"uniform\":[0,1.5]} reaches 1.5, but optimizer.momentum: must be a number in [0, 1), got 1.5"),
        (#"{"space": {"training.batch_size": {"uniform": [8, 64]}}}"#, "training.batch_size: must be an integer"),
        (#"{"space": {"model.activation": {"choice": ["relu", "rleu"]}}}"#, "lists \"rleu\", but model.activation: unknown activation \"rleu\"; did you mean \"relu\"?"),
        (#"{"space": {"model.layers.9.conv.filters": {"int": [1, 4]}}}"#, "index [9] is past the end of a list of 5"),
        (#"{"space": {"checkpoint.keep": {"choice": ["last"]}}}"#, "\"checkpoint\" cannot be searched"),
        (#"{"space": {}}"#, "search.space: must be a non-empty object"),
        (#"{"sampler": "randon"}"#, "search.sampler: unknown sampler \"randon\"; did you mean \"random\"?"),
        (#"{"pruner": "nnoe"}"#, "search.pruner: unknown pruner \"nnoe\"; did you mean \"none\"?"),
        (#"{"trials": 0}"#, "search.trials: must be an integer ≥ 1, got 0"),
        (#"{"trials": 10001}"#, "search.trials: must be an integer ≤ 10000, got 10001"),
        (#"{"trails": 3}"#, "search.trails: unknown key \"trails\"; did you mean \"trials\"?"),
        (#"{"objective": {"metric": "validation_accuracy"}}"#, "search.objective.metric: validation_accuracy is never recorded: evaluation.validation_split is 0"),
        (#"{"objective": {"metric": "test_acuracy"}}"#, "did you mean \"test_accuracy\"?"),
    ])
    func badInput(_ patch: String, _ expected: String) throws {
        let patchObject = try #require(try JSONSerialization.jsonObject(with: Data(patch.utf8)) as? [String: Any])
        let text = searchSpec(patchObject.filter { $0.key != "matrix" }) { spec in
            if let matrix = patchObject["matrix"] { spec["matrix"] = matrix }
        }
        let issue = onlyIssue(text)
        #expect(issue.contains(expected), "\(issue)")
        #expect(!issue.contains("\n"))
    }
}
