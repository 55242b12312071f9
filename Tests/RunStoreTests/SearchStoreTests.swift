import ConvLabKit
import Foundation
import GRDB
import Testing
@testable import RunStore
import TestSupport

/// A store with one experiment whose runs are the trials 1…`trials` of a search, queued.
func searchStore(_ path: String, trials: Int, uuids: [String]? = nil) throws -> (RunStore, [Int64]) {
    let store = try RunStore(path: path)
    let experiment = try store.createExperiment(name: "search", specPath: "search.json", specJSON: "{}", specHash: "search-h")
    var ids: [Int64] = []
    for trial in 1...trials {
        ids.append(try store.createRun(NewRun(experimentID: experiment, runIndex: trial, variant: "{}", variantLabel: "trial \(trial)",
                                              specJSON: "{}", specHash: "placeholder", seed: 0, epochsPlanned: 3, provenance: provenance,
                                              params: [], uuid: uuids?[trial - 1], trial: trial)))
    }
    // The fixture's insert predates trials: numbered here.
    try store.write { db in
        for (offset, id) in ids.enumerated() { try db.execute(sql: "UPDATE runs SET trial = ? WHERE id = ?", arguments: [offset + 1, id]) }
    }
    return (store, ids)
}

func assignment(_ run: Int64, _ value: Double) -> TrialAssignment {
    TrialAssignment(runID: run, variant: "{\"optimizer.momentum\":\(value)}", variantLabel: "trial: optimizer.momentum=\(value)",
                    specJSON: "{\"v\":\(value)}", specHash: "h\(value)", params: [("optimizer.momentum", "\(value)", value)],
                    searchState: "{\"sampler\":\"test\"}")
}

@Suite("a search's trials in the store: drawn once under the write lock, read back with their objective, merged whole")
struct SearchStoreTests {
    @Test("drawTrial writes the values to the trial's runs once; a second draw of the trial finds them; a run not held draws nothing")
    func drawOnce() throws {
        let path = temporaryPath("trials.sqlite")
        let (store, ids) = try searchStore(path, trials: 2)
        #expect(try store.drawTrial(run: ids[0], metric: "test_accuracy", claimant: "me:1") { _, _, _ in [assignment(ids[0], 0.5)] } == .notHeld)
        #expect(try store.claimRun(ids[0], staleAfter: 60, claimant: "me:1"))
        var shown: (Int, [Int64], [Int])?
        let first = try store.drawTrial(run: ids[0], metric: "test_accuracy", claimant: "me:1") { trial, runs, history in
            shown = (trial, runs.map(\.runID), history.map(\.trial))
            return [assignment(ids[0], 0.5)]
        }
        #expect(first == .drawn)
        #expect(shown?.0 == 1 && shown?.1 == [ids[0]] && shown?.2 == [1, 2])
        var calledAgain = false
        let second = try store.drawTrial(run: ids[0], metric: "test_accuracy", claimant: "me:1") { _, _, _ in calledAgain = true; return nil }
        #expect(second == .alreadyDrawn(variant: "{\"optimizer.momentum\":0.5}"))
        #expect(!calledAgain)
        let reader = try StoreReader(path: path)
        #expect(try reader.query("SELECT variant_label, spec_hash, search_state FROM runs WHERE id = \(ids[0])").rows
                == [[.text("trial: optimizer.momentum=0.5"), .text("h0.5"), .text("{\"sampler\":\"test\"}")]])
        #expect(try reader.query("SELECT key, value_real FROM params WHERE run_id = \(ids[0])").rows == [[.text("optimizer.momentum"), .real(0.5)]])
        // A draw that gives up writes nothing.
        #expect(try store.claimRun(ids[1], staleAfter: 60, claimant: "me:1"))
        #expect(try store.drawTrial(run: ids[1], metric: "test_accuracy", claimant: "me:1") { _, _, _ in nil } == .abandoned)
        #expect(try reader.query("SELECT search_state FROM runs WHERE id = \(ids[1])").rows == [[.null]])
    }

    @Test("trialRuns gives each run's objective at whole epochs only, keyed by epoch")
    func objectivePerEpoch() throws {
        let path = temporaryPath("objective.sqlite")
        let (store, ids) = try searchStore(path, trials: 1)
        try store.markStarted(run: ids[0])
        var batch = RecordBatch()
        batch.metrics = [.init(name: "test_accuracy", step: 10, epoch: 1, value: 0.5, wallTime: 1),
                         .init(name: "test_accuracy", step: 15, epoch: 1.5, value: 0.9, wallTime: 1),
                         .init(name: "test_loss", step: 20, epoch: 2, value: 3, wallTime: 1),
                         .init(name: "test_accuracy", step: 20, epoch: 2, value: 0.75, wallTime: 1)]
        try store.append(batch, run: ids[0], epochsDone: 2, stepsDone: 20)
        let records = try store.trialRuns(experiment: 1, metric: "test_accuracy")
        #expect(records.map(\.objective) == [[1: 0.5, 2: 0.75]])
        #expect(records.map(\.trial) == [1] && records.map(\.drawn) == [false])
    }

    @Test("merge keeps a trial's number, search state and pruned status; of two copies equally far, the pruned one wins over an interrupted one")
    func mergeKeepsTrials() throws {
        let uuid = UUID().uuidString.lowercased()
        var paths: [String] = []
        for status in [RunStatus.interrupted, .pruned] {
            let path = temporaryPath("\(status.rawValue).sqlite")
            let (store, ids) = try searchStore(path, trials: 1, uuids: [uuid])
            try store.markStarted(run: ids[0])
            try store.append(RecordBatch(), run: ids[0], epochsDone: 1, stepsDone: 10)
            try store.finish(run: ids[0], status: status)
            try store.write { db in
                try db.execute(sql: "UPDATE runs SET variant = '{\"k\":1}', search_state = ? WHERE id = ?", arguments: ["{\"from\":\"\(status.rawValue)\"}", ids[0]])
            }
            try store.checkpointAndClose()
            paths.append(path)
        }
        let out = temporaryPath("merged.sqlite")
        _ = try RunStore.merge(into: out, from: paths)
        #expect(try StoreReader(path: out).query("SELECT trial, status, search_state, variant FROM runs").rows
                == [[.integer(1), .text("pruned"), .text("{\"from\":\"pruned\"}"), .text("{\"k\":1}")]])
    }
}
