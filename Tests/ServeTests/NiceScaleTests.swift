import Foundation
import Testing
@testable import Serve
@testable import Reports

@Suite("Round-number axes")
struct NiceScaleTests {
    @Test("the HTML report's 0.8579 … 1.083 axis gets ticks 0.8, 0.9, 1.0, 1.1, its ends on ticks")
    func reportRange() {
        let scale = NiceScale(minimum: 0.8579, maximum: 1.083)
        #expect(scale.ticks.map(scale.label) == ["0.8", "0.9", "1.0", "1.1"])
        #expect(scale.low == scale.ticks.first && scale.high == scale.ticks.last)
    }

    @Test("steps, a flat series, tiny values, whole numbers and a log scale")
    func shapes() {
        let steps = NiceScale(minimum: 0, maximum: 2752, count: 6, integral: true)
        #expect(steps.ticks.map(steps.label) == ["0", "1000", "2000", "3000"])
        let flat = NiceScale(minimum: 0.5, maximum: 0.5)
        #expect(flat.ticks.map(flat.label) == ["0.46", "0.48", "0.50", "0.52", "0.54"])
        let epochs = NiceScale(minimum: 1, maximum: 3, count: 6, integral: true)
        #expect(epochs.ticks.map(epochs.label) == ["1", "2", "3"])
        let tiny = NiceScale(minimum: 2.1e-6, maximum: 8.9e-6)
        #expect(tiny.ticks.map(tiny.label) == ["2e-06", "4e-06", "6e-06", "8e-06", "1e-05"])
        let log = NiceScale(minimum: 0.012, maximum: 3.4, logarithmic: true)
        #expect(log.ticks.map(log.label) == ["0.01", "0.1", "1", "10"])
    }

    @Test("over a thousand ranges every tick is a whole multiple of 1, 2 or 5 × 10^k and the axis covers the data")
    func everyTickIsRound() {
        var generator = SplitMix(seed: 20)
        for _ in 0..<1000 {
            let magnitude = pow(10, Double(generator.next() % 12) - 6)
            let a = (Double(generator.next() % 20_000) / 1000 - 10) * magnitude
            let b = a + Double(generator.next() % 10_000 + 1) / 1000 * magnitude
            let scale = NiceScale(minimum: a, maximum: b)
            let step = scale.ticks[1] - scale.ticks[0]
            #expect(scale.low <= a + step * 1e-9 && scale.high >= b - step * 1e-9, "\(a) … \(b): \(scale.low) … \(scale.high)")
            #expect((2...12).contains(scale.ticks.count), "\(a) … \(b): \(scale.ticks)")
            let exponent = (log10(step) + 1e-9).rounded(.down)
            let mantissa = (step / pow(10, exponent) * 1000).rounded() / 1000
            #expect([1, 2, 5, 10].contains(mantissa), "\(a) … \(b): step \(step)")
            for tick in scale.ticks {
                let label = scale.label(tick)
                let value = Double(label) ?? .nan
                #expect(abs(value - tick) <= step * 1e-6, "\(a) … \(b): label \(label) for \(tick)")
                #expect(abs((value / step).rounded() * step - value) <= step * 1e-6, "\(label) is not a multiple of \(step)")
            }
        }
    }

    @Test("smoothing keeps a constant series constant and draws the raw series faintly behind")
    func smoothing() {
        #expect(SVGChart.smoothed([2, 2, 2, 2], weight: 0.6).allSatisfy { abs($0 - 2) < 1e-12 })
        let noisy = (0..<50).map { Double($0 % 2) }
        let smooth = SVGChart.smoothed(noisy, weight: 0.9)
        #expect(smooth.dropFirst(10).allSatisfy { (0.3...0.7).contains($0) })
        let chart = SVGChart(title: "t", xLabel: "step", series: [.init(name: "loss", points: noisy.enumerated().map { (Double($0), $1) })], smoothing: 0.6)
        let svg = chart.render()
        #expect(svg.contains("class=\"series raw\" data-series=\"loss\" data-points=\"50\""))
        #expect(svg.contains("class=\"series\" data-series=\"loss\" data-points=\"50\""))
    }

    @Test("a long series is thinned to at most 800 points, its last kept")
    func thinning() {
        let points = (0..<5000).map { (x: Double($0), y: Double($0)) }
        let thinned = SVGChart.thinned(points, limit: SVGChart.maxPoints)
        #expect(thinned.count == 800 && thinned.last?.x == 4999 && thinned.first?.x == 0)
    }
}

/// A small deterministic generator (SplitMix64) for the property test.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
