import Foundation

/// An axis whose ticks are round numbers — 1, 2 or 5 times a power of ten (0.80, 0.85, 0.90;
/// 0, 2000, 4000), or whole powers of ten on a log scale — and whose ends are ticks, so the
/// chart starts and ends on a labelled value (the HTML report printed 0.8579 and 1.083).
public struct NiceScale: Equatable, Sendable {
    /// The ends of the axis (log10 of them on a log scale).
    public private(set) var low: Double
    public private(set) var high: Double
    /// The ticks, in axis units (exponents on a log scale).
    public private(set) var ticks: [Double]
    public let logarithmic: Bool
    /// Decimals of the labels (linear), or whether they need an exponent.
    private let step: Double

    /// An axis covering `minimum…maximum` with about `count` ticks. On a log scale the values must
    /// be positive (the caller leaves the others out).
    /// `integral`: the values are whole numbers (steps, epochs), so ticks are too.
    public init(minimum: Double, maximum: Double, count: Int = 5, logarithmic: Bool = false, integral: Bool = false) {
        self.logarithmic = logarithmic
        var (a, b) = (min(minimum, maximum), max(minimum, maximum))
        if logarithmic {
            a = log10(max(a, 1e-300))
            b = log10(max(b, 1e-300))
            var lowExponent = a.rounded(.down), highExponent = b.rounded(.up)
            if highExponent == lowExponent { highExponent += 1 }
            let every = max(1, ((highExponent - lowExponent) / Double(max(count - 1, 1))).rounded(.up))
            lowExponent = (lowExponent / every).rounded(.down) * every
            highExponent = (highExponent / every).rounded(.up) * every
            low = lowExponent
            high = highExponent
            step = every
            ticks = stride(from: lowExponent, through: highExponent + every / 2, by: every).map { $0 }
            return
        }
        if !a.isFinite || !b.isFinite { (a, b) = (0, 1) }
        if a == b {
            let pad = a == 0 || integral ? 1 : abs(a) * 0.05
            (a, b) = (a - pad, b + pad)
        }
        let spacing = max(integral ? 1 : 0, Self.nice((b - a) / Double(max(count - 1, 1))))
        let first = (a / spacing).rounded(.down), last = (b / spacing).rounded(.up)
        low = first * spacing
        high = last * spacing
        step = spacing
        // Each tick from its integer multiple: no drift from adding the step again and again.
        ticks = stride(from: first, through: last, by: 1).map { $0 * spacing }
    }

    /// 1, 2 or 5 × 10^k, the nearest above `x` or at it.
    static func nice(_ x: Double) -> Double {
        guard x > 0, x.isFinite else { return 1 }
        let exponent = log10(x).rounded(.down)
        let power = pow(10, exponent)
        let fraction = x / power
        let slack = 1e-9     // 0.1 / 10^-1 may come out a hair above 1
        let mantissa: Double = fraction <= 1 + slack ? 1 : fraction <= 2 + slack ? 2 : fraction <= 5 + slack ? 5 : 10
        return mantissa * power
    }

    /// Where `value` (in data units) falls, from 0 at `low` to 1 at `high`.
    public func position(_ value: Double) -> Double {
        let v = logarithmic ? log10(max(value, 1e-300)) : value
        return high > low ? (v - low) / (high - low) : 0.5
    }

    /// A tick's label: as many decimals as the step needs (0.80, 0.85), exponents for very small
    /// or very large values (2e-06), powers of ten on a log scale (0.001, 1e-05).
    public func label(_ tick: Double) -> String {
        if logarithmic {
            let exponent = Int(tick.rounded())
            return (-4...5).contains(exponent) ? Self.plain(pow(10, Double(exponent)), decimals: max(0, -exponent)) : "1e\(exponent)"
        }
        if tick == 0 { return "0" }
        let magnitude = max(abs(low), abs(high))
        if step < 1e-4 || magnitude >= 1e7 {
            // The fewest digits that still name the tick: 2e-06, 1e-05, 2.5e+07.
            for digits in 0...6 {
                let text = String(format: "%.\(digits)e", tick)
                if let value = Double(text), abs(value - tick) <= step * 1e-6 { return text }
            }
            return String(format: "%.6e", tick)
        }
        return Self.plain(tick, decimals: max(0, Int((-log10(step) - 1e-9).rounded(.up))))
    }

    static func plain(_ value: Double, decimals: Int) -> String {
        let text = String(format: "%.\(decimals)f", value)
        return text.hasPrefix("-") && Double(text) == 0 ? String(text.dropFirst()) : text
    }
}
