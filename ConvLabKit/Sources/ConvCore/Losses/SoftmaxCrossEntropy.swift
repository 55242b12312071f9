/// Softmax followed by cross-entropy, fused so that it is stable for any logits:
///
///     loss_n = log Σ_k e^{z_k − m} + m − z_y       (m = max_k z_k: no overflow)
///     ∂loss_n/∂z_k = softmax(z)_k − 1[k = y]
public struct SoftmaxCrossEntropy: LossFunction {
    public init() {}
    public var name: String { "softmax_cross_entropy" }

    @inline(never) @_specialize(where T == Float) @_specialize(where T == Double)
    public func evaluate<T: EngineScalar>(
        _ output: UnsafeBufferPointer<T>, labels: UnsafeBufferPointer<Int32>, batch: Int, classes: Int,
        normalizer: Int, gradient: UnsafeMutableBufferPointer<T>?
    ) -> LossResult {
        var result = LossResult()
        let scale = 1 / T(normalizer)
        for n in 0..<batch {
            let z = output.baseAddress! + n * classes
            let label = Int(labels[n])
            let top = argmaxIndex(z, count: classes)
            let m = z[top]
            var sum: T = 0
            for k in 0..<classes { sum += T.exp(z[k] - m) }
            result.sum += Double(T.log(sum) + m - z[label])
            if top == label && !z[top].isNaN { result.correct += 1 }    // a row with a NaN predicts nothing
            if let gradient {
                let g = gradient.baseAddress! + n * classes
                for k in 0..<classes { g[k] = T.exp(z[k] - m) / sum * scale }
                g[label] -= scale
            }
        }
        return result
    }
}
