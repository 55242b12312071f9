import Foundation

/// The statistics of group comparisons, all in this one file with their sources. Two-sided tests,
/// 95 % intervals by default. `Tests/ReportsTests/StatisticsTests.swift` checks every function
/// against hand-computed values and SciPy's.
public enum Statistics {
    /// A confidence interval.
    public struct Interval: Sendable, Equatable {
        public var low: Double
        public var high: Double
        public func contains(_ x: Double) -> Bool { low <= x && x <= high }
    }

    /// n, mean, sample standard deviation and the Student-t interval of the mean.
    public struct Summary: Sendable, Equatable {
        public var n: Int
        public var mean: Double
        /// Sample standard deviation (divisor n − 1); nil for one value.
        public var sd: Double?
        /// mean ± t(1 − α/2, n − 1) · sd / √n; nil for one value, where it is unknown.
        public var interval: Interval?
    }

    /// A t statistic with its degrees of freedom, two-sided p-value and the interval of the
    /// difference it tests.
    public struct TTest: Sendable, Equatable {
        public var difference: Double
        public var standardError: Double
        public var degreesOfFreedom: Double
        public var t: Double
        public var p: Double
        public var interval: Interval
    }

    // MARK: descriptive

    public static func mean(_ values: [Double]) -> Double {
        values.reduce(0, +) / Double(values.count)
    }

