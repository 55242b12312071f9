/// How a pooling layer reduces one window to one value, and how it sends the error back to the
/// window's cells: the pooling extension point.
///
///     forward:   y = pool(x₁ … xₙ)                   over the window's cells inside the input
///     backward:  δ_prev[xᵢ] += δ · ∂y/∂xᵢ             for every cell ("upsample")
///
/// A rule is written once, in Double, one window at a time: the layer gathers each window (only
/// the cells inside the input; padding is never passed), converts it, calls the rule, and adds
/// the routed error into the input gradient (overlapping windows accumulate). The same rule runs
/// in the Float training pass and in the Float64 gradient check, so a wrong `route` shows up as
/// failed checks with no extra code.
public protocol PoolingRule: Sendable {
    /// The name shown in network summaries: the plugin's name.
    var name: String { get }

    /// y for one window; `window` holds n ≥ 1 cells.
    func pool(_ window: UnsafeBufferPointer<Double>) -> Double

    /// Writes δ · ∂y/∂xᵢ into `inputGradient[i]` for every cell of the window, given its output
    /// `y` (what `pool` returned) and the error δ = ∂C/∂y. `inputGradient` has the window's count
    /// and is zero on entry.
    func route(_ window: UnsafeBufferPointer<Double>, output y: Double, outputGradient delta: Double,
               into inputGradient: UnsafeMutableBufferPointer<Double>)

    /// For a rule whose derivative jumps (max's argmax moves): which branch the window is on.
    /// The gradient check skips entries whose perturbation changes a branch, as it does for max
    /// and ReLU. Nil (the default) for a smooth rule.
    func branch(_ window: UnsafeBufferPointer<Double>) -> Int32?
}

extension PoolingRule {
    public func branch(_ window: UnsafeBufferPointer<Double>) -> Int32? { nil }
}

/// The built-in rules. Their windows are the reference; `Pool2D` runs them through fused plane
/// kernels (`PoolingKernels`), which tests hold equal to these per-window forms.
public enum PoolingMode: String, PoolingRule, CaseIterable {
    /// The largest value; ties go to the first; a NaN wins (as in PyTorch), so divergence reaches the loss.
    case max
    /// The mean of the window's cells inside the input: padding is not counted, so a border
    /// window divides by fewer cells (the same divisor forward and backward).
    case avg

    public var name: String { rawValue }

    public func pool(_ window: UnsafeBufferPointer<Double>) -> Double {
        switch self {
        case .max: window[Self.firstMaximum(window)]
        case .avg: window.reduce(0, +) / Double(window.count)
        }
    }

    public func route(_ window: UnsafeBufferPointer<Double>, output y: Double, outputGradient delta: Double,
                      into inputGradient: UnsafeMutableBufferPointer<Double>) {
        switch self {
        case .max: inputGradient[Self.firstMaximum(window)] = delta          // ∂y/∂x = 1 at the argmax, 0 elsewhere
        case .avg: for i in inputGradient.indices { inputGradient[i] = delta / Double(window.count) }
        }
    }

    public func branch(_ window: UnsafeBufferPointer<Double>) -> Int32? {
        self == .max ? Int32(Self.firstMaximum(window)) : nil
    }

    static func firstMaximum(_ window: UnsafeBufferPointer<Double>) -> Int {
        var best = 0
        for i in 1..<window.count where window[i] > window[best] || (window[i].isNaN && !window[best].isNaN) { best = i }
        return best
    }
}
