import ConvLabKit
import Foundation
import Testing

@Suite("TPE against random on a synthetic objective")
struct TPEBowlTests {
    /// A bowl in log₁₀ learning rate (best at 10⁻²) and momentum (best at 0.9), 0 at its bottom.
    static func objective(_ values: [JSONValue]) -> Double {
        guard case .number(let rate) = values[0], case .number(let momentum) = values[1] else { return -.infinity }
        let a = (log10(rate) + 2) / 4, b = (momentum - 0.9) / 0.99
        return -(a * a + b * b)
    }

    static let space = SearchSpace([
        SearchDimension(key: "optimizer.learning_rate", domain: .logUniform(low: 1e-4, high: 1)),
        SearchDimension(key: "optimizer.momentum", domain: .uniform(low: 0, high: 0.99)),
    ])

    /// A sequential search of `trials` trials: each drawn from its own generator after all earlier ones completed.
    static func best(_ sampler: any Sampler, seed: UInt64, trials: Int = 40) -> Double {
        var history: [TrialRecord] = []
        for number in 1...trials {
            var generator = Generators.trialGenerator(seed: seed, trial: number)
            let values = sampler.sample(SampleRequest(trial: number, space: space, direction: .maximize, history: history), random: &generator).values
            history.append(TrialRecord(number: number, values: values, state: .completed, intermediate: [1: objective(values)]))
        }
        return history.compactMap(\.lastValue).max() ?? -.infinity
    }

    /// The rule: over search seeds 0…9, TPE's best of 40 trials beats random's best of 40 on at
    /// least 8 seeds (random's own trials are the same for both during TPE's 10 start-up trials,
    /// so TPE can only win with the 30 it models).
    @Test("TPE's best after 40 trials beats random's on at least 8 of 10 seeds")
    func beatsRandom() {
        let outcomes = (0..<10).map { seed in (tpe: Self.best(TPESampler(), seed: UInt64(seed)), random: Self.best(RandomSampler(), seed: UInt64(seed))) }
        let wins = outcomes.filter { $0.tpe > $0.random }.count
        #expect(wins >= 8, "TPE won \(wins) of 10: \(outcomes)")
    }
}
