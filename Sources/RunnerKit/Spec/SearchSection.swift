import ConvLabKit
import TextKit

/// The keys of a spec's `search` section (its `space` is checked by `SearchParser`, key by key
/// against the rest of the spec); the same declarations print in `runner plugins` and generate
/// the `search` part of `Schemas/experiment.schema.json`.
public enum SearchSection {
    /// Trials one search may have: each is at least one run, validated and held in memory.
    public static let maximumTrials = 10_000

    public static let objective: [ParameterDeclaration] = [
        .init("metric", .choice(ObjectiveMetric.names), default: .optional,
              "the per-epoch metric to optimise (default validation_accuracy when evaluation.validation_split > 0, else test_accuracy)"),
        .init("direction", .choice(ObjectiveDirection.allCases.map(\.rawValue)), default: .optional,
              "maximize or minimize (default minimize for a metric ending in _loss, else maximize)"),
    ]

    public static let declarations: [ParameterDeclaration] = [
        .init("space", .matrix, default: .required,
              "dotted spec keys to domains: {\"uniform\": [lo, hi]}, {\"log_uniform\": [lo, hi]}, {\"int\": [lo, hi]} or {\"choice\": [values]}"),
        .init("sampler", .plugin(.sampler), default: .string("tpe"), "how trials' values are drawn"),
        .init("pruner", .plugin(.pruner), default: .string("none"), "what stops hopeless trials early, after each epoch"),
        .init("objective", .section(objective), default: .value(.object([])), "the metric the search optimises and its direction"),
        .init("trials", .integer(minimum: 1, maximum: maximumTrials), default: .required, "the budget: how many trials to draw and train"),
        .init("seed", .integer(minimum: 0), default: .int(0), "the sampler's seed: the same spec and seed draw the same trials"),
        .init("seeds", .integerList, default: .optional, "train each trial once per seed (the spec's seed); its objective is their mean"),
    ]

    /// The domain names of `space`, as a spec writes them.
    public static let domains = ["uniform", "log_uniform", "int", "choice"]
}

/// The metrics a run records once per epoch: the ones a search may optimise.
public enum ObjectiveMetric {
    public static let names: [String] = [MetricName.testAccuracy, .testLoss, .validationAccuracy, .validationLoss,
                                         .trainAccuracyEpoch, .trainLossEpoch].map(\.rawValue)
}
