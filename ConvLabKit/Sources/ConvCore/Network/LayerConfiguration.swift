/// The description of a layer before it exists: what a spec resolves to, what a network is
/// built from. Each layer file declares its own configuration next to the layer.
public protocol LayerConfiguration: Sendable {
    /// Same as the built layer's `kind`.
    var kind: String { get }
    /// Builds the layer for a given input shape, or says why it cannot exist there.
    func makeLayer<T: EngineScalar>(input: Shape, context: LayerBuildContext) throws(NetworkBuildError) -> any Layer<T>
}

/// What a layer needs besides its input shape when it is built.
public struct LayerBuildContext: Sendable {
    public var index: Int
    public var initializer: any WeightInitializer
    public var seed: UInt64

    /// The layer's own random stream: weights do not shift when another layer changes.
    public var rng: Xoshiro256 { Xoshiro256(seed: seed, stream: UInt64(index) + 1) }

    public func error(_ kind: String, _ input: Shape, _ reason: NetworkBuildError.Reason) -> NetworkBuildError {
        NetworkBuildError(layerIndex: index, kind: kind, inputShape: input, reason: reason)
    }
}

/// A network that cannot be built, found when it is built and never at the first batch.
public struct NetworkBuildError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Reason: Equatable, Sendable {
        case kernelLargerThanInput(kernel: [Int], paddedInput: [Int])
        case windowDoesNotFit(window: [Int], paddedInput: [Int])
        case paddingTooLarge(padding: [Int], window: [Int])
        case needsSpatialInput
        case needsFlatInput
        case inputSizeMismatch(expected: Int, actual: Int)
        case invalidParameter(String)
        case tooManyParameters(Int)
        /// Scalars one sample would need in a layer's buffers.
        case tooLarge(Int)
        case emptyNetwork
    }

    /// The most weights one layer may hold (a gibibyte of Float32).
    public static let maximumParameters = 1 << 28

    /// The most values one image may occupy in a layer's output or unrolled patches.
    public static let maximumValuesPerSample = 1 << 26

    /// Zero-based index in the layer list.
    public var layerIndex: Int
    public var kind: String
    public var inputShape: Shape
    public var reason: Reason

    public var description: String {
        let at = "layer \(layerIndex) (\(kind)) with input \(inputShape)"
        func dims(_ d: [Int]) -> String { d.map(String.init).joined(separator: "×") }
        switch reason {
        case let .kernelLargerThanInput(kernel, padded):
            return "\(at): kernel \(dims(kernel)) is larger than its padded input \(dims(padded)); use a smaller kernel, more padding, or less pooling before it"
        case let .windowDoesNotFit(window, padded):
            return "\(at): pooling window \(dims(window)) does not fit its padded input \(dims(padded)); use a smaller window or remove an earlier pooling layer"
        case let .paddingTooLarge(padding, window):
            return "\(at): padding \(dims(padding)) must be at most half the window \(dims(window)), or a window could hold only padding"
        case .needsSpatialInput:
            return "\(at): needs a (channels, height, width) input, but the input is already flat; move it before `flatten`"
        case .needsFlatInput:
            return "\(at): needs a flat input; add a `flatten` layer before it"
        case let .inputSizeMismatch(expected, actual):
            return "\(at): declares \(expected) inputs but receives \(actual); remove `inputs` or set it to \(actual)"
        case let .invalidParameter(message):
            return "\(at): \(message)"
        case let .tooManyParameters(count):
            return "\(at): would hold \(count) weights, more than the \(NetworkBuildError.maximumParameters) one layer may have; use fewer filters or units"
        case let .tooLarge(count):
            return "\(at): would need \(count) values per image, more than the \(NetworkBuildError.maximumValuesPerSample) a layer may use; use a smaller input, kernel or fewer filters"
        case .emptyNetwork:
            return "the network has no layers"
        }
    }
}
