/// An element-wise activation σ with its derivative σ': the activation extension point.
///
///     forward:   a = σ(z)
///     backward:  δ_z = δ_a ⊙ σ'(z)       (the "⊙ σ'(z)" factor of every formula in the derivation)
///
/// A rule is written once, in Double, one value at a time (`value`, `derivative`); the layer
/// applies it to whole buffers in the training pass (Float) and in the gradient check (Float64).
/// A rule may also replace the buffer forms with fused loops of its own, as the built-ins do.
public protocol ActivationRule: Sendable {
    /// The name shown in network summaries: the plugin's name.
    var name: String { get }
    /// σ(z).
    func value(_ z: Double) -> Double
    /// σ'(z), given a = σ(z) as well (σ' is often cheaper from it: σ(1 − σ), 1 − tanh²).
    func derivative(_ z: Double, value a: Double) -> Double
    /// Whether σ' jumps at z = 0 (ReLU): finite differences across 0 mean nothing there, so the
    /// gradient check skips entries whose perturbation moves a unit across it.
    var hasKinkAtZero: Bool { get }

    /// a = σ(z) over a buffer. Default: `value` element by element.
    func activate<T: EngineScalar>(_ z: UnsafeBufferPointer<T>, _ a: UnsafeMutableBufferPointer<T>)
    /// δ_z = δ_a ⊙ σ'(z) over a buffer. Default: `derivative` element by element.
    func differentiate<T: EngineScalar>(z: UnsafeBufferPointer<T>, a: UnsafeBufferPointer<T>,
                                        _ da: UnsafeBufferPointer<T>, _ dz: UnsafeMutableBufferPointer<T>)
}

extension ActivationRule {
    public var hasKinkAtZero: Bool { false }

    public func activate<T: EngineScalar>(_ z: UnsafeBufferPointer<T>, _ a: UnsafeMutableBufferPointer<T>) {
        for i in z.indices { a[i] = T(value(Double(z[i]))) }
    }

    public func differentiate<T: EngineScalar>(z: UnsafeBufferPointer<T>, a: UnsafeBufferPointer<T>,
                                               _ da: UnsafeBufferPointer<T>, _ dz: UnsafeMutableBufferPointer<T>) {
        for i in z.indices { dz[i] = da[i] * T(derivative(Double(z[i]), value: Double(a[i]))) }
    }
}

