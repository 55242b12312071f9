import Foundation

/// Asynchronous successive halving (Li et al., "A system for massively parallel hyperparameter
/// tuning", MLSys 2020), as Optuna's `SuccessiveHalvingPruner` applies it: rung k closes at epoch
/// minEpochs · η^(s + k) (s the minimum early-stopping rate); a trial reaching a rung goes on only
/// if its objective there is among the best ⌊n/η⌋ of the n values recorded at that rung by every
/// trial so far, itself included — and with fewer than η values, only if it is the best of them
/// (Optuna's rule: without pausing trials, the first ones are not promoted blindly). Between
/// rungs a trial keeps training.
public struct ASHAPruner: Pruner {
    public var minEpochs: Int
    /// η ≥ 2: about one trial in η goes on from each rung.
    public var eta: Int
    public var minEarlyStoppingRate: Int

    public init(minEpochs: Int = 1, eta: Int = 3, minEarlyStoppingRate: Int = 0) {
        self.minEpochs = minEpochs
        self.eta = eta
        self.minEarlyStoppingRate = minEarlyStoppingRate
    }

    /// The epochs where rungs close, up to `epochs`, in order.
    public func rungEpochs(upTo epochs: Int) -> [Int] {
        guard minEpochs >= 1, eta >= 2 else { return [] }
        var epoch = minEpochs
        for _ in 0..<max(minEarlyStoppingRate, 0) {
            let (next, overflow) = epoch.multipliedReportingOverflow(by: eta)
            if overflow || next > epochs { return [] }
            epoch = next
        }
        var rungs: [Int] = []
        while epoch <= epochs {
            rungs.append(epoch)
            let (next, overflow) = epoch.multipliedReportingOverflow(by: eta)
            if overflow { break }
            epoch = next
        }
        return rungs
    }

    /// How many of `count` values recorded at a rung go on: ⌊count/η⌋, at least 1.
    public func promoted(of count: Int) -> Int { max(1, count / max(eta, 2)) }

    public func decide(_ request: PruneRequest) -> PruneDecision {
        let epoch = request.epoch
        guard let rung = rungEpochs(upTo: epoch).firstIndex(of: epoch), let value = request.trial.intermediate[epoch] else {
            return .keepTraining
        }
        guard value.isFinite else { return .prune(reason: "the objective at rung \(rung) (epoch \(epoch)) is not a number") }
        let recorded = request.history
            .filter { $0.number != request.trial.number }
            .compactMap { $0.intermediate[epoch] }
            .filter(\.isFinite) + [value]
        let kept = promoted(of: recorded.count)
        let best = recorded.sorted { request.direction.prefers($0, over: $1) }
        let cutoff = best[kept - 1]
        guard request.direction.prefers(cutoff, over: value) else { return .keepTraining }
        return .prune(reason: "\(MedianPruner.short(value)) at rung \(rung) (epoch \(epoch)) is not among the best \(kept) of \(recorded.count) values there (cut-off \(MedianPruner.short(cutoff)))")
    }
}
