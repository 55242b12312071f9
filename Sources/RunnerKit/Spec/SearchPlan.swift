import ConvCore
import ConvLabKit
import Datasets
import Foundation
import Synchronization
import TextKit

/// A spec's `search`, resolved: its space, sampler, pruner, objective and budget, and what it
/// takes to turn a trial's values into the runs that train them. Trials are runs: trial t with
/// seed position s is run `(t − 1) · seedsPerTrial + s + 1`.
public struct SearchPlan: Sendable {
    public var space: SearchSpace
    public var samplerName: String
    public var sampler: any Sampler
    public var prunerName: String
    public var pruner: any Pruner
    public var metric: String
    public var direction: ObjectiveDirection
    public var trials: Int
    public var seed: UInt64
    /// The spec's seed of each run of a trial (`search.seeds`); nil: one run per trial, with the spec's seed.
    public var seeds: [UInt64]?
    /// The `search` section with every default filled in, as each trial run's spec records it.
    public var resolved: JSONValue
    /// The spec without its `search` section: what a trial's values are set into.
    let base: JSONNode
    let builder: TrialRunBuilder

    public var seedsPerTrial: Int { seeds?.count ?? 1 }
    public var runCount: Int { trials * seedsPerTrial }

    /// The trial (1-based) a run index belongs to.
    public func trial(ofRun index: Int) -> Int { (index - 1) / seedsPerTrial + 1 }

    /// The sampler's generator for a trial: it depends on the search's seed and the trial's number only.
    public func generator(trial: Int) -> SplitMix64 {
        var mixer = SplitMix64(seed: seed ^ (UInt64(trial) &* 0xD1B5_4A32_D192_ED03))
        return SplitMix64(seed: mixer.next())
    }

    /// "20 trials × 1 seed, sampler tpe, pruner asha, maximize test_accuracy".
    public var summary: String {
        let seedCount = seedsPerTrial
        return "\(trials) trial\(trials == 1 ? "" : "s") × \(seedCount) seed\(seedCount == 1 ? "" : "s"), sampler \(samplerName), "
            + "pruner \(prunerName), \(direction.rawValue) \(metric)"
    }

    /// A dimension's domain as a spec writes it: `{"log_uniform":[0.0001,1]}`.
    public static func text(of domain: SearchDimension.Domain) -> String { JSONWriter.write(SearchParser.json(domain), pretty: false) }

    /// The run of `trial` at `seedPosition`: without values, the placeholder that is stored until
    /// the trial is drawn (the spec as written, variant "trial N"); with values, the run that trains them.
    public func run(trial: Int, seedPosition: Int, values: [JSONValue]?) throws(SpecError) -> RunPlan {
        let index = (trial - 1) * seedsPerTrial + seedPosition + 1
        let seed = seeds?[seedPosition]
        var document = base
        var assignments: [(key: String, value: JSONValue)] = []
        if let values {
            for (dimension, value) in zip(space.dimensions, values) {
                guard let segments = SearchParser.segments(dimension.key, in: document),
                      case .success(let updated) = MatrixExpansion.set(document, segments[...], JSONNode(value, line: base.line, column: base.column)) else {
                    throw SpecError(file: builder.file, issues: [SpecIssue(path: "search.space.\(dimension.key)", line: 0, column: 0,
                                                                           message: "internal error: the key cannot be set")])
                }
                document = updated
                assignments.append((dimension.key, value))
            }
        }
        if let seed, case .object(var members) = document.value {
            let node = JSONNode(.number(Double(seed)), line: base.line, column: base.column)
            if let at = members.firstIndex(where: { $0.key == "seed" }) { members[at].node = node } else { members.append(("seed", node)) }
            document = JSONNode(.object(members), line: document.line, column: document.column)
        }
        let variant = MatrixVariant(assignments: assignments, seed: seed, document: document, trial: trial)
        return try builder.build(variant, index: index, search: resolved)
    }

    /// The sampled keys' values of a stored variant (`{"optimizer.learning_rate": 0.01, ...}`), in the space's order.
    public func values(fromVariant text: String) -> [JSONValue]? {
        guard let parsed = try? JSONParser.parse(text) else { return nil }
        var values: [JSONValue] = []
        for dimension in space.dimensions {
            guard let node = parsed.value[dimension.key] else { return nil }
            values.append(node.value)
        }
        return values
    }
}

/// Builds the runs of trials (at load for the placeholders and the checks of each domain's
/// ends, at claim for drawn values), describing each data set configuration once per process.
final class TrialRunBuilder: Sendable {
    let registry: PluginRegistry
    let defaultName: String
    let file: String
    private let descriptions = Mutex<[String: Result<DatasetPlugin.Description, DatasetError>]>([:])

    init(registry: PluginRegistry, defaultName: String, file: String) {
        self.registry = registry
        self.defaultName = defaultName
        self.file = file
    }

    func build(_ variant: MatrixVariant, index: Int, search: JSONValue) throws(SpecError) -> RunPlan {
        var builder = RunPlanBuilder(registry: registry, defaultName: defaultName, descriptions: descriptions.withLock { $0 })
        builder.search = search
        let run = builder.build(variant, index: index)
        descriptions.withLock { $0.merge(builder.descriptions) { a, _ in a } }
        guard let run, builder.issues.isEmpty else { throw SpecError(file: file, issues: builder.issues, variant: variant.label) }
        return run
    }
}
