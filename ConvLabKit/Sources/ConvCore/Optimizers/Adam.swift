/// Adam (Kingma & Ba 2015):
///
///     g' = g + λ·w
///     m ← β₁·m + (1 − β₁)·g'          v ← β₂·v + (1 − β₂)·g'²
///     w ← w − η · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε)
public final class Adam<T: EngineScalar>: Optimizer {
    public let beta1: Double, beta2: Double, epsilon: Double, weightDecay: Double
    private var firstMoments: [ScalarBuffer<T>] = []
    private var secondMoments: [ScalarBuffer<T>] = []
    private var steps = 0

    public init(beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8, weightDecay: Double = 0) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }

    public var kind: String { "adam" }

    public func exportState(for parameters: [Parameter<T>]) -> OptimizerState<T> {
        func values(_ buffers: [ScalarBuffer<T>]) -> [[T]] {
            buffers.count == parameters.count ? buffers.map(\.array) : parameters.map { [T](repeating: 0, count: $0.count) }
        }
        return OptimizerState(kind: kind, buffers: ["first_moment": values(firstMoments), "second_moment": values(secondMoments)],
                              counters: ["steps": UInt64(steps)])
    }

    public func importState(_ state: OptimizerState<T>, for parameters: [Parameter<T>]) {
        firstMoments = (state.buffers["first_moment"] ?? []).map { ScalarBuffer($0) }
        secondMoments = (state.buffers["second_moment"] ?? []).map { ScalarBuffer($0) }
        steps = Int(clamping: state.counters["steps"] ?? 0)
    }

    public func update(_ parameters: [Parameter<T>], gradients: [ScalarBuffer<T>], learningRate: Double) {
        if firstMoments.count != parameters.count {
            firstMoments = parameters.map { ScalarBuffer(count: $0.count) }
            secondMoments = parameters.map { ScalarBuffer(count: $0.count) }
        }
        steps += 1
        let correction1 = 1 - Double.pow(beta1, Double(steps)), correction2 = 1 - Double.pow(beta2, Double(steps))
        for (index, parameter) in parameters.enumerated() {
            AdamKernel.step(w: parameter.value.pointer, g: gradients[index].readable,
                      m: firstMoments[index].pointer, v: secondMoments[index].pointer,
                      eta: T(learningRate / correction1), b1: T(beta1), b2: T(beta2),
                      c2: T(correction2), eps: T(epsilon), lambda: T(weightDecay))
        }
    }
}

enum AdamKernel {
    @inline(never) @_specialize(where T == Float) @_specialize(where T == Double)
    static func step<T: EngineScalar>(w: UnsafeMutableBufferPointer<T>, g: UnsafeBufferPointer<T>, m: UnsafeMutableBufferPointer<T>,
                     v: UnsafeMutableBufferPointer<T>, eta: T, b1: T, b2: T, c2: T, eps: T, lambda: T) {
        for i in w.indices {
            let gi = g[i] + lambda * w[i]
            m[i] = b1 * m[i] + (1 - b1) * gi
            v[i] = b2 * v[i] + (1 - b2) * gi * gi
            w[i] -= eta * m[i] / ((v[i] / c2).squareRoot() + eps)
        }
    }
}


import RealModule
