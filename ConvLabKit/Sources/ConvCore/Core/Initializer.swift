/// Weight initialisers. `fanIn`/`fanOut` count the connections of one output/input unit:
/// for a convolution `C·kh·kw` and `M·kh·kw`, for a dense layer its input and output sizes.
/// Biases start at zero.
public enum Initializer: String, Sendable, CaseIterable {
    /// U(−√(6/fanIn), √(6/fanIn)) — He et al. 2015, uniform.
    case heUniform = "he_uniform"
    /// N(0, 2/fanIn).
    case heNormal = "he_normal"
    /// U(−√(6/(fanIn+fanOut)), +…) — Glorot & Bengio 2010.
    case xavierUniform = "xavier_uniform"
    /// N(0, 2/(fanIn+fanOut)).
    case xavierNormal = "xavier_normal"

    public func fill<T: EngineScalar>(_ buffer: ScalarBuffer<T>, fanIn: Int, fanOut: Int, rng: inout Xoshiro256) {
        let p = buffer.pointer
        switch self {
        case .heUniform, .xavierUniform:
            let limit = self == .heUniform
                ? (6.0 / Double(fanIn)).squareRoot()
                : (6.0 / Double(fanIn + fanOut)).squareRoot()
            for i in p.indices { p[i] = T((rng.nextUnit() * 2 - 1) * limit) }
        case .heNormal, .xavierNormal:
            let std = self == .heNormal
                ? (2.0 / Double(fanIn)).squareRoot()
                : (2.0 / Double(fanIn + fanOut)).squareRoot()
            for i in p.indices { p[i] = T(rng.nextGaussian() * std) }
        }
    }
}
