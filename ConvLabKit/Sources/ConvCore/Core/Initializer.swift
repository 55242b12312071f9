/// How a layer's weights start: the initializer extension point. `weight` draws one weight
/// from the layer's own random stream; layers call `fill`. Biases start at zero. `fanIn`/`fanOut`
/// count the connections of one output/input unit: for a convolution `C·kh·kw` and `M·kh·kw`,
/// for a dense layer its input and output sizes.
public protocol WeightInitializer: Sendable {
    /// The plugin's name.
    var name: String { get }
    func weight(fanIn: Int, fanOut: Int, rng: inout Xoshiro256) -> Double
}

extension WeightInitializer {
    public func fill<T: EngineScalar>(_ buffer: ScalarBuffer<T>, fanIn: Int, fanOut: Int, rng: inout Xoshiro256) {
        let p = buffer.pointer
        for i in p.indices { p[i] = T(weight(fanIn: fanIn, fanOut: fanOut, rng: &rng)) }
    }
}

/// The built-in weight initialisers.
public enum Initializer: String, WeightInitializer, CaseIterable {
    /// U(−√(6/fanIn), √(6/fanIn)) — He et al. 2015, uniform.
    case heUniform = "he_uniform"
    /// N(0, 2/fanIn).
    case heNormal = "he_normal"
    /// U(−√(6/(fanIn+fanOut)), +…) — Glorot & Bengio 2010.
    case xavierUniform = "xavier_uniform"
    /// N(0, 2/(fanIn+fanOut)).
    case xavierNormal = "xavier_normal"

    public var name: String { rawValue }

    public func weight(fanIn: Int, fanOut: Int, rng: inout Xoshiro256) -> Double {
        switch self {
        case .heUniform: (rng.nextUnit() * 2 - 1) * (6.0 / Double(fanIn)).squareRoot()
        case .xavierUniform: (rng.nextUnit() * 2 - 1) * (6.0 / Double(fanIn + fanOut)).squareRoot()
        case .heNormal: rng.nextGaussian() * (2.0 / Double(fanIn)).squareRoot()
        case .xavierNormal: rng.nextGaussian() * (2.0 / Double(fanIn + fanOut)).squareRoot()
        }
    }
}
