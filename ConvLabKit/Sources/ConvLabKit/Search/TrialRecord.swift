import TextKit

/// A trial of a search as samplers and pruners see it: its values, how far it got, and its
/// objective per epoch. With `seeds`, a trial is several runs and each epoch's value is their mean.
public struct TrialRecord: Sendable, Equatable {
    public enum State: String, Sendable, CaseIterable {
        /// Values drawn; training, or waiting to be trained or resumed.
        case running
        /// Trained for all its epochs.
        case completed
        /// Stopped early by the pruner; its epochs so far count.
        case pruned
        /// Failed or diverged: it has no objective a sampler can use.
        case failed
    }

    /// 1-based, in the order the trials' values were drawn.
    public var number: Int
    /// One value per dimension of the search space, in its order.
    public var values: [JSONValue]
    public var state: State
    /// The objective after each epoch done, keyed by epoch (1-based).
    public var intermediate: [Int: Double]

    public init(number: Int, values: [JSONValue], state: State, intermediate: [Int: Double] = [:]) {
        self.number = number
        self.values = values
        self.state = state
        self.intermediate = intermediate
    }

    /// The objective at the last epoch done (the trial's result once completed or pruned).
    public var lastValue: Double? { intermediate.max { $0.key < $1.key }?.value }
    /// The last epoch with a value, or 0.
    public var lastEpoch: Int { intermediate.keys.max() ?? 0 }
}
