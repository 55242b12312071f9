/// Whether a forward pass is for training (dropout active) or for evaluation.
public enum PassMode: Sendable { case training, evaluation }

/// A learnable tensor. Its values are shared by every replica of a network (they are read-only
/// during forward and backward); each replica owns its own gradient of the same shape.
public final class Parameter<T: EngineScalar>: @unchecked Sendable {
    /// `weight` or `bias`.
    public let name: String
    public let shape: [Int]
    public let value: ScalarBuffer<T>

    public init(name: String, shape: [Int]) {
        self.name = name
        self.shape = shape
        self.value = ScalarBuffer(count: shape.reduce(1, *))
    }

    public var count: Int { value.count }
}

/// One layer of a sequential network: forward and backward over a batch of `(N, ...inputShape)`.
///
/// The buffers a layer returns are its own and stay valid until its next forward (or
/// backward); a layer may keep a pointer to its input until its backward, so the caller keeps
/// the input alive and unchanged in between.
public protocol Layer<Scalar>: AnyObject {
    associatedtype Scalar: EngineScalar

    /// The plugin name of the layer: `conv`, `pool`, `dense`, `activation`, `flatten`, `dropout`.
    var kind: String { get }
    var inputShape: Shape { get }
    var outputShape: Shape { get }
    var parameters: [Parameter<Scalar>] { get }
    /// ∂C/∂θ for each parameter, same order; overwritten by every backward.
    var gradients: [ScalarBuffer<Scalar>] { get }
    /// Multiply-adds ×2 of one sample's forward pass.
    var forwardFLOPsPerSample: Int { get }

    func forward(_ input: UnsafeBufferPointer<Scalar>, batch: Int, mode: PassMode) -> UnsafeBufferPointer<Scalar>
    /// Takes ∂C/∂(output) and returns ∂C/∂(input), or nil when `needsInputGradient` is false.
    func backward(_ outputGradient: UnsafeBufferPointer<Scalar>, batch: Int, needsInputGradient: Bool) -> UnsafeBufferPointer<Scalar>?

    /// A layer that shares this one's parameter values but has its own caches and gradients.
    func replica() -> Self

    /// A digest of the discrete choices the last forward made (ReLU signs, max-pool argmaxes).
    /// When a perturbation changes it, a finite difference straddles a kink. Nil for smooth layers.
    var kinkFingerprint: UInt64? { get }
}

extension Layer {
    public var parameters: [Parameter<Scalar>] { [] }
    public var gradients: [ScalarBuffer<Scalar>] { [] }
    public var kinkFingerprint: UInt64? { nil }
}

/// FNV-1a over integers: cheap, order-sensitive, good enough to notice a change.
func fingerprint(_ values: [Int32]) -> UInt64 { FNV1a64.hash(values) }

/// FNV-1a over the signs (z > 0) of a buffer, 64 at a time: which side of 0 every unit is on.
@inline(never) @_specialize(where T == Float) @_specialize(where T == Double)
func signFingerprint<T: EngineScalar>(_ values: UnsafeBufferPointer<T>) -> UInt64 {
    var hash = FNV1a64()
    var word: UInt64 = 0
    for (i, v) in values.enumerated() {
        word |= (v > 0 ? 1 : 0) << UInt64(i & 63)
        if i & 63 == 63 || i == values.count - 1 {
            hash.combine(word)
            word = 0
        }
    }
    return hash.value
}
