/// What a loss reports for one batch.
public struct LossResult: Sendable, Equatable {
    /// Σ over the batch of each sample's loss (divide by the batch size for the mean).
    public var sum: Double
    /// Samples whose largest output is at the label.
    public var correct: Int

    public init(sum: Double = 0, correct: Int = 0) { self.sum = sum; self.correct = correct }

    public static func + (a: LossResult, b: LossResult) -> LossResult {
        LossResult(sum: a.sum + b.sum, correct: a.correct + b.correct)
    }
}

/// A loss over class labels. `normalizer` is the size of the whole batch: a replica that sees
/// part of it still writes ∂(Σ loss / normalizer)/∂output, so replica gradients add up to the
/// full-batch gradient.
public protocol LossFunction: Sendable {
    var name: String { get }
    func evaluate<T: EngineScalar>(
        _ output: UnsafeBufferPointer<T>, labels: UnsafeBufferPointer<Int32>, batch: Int, classes: Int,
        normalizer: Int, gradient: UnsafeMutableBufferPointer<T>?) -> LossResult
}

/// The index of the largest entry, the first on ties; like torch.argmax, a NaN is larger than
/// everything (the first NaN), so a NaN row is never "correct" by its other entries and
/// softmax's shift m = z[argmax] is NaN, making the loss NaN.
@inline(__always)
func argmaxIndex<T: EngineScalar>(_ row: UnsafePointer<T>, count: Int) -> Int {
    var best = 0
    for k in 1..<max(count, 1) where row[k] > row[best] || (row[k].isNaN && !row[best].isNaN) { best = k }
    return best
}
