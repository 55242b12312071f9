import ConvLabKit

/// When a run saves its training state (spec section `checkpoint`).
public struct CheckpointSettings: Sendable, Equatable {
    public enum Keep: String, Sendable, Equatable { case last, all }
    /// 0: never.
    public var everyEpochs: Int
    public var keep: Keep

    public init(everyEpochs: Int, keep: Keep) {
        self.everyEpochs = everyEpochs
        self.keep = keep
    }

    /// The resolved `checkpoint` section (validation filled in `SpecSections.checkpoint`'s defaults
    /// and checked `keep` against its choices).
    init(resolved section: ResolvedParameters) {
        everyEpochs = section.int("every_epochs")
        keep = Keep(rawValue: section.string("keep")) ?? .last
    }

    /// Whether a checkpoint is written after `epoch` (from 1) of `epochs`: every `everyEpochs`
    /// epochs, and after the last one, so the final state is always kept.
    public func writes(afterEpoch epoch: Int, of epochs: Int) -> Bool {
        everyEpochs > 0 && (epoch % everyEpochs == 0 || epoch == epochs)
    }
}
