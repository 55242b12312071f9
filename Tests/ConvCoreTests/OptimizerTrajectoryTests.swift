import Testing
@testable import ConvCore

/// Optimizers over several steps with changing gradients, against the published update rules
/// written out again below as plain scalar Double code (PyTorch's torch.optim.SGD and Adam with
/// L2 weight_decay, dampening 0), independent of the engine's kernels.
@Suite("Optimizers over several steps against their formulas")
struct OptimizerTrajectoryTests {
    /// Two tensors of different sizes, so per-tensor state (velocities, moments) is indexed right.
    static let initial: [[Double]] = [[1.0, -2.0, 0.5], [0.25, -0.75]]
    /// g_t for step t (1-based) and entry (tensor, i): changes sign and size from step to step.
    static func gradient(step t: Int, tensor: Int, index i: Int) -> Double {
        Double.sin(Double(3 * t + 5 * tensor + i)) * (1 + 0.3 * Double(i))
    }
    static let steps = 6
    static let learningRate = 0.05

    static func engine(_ configuration: OptimizerConfiguration) -> [[Double]] {
        let optimizer = configuration.make(Double.self)
        let parameters = initial.enumerated().map { k, values in
            let p = Parameter<Double>(name: "weight\(k)", shape: [values.count])
            _ = p.value.pointer.update(fromContentsOf: values)
            return p
        }
        let gradients = initial.map { ScalarBuffer<Double>(count: $0.count) }
        for t in 1...steps {
            for (k, buffer) in gradients.enumerated() {
                for i in 0..<buffer.count { buffer.pointer[i] = gradient(step: t, tensor: k, index: i) }
            }
            optimizer.update(parameters, gradients: gradients, learningRate: learningRate)
        }
        return parameters.map(\.value.array)
    }

    /// torch.optim.SGD: g' = g + λw; b = μb + g' (b = g' at the first step, the same with b₀ = 0);
    /// w ← w − η(g' + μb) with Nesterov, w ← w − ηb otherwise (b = g' when μ = 0).
    static func sgdByFormula(momentum μ: Double, nesterov: Bool, weightDecay λ: Double) -> [[Double]] {
        initial.enumerated().map { k, values in
            values.enumerated().map { i, w0 in
                var w = w0, b = 0.0
                for t in 1...steps {
                    let g = gradient(step: t, tensor: k, index: i) + λ * w
                    b = t == 1 ? g : μ * b + g
                    w -= learningRate * (nesterov ? g + μ * b : b)
                }
                return w
            }
        }
    }

    /// torch.optim.Adam (amsgrad off): g' = g + λw; m = β₁m + (1−β₁)g'; v = β₂v + (1−β₂)g'²;
    /// w ← w − η·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε).
    static func adamByFormula(beta1 β1: Double, beta2 β2: Double, epsilon ε: Double, weightDecay λ: Double) -> [[Double]] {
        initial.enumerated().map { k, values in
            values.enumerated().map { i, w0 in
                var w = w0, m = 0.0, v = 0.0
                for t in 1...steps {
                    let g = gradient(step: t, tensor: k, index: i) + λ * w
                    m = β1 * m + (1 - β1) * g
                    v = β2 * v + (1 - β2) * g * g
                    let mHat = m / (1 - Double.pow(β1, Double(t))), vHat = v / (1 - Double.pow(β2, Double(t)))
                    w -= learningRate * mHat / (vHat.squareRoot() + ε)
                }
                return w
            }
        }
    }

    /// Six steps of O(1) arithmetic in another order (the engine folds 1/(1−β₁ᵗ) into η):
    /// a few ulps apart. 1e-12 absolute is far tighter than any wrong term (a sign of λw moves
    /// w by ≥ 1e-4 here).
    static func expectClose(_ a: [[Double]], _ b: [[Double]], _ label: String) {
        #expect(a.count == b.count)
        for (x, y) in zip(a, b) {
            #expect(x.count == y.count && zip(x, y).allSatisfy { abs($0 - $1) <= 1e-12 }, "\(label): \(x) vs \(y)")
        }
    }

    static let sgdCases: [(momentum: Double, nesterov: Bool, weightDecay: Double)] = [
        (0, false, 0), (0, false, 0.1), (0.9, false, 0), (0.9, false, 0.1), (0.5, true, 0), (0.9, true, 0.1),
    ]

    @Test("SGD, momentum, Nesterov, weight decay: six steps", arguments: 0..<6)
    func sgd(index: Int) {
        let c = Self.sgdCases[index]
        Self.expectClose(Self.engine(.sgd(momentum: c.momentum, nesterov: c.nesterov, weightDecay: c.weightDecay)),
                         Self.sgdByFormula(momentum: c.momentum, nesterov: c.nesterov, weightDecay: c.weightDecay), "\(c)")
    }

    @Test("Adam with bias correction and weight decay: six steps", arguments: [
        [0.9, 0.999, 1e-8, 0], [0.9, 0.999, 1e-8, 0.1], [0.5, 0.9, 1e-3, 0.05],
    ])
    func adam(p: [Double]) {
        Self.expectClose(Self.engine(.adam(beta1: p[0], beta2: p[1], epsilon: p[2], weightDecay: p[3])),
                         Self.adamByFormula(beta1: p[0], beta2: p[1], epsilon: p[2], weightDecay: p[3]), "\(p)")
    }

    /// Weight decay pulls every weight towards 0: with a zero gradient, one SGD step gives
    /// w·(1 − ηλ) exactly as the rule says, for plain SGD and with momentum.
    @Test("weight decay shrinks weights towards zero", arguments: [0.0, 0.9])
    func decayShrinks(momentum: Double) {
        let optimizer = OptimizerConfiguration.sgd(momentum: momentum, weightDecay: 0.5).make(Double.self)
        let parameter = Parameter<Double>(name: "weight", shape: [2])
        _ = parameter.value.pointer.update(fromContentsOf: [2.0, -4.0])
        optimizer.update([parameter], gradients: [ScalarBuffer<Double>(count: 2)], learningRate: 0.1)
        #expect(parameter.value.array == [2 * 0.95, -4 * 0.95])
    }
}
