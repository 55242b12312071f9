import ConvCore
import TextKit

/// What a sampler is asked for: the values of trial `trial`.
public struct SampleRequest: Sendable {
    /// 1-based number of the trial being drawn.
    public var trial: Int
    public var space: SearchSpace
    public var direction: ObjectiveDirection
    /// Every other trial the store holds, in number order, whatever its state (a sampler
    /// decides which count: completed and pruned ones have values per epoch).
    public var history: [TrialRecord]

    public init(trial: Int, space: SearchSpace, direction: ObjectiveDirection, history: [TrialRecord]) {
        self.trial = trial
        self.space = space
        self.direction = direction
        self.history = history
    }
}

/// A sampler's answer: the values, one per dimension in the space's order, each inside its
/// domain, and what the sampler based them on, recorded with the run (`runs.search_state`) so a
/// reader can see why (e.g. `{"phase": "startup"}` or `{"phase": "tpe", "good": [3, 7], ...}`).
public struct SampledTrial: Sendable, Equatable {
    public var values: [JSONValue]
    public var state: JSONValue

    public init(values: [JSONValue], state: JSONValue) {
        self.values = values
        self.state = state
    }
}

/// Draws a search's trials (a `sampler` plugin: built in are `random` and `tpe`). `random` is
/// seeded from the search's seed and the trial's number alone, so a trial's values depend only
/// on the spec, the seed and the history the sampler is shown, never on the process drawing it.
public protocol Sampler: Sendable {
    func sample(_ request: SampleRequest, random: inout SplitMix64) -> SampledTrial
}
