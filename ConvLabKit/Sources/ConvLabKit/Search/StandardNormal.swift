import Foundation

/// The standard normal distribution's density, distribution function and quantile, as the
/// truncated Gaussians of the Parzen estimators need them.
public enum StandardNormal {
    static let logSquareRootOfTwoPi = 0.5 * log(2 * Double.pi)

    public static func logDensity(_ z: Double) -> Double { -0.5 * z * z - logSquareRootOfTwoPi }

    /// Φ(z).
    public static func cdf(_ z: Double) -> Double { 0.5 * erfc(-z / 2.0.squareRoot()) }

    /// log(Φ(b) − Φ(a)) for a ≤ b, computed in the tail both lie in so that a mass far from the
    /// mean keeps its digits; past erfc's range it falls back to Mills' ratio.
    public static func logMass(_ a: Double, _ b: Double) -> Double {
        guard a < b else { return -.infinity }
        if a < 0, b > 0 { return log(cdf(b) - cdf(a)) }
        // Both on one side: mirror into the upper tail, where Q(z) = erfc(z/√2)/2 is accurate.
        let (near, far) = a >= 0 ? (a, b) : (-b, -a)
        let mass = 0.5 * (erfc(near / 2.0.squareRoot()) - erfc(far / 2.0.squareRoot()))
        if mass > 0, mass.isNormal { return log(mass) }
        // Q(z) ≈ φ(z)/z for large z, so Q(near) − Q(far) ≈ φ(near)/near · (1 − φ(far)/φ(near) · near/far).
        guard near > 0 else { return -.infinity }
        let ratio = far.isFinite ? exp(logDensity(far) - logDensity(near)) * near / far : 0
        return logDensity(near) - log(near) + log1p(-min(ratio, 1 - 1e-16))
    }

    /// Φ⁻¹(p): Acklam's rational approximation, polished by one Halley step on erfc.
    public static func quantile(_ p: Double) -> Double {
        if p <= 0 { return -.infinity }
        if p >= 1 { return .infinity }
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                 6.680131188771972e+01, -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                 -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        let tail = 0.02425
        var x: Double
        if p < tail || p > 1 - tail {
            let q = (-2 * log(p < tail ? p : 1 - p)).squareRoot()
            x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
                / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
            if p > 1 - tail { x = -x }
        } else {
            let q = p - 0.5
            let r = q * q
            x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
                / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        }
        let error = cdf(x) - p
        let step = error * (2 * Double.pi).squareRoot() * exp(0.5 * x * x)
        if step.isFinite { x -= step / (1 + x * step / 2) }
        return x
    }
}
