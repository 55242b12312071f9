import Foundation
import Testing
@testable import Reports
import TestSupport

/// `Statistics` against hand-computed values and SciPy 1.17.1's. The SciPy figures were produced by:
///
/// ```python
/// import numpy as np
/// from scipy import stats, special
/// a = [0.8855, 0.8775, 0.8721, 0.8855, 0.8791]; b = [0.8814, 0.8770, 0.8702]
/// r = stats.ttest_ind(a, b, equal_var=False); ci = r.confidence_interval(0.95)
/// print(r.statistic, r.pvalue, r.df, ci.low, ci.high)
/// x = [0.8791, 0.8801, 0.8755, 0.8830]; y = [0.8770, 0.8760, 0.8768, 0.8790]
/// r = stats.ttest_rel(x, y); ci = r.confidence_interval(0.95)
/// print(r.statistic, r.pvalue, r.df, ci.low, ci.high)
/// print(stats.permutation_test((x, y), lambda u, v: np.mean(u - v), permutation_type='samples', n_resamples=np.inf).pvalue)
/// print(stats.permutation_test((np.array([0.3, -0.1, 0.4, 0.2, 0.5]),), np.mean, permutation_type='samples', n_resamples=np.inf).pvalue)
/// for df in [1, 2, 3, 4.5, 10, 30, 1000]: print(df, stats.t.ppf(0.975, df))
/// print(stats.t.cdf(-2.5, 3), stats.t.cdf(1.3, 7.25))
/// print(special.betainc(2.5, 0.5, 0.3), special.betainc(10, 3, 0.9))
/// print(np.mean(a), np.std(a, ddof=1), stats.t.interval(0.95, len(a) - 1, loc=np.mean(a), scale=stats.sem(a)))
/// ```
@Suite("Statistics")
struct StatisticsTests {
    let a = [0.8855, 0.8775, 0.8721, 0.8855, 0.8791]
    let b = [0.8814, 0.8770, 0.8702]
    let x = [0.8791, 0.8801, 0.8755, 0.8830]
    let y = [0.8770, 0.8760, 0.8768, 0.8790]

    func close(_ value: Double?, _ expected: Double, _ tolerance: Double = 1e-9) -> Bool {
        guard let value else { return false }
        return abs(value - expected) <= tolerance * max(1, abs(expected))
    }

    @Test("Student-t quantiles and distribution function match SciPy's t.ppf and t.cdf")
    func studentT() {
        let ppf: [(Double, Double)] = [(1, 12.706204736174694), (2, 4.302652729749462), (3, 3.1824463052837078), (4.5, 2.6589123472044034),
                                       (10, 2.228138851986274), (30, 2.0422724563012378), (1000, 1.9623390808264083)]
        for (df, expected) in ppf {
            #expect(close(Statistics.studentTQuantile(0.975, degreesOfFreedom: df), expected), "df \(df)")
            #expect(close(Statistics.studentTQuantile(0.025, degreesOfFreedom: df), -expected), "df \(df)")
        }
        #expect(close(Statistics.studentTCDF(-2.5, degreesOfFreedom: 3), 0.04385332350403278))
        #expect(close(Statistics.studentTCDF(1.3, degreesOfFreedom: 7.25), 0.8832981830783054))
        // By hand: with one degree of freedom T is Cauchy, P(T ≤ 1) = 1/2 + atan(1)/π = 3/4.
        #expect(close(Statistics.studentTCDF(1, degreesOfFreedom: 1), 0.75, 1e-12))
        #expect(Statistics.studentTTwoSidedP(0, degreesOfFreedom: 5) == 1)
    }

    @Test("the regularized incomplete beta function matches SciPy's betainc and simple closed forms")
    func incompleteBeta() {
        #expect(close(Statistics.regularizedIncompleteBeta(0.3, a: 2.5, b: 0.5), 0.018927124071945658))
        #expect(close(Statistics.regularizedIncompleteBeta(0.9, a: 10, b: 3), 0.889130022255))
        // By hand: I_x(1, 1) = x and I_x(2, 1) = x².
        #expect(close(Statistics.regularizedIncompleteBeta(0.37, a: 1, b: 1), 0.37, 1e-12))
        #expect(close(Statistics.regularizedIncompleteBeta(0.6, a: 2, b: 1), 0.36, 1e-12))
        #expect(Statistics.regularizedIncompleteBeta(0, a: 2, b: 3) == 0 && Statistics.regularizedIncompleteBeta(1, a: 2, b: 3) == 1)
    }

    @Test("a group's summary: n, mean, sample sd and the Student-t interval (SciPy's t.interval); one value has no interval")
    func summary() throws {
        let s = try #require(Statistics.summary(a))
        #expect(s.n == 5 && close(s.mean, 0.87994) && close(s.sd, 0.005699824558703528))
        #expect(close(s.interval?.low, 0.8728627330493802) && close(s.interval?.high, 0.8870172669506199))
        // By hand: 1, 2, 3 → mean 2, sd 1, half-width t(0.975, 2)/√3 = 4.302652729749462/√3.
        let h = try #require(Statistics.summary([1, 2, 3]))
        #expect(h.sd == 1 && close(h.interval?.high, 2 + 4.302652729749462 / 3.0.squareRoot()))
        let one = try #require(Statistics.summary([0.88]))
        #expect(one.n == 1 && one.sd == nil && one.interval == nil)
        #expect(Statistics.summary([]) == nil)
    }

