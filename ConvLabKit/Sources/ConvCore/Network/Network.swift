/// One row of a network's summary.
public struct LayerSummary: Sendable, Equatable {
    public var index: Int
    public var kind: String
    public var detail: String
    public var outputShape: Shape
    public var parameterCount: Int
    public var forwardFLOPsPerSample: Int
}

/// A sequential network. Shapes are inferred layer by layer when it is built, so every shape
/// error surfaces here, as a `NetworkBuildError` naming the layer, and never at the first batch.
public final class Network<T: EngineScalar> {
    public let inputShape: Shape
    public let configurations: [any LayerConfiguration]
    public let initializer: any WeightInitializer
    public let seed: UInt64
    public let layers: [any Layer<T>]
    /// Layers before this index have no parameters, so their input gradients are never needed.
    private let firstTrainableLayer: Int

    public init(input: Shape, layers configurations: [any LayerConfiguration], initializer: any WeightInitializer = Initializer.heUniform,
                seed: UInt64) throws(NetworkBuildError) {
        guard !configurations.isEmpty else {
            throw NetworkBuildError(layerIndex: 0, kind: "network", inputShape: input, reason: .emptyNetwork)
        }
        var shape = input
        var built: [any Layer<T>] = []
        for (index, configuration) in configurations.enumerated() {
            let context = LayerBuildContext(index: index, initializer: initializer, seed: seed)
            let layer: any Layer<T> = try configuration.makeLayer(input: shape, context: context)
            built.append(layer)
            shape = layer.outputShape
        }
        self.inputShape = input
        self.configurations = configurations
        self.initializer = initializer
        self.seed = seed
        self.layers = built
        firstTrainableLayer = built.firstIndex { !$0.parameters.isEmpty } ?? built.count
    }

    private init(replicating other: Network<T>) {
        inputShape = other.inputShape
        configurations = other.configurations
        initializer = other.initializer
        seed = other.seed
        layers = other.layers.map { $0.replica() }
        firstTrainableLayer = other.firstTrainableLayer
    }

    /// A network that shares this one's parameter values and has its own caches and gradients.
    public func replica() -> Network<T> { Network(replicating: self) }

    /// The same network in another scalar type, with the parameter values converted.
    public func converted<U: EngineScalar>(to _: U.Type) -> Network<U> {
        // These configurations built this network already, so building them again cannot fail.
        let copy = try! Network<U>(input: inputShape, layers: configurations, initializer: initializer, seed: seed)
        for (source, target) in zip(parameters, copy.parameters) {
            for i in 0..<source.count { target.value.pointer[i] = U(source.value.pointer[i]) }
        }
        return copy
    }

    public var outputShape: Shape { layers.last?.outputShape ?? inputShape }
    public var parameters: [Parameter<T>] { layers.flatMap { $0.parameters } }
    public var gradients: [ScalarBuffer<T>] { layers.flatMap { $0.gradients } }
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }
    public var forwardFLOPsPerSample: Int { layers.reduce(0) { $0 + $1.forwardFLOPsPerSample } }

    /// Every parameter tensor with the layer it belongs to, in order.
    public var namedParameters: [(layer: Int, kind: String, parameter: Parameter<T>, gradient: ScalarBuffer<T>)] {
        layers.enumerated().flatMap { index, layer in
            zip(layer.parameters, layer.gradients).map { (index, layer.kind, $0, $1) }
        }
    }

    public var summary: [LayerSummary] {
        layers.enumerated().map { index, layer in
            LayerSummary(index: index, kind: layer.kind, detail: describe(layer), outputShape: layer.outputShape,
                         parameterCount: layer.parameters.reduce(0) { $0 + $1.count },
                         forwardFLOPsPerSample: layer.forwardFLOPsPerSample)
        }
    }

    private func describe(_ layer: any Layer<T>) -> String {
        switch layer {
        case let conv as Conv2D<T>:
            let g = conv.geometry
            return "\(g.filters) filters \(g.kernelHeight)×\(g.kernelWidth), stride \(g.strideY)×\(g.strideX), pad \(g.padY)×\(g.padX)"
        case let pool as Pool2D<T>:
            let g = pool.geometry
            return "\(pool.rule.name) \(g.windowHeight)×\(g.windowWidth), stride \(g.strideY)×\(g.strideX), pad \(g.padY)×\(g.padX)"
        case let activation as ActivationLayer<T>:
            return activation.function.name
        case let dense as Dense<T>:
            return "\(dense.outputShape.count) units"
        case let dropout as Dropout<T>:
            return "p = \(dropout.rate)"
        default:
            return ""
        }
    }

    /// Runs every layer; returns the last layer's output `(N, ...outputShape)`.
    public func forward(_ input: UnsafeBufferPointer<T>, batch: Int, mode: PassMode) -> UnsafeBufferPointer<T> {
        forward(from: 0, input, batch: batch, mode: mode)
    }

    /// Runs layers `first...` on `input`, the input of layer `first`. The gradient check uses it
    /// to redo only what a perturbed parameter changes.
    func forward(from first: Int, _ input: UnsafeBufferPointer<T>, batch: Int, mode: PassMode) -> UnsafeBufferPointer<T> {
        var activation = input
        for layer in layers[first...] { activation = layer.forward(activation, batch: batch, mode: mode) }
        return activation
    }

    /// The inputs each layer saw in the last forward pass (layer i's input is layer i−1's output).
    func layerInputs(_ input: UnsafeBufferPointer<T>, batch: Int, mode: PassMode) -> [UnsafeBufferPointer<T>] {
        var inputs: [UnsafeBufferPointer<T>] = []
        var activation = input
        for layer in layers {
            inputs.append(activation)
            activation = layer.forward(activation, batch: batch, mode: mode)
        }
        return inputs
    }

    /// Back-propagates ∂C/∂output through every layer, filling each layer's gradients. Returns
    /// ∂C/∂input when asked for it.
    @discardableResult
    public func backward(_ outputGradient: UnsafeBufferPointer<T>, batch: Int,
                         needsInputGradient: Bool = false) -> UnsafeBufferPointer<T>? {
        var delta: UnsafeBufferPointer<T>? = outputGradient
        for index in layers.indices.reversed() {
            guard let current = delta else { break }
            let needsInput = needsInputGradient || index > firstTrainableLayer
            delta = layers[index].backward(current, batch: batch, needsInputGradient: needsInput)
        }
        return delta
    }

    /// Dropout layers reuse their last mask while set (for gradient checks).
    public func freezeRandomMasks(_ freeze: Bool) {
        for case let dropout as Dropout<T> in layers { dropout.freezesMask = freeze }
    }

    /// The discrete choices of the last forward pass (see `Layer.kinkFingerprint`).
    public var kinkFingerprints: [UInt64?] { layers.map { $0.kinkFingerprint } }
}
