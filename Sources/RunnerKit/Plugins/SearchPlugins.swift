import ConvLabKit

/// The built-in samplers and pruners of a spec's `search` section.
enum SearchPlugins {
    static let samplers: [Plugin] = [
        Plugin(.sampler, "random", "every value drawn independently and uniformly from its domain", factory: .sampler { _ in RandomSampler() }),
        Plugin(.sampler, "tpe", "tree-structured Parzen estimator: values drawn where good trials are dense and bad ones are not (Bergstra et al. 2011)",
               parameters: [
                   ParameterDeclaration("startup_trials", .integer(minimum: 0, maximum: 10000), default: .int(10), "trials drawn at random before TPE models the results"),
                   ParameterDeclaration("gamma", .number(minimum: 0, maximum: 1, exclusiveMaximum: true, exclusiveMinimum: true), default: .number(0.25),
                                        "the good share γ: the best ⌈γ·n⌉ of the n trials with a result model l(x)"),
                   ParameterDeclaration("candidates", .integer(minimum: 1, maximum: 10000), default: .int(24), "draws from l(x) per key, the one with the largest l(x)/g(x) taken"),
                   ParameterDeclaration("prior_weight", .number(minimum: 0, maximum: 1000, exclusiveMinimum: true), default: .number(1),
                                        "weight of the densities' prior (as wide as the domain) against 1 per trial"),
               ],
               factory: .sampler { p in
                   TPESampler(startupTrials: p.int("startup_trials", default: 10), gamma: p.double("gamma", default: 0.25),
                              candidates: p.int("candidates", default: 24), priorWeight: p.double("prior_weight", default: 1))
               }),
    ]

    static let pruners: [Plugin] = [
        Plugin(.pruner, "none", "every trial trains for all its epochs", factory: .pruner { _ in NoPruner() }),
        Plugin(.pruner, "median", "stops a trial whose objective is worse than the completed trials' median at the same epoch",
               parameters: [
                   ParameterDeclaration("warmup_epochs", .integer(minimum: 0, maximum: 100_000), default: .int(1), "epochs every trial trains before it may be stopped"),
                   ParameterDeclaration("min_trials", .integer(minimum: 1, maximum: 100_000), default: .int(3), "completed trials with a value at the epoch before the median is used"),
               ],
               factory: .pruner { p in MedianPruner(warmupEpochs: p.int("warmup_epochs", default: 1), minTrials: p.int("min_trials", default: 3)) }),
        Plugin(.pruner, "asha", "asynchronous successive halving: at epochs min_epochs·eta^k only the best 1/eta go on (Li et al. 2020)",
               parameters: [
                   ParameterDeclaration("min_epochs", .integer(minimum: 1, maximum: 100_000), default: .int(1), "the epoch of the first rung"),
                   ParameterDeclaration("eta", .integer(minimum: 2, maximum: 100), default: .int(3), "the reduction factor η: rungs η times apart, 1/η of the trials promoted"),
                   ParameterDeclaration("min_early_stopping_rate", .integer(minimum: 0, maximum: 30), default: .int(0), "s: the first rung at min_epochs·eta^s"),
               ],
               factory: .pruner { p in
                   ASHAPruner(minEpochs: p.int("min_epochs", default: 1), eta: p.int("eta", default: 3), minEarlyStoppingRate: p.int("min_early_stopping_rate", default: 0))
               }),
    ]
}
