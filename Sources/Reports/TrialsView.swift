import enum ConvLabKit.ObjectiveDirection
import RunStore
import TextKit

/// `report --trials`: a search's trials ranked by the objective, with each sampled value, the
/// epochs done ("stopped at epoch 2" for a pruned trial), the seeds, and the best trial.
extension SearchTrials {
    /// Each key's column heading: its last part when that names it alone (learning_rate), else the whole key.
    var shortKeys: [String] {
        let last = dimensions.map { Reporter.shortKey($0.key) }
        return dimensions.indices.map { i in last.filter { $0 == last[i] }.count == 1 ? last[i] : dimensions[i].key }
    }

    /// "maximize (higher is better)".
    var directionWords: String { direction == .maximize ? "maximize (higher is better)" : "minimize (lower is better)" }

    func counts() -> [(status: String, count: Int)] {
        var order: [String] = []
        var count: [String: Int] = [:]
        for trial in trials {
            let status = trial.status.hasPrefix("stale") ? "stale" : trial.status
            if count[status] == nil { order.append(status) }
            count[status, default: 0] += 1
        }
        let preferred = ["completed", "pruned", "running", "stale", "in progress", "interrupted", "failed", "diverged", "queued"]
        return order.sorted { (preferred.firstIndex(of: $0) ?? 99) < (preferred.firstIndex(of: $1) ?? 99) }.map { ($0, count[$0] ?? 0) }
    }

    /// The lines above the table: which search, its objective and direction, sampler, pruner, progress.
    public var header: String {
        let budget = budget.map { " (budget \($0))" } ?? ""
        return """
            Search "\(experimentName)" (experiment \(experimentID)): objective \(metric), \(directionWords), \
            a trial's mean over its seeds at its last epoch done\(objectiveAssumed ? " (assumed: no spec of the search names its objective)" : "")
            sampler \(sampler), pruner \(pruner); \(trials.count) trial\(trials.count == 1 ? "" : "s")\(budget): \
            \(counts().map { "\($0.count) \($0.status)" }.joined(separator: ", "))

            """
    }

    /// The line under the table naming the best trial and its values.
    public var bestLine: String {
        guard let best, let objective = best.objective else {
            return "No trial has completed yet: the ranking is provisional."
        }
        let seeds = best.runs.count == 1 ? "" : "mean of \(best.runs.count) seeds "
        let values = dimensions.compactMap { d in best.values[d.key].map { "\(d.key)=\(Self.display($0))" } }.joined(separator: ", ")
        return "Best: trial \(best.number), \(metric) \(Numbers.fixed(objective)) (\(seeds)at epoch \(best.objectiveEpoch ?? 0))"
            + (values.isEmpty ? "" : ": \(values)")
    }

    func epochsText(_ trial: Trial) -> String {
        trial.status == RunStatusName.pruned ? "stopped at epoch \(trial.epochsDone)" : "\(trial.epochsDone)/\(trial.epochsPlanned)"
    }

    /// The ranked trials as the terminal shows them.
    public var table: Table {
        Table(columns: ["rank", "trial", "status", "epochs", "objective"] + shortKeys + ["seeds"],
              rows: trials.map { trial in
                  [trial.rank.map(String.init) ?? "–", String(trial.number), trial.status, epochsText(trial), Numbers.fixed(trial.objective)]
                      + dimensions.map { d in trial.values[d.key].map(Self.display) ?? "–" }
                      + [trial.seeds.map(String.init).joined(separator: ", ")]
              },
              alignments: [.right, .right, .left, .left, .right] + dimensions.map { $0.categories.isEmpty ? .right : .left } + [.left])
    }

    /// The same for CSV and JSON: full keys, typed values, unrounded objective, seeds and runs as arrays.
    public var machineTable: Table {
        let columns = ["rank", "trial", "status", "epochs_done", "epochs_planned", "stopped_at_epoch", "objective", "objective_epoch"]
            + dimensions.map(\.key) + ["seeds", "runs", "note"]
        let values: [[Table.JSONCell]] = trials.map { trial in
            let fixed: [Table.JSONCell] = [num(trial.rank.map(Double.init)), .number(Double(trial.number)), .text(trial.status),
                                           .number(Double(trial.epochsDone)), .number(Double(trial.epochsPlanned)),
                                           trial.status == RunStatusName.pruned ? .number(Double(trial.epochsDone)) : .null,
                                           num(trial.objective), num(trial.objectiveEpoch.map(Double.init))]
            let sampled: [Table.JSONCell] = dimensions.map { d in
                switch trial.values[d.key] {
                case .number(let n)?: .number(n)
                case .string(let s)?: .text(s)
                case .bool(let b)?: .bool(b)
                case let value?: .json(JSONWriter.write(value, pretty: false))
                case nil: .null
                }
            }
            return fixed + sampled + [.json("[" + trial.seeds.map(String.init).joined(separator: ", ") + "]"),
                                      .json("[" + trial.runs.map(String.init).joined(separator: ", ") + "]"),
                                      trial.note.map { .text($0) } ?? .null]
        }
        return Table(columns: columns, rows: values.map { $0.map(\.plainText) }, values: values)
    }

    /// One row: the search, its objective and progress, and the best trial.
    public var summaryTable: Table {
        var columns = ["experiment_id", "experiment", "objective", "direction", "sampler", "pruner", "budget", "trials"]
        var values: [Table.JSONCell] = [.number(Double(experimentID)), .text(experimentName), .text(metric), .text(direction.rawValue),
                                        .text(sampler), .text(pruner), num(budget.map(Double.init)), .number(Double(trials.count))]
        for status in ["completed", "pruned", "running", "failed", "queued"] {
            columns.append(status)
            values.append(.number(Double(trials.filter { $0.status == status }.count)))
        }
        columns += ["best_trial", "best_objective", "best_epoch"]
        values += [num(best.map { Double($0.number) }), num(best?.objective), num(best?.objectiveEpoch.map(Double.init))]
        return Table(columns: columns, rows: [values.map(\.plainText)], values: [values])
    }

    public var document: ReportDocument {
        ReportDocument([
            .init(title: "Search", text: header, machineTable: summaryTable, singleRow: true),
            .init(title: "Trials", table: table, text: "\n" + bestLine + "\n", machineTable: machineTable),
        ])
    }
}

extension Reporter {
    /// `report --trials [--experiment NAME]`.
    public func trials(experiment: String?) throws -> ReportDocument {
        try searchTrials(experiment: experiment).document
    }
}

extension Table.JSONCell {
    /// The cell as a table's text (what CSV writes when a table has no values).
    var plainText: String {
        switch self {
        case .null: ""
        case .bool(let b): b ? "true" : "false"
        case .number(let n): JSONWriter.number(n)
        case .text(let s): s
        case .json(let j): j
        }
    }
}
