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
            Self.drawMask(mask.pointer, keep: 1 - rate, rng: &rng)
        }
        output.ensureCount(count)
        Self.multiply(input, mask.readable, into: output.pointer)
        return output.readable
    }

    public func backward(_ outputGradient: UnsafeBufferPointer<T>, batch: Int, needsInputGradient: Bool) -> UnsafeBufferPointer<T>? {
        guard needsInputGradient else { return nil }
        guard lastMode == .training, rate > 0 else { return outputGradient }
        let count = batch * inputShape.count
        inputGradient.ensureCount(count)
        Self.multiply(outputGradient, mask.readable, into: inputGradient.pointer)
        return inputGradient.readable
    }

    // The loops as specialised functions: in the generic class they ran through witness tables,
    // at 10–16 ns an element (`runner bench deep`, dropout's forward was longer than a convolution's).

    /// m_i = 1/keep with probability keep, else 0: one uniform draw per unit, in order.
    @inline(never) @_specialize(where T == Float) @_specialize(where T == Double)
    static func drawMask(_ mask: UnsafeMutableBufferPointer<T>, keep: Double, rng: inout Xoshiro256) {
        let scale = T(1 / keep)
        var generator = rng
        for i in mask.indices { mask[i] = generator.nextUnit() < keep ? scale : 0 }
        rng = generator
    }

    /// y = x ⊙ m
    @inline(never) @_specialize(where T == Float) @_specialize(where T == Double)
    static func multiply(_ x: UnsafeBufferPointer<T>, _ m: UnsafeBufferPointer<T>, into y: UnsafeMutableBufferPointer<T>) {
        for i in m.indices { y[i] = x[i] * m[i] }
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
