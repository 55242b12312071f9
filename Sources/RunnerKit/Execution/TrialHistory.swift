import ConvLabKit
import RunStore

/// A search's trials as samplers and pruners see them, built from the store's runs: a trial's
/// values from its variant, its state from its runs' statuses, and its objective at epoch e the
/// mean over its runs (its seeds) of their metric at e.
enum TrialHistory {
    /// Every drawn trial, in number order.
    static func records(_ runs: [TrialRunRecord], search: SearchPlan) -> [TrialRecord] {
        let byTrial = Dictionary(grouping: runs.filter(\.drawn), by: \.trial)
        return byTrial.keys.sorted().compactMap { number in
            guard let runs = byTrial[number], let first = runs.first, let values = search.values(fromVariant: first.variant) else { return nil }
            return TrialRecord(number: number, values: values, state: state(runs.map(\.status)), intermediate: mean(runs.map(\.objective)))
        }
    }

    static func state(_ statuses: [RunStatus]) -> TrialRecord.State {
        if statuses.contains(where: { $0 == .failed || $0 == .diverged }) { return .failed }
        if statuses.contains(.pruned) { return .pruned }
        if statuses.allSatisfy({ $0 == .completed }) { return .completed }
        return .running
    }

    /// Per epoch, the mean of the runs that have a value there.
    static func mean(_ objectives: [[Int: Double]]) -> [Int: Double] {
        var sums: [Int: (sum: Double, count: Int)] = [:]
        for objective in objectives {
            for (epoch, value) in objective { sums[epoch, default: (0, 0)] = (sums[epoch, default: (0, 0)].sum + value, sums[epoch, default: (0, 0)].count + 1) }
        }
        return sums.mapValues { $0.sum / Double($0.count) }
    }
}
