/// (N, C, H, W) → (N, C·H·W). NCHW is already contiguous per sample, so forward and backward
/// hand their buffer through unchanged.
public final class Flatten<T: EngineScalar>: Layer {
    public let kind = "flatten"
    public let inputShape: Shape
    public let outputShape: Shape

    init(input: Shape) {
        inputShape = input
        outputShape = Shape(features: input.count)
    }

    public func replica() -> Flatten<T> { Flatten(input: inputShape) }
    public var forwardFLOPsPerSample: Int { 0 }

    public func forward(_ input: UnsafeBufferPointer<T>, batch: Int, mode: PassMode) -> UnsafeBufferPointer<T> { input }

    public func backward(_ outputGradient: UnsafeBufferPointer<T>, batch: Int, needsInputGradient: Bool) -> UnsafeBufferPointer<T>? {
        needsInputGradient ? outputGradient : nil
    }
}

/// `flatten`: no parameters.
public struct FlattenConfiguration: LayerConfiguration, Equatable {
    public init() {}
    public var kind: String { "flatten" }
    public func makeLayer<S: EngineScalar>(input: Shape, context: LayerBuildContext) throws(NetworkBuildError) -> any Layer<S> {
        Flatten<S>(input: input)
    }
}
