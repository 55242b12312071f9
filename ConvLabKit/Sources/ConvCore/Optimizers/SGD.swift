/// Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay.
///
///     g' = g + λ·w
///     v  ← μ·v + g'
///     w  ← w − η·v              (plain momentum; μ = 0 is plain SGD)
///     w  ← w − η·(g' + μ·v)     (Nesterov)
public final class SGD<T: EngineScalar>: Optimizer {
    public let momentum: Double, nesterov: Bool, weightDecay: Double
    private var velocities: [ScalarBuffer<T>] = []

    public init(momentum: Double = 0, nesterov: Bool = false, weightDecay: Double = 0) {
        self.momentum = momentum
        self.nesterov = nesterov
        self.weightDecay = weightDecay
    }

    public var kind: String { "sgd" }

    public func exportState(for parameters: [Parameter<T>]) -> OptimizerState<T> {
        guard momentum != 0 else { return OptimizerState(kind: kind) }
        let values = velocities.count == parameters.count
            ? velocities.map(\.array) : parameters.map { [T](repeating: 0, count: $0.count) }
        return OptimizerState(kind: kind, buffers: ["momentum": values])
    }

    public func importState(_ state: OptimizerState<T>, for parameters: [Parameter<T>]) {
        guard momentum != 0, let values = state.buffers["momentum"] else { return }
        velocities = values.map { ScalarBuffer($0) }
    }

    public func update(_ parameters: [Parameter<T>], gradients: [ScalarBuffer<T>], learningRate: Double) {
        if momentum != 0 && velocities.count != parameters.count {
            velocities = parameters.map { ScalarBuffer(count: $0.count) }
        }
        for (index, parameter) in parameters.enumerated() {
            SGDKernel.step(w: parameter.value.pointer, g: gradients[index].readable,
                      v: momentum != 0 ? velocities[index].pointer : nil,
                      eta: T(learningRate), mu: T(momentum), lambda: T(weightDecay), nesterov: nesterov)
        }
    }
}

enum SGDKernel {
    @inline(never) @_specialize(where T == Float) @_specialize(where T == Double)
    static func step<T: EngineScalar>(w: UnsafeMutableBufferPointer<T>, g: UnsafeBufferPointer<T>, v: UnsafeMutableBufferPointer<T>?,
                     eta: T, mu: T, lambda: T, nesterov: Bool) {
        guard let v else {
            for i in w.indices { w[i] -= eta * (g[i] + lambda * w[i]) }
            return
        }
        for i in w.indices {
            let gi = g[i] + lambda * w[i]
            v[i] = mu * v[i] + gi
            w[i] -= eta * (nesterov ? gi + mu * v[i] : v[i])
        }
    }
}

