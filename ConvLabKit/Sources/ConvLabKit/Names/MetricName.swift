/// The name of a scalar series in the store's `metrics` table. The runner's own series are the
/// static members; a probe may record any other name. The store's views (`run_final_metrics`)
/// and the reports read these same names: `Tests/RunStoreTests/SharedNamesTests.swift` holds the
/// views' SQL to them.
public struct MetricName: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }
    public var description: String { rawValue }

    /// Mean training loss over the last `probes.loss.every` steps (the loss probe).
    public static let trainLoss: MetricName = "train_loss"
    /// The learning rate of the step the loss probe recorded at.
    public static let learningRate: MetricName = "learning_rate"
    /// Per epoch: mean training loss and accuracy over the epoch's batches.
    public static let trainLossEpoch: MetricName = "train_loss_epoch"
    public static let trainAccuracyEpoch: MetricName = "train_accuracy_epoch"
    /// Per epoch: training images per second, the probes' time left out.
    public static let imagesPerSecond: MetricName = "images_per_second"
    public static let testLoss = loss(of: .test)
    public static let testAccuracy = accuracy(of: .test)
    public static let validationLoss = loss(of: .validation)
    public static let validationAccuracy = accuracy(of: .validation)

    /// The part of the data an evaluation runs on.
    public enum EvaluationSplit: String, Sendable, CaseIterable {
        case validation, test
    }

    /// `<split>_loss`: the mean loss over the split, after an epoch.
    public static func loss(of split: EvaluationSplit) -> MetricName { MetricName("\(split.rawValue)_loss") }
    /// `<split>_accuracy`: the fraction of the split classified right, after an epoch.
    public static func accuracy(of split: EvaluationSplit) -> MetricName { MetricName("\(split.rawValue)_accuracy") }

    /// Whether the series has one value per epoch (charted against epochs) rather than one per
    /// recorded step: the epoch metrics, the evaluations and the speed.
    public var isPerEpoch: Bool {
        rawValue.hasSuffix("_epoch") || EvaluationSplit.allCases.contains { rawValue.hasPrefix("\($0.rawValue)_") } || self == .imagesPerSecond
    }

    /// The flattened spec key of how often `trainLoss` is recorded (the loss probe's `every`).
    public static let trainLossIntervalKey = "probes.loss.every"
}
