import Foundation

/// The median stopping rule (Golovin et al., "Google Vizier", KDD 2017; Optuna's `MedianPruner`):
/// after `warmupEpochs`, a trial whose objective at epoch e is worse than the median of the
/// completed trials' objectives at e is stopped, once at least `minTrials` of them have one.
/// Only completed trials count, as in Optuna: the rule then depends on finished results alone,
/// not on how far the running trials of other processes happen to be.
public struct MedianPruner: Pruner {
    public var warmupEpochs: Int
    public var minTrials: Int

    public init(warmupEpochs: Int = 1, minTrials: Int = 3) {
        self.warmupEpochs = warmupEpochs
        self.minTrials = minTrials
    }

    public func decide(_ request: PruneRequest) -> PruneDecision {
        let epoch = request.epoch
        guard epoch > warmupEpochs, let value = request.trial.intermediate[epoch] else { return .keepTraining }
        let others = request.history
            .filter { $0.number != request.trial.number && $0.state == .completed }
            .compactMap { $0.intermediate[epoch] }
            .filter(\.isFinite)
        guard others.count >= max(minTrials, 1) else { return .keepTraining }
        guard value.isFinite else { return .prune(reason: "the objective at epoch \(epoch) is not a number") }
        let median = Self.median(others)
        guard request.direction.prefers(median, over: value) else { return .keepTraining }
        let side = request.direction == .maximize ? "below" : "above"
        return .prune(reason: "\(Self.short(value)) is \(side) the median \(Self.short(median)) of \(others.count) completed trials at epoch \(epoch)")
    }

    /// The middle value, or the mean of the two middle ones.
    public static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : 0.5 * (sorted[middle - 1] + sorted[middle])
    }

    static func short(_ value: Double) -> String { String(format: "%.4g", value) }
}
