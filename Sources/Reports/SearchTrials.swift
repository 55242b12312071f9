import enum ConvLabKit.ObjectiveDirection
import RunStore
import TextKit

/// A search's trials as the store holds them (issue 19's contract): each trial is the runs of one
/// `runs.trial` number (one per seed), its sampled values in `variant`, and its objective at epoch e
/// the mean over those runs of the objective metric at e; a trial's result is its value at the last
/// epoch every one of its runs has done. Trials are ranked: completed ones by their objective, then
/// pruned ones by their last value, then the rest by number.
public struct SearchTrials: Sendable {
    /// One key of the search space, with what its axis needs: log for log_uniform, categories for choice.
    public struct Dimension: Sendable, Equatable {
        public var key: String
        /// `uniform`, `log_uniform`, `int` or `choice` (as the spec writes it); `unknown` when the spec does not say.
        public var domain: String
        /// The choices' labels, in the spec's order (choice only).
        public var categories: [String]
    }

    public struct Trial: Sendable {
        public var number: Int
        /// The trial's runs' statuses folded into one (see `SearchTrials.status(of:)`).
        public var status: String
        public var runs: [Int64]
        public var seeds: [Int64]
        /// Epochs every run of the trial has done, and planned.
        public var epochsDone: Int
        public var epochsPlanned: Int
        /// Sampled values by key; empty until the trial is drawn.
        public var values: [String: JSONValue]
        /// The objective per epoch: the mean over the trial's runs, at the epochs all of them recorded.
        public var intermediate: [(epoch: Int, value: Double)]
        /// The pruner's reason (a pruned trial) or the error (a failed one).
        public var note: String?
        /// 1-based place among the completed and pruned trials; nil for the rest.
        public var rank: Int?

        public var objective: Double? { intermediate.last?.value }
        public var objectiveEpoch: Int? { intermediate.last?.epoch }
    }

    public var experimentID: Int64
    public var experimentName: String
    public var metric: String
    public var direction: ObjectiveDirection
    public var sampler: String
    public var pruner: String
    /// `search.trials` of the spec, when it says.
    public var budget: Int?
    public var dimensions: [Dimension]
    /// True when no spec of the search could be read for its objective: test_accuracy, maximize, assumed.
    public var objectiveAssumed = false
    /// Ranked.
    public var trials: [Trial]

    /// The completed trial with the best objective.
    public var best: Trial? { trials.first { $0.status == RunStatusName.completed && $0.objective != nil } }

    /// Ranks completed trials by objective, then pruned ones by their last value, then the rest by
    /// number; ties go to the lower trial number.
    static func ranked(_ trials: [Trial], direction: ObjectiveDirection) -> [Trial] {
        func bucket(_ t: Trial) -> Int {
            guard t.objective != nil else { return 2 }
            return t.status == RunStatusName.completed ? 0 : t.status == RunStatusName.pruned ? 1 : 2
        }
        var sorted = trials.sorted { a, b in
            let (ba, bb) = (bucket(a), bucket(b))
            if ba != bb { return ba < bb }
            if ba < 2, let x = a.objective, let y = b.objective, x != y { return direction.prefers(x, over: y) }
            return a.number < b.number
        }
        for i in sorted.indices { sorted[i].rank = bucket(sorted[i]) < 2 ? i + 1 : nil }
        return sorted
    }

    /// One status for a trial's runs: running while any runs, completed when all completed, else
    /// what stopped it (pruned, diverged, failed), stale or interrupted, queued when none started,
    /// and "in progress" for a mix of finished and waiting seeds.
    static func status(of statuses: [String]) -> String {
        if statuses.contains(RunStatusName.running) { return RunStatusName.running }
        if !statuses.isEmpty, statuses.allSatisfy({ $0 == RunStatusName.completed }) { return RunStatusName.completed }
        for stopped in [RunStatusName.pruned, "diverged", "failed"] where statuses.contains(stopped) { return stopped }
        if let stale = statuses.first(where: { $0.hasPrefix("stale") }) { return stale }
        if statuses.contains("interrupted") { return "interrupted" }
        if statuses.allSatisfy({ $0 == "queued" }) { return "queued" }
        return "in progress"
    }

