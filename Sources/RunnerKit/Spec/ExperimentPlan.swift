import Foundation
import RunStore

/// A spec file resolved into its runs.
public struct ExperimentPlan: Sendable {
    public var name: String
    public var file: String
    public var text: String
    public var runs: [RunPlan]
}

extension ExperimentPlan {
    /// SHA-256 of the indices and spec hashes of all its runs, in matrix order: what identifies the
    /// experiment in the store, so that running the same spec again continues it, and an edited
    /// spec (any resolved value changed, a run added or removed) is a new experiment.
    public var sweepHash: String {
        DataFileHash.sha256(Data(runs.map { "\($0.index) \($0.specHash)" }.joined(separator: "\n").utf8))
    }
}
