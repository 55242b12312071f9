import ConvLabKit

/// The resolved spec's `training` section. Its defaults are `SpecSections.training`'s, which
/// validation has filled in: every key is present when this is decoded.
public struct TrainingSection: Sendable, Equatable {
    public var epochs: Int
    public var batchSize: Int
    public var shuffle: Bool
    public var replicas: Int

    init(resolved section: ResolvedParameters) {
        epochs = section.int("epochs")
        batchSize = section.int("batch_size")
        shuffle = section.bool("shuffle")
        replicas = section.int("replicas")
    }
}

/// The resolved spec's `evaluation` section (defaults: `SpecSections.evaluation`, filled in by validation).
public struct EvaluationSection: Sendable, Equatable {
    /// Whether the test set is evaluated after every epoch.
    public var test: Bool
    /// The fraction of the training set held out and evaluated every epoch.
    public var validationSplit: Double
    public var batchSize: Int

    init(resolved section: ResolvedParameters) {
        test = section.bool("test")
        validationSplit = section.double("validation_split")
        batchSize = section.int("batch_size")
    }
}
