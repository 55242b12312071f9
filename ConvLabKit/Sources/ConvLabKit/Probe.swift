/// A probe watches a run train and records what it sees: the probe extension point, with the
/// lifecycle of PyTorch Lightning's `Callback` or a Keras callback. The training loop calls the
/// hooks of every probe of the run, in the order the spec lists them, and knows none by name.
///
/// A probe is made fresh for each run (its plugin's factory gets the spec's parameters) and
/// records only through the `ProbeRecorder` it is handed: metrics, gradient norms, gradient
/// checks and events, which the runner writes to the store. A non-finite value it records ends
/// the run as diverged (its finite values are kept); an error it throws ends the run as failed,
/// with the probe's name and the error in the store.
///
/// Every hook has an empty default: implement only the ones you need.
public protocol Probe: AnyObject {
    /// Once, before the first step (also when a run resumes from a checkpoint, after `restore`).
    func runStarted(_ run: ProbeRun, recorder: ProbeRecorder) throws
    /// Before the optimizer step: the network holds the weights the step starts from, and
    /// `step.batch` is the batch it will train on (`step.loss` is nil).
    func beforeStep(_ step: TrainingStep, recorder: ProbeRecorder) throws
    /// After the step: the network's gradients are this step's, the weights already updated.
    func afterStep(_ step: TrainingStep, recorder: ProbeRecorder) throws
    /// After each epoch's evaluation, with the epoch's metrics.
    func epochEnded(_ epoch: EpochSummary, recorder: ProbeRecorder) throws
    /// Once, when the run ends, however it ends (`status`: completed, diverged, failed, interrupted).
    func runEnded(_ run: ProbeRun, status: RunStatus, recorder: ProbeRecorder) throws

    /// What the probe carries from step to step (a running sum, a random generator), saved in
    /// every checkpoint so that a resumed run records exactly what an uninterrupted one would.
    func saveState() -> ProbeState
    /// Takes back what `saveState` returned in an earlier process (it gets every probe's saved
    /// values: take your own names, and throw a `ProbeError` when one is missing).
    func restore(_ state: ProbeState) throws
}

extension Probe {
    public func runStarted(_ run: ProbeRun, recorder: ProbeRecorder) throws {}
    public func beforeStep(_ step: TrainingStep, recorder: ProbeRecorder) throws {}
    public func afterStep(_ step: TrainingStep, recorder: ProbeRecorder) throws {}
    public func epochEnded(_ epoch: EpochSummary, recorder: ProbeRecorder) throws {}
    public func runEnded(_ run: ProbeRun, status: RunStatus, recorder: ProbeRecorder) throws {}
    public func saveState() -> ProbeState { ProbeState() }
    public func restore(_ state: ProbeState) throws {}
}

/// The run a probe watches: fixed for the whole run.
public struct ProbeRun {
    /// The network being trained (Float32). Read it; never change its weights.
    public var network: Network<Float>
    public var loss: any LossFunction
    public var inputShape: Shape
    public var classes: Int
    public var seed: UInt64
    public var epochs: Int
    public var stepsPerEpoch: Int
    public var totalSteps: Int

    public init(network: Network<Float>, loss: any LossFunction, inputShape: Shape, classes: Int, seed: UInt64,
                epochs: Int, stepsPerEpoch: Int, totalSteps: Int) {
        self.network = network; self.loss = loss; self.inputShape = inputShape; self.classes = classes
        self.seed = seed; self.epochs = epochs; self.stepsPerEpoch = stepsPerEpoch; self.totalSteps = totalSteps
    }
}

/// One optimizer step, as the hooks around it see it.
public struct TrainingStep {
    public var run: ProbeRun
    /// Steps done before this one (0 for the first); `afterStep` sees the same number, and the
    /// records it makes are filed under `step + 1`, the step just taken.
    public var step: Int
    /// From 1.
    public var epoch: Int
    /// From 0, within the epoch.
    public var batchIndex: Int
    public var learningRate: Double
    /// The batch: `count` images (N, ...inputShape) and their labels.
    public var images: UnsafeBufferPointer<Float>
    public var labels: UnsafeBufferPointer<Int32>
    public var count: Int
    /// The batch's loss summed over its images and how many were classified right; nil before the step.
    public var loss: LossResult?

    public init(run: ProbeRun, step: Int, epoch: Int, batchIndex: Int, learningRate: Double, images: UnsafeBufferPointer<Float>,
                labels: UnsafeBufferPointer<Int32>, count: Int, loss: LossResult?) {
        self.run = run; self.step = step; self.epoch = epoch; self.batchIndex = batchIndex; self.learningRate = learningRate
        self.images = images; self.labels = labels; self.count = count; self.loss = loss
    }
}

/// The end of an epoch.
public struct EpochSummary {
    public var run: ProbeRun
    /// From 1.
    public var epoch: Int
    /// Steps done so far.
    public var step: Int
    /// What the runner measured this epoch: train_loss_epoch, train_accuracy_epoch, test_loss, …
    public var metrics: [(name: MetricName, value: Double)]

    public init(run: ProbeRun, epoch: Int, step: Int, metrics: [(name: MetricName, value: Double)]) {
        self.run = run; self.epoch = epoch; self.step = step; self.metrics = metrics
    }
}

/// A probe's state between steps, in the three forms a checkpoint keeps exactly: random
/// generators, counters and reals, each by name. The names of all probes of a run share one
/// checkpoint: start yours with your probe's name (`loss_window_sum`); two probes saving one
/// name fail the run as it starts, naming both.
public struct ProbeState: Sendable {
    public var generators: [String: Xoshiro256]
    public var counters: [String: UInt64]
    public var reals: [String: Double]

    public init(generators: [String: Xoshiro256] = [:], counters: [String: UInt64] = [:], reals: [String: Double] = [:]) {
        self.generators = generators; self.counters = counters; self.reals = reals
    }

    public var isEmpty: Bool { generators.isEmpty && counters.isEmpty && reals.isEmpty }
}

/// A probe's refusal of a saved state, or any failure a probe wants to end the run with.
public struct ProbeError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
