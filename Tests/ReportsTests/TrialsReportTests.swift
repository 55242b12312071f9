import enum ConvLabKit.ObjectiveDirection
import Foundation
import GRDB
import Testing
@testable import Reports
@testable import RunStore
import TestSupport

@Suite("A search's trials in the reports")
struct TrialsReportTests {
    func reporter(seeds: [UInt64] = [1, 2]) throws -> Reporter {
        let path = temporaryStorePath()
        try SearchFixture.write(path: path, seeds: seeds)
        return Reporter(reader: try StoreReader(path: path))
    }

    @Test("trials ranked: completed by objective (mean over seeds at the last epoch), then pruned by their last value, then the rest by number")
    func ranking() throws {
        let search = try reporter().searchTrials(experiment: nil)
        #expect(search.experimentName == SearchFixture.experimentName)
        #expect(search.metric == "test_accuracy" && search.direction == .maximize)
        #expect(search.sampler == "random" && search.pruner == "median" && search.budget == 7)
        #expect(search.dimensions.map(\.domain) == ["log_uniform", "uniform", "choice"])
        #expect(search.trials.map(\.number) == [3, 1, 6, 2, 4, 5, 7])
        #expect(search.trials.map(\.rank) == [1, 2, 3, 4, nil, nil, nil])
        #expect(search.trials.map(\.status) == ["completed", "completed", "pruned", "pruned", "running", "failed", "queued"])
        let objectives = search.trials.map(\.objective)
        for (value, expected) in zip(objectives, [0.91, 0.86, 0.61, 0.32, 0.61, nil, nil] as [Double?]) {
            #expect(value.map { abs($0 - (expected ?? .nan)) < 1e-12 } ?? (expected == nil), "\(objectives)")
        }
        // Trial 4's second seed has done one epoch: the trial's objective is at epoch 1.
        #expect(search.trials.map(\.objectiveEpoch) == [3, 3, 2, 1, 1, nil, nil])
        #expect(search.trials[3].note?.hasPrefix("test_accuracy 0.32 at epoch 1 is below") == true)
        #expect(search.trials[0].seeds == [1, 2] && search.trials[0].values["optimizer.learning_rate"] == .number(0.1))
        #expect(search.best?.number == 3)
    }

    @Test("one seed: each trial's objective is its run's value at its last epoch")
    func oneSeed() throws {
        let search = try reporter(seeds: [5]).searchTrials(experiment: SearchFixture.experimentName)
        #expect(search.trials.map(\.number) == [3, 1, 6, 2, 4, 5, 7])
        #expect(search.trials.map(\.objective) == [0.90, 0.85, 0.60, 0.30, 0.70, 0.10, nil])
        #expect(search.trials.map(\.seeds) == [[5], [5], [5], [5], [5], [5], [5]])
        // A failed trial has a value but no rank.
        #expect(search.trials[5].rank == nil && search.trials[5].status == "failed")
    }

    @Test("minimize ranks the lowest first; ties go to the lower trial number")
    func minimize() {
        func trial(_ number: Int, _ status: String, _ value: Double?) -> SearchTrials.Trial {
            .init(number: number, status: status, runs: [Int64(number)], seeds: [1], epochsDone: 1, epochsPlanned: 1, values: [:],
                  intermediate: value.map { [(1, $0)] } ?? [], note: nil, rank: nil)
        }
        let trials = [trial(1, "completed", 0.5), trial(2, "pruned", 0.1), trial(3, "completed", 0.2), trial(4, "completed", 0.2),
                      trial(5, "queued", nil), trial(6, "pruned", 0.05)]
        let ranked = SearchTrials.ranked(trials, direction: .minimize)
        #expect(ranked.map(\.number) == [3, 4, 1, 6, 2, 5])
        #expect(ranked.map(\.rank) == [1, 2, 3, 4, 5, nil])
        #expect(SearchTrials.ranked(trials, direction: .maximize).map(\.number) == [1, 3, 4, 2, 6, 5])
    }