    /// How a value reads in a table: strings as they are, numbers short (0.01235, 64), anything
    /// else (a plugin object) as compact JSON.
    public static func display(_ value: JSONValue) -> String {
        if case .number(let n) = value, n != n.rounded() || abs(n) >= 1e15 { return String(format: "%.4g", n) }
        return label(value)
    }

    /// A value's exact name, as the charts' categories use it (and app.js names it: String(v)).
    public static func label(_ value: JSONValue) -> String {
        switch value {
        case .string(let s): s
        case .number(let n): JSONWriter.number(n)
        case .bool(let b): b ? "true" : "false"
        case .null: "null"
        case .array, .object: JSONWriter.write(value, pretty: false)
        }
    }
}

/// Status names the search views compare with (`RunStatus`'s raw values).
enum RunStatusName {
    static let completed = "completed", pruned = "pruned", running = "running"
}

/// The `search` section of a resolved spec: what the trials views need of it.
struct SearchSection {
    var metric: String
    var direction: ObjectiveDirection
    var sampler: String
    var pruner: String
    var budget: Int?
    var dimensions: [SearchTrials.Dimension]
    /// Whether the objective was assumed because no spec named it.
    var assumed = false

    /// What a search whose specs say nothing readable is taken to be: ConvLab's default objective.
    static let assumedDefault = SearchSection(metric: "test_accuracy", direction: .maximize, sampler: "unknown", pruner: "unknown",
                                              budget: nil, dimensions: [], assumed: true)

    init(metric: String, direction: ObjectiveDirection, sampler: String, pruner: String, budget: Int?, dimensions: [SearchTrials.Dimension], assumed: Bool) {
        self.metric = metric; self.direction = direction; self.sampler = sampler; self.pruner = pruner
        self.budget = budget; self.dimensions = dimensions; self.assumed = assumed
    }

    /// Nil when the spec has no `search` object.
    init?(specJSON: String) {
        guard let root = try? JSONParser.parse(specJSON).value, case .object? = root["search"]?.value, let search = root["search"]?.value else { return nil }
        var metric: String?
        if case .string(let m)? = search["objective"]?.value["metric"]?.value { metric = m }
        if metric == nil {
            // The contract's default: validation accuracy when a validation split exists.
            var split = 0.0
            if case .number(let s)? = root["training"]?.value["validation_split"]?.value { split = s }
            metric = split > 0 ? "validation_accuracy" : "test_accuracy"
        }
        self.metric = metric ?? "test_accuracy"
        if case .string(let d)? = search["objective"]?.value["direction"]?.value, let direction = ObjectiveDirection(rawValue: d) {
            self.direction = direction
        } else {
            self.direction = self.metric.hasSuffix("_loss") ? .minimize : .maximize
        }
        func plugin(_ node: JSONNode?, default name: String) -> String {
            if case .string(let s)? = node?.value { return s }
            if case .string(let s)? = node?.value["plugin"]?.value { return s }
            return name
        }
        sampler = plugin(search["sampler"], default: "tpe")
        pruner = plugin(search["pruner"], default: "none")
        if case .number(let n)? = search["trials"]?.value, n == n.rounded(), abs(n) < 1e9 { budget = Int(n) } else { budget = nil }
        var dimensions: [SearchTrials.Dimension] = []
        if case .object(let members)? = search["space"]?.value {
            for member in members {
                guard case .object(let domain) = member.node.value, let first = domain.first else {
                    dimensions.append(.init(key: member.key, domain: "unknown", categories: []))
                    continue
                }
                var categories: [String] = []
                if first.key == "choice", case .array(let choices) = first.node.value { categories = choices.map { SearchTrials.label($0.value) } }
                dimensions.append(.init(key: member.key, domain: first.key, categories: categories))
            }
        }
        self.dimensions = dimensions
    }
}
