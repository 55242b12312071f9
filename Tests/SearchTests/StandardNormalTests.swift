import ConvLabKit
import Foundation
import Testing

@Suite("the standard normal functions the Parzen estimators use")
struct StandardNormalTests {
    /// Up to z = 4: beyond, Φ(z) itself rounds to within 1e-16 of 1 and no inverse can recover z.
    @Test("quantile inverts Φ to 1e-9 from z = −8 to 4, and Φ(0) = ½")
    func quantileInvertsCDF() {
        #expect(StandardNormal.cdf(0) == 0.5)
        for step in 0...1200 {
            let z = -8 + Double(step) * 0.01
            let back = StandardNormal.quantile(StandardNormal.cdf(z))
            #expect(abs(back - z) < 1e-9 * max(1, abs(z)), "z = \(z): \(back)")
        }
        #expect(StandardNormal.quantile(0) == -.infinity && StandardNormal.quantile(1) == .infinity)
        // Known values: Φ⁻¹(0.975) = 1.959963984540054, Φ⁻¹(0.001) = −3.090232306167813.
        #expect(abs(StandardNormal.quantile(0.975) - 1.959963984540054) < 1e-12)
        #expect(abs(StandardNormal.quantile(0.001) + 3.090232306167813) < 1e-12)
    }

    @Test("log mass of [a, b] matches log(Φ(b) − Φ(a)), and stays finite and ordered deep in the tails")
    func logMass() {
        var random = SplitMix64(seed: 11)
        for _ in 0..<2000 {
            let a = (Generators.unit(&random) - 0.5) * 12
            let b = a + Generators.unit(&random) * 4 + 1e-3
            // Φ(b) − Φ(a) directly, mirrored into the lower tail when both are positive (where Φ keeps its digits).
            let direct = a > 0 ? log(StandardNormal.cdf(-a) - StandardNormal.cdf(-b)) : log(StandardNormal.cdf(b) - StandardNormal.cdf(a))
            #expect(abs(StandardNormal.logMass(a, b) - direct) < 1e-9 * max(1, abs(direct)), "[\(a), \(b)]")
        }
        // Far out, where Φ(b) − Φ(a) underflows: finite, symmetric, and smaller further out.
        let far = StandardNormal.logMass(60, 61), further = StandardNormal.logMass(80, 81)
        #expect(far.isFinite && further.isFinite && further < far)
        #expect(StandardNormal.logMass(-61, -60) == far)
        // Past erfc's range, against the asymptotic series Q(z) = φ(z)/z · (1 − 1/z² + 3/z⁴ − 15/z⁶ …).
        func logTail(_ z: Double) -> Double {
            StandardNormal.logDensity(z) - log(z) + log(1 - 1 / (z * z) + 3 / pow(z, 4) - 15 / pow(z, 6))
        }
        for (a, b) in [(40.0, 40.5), (45.0, 45.01), (100.0, 130.0)] {
            let reference = logTail(a) + log1p(-exp(logTail(b) - logTail(a)))
            #expect(abs(StandardNormal.logMass(a, b) - reference) < 1e-3, "[\(a), \(b)]")
        }
        #expect(StandardNormal.logMass(1, 1) == -.infinity)
    }
}