    @Test("the table: rank, trial, status, epochs (stopped at epoch N when pruned), objective, each key, seeds; the best trial's line; the header")
    func table() throws {
        let document = try reporter().trials(experiment: nil)
        let table = try #require(document.sections.last?.table)
        #expect(table.columns == ["rank", "trial", "status", "epochs", "objective", "learning_rate", "momentum", "activation", "seeds"])
        #expect(table.rows[0] == ["1", "3", "completed", "3/3", "0.9100", "0.1", "0.5", SearchFixture.markup, "1, 2"])
        #expect(table.rows[3] == ["4", "2", "pruned", "stopped at epoch 1", "0.3200", "0.0002", "0.1", SearchFixture.markup, "1, 2"])
        #expect(table.rows[6] == ["–", "7", "queued", "0/3", "–", "–", "–", "–", "1, 2"])
        let text = document.render(.table, width: 200)
        #expect(text.contains("objective test_accuracy, maximize (higher is better)"))
        #expect(text.contains("sampler random, pruner median; 7 trials (budget 7): 2 completed, 2 pruned, 1 running, 1 failed, 1 queued"))
        #expect(text.contains("Best: trial 3, test_accuracy 0.9100 (mean of 2 seeds at epoch 3): optimizer.learning_rate=0.1, optimizer.momentum=0.5, model.activation="))
    }

