/// The one way a probe writes to the store: what it records here the runner writes in the run's
/// next transaction, filed under the current step. The runner checks every value: the first
/// NaN or infinity ends the run as diverged, naming the value, and is not stored.
public final class ProbeRecorder {
    public struct Metric: Sendable, Equatable {
        public var name: String, step: Int, epoch: Double, value: Double
    }

    public struct GradientNorm: Sendable, Equatable {
        public var step: Int, layer: Int, layerKind: String, tensor: String, l2: Double, maxAbs: Double
    }

    public struct GradientCheck: Sendable, Equatable {
        public var step: Int
        public var record: GradientCheckRecord
    }

    public struct Event: Sendable, Equatable {
        public var kind: String, message: String
    }

    public private(set) var metrics: [Metric] = []
    public private(set) var gradientNorms: [GradientNorm] = []
    public private(set) var gradientChecks: [GradientCheck] = []
    public private(set) var events: [Event] = []

    /// Where the run is, set by the runner: records are filed under this step and epoch (a
    /// fraction within an epoch, e.g. 1.5 halfway through the second).
    public var step = 0
    public var epoch = 0.0

    public init() {}

    /// A point of a scalar series, e.g. ("train_loss", 0.42).
    public func metric(_ name: MetricName, _ value: Double) {
        metrics.append(Metric(name: name.rawValue, step: step, epoch: epoch, value: value))
    }

    /// One parameter tensor's gradient norms.
    public func gradientNorm(layer: Int, layerKind: String, tensor: String, l2: Double, maxAbs: Double) {
        gradientNorms.append(GradientNorm(step: step, layer: layer, layerKind: layerKind, tensor: tensor, l2: l2, maxAbs: maxAbs))
    }

    /// Checked entries, as `GradientChecker.check` returns them.
    public func gradientChecks(_ records: [GradientCheckRecord]) {
        gradientChecks += records.map { GradientCheck(step: step, record: $0) }
    }

    /// A line in the run's event log.
    public func event(_ kind: EventKind, _ message: String) {
        events.append(Event(kind: kind.rawValue, message: message))
    }

    /// Hands what was recorded to the runner and starts empty again.
    public func drain() -> (metrics: [Metric], gradientNorms: [GradientNorm], gradientChecks: [GradientCheck], events: [Event]) {
        defer { metrics = []; gradientNorms = []; gradientChecks = []; events = [] }
        return (metrics, gradientNorms, gradientChecks, events)
    }
}
