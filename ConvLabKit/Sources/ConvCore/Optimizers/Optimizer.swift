/// Updates parameter values from their gradients, once per step.
public protocol Optimizer<Scalar>: AnyObject {
    associatedtype Scalar: EngineScalar
    func update(_ parameters: [Parameter<Scalar>], gradients: [ScalarBuffer<Scalar>], learningRate: Double)

    /// The optimizer's plugin name (`sgd`, `adam`): a checkpoint of one is refused by another.
    var kind: String { get }
    /// Everything the optimizer keeps between steps, one buffer per parameter (zeros before
    /// the first step, which is what the first step would start from).
    func exportState(for parameters: [Parameter<Scalar>]) -> OptimizerState<Scalar>
    /// Replaces that state. The caller has checked it against `exportState(for:)`: the same
    /// kind, buffer names, counters and sizes.
    func importState(_ state: OptimizerState<Scalar>, for parameters: [Parameter<Scalar>])
}

/// An optimizer's state by name: buffers (`momentum`, `first_moment`, …), each one array per
/// parameter in the network's parameter order, and counters (`steps`).
public struct OptimizerState<T: EngineScalar>: Equatable, Sendable {
    public var kind: String
    public var buffers: [String: [[T]]]
    public var counters: [String: UInt64]

    public init(kind: String, buffers: [String: [[T]]] = [:], counters: [String: UInt64] = [:]) {
        self.kind = kind
        self.buffers = buffers
        self.counters = counters
    }
}

/// What an optimizer plugin gives: a recipe that makes the optimizer for a scalar type (the
/// runner trains in Float32). The optimizer extension point.
public protocol OptimizerRecipe: Sendable {
    func make<T: EngineScalar>(_: T.Type) -> any Optimizer<T>
}

/// How the learning rate moves over training: the schedule extension point.
public protocol LearningRatePolicy: Sendable {
    /// η at `step` (from 0) of `totalSteps`, in `epoch` (from 0), for the spec's base rate.
    func rate(base: Double, step: Int, totalSteps: Int, epoch: Int) -> Double
}

/// The built-in optimizers.
public enum OptimizerConfiguration: OptimizerRecipe, Equatable {
    /// v ← μ·v + g + λ·w;  w ← w − η·v   (Nesterov: w ← w − η·(g + λ·w + μ·v))
    case sgd(momentum: Double = 0, nesterov: Bool = false, weightDecay: Double = 0)
    /// Kingma & Ba 2015, with bias correction; weight decay added to the gradient (L2).
    case adam(beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8, weightDecay: Double = 0)

    public func make<T: EngineScalar>(_: T.Type = T.self) -> any Optimizer<T> {
        switch self {
        case let .sgd(momentum, nesterov, weightDecay):
            SGD<T>(momentum: momentum, nesterov: nesterov, weightDecay: weightDecay)
        case let .adam(beta1, beta2, epsilon, weightDecay):
            Adam<T>(beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay)
        }
    }
}

/// The built-in schedules.
public enum LearningRateSchedule: LearningRatePolicy, Equatable {
    case constant
    /// η·γ^⌊epoch / every⌋
    case step(everyEpochs: Int, gamma: Double)
    /// η_min + (η − η_min)·(1 + cos(π·t/T))/2 over all T steps of training.
    case cosine(minimum: Double)

    public func rate(base: Double, step: Int, totalSteps: Int, epoch: Int) -> Double {
        switch self {
        case .constant:
            return base
        case let .step(every, gamma):
            return base * Double.pow(gamma, Double(epoch / max(every, 1)))
        case let .cosine(minimum):
            let progress = Double(step) / Double(max(totalSteps, 1))
            return minimum + (base - minimum) * (1 + Double.cos(.pi * min(progress, 1))) / 2
        }
    }
}

import RealModule
