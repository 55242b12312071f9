import ConvLabKit
import Foundation
import Testing

@Suite("TPE: the good/bad split, the Parzen densities, and that it finds the better region")
struct TPESamplerTests {
    static func trial(_ number: Int, _ state: TrialRecord.State, _ values: [Int: Double], x: Double = 0) -> TrialRecord {
        TrialRecord(number: number, values: [.number(x)], state: state, intermediate: values)
    }

    /// Completed 1 (0.9), 2 (0.5), 7 (0.7); pruned 3 (0.95 at epoch 2), 4 (0.99 at epoch 1), 8
    /// (0.6 at epoch 2); failed 5; running 6 (0.99, not seen).
    static let history = [
        trial(1, .completed, [1: 0.3, 2: 0.6, 3: 0.9]), trial(2, .completed, [1: 0.2, 2: 0.4, 3: 0.5]),
        trial(3, .pruned, [1: 0.5, 2: 0.95]), trial(4, .pruned, [1: 0.99]), trial(5, .failed, [:]),
        trial(6, .running, [1: 0.99]), trial(7, .completed, [1: 0.1, 2: 0.2, 3: 0.7]), trial(8, .pruned, [1: 0.4, 2: 0.6]),
    ]

    @Test("ranking: completed by value, then pruned (later stopped first, then by value), then failed; running left out")
    func ranking() {
        #expect(TPESampler.ranked(Self.history, .maximize).map(\.number) == [1, 7, 2, 3, 8, 4, 5])
        #expect(TPESampler.ranked(Self.history, .minimize).map(\.number) == [2, 7, 1, 8, 3, 4, 5])
        // A completed trial without a finite value counts as failed: last, after trial 5 by number.
        let nan = Self.history + [Self.trial(9, .completed, [1: .nan, 2: .nan, 3: .nan])]
        #expect(TPESampler.ranked(nan, .maximize).map(\.number) == [1, 7, 2, 3, 8, 4, 5, 9])
    }

    @Test("split: the best ⌈γ·n⌉ are good, in trial order; a failed trial is never good")
    func split() {
        let quarter = TPESampler(gamma: 0.25).split(Self.history, .maximize)
        #expect(quarter.good.map(\.number) == [1, 7])
        #expect(quarter.bad.map(\.number) == [2, 3, 4, 5, 8])
        let half = TPESampler(gamma: 0.5).split(Self.history, .maximize)
        #expect(half.good.map(\.number) == [1, 2, 3, 7] && half.bad.map(\.number) == [4, 5, 8])
        #expect(TPESampler(gamma: 0.25).split(Self.history, .minimize).good.map(\.number) == [2, 7])
        // γ = 0.99 of 7 would take all 7: the failed trial stays bad.
        let almostAll = TPESampler(gamma: 0.99).split(Self.history, .maximize)
        #expect(almostAll.good.map(\.number) == [1, 2, 3, 4, 7, 8] && almostAll.bad.map(\.number) == [5])
        let onlyFailed = [Self.trial(1, .failed, [:]), Self.trial(2, .failed, [1: 0.5])]
        #expect(TPESampler().split(onlyFailed, .maximize) == TPESampler.Split(good: [], bad: onlyFailed))
    }

    @Test("split over random histories: good ∪ bad = the non-running trials; every good one ranks above every bad one")
    func splitProperties() {
        var random = SplitMix64(seed: 21)
        for round in 0..<300 {
            let space = Generators.space(&random)
            let history = Generators.history(space, count: Generators.below(40, &random), &random)
            let gamma = 0.05 + 0.9 * Generators.unit(&random)
            let direction = ObjectiveDirection.allCases[round % 2]
            let split = TPESampler(gamma: gamma).split(history, direction)
            let seen = history.filter { $0.state != .running }
            #expect(Set((split.good + split.bad).map(\.number)) == Set(seen.map(\.number)) && split.good.count + split.bad.count == seen.count)
            let usable = seen.filter { $0.state != .failed && ($0.lastValue?.isFinite ?? false) }.count
            #expect(split.good.count == min(usable, Int((gamma * Double(seen.count)).rounded(.up))))
            let rank = Dictionary(uniqueKeysWithValues: TPESampler.ranked(history, direction).enumerated().map { ($1.number, $0) })
            #expect((split.good.map { rank[$0.number]! }.max() ?? -1) < (split.bad.map { rank[$0.number]! }.min() ?? Int.max))
            #expect(split.good.allSatisfy { $0.state != .failed })
        }
    }

