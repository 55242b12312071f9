import ConvLabKit

/// The built-in samplers and pruners of a spec's `search` section.
enum SearchPlugins {
    static let samplers: [Plugin] = [
        Plugin(.sampler, "random", "every value drawn independently and uniformly from its domain", factory: .sampler { _ in RandomSampler() }),
    ]

    static let pruners: [Plugin] = [
        Plugin(.pruner, "none", "every trial trains for all its epochs", factory: .pruner { _ in NoPruner() }),
    ]
}
