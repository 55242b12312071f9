import ConvLabKit
import RunStore

/// Asks the search's pruner, after each epoch's records are committed, whether the trial should
/// stop: the request is built from the store (the trial's objective per epoch and every other
/// drawn trial's, each the mean over its seeds). The training loop knows no pruner by name.
final class TrialPruning {
    let search: SearchPlan
    let store: RunStore
    let experimentID: Int64
    let trial: Int

    init(search: SearchPlan, store: RunStore, experimentID: Int64, trial: Int) {
        self.search = search
        self.store = store
        self.experimentID = experimentID
        self.trial = trial
    }

    /// The pruner's reason to stop after `epoch` of `epochs`, or nil to keep training.
    func reasonToStop(afterEpoch epoch: Int, of epochs: Int) throws(RunStop) -> String? {
        guard epoch < epochs else { return nil }
        let runs: [TrialRunRecord]
        do { runs = try store.trialRuns(experiment: experimentID, metric: search.metric) } catch { throw .store(error) }
        let records = TrialHistory.records(runs, search: search)
        guard var own = records.first(where: { $0.number == trial }) else { return nil }
        own.state = .running
        let request = PruneRequest(trial: own, epoch: epoch, epochs: epochs, direction: search.direction,
                                   history: records.filter { $0.number != trial })
        if case .prune(let reason) = search.pruner.decide(request) { return reason.isEmpty ? "stopped by the \(search.prunerName) pruner" : reason }
        return nil
    }
}
