/// Mean squared error against the one-hot label vector t:
///
///     loss_n = (1/K) Σ_k (z_k − t_k)²
///     ∂loss_n/∂z_k = 2 (z_k − t_k) / K
public struct MeanSquaredError: LossFunction {
    public init() {}
    public var name: String { "mse" }

    @inline(never) @_specialize(where T == Float) @_specialize(where T == Double)
    public func evaluate<T: EngineScalar>(
        _ output: UnsafeBufferPointer<T>, labels: UnsafeBufferPointer<Int32>, batch: Int, classes: Int,
        normalizer: Int, gradient: UnsafeMutableBufferPointer<T>?
    ) -> LossResult {
        var result = LossResult()
        let gradientScale = 2 / (T(classes) * T(normalizer))
        for n in 0..<batch {
            let z = output.baseAddress! + n * classes
            let label = Int(labels[n])
            var sum: T = 0
            for k in 0..<classes {
                let difference = z[k] - (k == label ? 1 : 0)
                sum += difference * difference
                gradient?[n * classes + k] = difference * gradientScale
            }
            result.sum += Double(sum / T(classes))
            let top = argmaxIndex(z, count: classes)
            if top == label && !z[top].isNaN { result.correct += 1 }    // a row with a NaN predicts nothing
        }
        return result
    }
}
