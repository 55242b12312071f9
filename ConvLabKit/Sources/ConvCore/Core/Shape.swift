/// The shape of one sample flowing between layers: `(C, H, W)` for feature maps, `(F)` once
/// flattened. The batch dimension is not part of it; buffers are `(N, ...shape)`.
public struct Shape: Hashable, Sendable, CustomStringConvertible {
    public var dimensions: [Int]

    public init(_ dimensions: [Int]) { self.dimensions = dimensions }
    public init(channels: Int, height: Int, width: Int) { dimensions = [channels, height, width] }
    public init(features: Int) { dimensions = [features] }

    /// Number of scalars in one sample.
    public var count: Int { dimensions.reduce(1, *) }
    public var isSpatial: Bool { dimensions.count == 3 }
    public var channels: Int { dimensions.count == 3 ? dimensions[0] : 1 }
    public var height: Int { dimensions.count == 3 ? dimensions[1] : 1 }
    public var width: Int { dimensions.count == 3 ? dimensions[2] : dimensions.last ?? 1 }

    public var description: String { dimensions.map(String.init).joined(separator: "×") }
}
