import ConvCore
import Foundation
import TextKit

/// The tree-structured Parzen estimator (Bergstra, Bardenet, Bengio & Kégl, "Algorithms for
/// hyper-parameter optimization", NeurIPS 2011), as Optuna's default sampler draws it: after
/// `startupTrials` random trials, the trials seen so far are ranked and split into the good
/// ⌈γ·n⌉ and the rest; each key gets a Parzen density l(x) from the good trials' values and g(x)
/// from the others', and of `candidates` draws from l the one with the largest log l − log g is
/// taken. Keys are modelled independently of each other (Optuna's default, `multivariate=False`).
public struct TPESampler: Sampler {
    public var startupTrials: Int
    /// The good share γ of the ranked trials, in (0, 1).
    public var gamma: Double
    public var candidates: Int
    /// The weight of each density's prior (a Gaussian as wide as the domain, or uniform over the
    /// options) against an observation's weight of at most 1; it keeps every value reachable.
    public var priorWeight: Double

    public init(startupTrials: Int = 10, gamma: Double = 0.25, candidates: Int = 24, priorWeight: Double = 1) {
        self.startupTrials = startupTrials
        self.gamma = gamma
        self.candidates = candidates
        self.priorWeight = priorWeight
    }

    /// The trials TPE learns from, split: `good` the best ⌈γ·n⌉ of the n ranked ones (never a
    /// trial without a usable value), `bad` the rest; both in trial-number order.
    public struct Split: Sendable, Equatable {
        public var good: [TrialRecord]
        public var bad: [TrialRecord]

        public init(good: [TrialRecord], bad: [TrialRecord]) {
            self.good = good
            self.bad = bad
        }
    }

    public func sample(_ request: SampleRequest, random: inout SplitMix64) -> SampledTrial {
        let seen = Self.ranked(request.history, request.direction)
        guard seen.count >= max(startupTrials, 1) else {
            let values = request.space.dimensions.map { RandomSampler.draw($0.domain, &random) }
            return SampledTrial(values: values, state: .obj([("phase", .string("startup")), ("seen", .int(seen.count))]))
        }
        let split = self.split(request.history, request.direction)
        let values = request.space.dimensions.indices.map { index in
            draw(request.space.dimensions[index].domain, at: index, split, &random)
        }
        return SampledTrial(values: values, state: .obj([
            ("phase", .string("tpe")),
            ("good", .arr(split.good.map { .int($0.number) })),
            ("bad_count", .int(split.bad.count)),
        ]))
    }

    /// The trials with a result, best first: completed ones by their value; then pruned ones, the
    /// later stopped first and by value among equals (Optuna's order: a trial pruned later got
    /// further, whatever its value); then failed ones and any without a finite value (a diverged
    /// trial counts as the worst). Running trials are left out. Ties keep trial-number order.
    public static func ranked(_ history: [TrialRecord], _ direction: ObjectiveDirection) -> [TrialRecord] {
        func tier(_ trial: TrialRecord) -> Int {
            guard let value = trial.lastValue, value.isFinite else { return 2 }
            switch trial.state {
            case .completed: return 0
            case .pruned: return 1
            case .failed, .running: return 2
            }
        }
        let seen = history.filter { $0.state != .running }.sorted { $0.number < $1.number }
        return seen.enumerated().sorted { first, second in
            let (a, b) = (first.element, second.element)
            let (tierA, tierB) = (tier(a), tier(b))
            if tierA != tierB { return tierA < tierB }
            if tierA == 1, a.lastEpoch != b.lastEpoch { return a.lastEpoch > b.lastEpoch }
            if tierA < 2, let x = a.lastValue, let y = b.lastValue, x != y { return direction.prefers(x, over: y) }
            return first.offset < second.offset
        }.map(\.element)
    }

    public func split(_ history: [TrialRecord], _ direction: ObjectiveDirection) -> Split {
        let ranked = Self.ranked(history, direction)
        let usable = ranked.filter { $0.state != .failed && ($0.lastValue?.isFinite ?? false) }.count
        let goodCount = min(usable, Int((gamma * Double(ranked.count)).rounded(.up)))
        return Split(good: ranked.prefix(goodCount).sorted { $0.number < $1.number },
                     bad: ranked.dropFirst(goodCount).sorted { $0.number < $1.number })
    }

