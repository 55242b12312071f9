import ConvCore
import Foundation

/// TPE's distribution over a `choice` key's options (Optuna's categorical Parzen estimator): each
/// observation is a kernel that puts weight 1 on its option and priorWeight/(n + 1) on every
/// option, the prior is uniform, and the mixture weighs them as the numeric estimator does.
public struct CategoricalParzenEstimator: Sendable {
    /// The probability of each option, in the options' order; they sum to 1.
    public private(set) var probabilities: [Double]

    /// `observations` are option indices in 0..<options, each with its weight (≥ 0).
    public init(observations: [Int], observationWeights: [Double], options: Int, priorWeight: Double) {
        guard !observations.isEmpty else {
            probabilities = Array(repeating: 1 / Double(options), count: options)
            return
        }
        let floor = priorWeight / Double(observations.count + 1)
        let rowTotal = 1 + floor * Double(options)
        let mixtureTotal = observationWeights.reduce(0, +) + priorWeight
        var probabilities = Array(repeating: priorWeight / mixtureTotal / Double(options), count: options)
        for (option, weight) in zip(observations, observationWeights) {
            let share = weight / mixtureTotal / rowTotal
            for index in probabilities.indices { probabilities[index] += share * floor }
            probabilities[option] += share
        }
        self.probabilities = probabilities
    }

    public func sample(_ random: inout SplitMix64) -> Int {
        let pick = RandomSampler.unit(&random)
        var cumulative = 0.0
        for (index, probability) in probabilities.enumerated() {
            cumulative += probability
            if pick < cumulative { return index }
        }
        return probabilities.lastIndex { $0 > 0 } ?? 0
    }

    public func logProbability(_ option: Int) -> Double { log(probabilities[option]) }
}
