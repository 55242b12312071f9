import ConvLabKit
import Foundation
import TextKit

/// One run, fully resolved: everything the training loop needs, and what the store records.
public struct RunPlan: Sendable {
    public var index: Int
    public var variant: MatrixVariant
    public var seed: UInt64
    /// The resolved spec (all defaults filled in) as canonical JSON, and its hash.
    public var resolvedJSON: String
    public var specHash: String
    /// The resolved spec flattened: ("optimizer.learning_rate", "0.05", 0.05).
    public var params: [(key: String, text: String, real: Double?)]

    public var datasetPlugin: DatasetPlugin
    public var datasetName: String
    public var datasetParameters: ResolvedParameters
    public var inputShape: Shape
    public var classes: Int
    public var layers: [any LayerConfiguration]
    public var initializer: any WeightInitializer
    public var loss: any LossFunction
    public var optimizer: any OptimizerRecipe
    /// The optimizer's `learning_rate`, which the schedule scales.
    public var learningRate: Double
    public var schedule: any LearningRatePolicy
    public var training: TrainingSection
    public var evaluation: EvaluationSection
    /// In the order the spec's `probes` lists them (the built-in ones first when it lists none).
    public var probes: [ProbeRecipe]
    public var checkpoint: CheckpointSettings
    public var summary: [LayerSummary]
    public var parameterCount: Int

    /// The run's identity in the store (`runs.spec_hash`, DESIGN §4): FNV-1a of its resolved spec
    /// without the `checkpoint` section, since how often to checkpoint does not change what a run
    /// computes (changing it neither makes a new experiment nor stops a sweep from resuming).
    static func specHash(of canonical: JSONValue) -> String {
        var hashed = canonical
        hashed.removeMember("checkpoint")
        return String(format: "%016llx", FNV1a64.hash(JSONWriter.write(hashed, pretty: false)))
    }

    /// A key of `params` to compare runs by, e.g. `model.pooling`.
    public func param(_ key: String) -> String? { params.first { $0.key == key }?.text }

    /// The network this run trains, freshly initialised from its seed.
    public func makeNetwork() throws(NetworkBuildError) -> Network<Float> {
        try Network<Float>(input: inputShape, layers: layers, initializer: initializer, seed: seed)
    }
}
