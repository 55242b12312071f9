/// The built-in activations σ with their derivatives σ'. Their scalar forms are the reference;
/// the buffer forms are the fused loops of `ActivationKernels`, which tests hold equal to them.
public enum ActivationFunction: ActivationRule, Equatable {
    case relu
    case leakyReLU(slope: Double)
    case sigmoid
    case tanh
    case elu(alpha: Double)
    case identity

    public var name: String {
        switch self {
        case .relu: "relu"
        case .leakyReLU: "leaky_relu"
        case .sigmoid: "sigmoid"
        case .tanh: "tanh"
        case .elu: "elu"
        case .identity: "identity"
        }
    }

    /// Whether σ' jumps at 0: finite differences across 0 mean nothing there.
    public var hasKinkAtZero: Bool {
        switch self {
        case .relu, .leakyReLU: true
        case .elu(let alpha): alpha != 1
        case .sigmoid, .tanh, .identity: false
        }
    }

    public func value(_ z: Double) -> Double {
        switch self {
        case .relu: z < 0 ? 0 : z
        case .leakyReLU(let slope): z > 0 ? z : slope * z
        case .sigmoid: 1 / (1 + Double.exp(-z))
        case .tanh: Double.tanh(z)
        case .elu(let alpha): z > 0 ? z : alpha * Double.expMinusOne(z)
        case .identity: z
        }
    }

    public func derivative(_ z: Double, value a: Double) -> Double {
        switch self {
        case .relu: z > 0 ? 1 : (z.isNaN ? z : 0)
        case .leakyReLU(let slope): z > 0 ? 1 : (z.isNaN ? z : slope)
        case .sigmoid: a * (1 - a)
        case .tanh: 1 - a * a
        case .elu(let alpha): z > 0 ? 1 : a + alpha
        case .identity: 1
        }
    }

    public func activate<T: EngineScalar>(_ z: UnsafeBufferPointer<T>, _ a: UnsafeMutableBufferPointer<T>) {
        ActivationKernels.activate(self, z, a)
    }

    public func differentiate<T: EngineScalar>(z: UnsafeBufferPointer<T>, a: UnsafeBufferPointer<T>,
                                               _ da: UnsafeBufferPointer<T>, _ dz: UnsafeMutableBufferPointer<T>) {
        ActivationKernels.differentiate(self, z: z, a: a, da, dz)
    }
}

/// a = σ(z) forward; δ_z = δ_a ⊙ σ'(z) backward — the "⊙ σ'(z)" factor of every formula
/// in the derivation, applied once, here, for any `ActivationRule`.
public final class ActivationLayer<T: EngineScalar>: Layer {
    public let kind = "activation"
    public let function: any ActivationRule
    public let inputShape: Shape
    public var outputShape: Shape { inputShape }
    private let output = ScalarBuffer<T>(count: 0)          // (N, ...shape)
    private let inputGradient = ScalarBuffer<T>(count: 0)   // (N, ...shape)
    private var lastInput = UnsafeBufferPointer<T>(start: nil, count: 0)

    init(function: any ActivationRule, shape: Shape) {
        self.function = function
        inputShape = shape
    }

    public func replica() -> ActivationLayer<T> { ActivationLayer(function: function, shape: inputShape) }

    public var forwardFLOPsPerSample: Int { inputShape.count }

    public var kinkFingerprint: UInt64? {
        guard function.hasKinkAtZero else { return nil }
        return signFingerprint(lastInput)
    }

    public func forward(_ input: UnsafeBufferPointer<T>, batch: Int, mode: PassMode) -> UnsafeBufferPointer<T> {
        lastInput = input
        output.ensureCount(batch * inputShape.count)
        function.activate(input, output.pointer)
        return output.readable
    }

    public func backward(_ outputGradient: UnsafeBufferPointer<T>, batch: Int, needsInputGradient: Bool) -> UnsafeBufferPointer<T>? {
        guard needsInputGradient else { return nil }
        inputGradient.ensureCount(batch * inputShape.count)
        function.differentiate(z: lastInput, a: output.readable, outputGradient, inputGradient.pointer)
        return inputGradient.readable
    }

}

/// σ and σ' over whole buffers.
enum ActivationKernels {
    /// a = σ(z)
    @inline(never) @_specialize(where T == Float) @_specialize(where T == Double)
    static func activate<T: EngineScalar>(_ f: ActivationFunction, _ z: UnsafeBufferPointer<T>, _ a: UnsafeMutableBufferPointer<T>) {
        switch f {
        case .relu:
            // `z < 0 ? 0 : z`, not `z > 0 ? z : 0`: relu(NaN) = NaN, as IEEE max and PyTorch give.
            for i in z.indices { a[i] = z[i] < 0 ? 0 : z[i] }
        case .leakyReLU(let slope):
            let s = T(slope)
            for i in z.indices { a[i] = z[i] > 0 ? z[i] : s * z[i] }
        case .sigmoid:
            for i in z.indices { a[i] = 1 / (1 + T.exp(-z[i])) }
        case .tanh:
            for i in z.indices { a[i] = T.tanh(z[i]) }
        case .elu(let alpha):
            let al = T(alpha)
            for i in z.indices { a[i] = z[i] > 0 ? z[i] : al * T.expMinusOne(z[i]) }
        case .identity:
            _ = a.update(fromContentsOf: z)
        }
    }

    /// δ_z = δ_a ⊙ σ'(z), using a = σ(z) where σ' is cheaper from it.
    @inline(never) @_specialize(where T == Float) @_specialize(where T == Double)
    static func differentiate<T: EngineScalar>(_ f: ActivationFunction, z: UnsafeBufferPointer<T>, a: UnsafeBufferPointer<T>,
                              _ da: UnsafeBufferPointer<T>, _ dz: UnsafeMutableBufferPointer<T>) {
        switch f {
        // σ'(NaN) = NaN: at a NaN input the input gradient is NaN too (the select keeps the
        // loops branch-free).
        case .relu:
            for i in z.indices { dz[i] = z[i] > 0 ? da[i] : (z[i].isNaN ? z[i] : 0) }
        case .leakyReLU(let slope):
            let s = T(slope)
            for i in z.indices { dz[i] = z[i] > 0 ? da[i] : (z[i].isNaN ? z[i] : s * da[i]) }
        case .sigmoid:      // σ' = σ(1 − σ)
            for i in z.indices { dz[i] = da[i] * a[i] * (1 - a[i]) }
        case .tanh:         // tanh' = 1 − tanh²
            for i in z.indices { dz[i] = da[i] * (1 - a[i] * a[i]) }
        case .elu(let alpha):   // elu'(z) = 1 for z > 0, α·eᶻ = a + α otherwise
            let al = T(alpha)
            for i in z.indices { dz[i] = z[i] > 0 ? da[i] : da[i] * (a[i] + al) }
        case .identity:
            _ = dz.update(fromContentsOf: da)
        }
    }
}

/// `activation`: function (default: the model's).
public struct ActivationConfiguration: LayerConfiguration {
    public var function: any ActivationRule
    public init(_ function: any ActivationRule) { self.function = function }
    /// A built-in one (`.relu`).
    public init(_ function: ActivationFunction) { self.function = function }
    public var kind: String { "activation" }
    public func makeLayer<S: EngineScalar>(input: Shape, context: LayerBuildContext) throws(NetworkBuildError) -> any Layer<S> {
        ActivationLayer<S>(function: function, shape: input)
    }
}
