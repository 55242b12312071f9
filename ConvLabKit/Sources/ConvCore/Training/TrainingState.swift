/// Everything a trainer needs to continue exactly where it stood: parameter values, the
/// optimizer's buffers and counters, every random generator the engine owns, and the position
/// in training. A trainer restored from it takes the same steps, bit for bit, as the one it was
/// captured from. It knows nothing of files (see `CheckpointFile`).
///
/// Names:
/// - parameters: `layers.<i>.<kind>.weight` / `.bias` (i the index in the layer list, kind the
///   layer's plugin name, as in `Network.summary` and the reports)
/// - optimizer buffers: `optimizer.<buffer>.layers.<i>.<kind>.<tensor>` (`momentum`,
///   `first_moment`, `second_moment`); counters `optimizer.<counter>` (`steps`)
/// - generators: `replicas.<r>.layers.<i>.dropout` (replica 0 is the trained network itself)
public struct TrainingState<T: EngineScalar>: Equatable, Sendable {
    /// Epochs completed and optimizer steps taken when the state was captured.
    public var epoch: Int
    public var step: Int
    public var optimizerKind: String
    /// Parameters first, in network order, then optimizer buffers.
    public var tensors: [NamedTensor<T>]
    public var counters: [NamedCounter]
    public var generators: [NamedGenerator]

    public init(epoch: Int, step: Int, optimizerKind: String, tensors: [NamedTensor<T>], counters: [NamedCounter],
                generators: [NamedGenerator]) {
        self.epoch = epoch
        self.step = step
        self.optimizerKind = optimizerKind
        self.tensors = tensors
        self.counters = counters
        self.generators = generators
    }

    public subscript(tensor name: String) -> NamedTensor<T>? { tensors.first { $0.name == name } }

    /// The parameter tensors alone (what an export of the weights holds).
    public var parameters: [NamedTensor<T>] { tensors.filter { $0.name.hasPrefix("layers.") } }

    public static func parameterName(layer: Int, kind: String, tensor: String) -> String { "layers.\(layer).\(kind).\(tensor)" }
    public static func optimizerBufferName(_ buffer: String, parameter: String) -> String { "optimizer.\(buffer).\(parameter)" }
    public static func optimizerCounterName(_ counter: String) -> String { "optimizer.\(counter)" }
    public static func dropoutGeneratorName(replica: Int, layer: Int) -> String { "replicas.\(replica).layers.\(layer).dropout" }
}

public struct NamedTensor<T: EngineScalar>: Equatable, Sendable {
    public var name: String
    public var shape: [Int]
    public var values: [T]

    public init(name: String, shape: [Int], values: [T]) {
        self.name = name
        self.shape = shape
        self.values = values
    }
}

public struct NamedCounter: Equatable, Sendable {
    public var name: String
    public var value: UInt64
    public init(name: String, value: UInt64) { self.name = name; self.value = value }
}

/// A generator's four xoshiro256 state words.
public struct NamedGenerator: Equatable, Sendable {
    public var name: String
    public var words: [UInt64]
    public init(name: String, words: [UInt64]) { self.name = name; self.words = words }
}

/// Why a state does not fit a trainer: it is of another network, optimizer or replica count.
/// Nothing in the trainer has changed when it is thrown.
public enum TrainingStateError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The trainer has this tensor (counter, generator) and the state does not.
    case missing(name: String, shape: [Int])
    /// The state has this tensor and the trainer does not.
    case unexpected(name: String, shape: [Int])
    case shapeMismatch(name: String, saved: [Int], trainer: [Int])
    case optimizerMismatch(saved: String, trainer: String)
    /// Not four words, or all zero.
    case invalidGenerator(name: String)
    case invalidPosition(epoch: Int, step: Int)

    public var description: String {
        switch self {
        case let .missing(name, shape):
            "the saved state has no \(name) (this network's is \(shape)): it is of another network, optimizer or replica count"
        case let .unexpected(name, shape):
            "the saved state holds \(name) \(shape), which this network does not have: it is of another network, optimizer or replica count"
        case let .shapeMismatch(name, saved, trainer):
            "the saved \(name) is \(saved) but this network's is \(trainer): the saved state is of another network"
        case let .optimizerMismatch(saved, trainer):
            "the saved state is of optimizer \(saved) but this run uses \(trainer)"
        case let .invalidGenerator(name):
            "the saved generator \(name) is not a valid xoshiro256 state (four words, not all zero)"
        case let .invalidPosition(epoch, step):
            "the saved position (epoch \(epoch), step \(step)) is negative"
        }
    }
}