    @Test("JSON and CSV give the same trials, unrounded, with full keys, seeds and runs as arrays")
    func machineFormats() throws {
        let document = try reporter().trials(experiment: nil)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(document.render(.json, width: 200).utf8)) as? [String: Any])
        let summary = try #require(json["search"] as? [String: Any])
        #expect(summary["objective"] as? String == "test_accuracy" && summary["direction"] as? String == "maximize")
        #expect(summary["best_trial"] as? Double == 3 && summary["pruned"] as? Double == 2 && summary["trials"] as? Double == 7)
        let trials = try #require(json["trials"] as? [[String: Any]])
        #expect(trials.map { $0["trial"] as? Double } == [3, 1, 6, 2, 4, 5, 7])
        #expect(trials[0]["optimizer.learning_rate"] as? Double == 0.1)
        #expect(trials[0]["model.activation"] as? String == SearchFixture.markup)
        #expect(trials[0]["seeds"] as? [Double] == [1, 2])
        #expect(trials[3]["stopped_at_epoch"] as? Double == 1 && trials[0]["stopped_at_epoch"] is NSNull)
        #expect(abs((trials[1]["objective"] as? Double ?? 0) - 0.86) < 1e-12)
        #expect(trials[6]["rank"] is NSNull && trials[6]["objective"] is NSNull)
        let csv = document.render(.csv, width: 200)
        #expect(csv.contains("\r\nrank,trial,status,epochs_done,epochs_planned,stopped_at_epoch,objective,objective_epoch,optimizer.learning_rate"))
        #expect(csv.contains("\r\n1,3,completed,3,3,,0.91"))
    }

    @Test("a store without a search, or an experiment that is not one, is one clear error naming the searches")
    func noSearch() throws {
        let plain = Reporter(reader: try StoreReader(path: try fixtureStore()))
        #expect(throws: ReportError("this store has no search: its experiments are matrices (a spec with a \"search\" section makes one)")) {
            try plain.searchTrials(experiment: nil)
        }
        let reporter = try reporter()
        #expect(throws: ReportError("experiment \"matrix\" is not a search (its runs come from a matrix); the searches here: \"\(SearchFixture.experimentName)\" (2)")) {
            try reporter.searchTrials(experiment: "matrix")
        }
        #expect(throws: ReportError("no experiment \"nope\" in this store; the searches here: \"\(SearchFixture.experimentName)\" (2)")) {
            try reporter.searchTrials(experiment: "nope")
        }
        #expect(try reporter.searchTrials(experiment: "2").experimentID == 2)
    }

    @Test("a search whose specs name no objective is still ranked, by test_accuracy maximized, and the header says it was assumed")
    func unreadableSpecs() throws {
        let path = temporaryStorePath()
        try SearchFixture.write(path: path)
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(sql: "UPDATE runs SET spec_json = '{\"name\": \"x\"}'")
            try db.execute(sql: "UPDATE experiments SET spec_json = 'not JSON'")
        }
        try queue.close()
        let search = try Reporter(reader: try StoreReader(path: path)).searchTrials(experiment: nil)
        #expect(search.objectiveAssumed && search.metric == "test_accuracy")
        #expect(search.trials.map(\.number) == [3, 1, 6, 2, 4, 5, 7])
        // The keys from the trials' variants, in order of first appearance.
        #expect(search.dimensions.map(\.key) == ["model.activation", "optimizer.learning_rate", "optimizer.momentum"])
        #expect(search.header.contains("(assumed: no spec of the search names its objective)"))
    }

    @Test("pruned runs: filtered by status, and counted in groups as pruned, never in the statistics")
    func prunedInViews() throws {
        let reporter = try reporter()
        let pruned = try #require(try reporter.runs(RunFilter(statuses: ["pruned"])).sections.first?.table)
        #expect(pruned.rows.map { $0[0] } == ["4", "5", "12", "13"])
        #expect(pruned.rows.allSatisfy { $0[pruned.columns.firstIndex(of: "status") ?? 0] == "pruned" })
        let document = try reporter.groups(by: ["model.activation"], filter: RunFilter(experiment: "2"), targetAccuracy: 0.85)
        let groups = try #require(document.sections.first?.table)
        #expect(groups.columns.prefix(4) == ["model.activation", "runs", "completed", "pruned"])
        #expect(groups.rows[0].prefix(4) == ["relu", "8", "2", "2"])
        // relu's measured runs: trial 1 (0.85, 0.87), trial 4 (0.70, 0.62), trial 5 (0.10): mean 0.628; trial 6's pruned 0.60 and 0.62 left out.
        #expect(groups.rows[0][4].hasPrefix("0.6280 ± "))
        #expect(document.sections.first?.text?.contains("4 pruned runs (stopped early by a search's pruner) count in runs and pruned but not in the statistics") == true)
        let machine = try #require(document.sections.first?.machineTable)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(machine.renderJSON().utf8)) as? [[String: Any]])
        #expect(json[0]["pruned"] as? Double == 2 && json[0]["final_test_accuracy_n"] as? Double == 5)
    }

    @Test("the HTML report of a search: its ranked table, the objective over trials and each key against the objective, well-formed and escaped")
    func html() throws {
        let reporter = try reporter()
        let page = try reporter.html(filter: RunFilter(experiment: "2"), groupBy: [], targetAccuracy: 0.85)
        let parsed = XMLPage(page)
        #expect(parsed.wellFormed, "\(parsed.error)")
        #expect(!page.contains("<script"))
        #expect(parsed.text.contains("Best: trial 3, test_accuracy 0.9100"))
        let objective = try #require(page.components(separatedBy: "<figure").first { $0.contains("data-chart=\"objective\"") })
        // Trials 3, 1, 6, 2 and 4 have a value; 5 and 7 none. Completed filled, pruned hollow, the running one grey.
        #expect(objective.components(separatedBy: "<circle class=\"point completed\"").count - 1 == 2)
        #expect(objective.components(separatedBy: "<circle class=\"point pruned\"").count - 1 == 2)
        #expect(objective.components(separatedBy: "<circle class=\"point other\"").count - 1 == 1)
        #expect(objective.contains("<polyline class=\"best\""))
        let rate = try #require(page.components(separatedBy: "<figure").first { $0.contains("data-key=\"optimizer.learning_rate\"") })
        #expect(rate.contains("data-scale=\"log\"") && rate.contains(">0.001</text>") && rate.contains(">0.1</text>"))
        let choice = try #require(page.components(separatedBy: "<figure").first { $0.contains("data-key=\"model.activation\"") })
        #expect(choice.contains("data-scale=\"categories\"") && choice.contains(">relu</text>") && choice.contains("&lt;/td&gt;&lt;script&gt;…</text>"))
        #expect(parsed.text.contains(SearchFixture.markup))
    }
}
