/// A value-typed batch of scalars with its shape, `(N, ...shape)` row-major: what callers pass
/// in and get back at the engine's edges (tests, data sets, exported parameters).
public struct Tensor<T: EngineScalar>: Equatable, Sendable {
    public var shape: [Int]
    public var scalars: [T]

    public init(shape: [Int], scalars: [T]) {
        precondition(shape.reduce(1, *) == scalars.count, "shape \(shape) does not hold \(scalars.count) scalars")
        self.shape = shape
        self.scalars = scalars
    }

    public init(zeros shape: [Int]) {
        self.init(shape: shape, scalars: Array(repeating: 0, count: shape.reduce(1, *)))
    }

    public var count: Int { scalars.count }
}
