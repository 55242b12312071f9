import Testing
@testable import ConvCore

/// Inverted dropout: a = x ⊙ m with m_i ∈ {0, 1/(1−p)}, so E[a] = x and evaluation is the identity.
@Suite("Inverted dropout")
struct DropoutTests {
    @Test("training keeps each unit with probability 1 − p and scales it by exactly 1/(1 − p)", arguments: [0.25, 0.5, 0.8])
    func scaleAndRate(rate: Double) throws {
        let count = 20_000
        let x: [Double] = (0..<count).map { Double($0 % 7) - 2.5 }
        let delta: [Double] = (0..<count).map { Double($0 % 5) + 0.5 }
        let (_, y, dx) = try runLayer(DropoutConfiguration(rate: rate), input: Shape(features: count), batch: 1, x: x,
                                      outputGradient: delta)
        let scale = 1 / (1 - rate)
        var kept = 0
        for i in 0..<count {
            if y[i] == 0 {
                #expect(dx![i] == 0, "a dropped unit passes no error back")
            } else {
                kept += 1
                #expect(y[i] == x[i] * scale, "unit \(i)")
                #expect(dx![i] == delta[i] * scale, "unit \(i)")
            }
        }
        // Binomial(20000, 1 − p): 5 standard deviations either side (√(n·p(1−p)) ≤ 71).
        let expected = Double(count) * (1 - rate), sd = (Double(count) * rate * (1 - rate)).squareRoot()
        #expect(abs(Double(kept) - expected) <= 5 * sd, "kept \(kept), expected \(expected)")
        // The point of the scale: the sum is preserved in expectation. Its standard deviation is
        // √(Σx²·p/(1−p)) ≤ 530 here (p = 0.8), 10 % of Σ|x| ≈ 3,000 is over 5 of them; without
        // the scale the sum would be off by p·Σx, i.e. by 2,500–8,000, and every kept unit by a factor 1 − p.
        let total = x.reduce(0, +), dropped = y.reduce(0, +)
        #expect(abs(dropped - total) <= 0.1 * x.map(abs).reduce(0, +))
    }

    @Test("evaluation is the identity, forward and backward")
    func evaluationIsIdentity() throws {
        let layer: any Layer<Float> = try DropoutConfiguration(rate: 0.5).makeLayer(input: Shape(features: 4),
                                                                                   context: .init(index: 0, initializer: Initializer.heUniform, seed: 1))
        let x: [Float] = [1, -2, 3, -4], delta: [Float] = [0.5, 0.25, 2, 8]
        let (y, dx) = x.withUnsafeBufferPointer { x in
            (Array(layer.forward(x, batch: 1, mode: .evaluation)),
             delta.withUnsafeBufferPointer { Array(layer.backward($0, batch: 1, needsInputGradient: true)!) })
        }
        #expect(y == x)
        #expect(dx == delta)
    }
}
