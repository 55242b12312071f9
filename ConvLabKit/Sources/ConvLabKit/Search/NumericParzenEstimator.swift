import ConvCore
import Foundation

/// A mixture of Gaussians truncated to [low, high], one per observation plus a wide prior one:
/// TPE's density of one numeric key (Bergstra et al. 2011, with Optuna's bandwidths). Works in
/// whatever space it is given (the logarithm for log-uniform keys). `discrete` makes it a density
/// over the integers: `low`/`high` are then the integer range widened by ½, and `logDensity(k)`
/// is the log of the mass of [k − ½, k + ½].
public struct NumericParzenEstimator: Sendable {
    public var low: Double
    public var high: Double
    public var discrete: Bool
    public private(set) var means: [Double]
    public private(set) var bandwidths: [Double]
    /// Normalised mixture weights, the prior's last.
    public private(set) var weights: [Double]

    /// `observations` with their `observationWeights` (each ≥ 0); `priorWeight` weighs the prior
    /// N((low + high)/2, high − low). With no observations the prior alone remains. Requires low < high.
    public init(observations: [Double], observationWeights: [Double], low: Double, high: Double, discrete: Bool, priorWeight: Double) {
        self.low = low
        self.high = high
        self.discrete = discrete
        let width = high - low
        let priorMean = 0.5 * (low + high)
        let clamped = observations.map { min(high, max(low, $0)) }
        means = clamped + [priorMean]
        bandwidths = Self.bandwidths(clamped, priorMean: priorMean, low: low, high: high) + [width]
        let raw = clamped.isEmpty ? [1] : observationWeights + [priorWeight]
        let total = raw.reduce(0, +)
        weights = raw.map { $0 / total }
    }

    /// Each observation's bandwidth: the larger gap to its neighbours among the observations,
    /// the prior's mean and the bounds, the outermost using their inner gap only; clipped to
    /// [(high − low)/min(100, n + 2), high − low] ("magic clip"), so no kernel is a spike.
    static func bandwidths(_ observations: [Double], priorMean: Double, low: Double, high: Double) -> [Double] {
        guard !observations.isEmpty else { return [] }
        let centres = observations + [priorMean]
        let order = centres.indices.sorted { (centres[$0], $0) < (centres[$1], $1) }
        let points: [Double] = [low] + order.map { centres[$0] } + [high]
        var sorted: [Double] = (1..<points.count - 1).map { (i: Int) -> Double in
            let below = points[i] - points[i - 1]
            let above = points[i + 1] - points[i]
            return max(below, above)
        }
        if points.count >= 4 {
            sorted[0] = points[2] - points[1]
            sorted[sorted.count - 1] = points[points.count - 2] - points[points.count - 3]
        }
        var byCentre = [Double](repeating: 0, count: centres.count)
        for (rank, index) in order.enumerated() { byCentre[index] = sorted[rank] }
        let width = high - low
        let smallest = width / min(100, Double(observations.count + 2))
        return byCentre.prefix(observations.count).map { min(width, max(smallest, $0)) }
    }

    /// One draw: a kernel by weight, then a value from its truncated Gaussian by inverting Φ
    /// (every kernel's mean lies inside the bounds, so the inverted interval holds Φ(0)).
    /// Discrete estimators return the nearest integer.
    public func sample(_ random: inout SplitMix64) -> Double {
        let pick = RandomSampler.unit(&random)
        var kernel = weights.count - 1
        var cumulative = 0.0
        for (index, weight) in weights.enumerated() {
            cumulative += weight
            if pick < cumulative { kernel = index; break }
        }
        let mean = means[kernel], bandwidth = bandwidths[kernel]
        let a = (low - mean) / bandwidth, b = (high - mean) / bandwidth
        let lower = StandardNormal.cdf(a), upper = StandardNormal.cdf(b)
        let z = min(b, max(a, StandardNormal.quantile(lower + (upper - lower) * RandomSampler.unit(&random))))
        let x = min(high, max(low, mean + bandwidth * z))
        return discrete ? min(high - 0.5, max(low + 0.5, x.rounded())) : x
    }

    /// log of the mixture's density at `x` (its mass at the integer `x` when discrete).
    public func logDensity(_ x: Double) -> Double {
        var terms: [Double] = []
        terms.reserveCapacity(means.count)
        for ((mean, bandwidth), weight) in zip(zip(means, bandwidths), weights) where weight > 0 {
            let normaliser = StandardNormal.logMass((low - mean) / bandwidth, (high - mean) / bandwidth)
            let kernel = discrete
                ? StandardNormal.logMass((x - 0.5 - mean) / bandwidth, (x + 0.5 - mean) / bandwidth)
                : StandardNormal.logDensity((x - mean) / bandwidth) - log(bandwidth)
            terms.append(log(weight) + kernel - normaliser)
        }
        return Self.logSumExp(terms)
    }

    static func logSumExp(_ terms: [Double]) -> Double {
        guard let largest = terms.max(), largest > -.infinity else { return -.infinity }
        return largest + log(terms.reduce(0) { $0 + exp($1 - largest) })
    }
}