    /// Optuna's default observation weights, oldest first: all 1 up to 25 observations; beyond,
    /// the oldest n − 25 ramp linearly from 1/n up to 1 so that old trials count less.
    public static func observationWeights(_ count: Int) -> [Double] {
        guard count > 25 else { return Array(repeating: 1, count: count) }
        let ramped = count - 25
        let start = 1 / Double(count)
        let ramp = ramped == 1 ? [start] : (0..<ramped).map { start + (1 - start) * Double($0) / Double(ramped - 1) }
        return ramp + Array(repeating: 1, count: 25)
    }

    private func draw(_ domain: SearchDimension.Domain, at index: Int, _ split: Split, _ random: inout SplitMix64) -> JSONValue {
        switch domain {
        case let .uniform(low, high):
            guard low < high else { return .number(low) }
            return .number(drawNumber(at: index, split, low: low, high: high, discrete: false, transform: { $0 }, &random))
        case let .logUniform(low, high):
            guard low < high, low > 0 else { return .number(low) }
            let x = drawNumber(at: index, split, low: log(low), high: log(high), discrete: false, transform: log, &random)
            return .number(min(high, max(low, exp(x))))
        case let .integer(low, high):
            guard low < high else { return .number(Double(low)) }
            return .number(drawNumber(at: index, split, low: Double(low) - 0.5, high: Double(high) + 0.5, discrete: true, transform: { $0 }, &random))
        case .choice(let options):
            guard options.count > 1 else { return options.first ?? .null }
            func estimator(_ trials: [TrialRecord]) -> CategoricalParzenEstimator {
                let (indices, weights) = Self.observed(trials, at: index) { value in options.firstIndex(of: value) }
                return CategoricalParzenEstimator(observations: indices, observationWeights: weights, options: options.count, priorWeight: priorWeight)
            }
            let (good, bad) = (estimator(split.good), estimator(split.bad))
            let best = bestCandidate(draw: { good.sample(&$0) }, score: { good.logProbability($0) - bad.logProbability($0) }, &random)
            return options[best]
        }
    }

    private func drawNumber(at index: Int, _ split: Split, low: Double, high: Double, discrete: Bool,
                            transform: (Double) -> Double, _ random: inout SplitMix64) -> Double {
        func estimator(_ trials: [TrialRecord]) -> NumericParzenEstimator {
            let (values, weights) = Self.observed(trials, at: index) { value -> Double? in
                guard case .number(let x) = value, x.isFinite else { return nil }
                let y = transform(x)
                return y.isFinite ? y : nil
            }
            return NumericParzenEstimator(observations: values, observationWeights: weights, low: low, high: high, discrete: discrete, priorWeight: priorWeight)
        }
        let (good, bad) = (estimator(split.good), estimator(split.bad))
        return bestCandidate(draw: { good.sample(&$0) }, score: { good.logDensity($0) - bad.logDensity($0) }, &random)
    }

    /// The trials' usable values of one key with their weights (a value a trial lacks or that
    /// is outside the key's type is skipped, its weight with it).
    private static func observed<T>(_ trials: [TrialRecord], at index: Int, _ read: (JSONValue) -> T?) -> ([T], [Double]) {
        let weights = observationWeights(trials.count)
        var kept: [T] = [], keptWeights: [Double] = []
        for (trial, weight) in zip(trials, weights) where index < trial.values.count {
            if let value = read(trial.values[index]) { kept.append(value); keptWeights.append(weight) }
        }
        return (kept, keptWeights)
    }

    /// Of `candidates` draws, the first with the highest score (log l − log g).
    private func bestCandidate<T>(draw: (inout SplitMix64) -> T, score: (T) -> Double, _ random: inout SplitMix64) -> T {
        var best = draw(&random)
        var bestScore = score(best)
        for _ in 1..<max(candidates, 1) {
            let candidate = draw(&random)
            let candidateScore = score(candidate)
            if candidateScore > bestScore || (bestScore.isNaN && !candidateScore.isNaN) {
                best = candidate
                bestScore = candidateScore
            }
        }
        return best
    }
}