    /// Sample variance with divisor n − 1 (nil below two values).
    public static func variance(_ values: [Double]) -> Double? {
        guard values.count > 1 else { return nil }
        let m = mean(values)
        return values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count - 1)
    }

    /// nil for no values.
    public static func summary(_ values: [Double], level: Double = 0.95) -> Summary? {
        guard !values.isEmpty else { return nil }
        let m = mean(values)
        guard let v = variance(values) else { return Summary(n: 1, mean: m, sd: nil, interval: nil) }
        let sd = v.squareRoot()
        let half = studentTQuantile(1 - (1 - level) / 2, degreesOfFreedom: Double(values.count - 1)) * sd / Double(values.count).squareRoot()
        return Summary(n: values.count, mean: m, sd: sd, interval: Interval(low: m - half, high: m + half))
    }

    // MARK: tests of a difference

    /// Welch's t-test of mean(x) − mean(y) without assuming equal variances, with the
    /// Welch–Satterthwaite degrees of freedom (Welch 1947, "The generalization of 'Student's'
    /// problem when several different population variances are involved", Biometrika 34;
    /// as `scipy.stats.ttest_ind(x, y, equal_var=False)`). nil when a group has fewer than two
    /// values or neither group varies.
    public static func welch(_ x: [Double], minus y: [Double], level: Double = 0.95) -> TTest? {
        guard let vx = variance(x), let vy = variance(y) else { return nil }
        let (nx, ny) = (Double(x.count), Double(y.count))
        let (ax, ay) = (vx / nx, vy / ny)
        let se = (ax + ay).squareRoot()
        guard se > 0 else { return nil }
        let df = (ax + ay) * (ax + ay) / (ax * ax / (nx - 1) + ay * ay / (ny - 1))
        return tTest(difference: mean(x) - mean(y), standardError: se, degreesOfFreedom: df, level: level)
    }

    /// The paired t-test: a one-sample t-test of the differences x_i − y_i against 0, n − 1
    /// degrees of freedom (Student 1908; as `scipy.stats.ttest_rel(x, y)`). nil below two pairs or
    /// when every difference is the same.
    public static func pairedT(_ differences: [Double], level: Double = 0.95) -> TTest? {
        guard let v = variance(differences) else { return nil }
        let se = (v / Double(differences.count)).squareRoot()
        guard se > 0 else { return nil }
        return tTest(difference: mean(differences), standardError: se, degreesOfFreedom: Double(differences.count - 1), level: level)
    }

    static func tTest(difference: Double, standardError: Double, degreesOfFreedom df: Double, level: Double) -> TTest {
        let t = difference / standardError
        let half = studentTQuantile(1 - (1 - level) / 2, degreesOfFreedom: df) * standardError
        return TTest(difference: difference, standardError: standardError, degreesOfFreedom: df, t: t,
                     p: studentTTwoSidedP(t, degreesOfFreedom: df), interval: Interval(low: difference - half, high: difference + half))
    }

    /// The largest number of pairs the exact sign-flip test enumerates (2^20 sign patterns).
    public static let signFlipLimit = 20

    /// The exact sign-flip permutation test of paired differences (Fisher 1935, "The Design of
    /// Experiments", §21): under "no difference" each difference is as likely positive as
    /// negative, so p is the share of the 2^n sign patterns whose |sum| is at least the observed
    /// |sum|. The smallest p it can give is 2/2^n (0.25 for three pairs). nil for no pairs or more
    /// than `signFlipLimit`.
    public static func signFlipP(_ differences: [Double]) -> Double? {
        guard !differences.isEmpty, differences.count <= signFlipLimit else { return nil }
        let observed = abs(differences.reduce(0, +))
        // Sums that differ from the observed one only by rounding count as equal.
        let tolerance = 1e-12 * differences.reduce(0) { $0 + abs($1) }
        let patterns = 1 << differences.count
        var atLeast = 0
        for pattern in 0..<patterns {
            var sum = 0.0
            for (i, d) in differences.enumerated() { sum += pattern & (1 << i) == 0 ? d : -d }
            if abs(sum) >= observed - tolerance { atLeast += 1 }
        }
        return Double(atLeast) / Double(patterns)
    }

    /// Hedges' g: Cohen's d of mean(x) − mean(y) over the pooled standard deviation, times the
    /// small-sample correction J = 1 − 3 / (4(n_x + n_y) − 9) (Hedges 1981, J. Educational
    /// Statistics 6; Borenstein et al. 2009, "Introduction to Meta-Analysis", eq. 4.18–4.23).
    /// nil when the pooled standard deviation is 0 or undefined.
    public static func hedgesG(_ x: [Double], minus y: [Double]) -> Double? {
        guard !x.isEmpty, !y.isEmpty, x.count + y.count > 2 else { return nil }
        let (nx, ny) = (Double(x.count), Double(y.count))
        let pooled = (((nx - 1) * (variance(x) ?? 0) + (ny - 1) * (variance(y) ?? 0)) / (nx + ny - 2)).squareRoot()
        guard pooled > 0 else { return nil }
        return (mean(x) - mean(y)) / pooled * (1 - 3 / (4 * (nx + ny) - 9))
    }

    /// Holm's step-down adjustment of several p-values (Holm 1979, "A simple sequentially
    /// rejective multiple test procedure", Scand. J. Statistics 6): the i-th smallest of m is
    /// multiplied by m − i + 1, kept at least as large as the one before, capped at 1. Rejecting
    /// where the adjusted p < α keeps the family-wise error rate at α. Same order as the input.
    public static func holm(_ p: [Double]) -> [Double] {
        let order = p.indices.sorted { p[$0] < p[$1] }
        var adjusted = p
        var running = 0.0
        for (rank, index) in order.enumerated() {
            running = max(running, min(1, Double(p.count - rank) * p[index]))
            adjusted[index] = running
        }
        return adjusted
    }

    // MARK: Student's t distribution

    /// P(|T| ≥ |t|) for T with ν degrees of freedom: I_{ν/(ν+t²)}(ν/2, 1/2)
    /// (Abramowitz & Stegun 1964, 26.7.1 with 26.5.27).
    public static func studentTTwoSidedP(_ t: Double, degreesOfFreedom df: Double) -> Double {
        guard t.isFinite else { return t.isNaN ? .nan : 0 }
        return regularizedIncompleteBeta(df / (df + t * t), a: df / 2, b: 0.5)
    }

    /// P(T ≤ t).
    public static func studentTCDF(_ t: Double, degreesOfFreedom df: Double) -> Double {
        let tail = studentTTwoSidedP(t, degreesOfFreedom: df) / 2
        return t >= 0 ? 1 - tail : tail
    }

    /// The t with P(T ≤ t) = p, found by bisection of `studentTCDF` (monotone) to the precision of
    /// a Double: computed, not looked up in a table, so any degrees of freedom (Welch's are not
    /// whole) gets its own quantile.
    public static func studentTQuantile(_ p: Double, degreesOfFreedom df: Double) -> Double {
        guard p > 0, p < 1, df > 0 else { return p == 0 ? -.infinity : p == 1 ? .infinity : .nan }
        if p < 0.5 { return -studentTQuantile(1 - p, degreesOfFreedom: df) }
        var low = 0.0, high = 1.0
        while studentTCDF(high, degreesOfFreedom: df) < p, high < 1e300 { high *= 2 }
        for _ in 0..<2000 {
            let middle = (low + high) / 2
            guard middle > low, middle < high else { break }
            if studentTCDF(middle, degreesOfFreedom: df) < p { low = middle } else { high = middle }
        }
        return (low + high) / 2
    }

    /// The regularized incomplete beta function I_x(a, b) by its continued fraction, evaluated
    /// with the modified Lentz method (Press et al., "Numerical Recipes", 3rd ed. 2007, §6.4,
    /// `betai`/`betacf`); the symmetry I_x(a, b) = 1 − I_{1−x}(b, a) keeps the fraction where it
    /// converges fast.
    public static func regularizedIncompleteBeta(_ x: Double, a: Double, b: Double) -> Double {
        guard x > 0 else { return 0 }
        guard x < 1 else { return 1 }
        let front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x))
        if x < (a + 1) / (a + b + 2) { return front * betaContinuedFraction(x, a: a, b: b) / a }
        return 1 - front * betaContinuedFraction(1 - x, a: b, b: a) / b
    }

    static func betaContinuedFraction(_ x: Double, a: Double, b: Double) -> Double {
        let tiny = 1e-300
        func nonZero(_ v: Double) -> Double { abs(v) < tiny ? tiny : v }
        var c = 1.0
        var d = 1 / nonZero(1 - (a + b) * x / (a + 1))
        var h = d
        for m in 1...10_000 {
            let m = Double(m)
            let even = m * (b - m) * x / ((a - 1 + 2 * m) * (a + 2 * m))
            d = 1 / nonZero(1 + even * d)
            c = nonZero(1 + even / c)
            h *= d * c
            let odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 1 + 2 * m))
            d = 1 / nonZero(1 + odd * d)
            c = nonZero(1 + odd / c)
            let step = d * c
            h *= step
            if abs(step - 1) < 1e-16 { break }
        }
        return h
    }
}
