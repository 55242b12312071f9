import struct ConvLabKit.MetricName
import Foundation
import RunStore

extension Reporter {
    /// View 4: one run in detail — provenance, resolved spec, curves, gradient norms per layer,
    /// gradient-check records and events.
    public func run(_ id: Int64, chartWidth: Int = 60) throws(StoreError) -> ReportDocument {
        let info = try reader.query("""
            SELECT r.id, e.name, r.variant_label, r.status, r.seed, r.spec_hash, r.host, r.os, r.convlab_version, r.swift_version,
                   r.blas, r.started_at, r.finished_at, r.heartbeat_at, r.epochs_done, r.epochs_planned, r.steps_done, r.error, r.spec_json
            FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE r.id = ?
            """, arguments: [.integer(id)])
        guard let row = info.rows.first else {
            _ = try reader.resolveRun(String(id))     // throws the store's message for an unknown id
            throw StoreError(.unknownRun, path: reader.path, "no run with id \(id) (see `runner report`)")
        }
        let statusRow = try runRows(RunFilter(runIDs: [id])).first
        func date(_ v: SQLValue) -> String {
            guard let t = v.double else { return "–" }
            let formatter = ISO8601DateFormatter()
            return formatter.string(from: Date(timeIntervalSince1970: t))
        }
        let facts: [(String, String)] = [
            ("run", "\(id)"), ("experiment", row[1].string ?? ""), ("variant", (row[2].string ?? "").isEmpty ? "–" : row[2].string ?? ""),
            ("status", statusRow.map(displayStatus) ?? (row[3].string ?? "")), ("seed", row[4].description), ("spec hash", row[5].string ?? ""),
            ("epochs", "\(row[14].description)/\(row[15].description), \(row[16].description) steps"),
            ("started", date(row[11])), ("finished", date(row[12])), ("host", row[6].string ?? ""), ("os", row[7].string ?? ""),
            ("versions", "ConvLab \(row[8].string ?? "?"), \(row[9].string ?? "?"), \(row[10].string ?? "?")"),
        ] + (row[17].string.map { [("error", $0)] } ?? [])
        let identity = try RunIdentity.load(reader, run: id)
        let factTable = Table(columns: ["field", "value"], rows: (Array(facts.prefix(1)) + identity.leadingFacts + facts.dropFirst() + identity.provenanceFacts).map { [$0.0, $0.1] })

        let metrics = try reader.query("SELECT name, step, epoch, value, wall_time FROM metrics WHERE run_id = ? ORDER BY name, step",
                                       arguments: [.integer(id)])
        var series: [String: [(x: Double, y: Double)]] = [:]
        for m in metrics.rows {
            guard let name = m[0].string, let step = m[1].double, let epoch = m[2].double, let value = m[3].double else { continue }
            series[name, default: []].append((MetricName(name).isPerEpoch ? epoch : step, value))
        }
        var charts = ""
        if let loss = series[MetricName.trainLoss.rawValue] {
            charts += Chart.lines([Chart.Series(name: "", points: loss)], width: chartWidth, height: 10, title: "training loss (x: step)")
        }
        let accuracies = [MetricName.trainAccuracyEpoch, .validationAccuracy, .testAccuracy].compactMap { name in
            series[name.rawValue].map { Chart.Series(name: name.rawValue.replacingOccurrences(of: "_epoch", with: ""), points: $0) }
        }
        if !accuracies.isEmpty {
            charts += "\n" + Chart.lines(accuracies, width: chartWidth, height: 10, title: "accuracy (x: epoch)")
        }
        let losses = [MetricName.trainLossEpoch, .validationLoss, .testLoss].compactMap { name in
            series[name.rawValue].map { Chart.Series(name: name.rawValue.replacingOccurrences(of: "_epoch", with: ""), points: $0) }
        }
        if !losses.isEmpty { charts += "\n" + Chart.lines(losses, width: chartWidth, height: 8, title: "loss per epoch (x: epoch)") }

        let norms = try reader.query("SELECT layer, layer_kind, tensor, step, l2 FROM grad_norms WHERE run_id = ? ORDER BY layer, tensor DESC, step",
                                     arguments: [.integer(id)])
        var normSeries: [(String, [Double])] = []
        for n in norms.rows {
            let name = "\(n[0].description) \(n[1].string ?? "").\(n[2].string ?? "")"
            if normSeries.last?.0 != name { normSeries.append((name, [])) }
            normSeries[normSeries.count - 1].1.append(n[4].double ?? .nan)
        }
        let normTable = Table(columns: ["layer.tensor", "over time", "first", "last", "min", "max"], rows: normSeries.map { name, values in
            [name, Chart.sparkline(values, width: 40), Numbers.scientific(values.first), Numbers.scientific(values.last),
             Numbers.scientific(values.min()), Numbers.scientific(values.max())]
        }, alignments: [.left, .left, .right, .right, .right, .right])

        let checkSummary = try reader.query("""
            SELECT step, COUNT(*) AS checked, SUM(outcome = 'passed') AS passed, SUM(outcome = 'failed') AS failed,
                   SUM(outcome = 'skipped') AS skipped, SUM(outcome = 'trivial') AS trivial,
                   MAX(CASE WHEN outcome IN ('passed', 'failed') THEN rel_error END) AS worst_rel_error
            FROM grad_checks WHERE run_id = ? GROUP BY step ORDER BY step
            """, arguments: [.integer(id)]).addingConclusiveColumn(no: "no")
        let inconclusiveSteps = checkSummary.column("conclusive").filter { $0 == .text("no") }.count
        let checks = try reader.query("""
            SELECT step, layer, layer_kind, tensor, entry, analytic, numeric, abs_error, rel_error, outcome
            FROM grad_checks WHERE run_id = ? ORDER BY step, layer, tensor, entry
            """, arguments: [.integer(id)])
        let failures = QueryResult(columns: checks.columns, rows: checks.rows.filter { $0[9].string == "failed" })
        let events = try reader.query("SELECT time, kind, message FROM events WHERE run_id = ? ORDER BY time", arguments: [.integer(id)])
        let eventTable = Table(columns: ["time", "kind", "message"], rows: events.rows.map { [date($0[0]), $0[1].string ?? "", $0[2].string ?? ""] })

        let costs: [ReportDocument.Section] = try costSections(id)
        return ReportDocument([
            .init(title: "Run \(id)", table: factTable)] + identity.notesSection + [
            .init(title: "Curves", text: charts.isEmpty ? "(no metrics yet)\n" : charts,
                  machineTable: Table(query: QueryResult(columns: ["name", "step", "epoch", "value", "wall_time"], rows: metrics.rows))),
            .init(title: "Gradient norms (L2) per layer", table: normSeries.isEmpty ? nil : normTable,
                  text: normSeries.isEmpty ? "(none recorded)\n" : nil,
                  machineTable: Table(query: try reader.query("SELECT step, layer, layer_kind, tensor, l2, max_abs FROM grad_norms WHERE run_id = ? ORDER BY step, layer, tensor",
                                                              arguments: [.integer(id)]))),
            .init(title: "Gradient checks", table: checkSummary.rows.isEmpty ? nil : Table(query: checkSummary),
                  text: checkSummary.rows.isEmpty ? "(none recorded)\n"
                      : (failures.rows.isEmpty ? "" : "failed entries:\n" + Table(query: failures).renderText(width: 160))
                        + GradientCheckWords.verdict(checks: checkSummary.rows.count, inconclusive: inconclusiveSteps, failed: failures.rows.count),
                  machineTable: Table(query: checks)),
            .init(title: "Events", table: eventTable)] + costs + [
            .init(title: "Resolved spec", text: (row[18].string ?? "") + "\n",
                  machineTable: Table(columns: ["spec_json"], rows: [[row[18].string ?? ""]])),
        ])
    }
}
