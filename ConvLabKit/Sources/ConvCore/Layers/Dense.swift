/// Fully connected layer (formulas 1–4 of the derivation, batched as rows):
///
///     forward:  z = a_prev · Wᵀ + b          (N, out) = (N, in) · (in, out)
///     backward: dW = δᵀ · a_prev             (out, in)
///               db = Σ_n δ[n]                (out)
///               δ_prev = δ · W               (N, in)   — Wᵀ·δ per sample
///
/// The activation's σ'(z) is applied by the activation layer that follows.
public final class Dense<T: EngineScalar>: Layer {
    public let kind = "dense"
    public let inputShape: Shape
    public let outputShape: Shape
    public let weight: Parameter<T>      // (out, in)
    public let bias: Parameter<T>?       // (out)
    public let parameters: [Parameter<T>]
    public let gradients: [ScalarBuffer<T>]
    private let weightGradient: ScalarBuffer<T>    // (out, in)
    private let biasGradient: ScalarBuffer<T>?     // (out)
    private let output = ScalarBuffer<T>(count: 0)          // (N, out)
    private let inputGradient = ScalarBuffer<T>(count: 0)   // (N, in)
    private var lastInput = UnsafeBufferPointer<T>(start: nil, count: 0)   // (N, in)

    var inputs: Int { inputShape.count }
    var outputs: Int { outputShape.count }

    init(inputs: Int, weight: Parameter<T>, bias: Parameter<T>?) {
        inputShape = Shape(features: inputs)
        outputShape = Shape(features: weight.shape[0])
        self.weight = weight
        self.bias = bias
        parameters = [weight] + (bias.map { [$0] } ?? [])
        weightGradient = ScalarBuffer(count: weight.count)
        biasGradient = bias.map { ScalarBuffer(count: $0.count) }
        gradients = [weightGradient] + (biasGradient.map { [$0] } ?? [])
    }

    public func replica() -> Dense<T> { Dense(inputs: inputs, weight: weight, bias: bias) }

    public var forwardFLOPsPerSample: Int { 2 * inputs * outputs }

    public func forward(_ input: UnsafeBufferPointer<T>, batch: Int, mode: PassMode) -> UnsafeBufferPointer<T> {
        lastInput = input
        output.ensureCount(batch * outputs)
        let z = output.pointer
        if let bias {
            for n in 0..<batch { (z.baseAddress! + n * outputs).update(from: bias.value.readable.baseAddress!, count: outputs) }
        }
        // z (N, out) = a (N, in) · Wᵀ (in, out) + z
        T.gemm(transposeA: false, transposeB: true, m: batch, n: outputs, k: inputs,
               alpha: 1, a: input.baseAddress!, lda: inputs, b: weight.value.readable.baseAddress!, ldb: inputs,
               beta: bias == nil ? 0 : 1, c: z.baseAddress!, ldc: outputs)
        return output.readable
    }

    public func backward(_ outputGradient: UnsafeBufferPointer<T>, batch: Int, needsInputGradient: Bool) -> UnsafeBufferPointer<T>? {
        let delta = outputGradient.baseAddress!
        // dW (out, in) = δᵀ (out, N) · a (N, in)
        T.gemm(transposeA: true, transposeB: false, m: outputs, n: inputs, k: batch,
               alpha: 1, a: delta, lda: outputs, b: lastInput.baseAddress!, ldb: inputs,
               beta: 0, c: weightGradient.pointer.baseAddress!, ldc: inputs)
        if let biasGradient {
            let db = biasGradient.pointer
            db.update(repeating: 0)
            for n in 0..<batch { addInPlace(db, UnsafeBufferPointer(start: delta + n * outputs, count: outputs)) }
        }
        guard needsInputGradient else { return nil }
        inputGradient.ensureCount(batch * inputs)
        // δ_prev (N, in) = δ (N, out) · W (out, in)
        T.gemm(transposeA: false, transposeB: false, m: batch, n: inputs, k: outputs,
               alpha: 1, a: delta, lda: outputs, b: weight.value.readable.baseAddress!, ldb: inputs,
               beta: 0, c: inputGradient.pointer.baseAddress!, ldc: inputs)
        return inputGradient.readable
    }
}

/// `dense`: units, bias, and optionally the number of inputs it expects (checked when built).
public struct DenseConfiguration: LayerConfiguration, Equatable {
    public var units: Int
    public var bias: Bool
    public var expectedInputs: Int?

    public init(units: Int, bias: Bool = true, expectedInputs: Int? = nil) {
        self.units = units
        self.bias = bias
        self.expectedInputs = expectedInputs
    }

    public var kind: String { "dense" }

    public func makeLayer<S: EngineScalar>(input: Shape, context: LayerBuildContext) throws(NetworkBuildError) -> any Layer<S> {
        guard !input.isSpatial else { throw context.error(kind, input, .needsFlatInput) }
        guard units > 0 else { throw context.error(kind, input, .invalidParameter("units must be positive")) }
        if let expectedInputs, expectedInputs != input.count {
            throw context.error(kind, input, .inputSizeMismatch(expected: expectedInputs, actual: input.count))
        }
        let (count, overflow) = units.multipliedReportingOverflow(by: input.count)
        guard !overflow, count <= NetworkBuildError.maximumParameters else {
            throw context.error(kind, input, .tooManyParameters(overflow ? .max : count))
        }
        let weight = Parameter<S>(name: "weight", shape: [units, input.count])
        var rng = context.rng
        context.initializer.fill(weight.value, fanIn: input.count, fanOut: units, rng: &rng)
        return Dense<S>(inputs: input.count, weight: weight, bias: bias ? Parameter<S>(name: "bias", shape: [units]) : nil)
    }
}
