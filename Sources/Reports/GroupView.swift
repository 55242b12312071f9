import enum ConvLabKit.RunStatus
import RunStore
import TextKit

extension Reporter {
    /// View 3: runs grouped by the values of spec keys, with mean ± standard deviation of their
    /// final and best metrics, the 95 % interval of the mean final test accuracy, epochs to reach
    /// an accuracy, and mean gradient norms per layer. With `baseline` (a group's values, e.g.
    /// "max"), each other group's difference from it with its evidence (`GroupComparison`).
    public func groups(by keys: [String], filter: RunFilter, targetAccuracy: Double, baseline: String? = nil) throws(StoreError) -> ReportDocument {
        let rows = try runRows(filter)
        guard !rows.isEmpty else { return ReportDocument([]) }
        let ids = rows.map(\.id)
        let idList = ids.map { _ in "?" }.joined(separator: ", ")
        let idArguments = ids.map { SQLValue.integer($0) }

        // Each run's value of each key; a key no run has is an error worth a suggestion.
        let keyList = keys.map { _ in "?" }.joined(separator: ", ")
        let params = try reader.query("SELECT run_id, key, value_text FROM params WHERE run_id IN (\(idList)) AND key IN (\(keyList))",
                                      arguments: idArguments + keys.map { .text($0) })
        var valueOf: [Int64: [String: String]] = [:]
        for row in params.rows {
            guard let id = row[0].double.map({ Int64($0) }), let key = row[1].string, let value = row[2].string else { continue }
            valueOf[id, default: [:]][key] = value
        }
        for key in keys where !params.rows.contains(where: { $0[1].string == key }) {
            let known = try reader.query("SELECT DISTINCT key FROM params WHERE run_id IN (\(idList)) ORDER BY key", arguments: idArguments)
                .rows.compactMap { $0[0].string }.filter { !$0.contains("[") }
            let hint = closestMatch(to: key, among: known).map { "did you mean \"\($0)\"? " } ?? ""
            throw StoreError(.badQuery, path: reader.path, "no run has the spec key \"\(key)\"; \(hint)keys include: \(known.prefix(12).joined(separator: ", "))")
        }

        // Epoch at which each run first reached the target accuracy.
        let reached = try reader.query("""
            SELECT run_id, MIN(epoch) FROM metrics WHERE run_id IN (\(idList)) AND name = 'test_accuracy' AND value >= ? GROUP BY run_id
            """, arguments: idArguments + [.real(targetAccuracy)])
        var epochsToTarget: [Int64: Double] = [:]
        for row in reached.rows { if let id = row[0].double, let epoch = row[1].double { epochsToTarget[Int64(id)] = epoch } }

        let finalTestLoss = try reader.query("SELECT run_id, final_test_loss FROM run_final_metrics WHERE run_id IN (\(idList))", arguments: idArguments)
        var testLoss: [Int64: Double] = [:]
        for row in finalTestLoss.rows { if let id = row[0].double, let v = row[1].double { testLoss[Int64(id)] = v } }

        // Group, in order of first appearance.
        var order: [[String]] = []
        var members: [[String]: [RunRow]] = [:]
        for row in rows {
            let label = keys.map { valueOf[row.id]?[$0] ?? "–" }
            if members[label] == nil { order.append(label) }
            members[label, default: []].append(row)
        }

        /// Mean, sample standard deviation (nil for a single value, where it is undefined) and interval.
        func stats(_ values: [Double]) -> Statistics.Summary? { Statistics.summary(values) }
        func show(_ s: Statistics.Summary?, _ digits: Int = 4) -> String {
            guard let s else { return "–" }
            return Numbers.fixed(s.mean, digits) + (s.sd.map { " ± " + Numbers.fixed($0, digits) } ?? "")
        }
        func showInterval(_ s: Statistics.Summary?) -> String {
            guard let s else { return "–" }
            return s.interval.map { Numbers.fixed($0.low, 4) + " … " + Numbers.fixed($0.high, 4) } ?? "unknown (n = 1)"
        }

        var tableRows: [[String]] = []
        var jsonRows: [[Table.JSONCell]] = []
        // A pruned run stopped early: its last values are from an earlier epoch than the others',
        // so it counts in `runs` and `pruned` but not in the statistics.
        let prunedCount = rows.filter { $0.status == RunStatus.pruned.rawValue }.count
        for label in order {
            let all = members[label] ?? []
            let group = all.filter { $0.status != RunStatus.pruned.rawValue }
            let pruned = all.count - group.count
            let finalAcc = stats(group.compactMap(\.finalTestAccuracy))
            let bestAcc = stats(group.compactMap(\.bestTestAccuracy))
            let trainLoss = stats(group.compactMap(\.finalTrainLoss))
            let finalLoss = stats(group.compactMap { testLoss[$0.id] })
            let hitting = group.compactMap { epochsToTarget[$0.id] }
            let toTarget = stats(hitting)
            let completed = group.filter { $0.status == "completed" }.count
            tableRows.append(label + [String(all.count), "\(completed)"] + (prunedCount > 0 ? [String(pruned)] : []) + [show(finalAcc), showInterval(finalAcc), show(bestAcc), show(trainLoss), show(finalLoss),
                                      hitting.isEmpty ? "never" : "\(show(toTarget, 1)) (\(hitting.count)/\(group.count))"])
            jsonRows.append(label.map { .text($0) } + [.number(Double(all.count)), .number(Double(completed)), .number(Double(pruned)),
                            .number(Double(finalAcc?.n ?? 0)), num(finalAcc?.mean), num(finalAcc?.sd ?? nil),
                            num(finalAcc?.interval?.low), num(finalAcc?.interval?.high),
                            num(bestAcc?.mean), num(bestAcc?.sd ?? nil), num(bestAcc?.interval?.low), num(bestAcc?.interval?.high),
                            num(trainLoss?.mean), num(trainLoss?.sd ?? nil), num(finalLoss?.mean), num(finalLoss?.sd ?? nil),
                            num(toTarget?.mean), .number(Double(hitting.count))])
        }
        let target = Numbers.fixed(targetAccuracy, 2)
        let summary = Table(columns: keys + ["runs", "completed"] + (prunedCount > 0 ? ["pruned"] : []) + ["final test acc", "95 % CI of mean", "best test acc", "final train loss", "final test loss", "epochs to \(target)"],
                            rows: tableRows, alignments: keys.map { _ in .left } + Array(repeating: .right, count: prunedCount > 0 ? 9 : 8))
        let jsonTable = Table(columns: keys + ["runs", "completed", "pruned", "final_test_accuracy_n", "final_test_accuracy_mean", "final_test_accuracy_sd",
                                               "final_test_accuracy_ci95_low", "final_test_accuracy_ci95_high", "best_test_accuracy_mean",
                                               "best_test_accuracy_sd", "best_test_accuracy_ci95_low", "best_test_accuracy_ci95_high",
                                               "final_train_loss_mean", "final_train_loss_sd", "final_test_loss_mean",
                                               "final_test_loss_sd", "epochs_to_target_mean", "runs_reaching_target"],
                              rows: jsonRows.map { $0.map { cell in if case .text(let s) = cell { s } else if case .number(let n) = cell { JSONWriter.number(n) } else { "" } } },
                              values: jsonRows)

        // Mean gradient norm per layer and tensor, averaged over each group's runs.
        let norms = try reader.query("""
            SELECT run_id, layer, layer_kind, tensor, AVG(l2) FROM grad_norms WHERE run_id IN (\(idList))
            GROUP BY run_id, layer, layer_kind, tensor ORDER BY layer, tensor DESC
            """, arguments: idArguments)
        var tensors: [String] = []
        var perRun: [Int64: [String: Double]] = [:]
        for row in norms.rows {
            guard let id = row[0].double, let layer = row[1].double, let kind = row[2].string, let tensor = row[3].string, let v = row[4].double else { continue }
            let name = "\(Int(layer)) \(kind).\(tensor)"
            if !tensors.contains(name) { tensors.append(name) }
            perRun[Int64(id), default: [:]][name] = v
        }
        var sections: [ReportDocument.Section] = []
        let single = order.filter { label in (members[label] ?? []).filter { $0.status != RunStatus.pruned.rawValue }.compactMap(\.finalTestAccuracy).count == 1 }
        let prunedNote = prunedCount == 0 ? "" : """
            \(prunedCount) pruned run\(prunedCount == 1 ? "" : "s") (stopped early by a search's pruner) \(prunedCount == 1 ? "counts" : "count") \
            in runs and pruned but not in the statistics: \(prunedCount == 1 ? "its" : "their") last values are from an earlier epoch.

            """
        let singleNote = single.isEmpty ? "" : """
            \(single.count == order.count ? "Every group has" : "\(single.map { $0.joined(separator: ", ") }.joined(separator: "; ")) \(single.count == 1 ? "has" : "have")") \
            one run, so its interval is unknown: one seed cannot tell groups apart, since another seed moves \
            the accuracy too. Add seeds to the matrix ("seeds": [1, 2, 3]).

            """
        let note = prunedNote + singleNote
        sections.append(.init(title: "Groups by \(keys.joined(separator: ", "))", table: summary, text: note.isEmpty ? nil : note, machineTable: jsonTable))
        if let baseline {
            let finals = order.map { label in (label, (members[label] ?? []).filter { $0.status == "completed" }) }
            sections.append(try comparison(of: finals, keys: keys, baseline: baseline))
        }
        if !tensors.isEmpty {
            let groupNames = order.map { $0.joined(separator: ", ") }
            let normRows = tensors.map { tensor in
                [tensor] + order.map { label in
                    let values = (members[label] ?? []).compactMap { perRun[$0.id]?[tensor] }
                    return values.isEmpty ? "–" : Numbers.scientific(values.reduce(0, +) / Double(values.count))
                }
            }
            sections.append(.init(title: "Mean gradient L2 norm per layer", table: Table(columns: ["layer.tensor"] + groupNames, rows: normRows,
                                                                                          alignments: [.left] + groupNames.map { _ in .right })))
        }
        return ReportDocument(sections)
    }
}