    @Test("Welch's t-test matches SciPy's ttest_ind(equal_var=False): t, df, p and the interval of the difference")
    func welch() throws {
        let w = try #require(Statistics.welch(a, minus: b))
        #expect(close(w.t, 0.9041380624697997) && close(w.degreesOfFreedom, 4.378005534779054) && close(w.p, 0.41290745297351894))
        #expect(close(w.interval.low, -0.007364162952852105) && close(w.interval.high, 0.014844162952852258))
        #expect(close(w.difference, 0.87994 - (0.8814 + 0.8770 + 0.8702) / 3))
        #expect(Statistics.welch([1], minus: [1, 2]) == nil)          // one value: no variance, no test
        #expect(Statistics.welch([1, 1], minus: [2, 2]) == nil)       // no spread at all: no test
    }

    @Test("the paired t-test matches SciPy's ttest_rel")
    func paired() throws {
        let differences = zip(x, y).map { $0 - $1 }
        let p = try #require(Statistics.pairedT(differences))
        #expect(close(p.t, 1.7632695357519668) && p.degreesOfFreedom == 3 && close(p.p, 0.17605502658528283))
        #expect(close(p.interval.low, -0.0017908029647103647) && close(p.interval.high, 0.006240802964710319))
        #expect(Statistics.pairedT([0.1]) == nil && Statistics.pairedT([0.1, 0.1]) == nil)
    }

    @Test("the exact sign-flip test: by hand and as SciPy's permutation_test")
    func signFlip() {
        // By hand: ±1 ±2 ±3 has sums ±6, ±4, ±2, 0, 0; |sum| ≥ 6 in 2 of 8 patterns.
        #expect(Statistics.signFlipP([1, 2, 3]) == 0.25)
        #expect(Statistics.signFlipP([1, -1]) == 1)
        #expect(Statistics.signFlipP(zip(x, y).map { $0 - $1 }) == 0.25)
        #expect(Statistics.signFlipP([0.3, -0.1, 0.4, 0.2, 0.5]) == 0.125)
        #expect(Statistics.signFlipP([]) == nil)
        #expect(Statistics.signFlipP(Array(repeating: 1, count: Statistics.signFlipLimit + 1)) == nil)
    }

    @Test("Hedges' g and Holm's adjustment, by hand")
    func effectSizeAndHolm() {
        // Means 2 and 4, both sds 1: d = −2, J = 1 − 3/(4·6 − 9) = 0.8, g = −1.6.
        #expect(close(Statistics.hedgesG([1, 2, 3], minus: [3, 4, 5]), -1.6, 1e-12))
        #expect(Statistics.hedgesG([1], minus: [2]) == nil && Statistics.hedgesG([1, 1], minus: [1, 1]) == nil)
        // 0.01·3 = 0.03; 0.03·2 = 0.06; 0.04·1 = 0.04, raised to the 0.06 before it.
        let adjusted = Statistics.holm([0.01, 0.04, 0.03])
        #expect(zip(adjusted, [0.03, 0.06, 0.06]).allSatisfy { close($0, $1, 1e-12) })
        #expect(Statistics.holm([0.6, 0.7]) == [1, 1] && Statistics.holm([0.02]) == [0.02])
    }

    @Test("property: Welch's p is the same either way round, the difference flips, and each interval holds its difference")
    func properties() throws {
        var generator = SplitMix(seed: 18)
        for _ in 0..<200 {
            let first = (0..<Int.random(in: 2...8, using: &generator)).map { _ in Double.random(in: 0.8...0.9, using: &generator) }
            let second = (0..<Int.random(in: 2...8, using: &generator)).map { _ in Double.random(in: 0.8...0.9, using: &generator) }
            let forward = try #require(Statistics.welch(first, minus: second))
            let backward = try #require(Statistics.welch(second, minus: first))
            #expect(close(forward.p, backward.p, 1e-12) && close(forward.difference, -backward.difference, 1e-12))
            #expect(forward.interval.contains(forward.difference) && (0...1).contains(forward.p))
            // A t-test's 95 % interval excludes 0 exactly when p < 0.05.
            if abs(forward.p - 0.05) > 1e-6 { #expect((forward.p < 0.05) == !forward.interval.contains(0)) }
            let count = min(first.count, second.count)
            let differences = (0..<count).map { first[$0] - second[$0] }
            let paired = try #require(Statistics.pairedT(differences))
            #expect(paired.interval.contains(paired.difference))
            let flips = try #require(Statistics.signFlipP(differences))
            #expect(flips >= 2 / Double(1 << count) && flips <= 1)
            #expect(Statistics.signFlipP(differences.map { -$0 }) == flips)
        }
    }
}

