import ConvLabKit
import Foundation

/// Power-average pooling: y = (Σ|xᵢ|ᵖ / n)^(1/p). p = 1 is the mean of |x|, p = 2 the root mean
/// square, and as p grows it approaches max |x|.
public struct LpPooling: PoolingRule {
    public var p: Double
    public var name: String { "lp" }

    public init(p: Double) { self.p = p }

    public func pool(_ window: UnsafeBufferPointer<Double>) -> Double {
        let sum = window.reduce(0) { $0 + pow(abs($1), p) }
        return pow(sum / Double(window.count), 1 / p)
    }

    /// ∂y/∂xᵢ = sign(xᵢ)·|xᵢ|^(p−1)·y^(1−p) / n. At y = 0 (an all-zero window) the gradient is
    /// 0; a NaN in y propagates.
    public func route(_ window: UnsafeBufferPointer<Double>, output y: Double, outputGradient delta: Double,
                      into inputGradient: UnsafeMutableBufferPointer<Double>) {
        guard y != 0 else { return }
        let scale = delta * pow(y, 1 - p) / Double(window.count)
        for (i, x) in window.enumerated() {
            let sign: Double = x > 0 ? 1 : x < 0 ? -1 : 0
            inputGradient[i] = scale * sign * pow(abs(x), p - 1)
        }
    }
}

/// The declaration: a spec writes `"pooling": "lp"` or `{"plugin": "lp", "p": 4}`.
public let lpPooling = Plugin(
    .pooling, "lp", "power average (Σ|x|ᵖ / n)^(1/p): p = 1 mean of |x|, p = 2 RMS, large p near max |x|",
    parameters: [ParameterDeclaration("p", .number(minimum: 1), default: .number(2), "the power; 1 ≤ p")],
    factory: .pooling { parameters in LpPooling(p: parameters.double("p", default: 2)) }
)

// The two C symbols the runner looks up (DESIGN §7). The version is compiled into this library,
// so the runner refuses a plugin built against another ConvLabKit before calling any of its code.
@_cdecl("convlab_plugin_api_version") public func convlabPluginAPIVersion() -> Int32 { PluginAPI.version }
@_cdecl("convlab_plugin_entry") public func convlabPluginEntry() -> UnsafeMutableRawPointer { PluginAPI.export { [lpPooling] } }