    @Test("start-up: random draws (the random sampler's, from the same generator) until startup_trials have a result, then TPE")
    func startup() {
        let space = SearchSpace([SearchDimension(key: "x", domain: .uniform(low: 0, high: 1)), SearchDimension(key: "k", domain: .choice([.number(1), .number(2)]))])
        let sampler = TPESampler(startupTrials: 5)
        var history = (1...4).map { Self.trial($0, .completed, [1: Double($0)]) } + [Self.trial(5, .running, [1: 9]), Self.trial(6, .running, [:])]
        var generator = SplitMix64(seed: 3), reference = SplitMix64(seed: 3)
        let early = sampler.sample(SampleRequest(trial: 7, space: space, direction: .maximize, history: history), random: &generator)
        #expect(early.values == StartupDraws.values(space, &reference))
        #expect(early.state == .obj([("phase", .string("startup")), ("seen", .int(4))]))
        history[4].state = .completed
        let later = sampler.sample(SampleRequest(trial: 7, space: space, direction: .maximize, history: history), random: &generator)
        let split = sampler.split(history, .maximize)
        #expect(split.good.map(\.number) == [4, 5])
        #expect(later.state == .obj([("phase", .string("tpe")), ("good", .arr([.int(4), .int(5)])), ("bad_count", .int(3))]))
    }

    @Test("bandwidths: the larger neighbour gap (prior mean and bounds included), clipped to [width/min(100, n+2), width]")
    func bandwidths() {
        // Centres 0.1, 0.15, 0.9 and the prior's 0.5 in [0, 1]: gaps 0.05 (the first keeps its inner
        // gap only), max(0.05, 0.35), max(0.4, 0.1) → 0.4 (the last keeps its inner gap); clipped at 1/5.
        let estimator = NumericParzenEstimator(observations: [0.1, 0.15, 0.9], observationWeights: [1, 1, 1], low: 0, high: 1, discrete: false, priorWeight: 1)
        #expect(zip(estimator.bandwidths, [0.2, 0.35, 0.4, 1]).allSatisfy { abs($0 - $1) < 1e-12 }, "\(estimator.bandwidths)")
        #expect(estimator.means == [0.1, 0.15, 0.9, 0.5] && estimator.weights == [0.25, 0.25, 0.25, 0.25])
        let priorOnly = NumericParzenEstimator(observations: [], observationWeights: [], low: -1, high: 3, discrete: false, priorWeight: 5)
        #expect(priorOnly.means == [1] && priorOnly.bandwidths == [4] && priorOnly.weights == [1])
    }

    @Test("densities: the continuous one integrates to 1 over its bounds, the discrete one's masses sum to 1")
    func normalised() {
        var random = SplitMix64(seed: 5)
        for _ in 0..<50 {
            let count = Generators.below(8, &random)
            let observations = (0..<count).map { _ in Generators.unit(&random) * 10 }
            let weights = (0..<count).map { _ in 0.1 + Generators.unit(&random) }
            let continuous = NumericParzenEstimator(observations: observations, observationWeights: weights, low: 0, high: 10, discrete: false, priorWeight: 0.5)
            let steps = 20000
            let integral = (0..<steps).reduce(0.0) { sum, i in sum + exp(continuous.logDensity((Double(i) + 0.5) * 10 / Double(steps))) * 10 / Double(steps) }
            #expect(abs(integral - 1) < 1e-3, "\(integral)")
            let discrete = NumericParzenEstimator(observations: observations.map { $0.rounded() }, observationWeights: weights, low: -0.5, high: 10.5, discrete: true, priorWeight: 0.5)
            let total = (0...10).reduce(0.0) { $0 + exp(discrete.logDensity(Double($1))) }
            #expect(abs(total - 1) < 1e-9, "\(total)")
        }
    }

