/// Inverted dropout: in training each unit is kept with probability 1 − p and scaled by
/// 1/(1 − p), so evaluation is the identity.
///
///     forward:  a = x ⊙ m,   m_i ∈ {0, 1/(1−p)}
///     backward: δ_prev = δ ⊙ m
public final class Dropout<T: EngineScalar>: Layer {
    public let kind = "dropout"
    public let rate: Double
    public let inputShape: Shape
    public var outputShape: Shape { inputShape }
    /// When set, training passes reuse the last mask: a gradient check perturbs the input
    /// many times and needs the same function every time.
    public var freezesMask = false
    /// The mask generator; read and replaced by `Trainer.captureState`/`restore`.
    var rng: Xoshiro256
    private let mask = ScalarBuffer<T>(count: 0)            // (N, ...shape)
    private let output = ScalarBuffer<T>(count: 0)
    private let inputGradient = ScalarBuffer<T>(count: 0)
    private var lastMode = PassMode.evaluation

    init(rate: Double, shape: Shape, rng: Xoshiro256) {
        self.rate = rate
        inputShape = shape
        self.rng = rng
    }

    /// Replicas draw their own masks from a stream split off this layer's, in creation order.
    public func replica() -> Dropout<T> {
        Dropout(rate: rate, shape: inputShape, rng: Xoshiro256(seed: rng.next()))
    }

    public var forwardFLOPsPerSample: Int { inputShape.count }

    public func forward(_ input: UnsafeBufferPointer<T>, batch: Int, mode: PassMode) -> UnsafeBufferPointer<T> {
        lastMode = mode
        guard mode == .training, rate > 0 else { return input }
        let count = batch * inputShape.count
        if !(freezesMask && mask.count == count) {
            mask.ensureCount(count)
            let keep = 1 - rate, scale = T(1 / keep)
            let m = mask.pointer
            for i in 0..<count { m[i] = rng.nextUnit() < keep ? scale : 0 }
        }
        output.ensureCount(count)
        let m = mask.readable, y = output.pointer
        for i in 0..<count { y[i] = input[i] * m[i] }
        return output.readable
    }

    public func backward(_ outputGradient: UnsafeBufferPointer<T>, batch: Int, needsInputGradient: Bool) -> UnsafeBufferPointer<T>? {
        guard needsInputGradient else { return nil }
        guard lastMode == .training, rate > 0 else { return outputGradient }
        let count = batch * inputShape.count
        inputGradient.ensureCount(count)
        let m = mask.readable, dx = inputGradient.pointer
        for i in 0..<count { dx[i] = outputGradient[i] * m[i] }
        return inputGradient.readable
    }
}

/// `dropout`: rate p in [0, 1).
public struct DropoutConfiguration: LayerConfiguration, Equatable {
    public var rate: Double
    public init(rate: Double) { self.rate = rate }
    public var kind: String { "dropout" }
    public func makeLayer<S: EngineScalar>(input: Shape, context: LayerBuildContext) throws(NetworkBuildError) -> any Layer<S> {
        guard rate >= 0, rate < 1 else { throw context.error(kind, input, .invalidParameter("rate must be in [0, 1), got \(rate)")) }
        return Dropout<S>(rate: rate, shape: input, rng: context.rng)
    }
}
