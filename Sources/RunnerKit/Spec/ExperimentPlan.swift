import Foundation
import RunStore

/// A spec file resolved into its runs.
public struct ExperimentPlan: Sendable {
    public var name: String
    public var file: String
    public var text: String
    public var runs: [RunPlan]
    /// The spec's search, whose runs are its trials × seeds (placeholders until each trial is drawn); nil for a matrix.
    public var search: SearchPlan?

    public init(name: String, file: String, text: String, runs: [RunPlan], search: SearchPlan? = nil) {
        self.name = name
        self.file = file
        self.text = text
        self.runs = runs
        self.search = search
    }
}

extension ExperimentPlan {
    /// SHA-256 of the indices and spec hashes of all its runs, in matrix order: what identifies the
    /// experiment in the store, so that running the same spec again continues it, and an edited
    /// spec (any resolved value changed, a run added or removed) is a new experiment.
    public var sweepHash: String {
        DataFileHash.sha256(Data(runs.map { "\($0.index) \($0.specHash)" }.joined(separator: "\n").utf8))
    }
}