    @Test("categorical: weight 1 on the observed option plus prior/(n+1) on each, and a uniform prior")
    func categorical() {
        let estimator = CategoricalParzenEstimator(observations: [0, 0, 2], observationWeights: [1, 1, 1], options: 3, priorWeight: 1)
        #expect(zip(estimator.probabilities, [10.0 / 21, 4.0 / 21, 7.0 / 21]).allSatisfy { abs($0 - $1) < 1e-12 }, "\(estimator.probabilities)")
        #expect(CategoricalParzenEstimator(observations: [], observationWeights: [], options: 4, priorWeight: 1).probabilities == [0.25, 0.25, 0.25, 0.25])
    }

    @Test("observation weights: 1 each up to 25, then the oldest ramp from 1/n to 1")
    func observationWeights() {
        #expect(TPESampler.observationWeights(25) == Array(repeating: 1, count: 25))
        let thirty = TPESampler.observationWeights(30)
        #expect(thirty.count == 30 && abs(thirty[0] - 1.0 / 30) < 1e-15 && thirty[4] == 1 && thirty.suffix(25).allSatisfy { $0 == 1 })
        #expect(thirty.prefix(5).enumerated().allSatisfy { $0.offset == 0 || $0.element > thirty[$0.offset - 1] })
        #expect(TPESampler.observationWeights(26) == [1.0 / 26] + Array(repeating: 1, count: 25))
    }

    /// One key, 40 trials spread over its domain, the objective best at one end: the 10 good trials
    /// (γ = 0.25) are those in the quarter `region` covers. Random draws land there a quarter of
    /// the time; TPE's 400 draws (each from its own trial generator, seed fixed) must land there
    /// at least 60 % of the time. With 400 draws the binomial spread is ±2.5 %: the margin is the
    /// method's, not luck's.
    static let regions: [(name: String, domain: SearchDimension.Domain, values: [JSONValue], score: @Sendable (JSONValue) -> Double, region: @Sendable (JSONValue) -> Bool)] = [
        ("uniform", .uniform(low: 0, high: 1), (1...40).map { .number((Double($0) - 0.5) / 40) },
         { -abs(number($0) - 0.125) }, { number($0) <= 0.25 }),
        ("log_uniform", .logUniform(low: 1e-4, high: 1), (1...40).map { .number(pow(10, -4 + 4 * (Double($0) - 0.5) / 40)) },
         { -abs(log10(number($0)) + 3.5) }, { number($0) <= 1e-3 }),
        ("int", .integer(low: 1, high: 20), (1...40).map { .number(Double(($0 - 1) % 20 + 1)) },
         { -abs(number($0) - 3) }, { number($0) <= 5 }),
        ("choice", .choice([.string("a"), .string("b"), .string("c"), .string("d")]), (0..<40).map { .string(["a", "b", "c", "d"][$0 % 4]) },
         { $0 == .string("a") ? 1 : 0 }, { $0 == .string("a") }),
    ]

    static func number(_ value: JSONValue) -> Double {
        if case .number(let x) = value { return x }
        return .nan
    }

    @Test("draws concentrate where the good trials are: ≥ 60 % in the good quarter (random: 25 %)",
          arguments: regions.indices, ObjectiveDirection.allCases)
    func concentrates(index: Int, direction: ObjectiveDirection) {
        let (name, domain, values, score, region) = Self.regions[index]
        let sign = direction == .maximize ? 1.0 : -1.0
        let history = values.enumerated().map { offset, value in
            TrialRecord(number: offset + 1, values: [value], state: .completed, intermediate: [1: sign * score(value)])
        }
        let space = SearchSpace([SearchDimension(key: "key", domain: domain)])
        let good = TPESampler().split(history, direction).good
        #expect(good.count == 10 && good.allSatisfy { region($0.values[0]) }, "\(name): the good trials are not the region's")
        var inside = 0
        for draw in 0..<400 {
            var generator = Generators.trialGenerator(seed: 0, trial: 1000 + draw)
            let value = TPESampler().sample(SampleRequest(trial: 41, space: space, direction: direction, history: history), random: &generator).values[0]
            if region(value) { inside += 1 }
        }
        #expect(inside >= 240, "\(name) \(direction): \(inside) of 400 draws in the good quarter")
    }
}

/// The random sampler's values for a space, drawn as TPE's start-up draws them.
enum StartupDraws {
    static func values(_ space: SearchSpace, _ random: inout SplitMix64) -> [JSONValue] {
        space.dimensions.map { RandomSampler.draw($0.domain, &random) }
    }
}
