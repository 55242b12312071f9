import ConvLabKit
import Foundation

/// Lp pooling with a deliberately wrong backward: the y^(1−p) factor is missing. It loads and
/// trains; the gradient-check probe must report failed checks for its pool layers.
struct WrongLpPooling: PoolingRule {
    var p: Double
    var name: String { "lp_wrong" }

    func pool(_ window: UnsafeBufferPointer<Double>) -> Double {
        pow(window.reduce(0) { $0 + pow(abs($1), p) } / Double(window.count), 1 / p)
    }

    func route(_ window: UnsafeBufferPointer<Double>, output y: Double, outputGradient delta: Double,
               into inputGradient: UnsafeMutableBufferPointer<Double>) {
        for (i, x) in window.enumerated() {
            let sign: Double = x > 0 ? 1 : x < 0 ? -1 : 0
            inputGradient[i] = delta * sign * pow(abs(x), p - 1) / Double(window.count)   // BUG (on purpose): no y^(1−p)
        }
    }
}

let wrongLp = Plugin(
    .pooling, "lp_wrong", "Lp pooling with a wrong backward (a test fixture)",
    parameters: [ParameterDeclaration("p", .number(minimum: 1), default: .number(3), "the power")],
    factory: .pooling { parameters in WrongLpPooling(p: parameters.double("p", default: 3)) }
)

@_cdecl("convlab_plugin_api_version") public func convlabPluginAPIVersion() -> Int32 { PluginAPI.version }
@_cdecl("convlab_plugin_entry") public func convlabPluginEntry() -> UnsafeMutableRawPointer { PluginAPI.export { [wrongLp] } }
