import RunStore

/// `report --compare A B`: the spec keys on which two runs differ, side by side, then their
/// final metrics side by side.
extension Reporter {
    static let comparedMetrics: [(column: String, label: String)] = [
        ("final_train_loss", "final train loss"), ("final_test_loss", "final test loss"),
        ("final_test_accuracy", "final test accuracy"), ("best_test_accuracy", "best test accuracy"),
        ("images_per_second", "images/s"), ("epochs_done", "epochs done"),
    ]

    /// Two single runs have no interval: n = 1 on each side.
    static let singleRunCaveat = """
        One run on each side (n = 1): the difference has no confidence interval, and one seed cannot tell \
        two settings apart. For an interval and a test, train several seeds and compare groups: \
        runner report --group-by KEY --baseline VALUE.

        """

    public func compare(_ a: Int64, _ b: Int64) throws(StoreError) -> ReportDocument {
        guard a != b else {
            throw StoreError(.invalidValue, path: reader.path, "--compare needs two different runs, got run \(a) twice")
        }
        let rows = try runRows(RunFilter(runIDs: [a, b]))
        guard let first = rows.first(where: { $0.id == a }), let second = rows.first(where: { $0.id == b }) else {
            throw StoreError(.unknownRun, path: reader.path, "no run with id \(rows.contains { $0.id == a } ? b : a) (see `runner report`)")
        }
        let heads = ["run \(a)", "run \(b)"]
        let identity = Table(
            columns: ["", heads[0], heads[1]],
            rows: [["uuid", Self.shortUUID(first.uuid), Self.shortUUID(second.uuid)], ["experiment", first.experiment, second.experiment],
                   ["variant", first.variantLabel.isEmpty ? "–" : first.variantLabel, second.variantLabel.isEmpty ? "–" : second.variantLabel],
                   ["status", displayStatus(first), displayStatus(second)]],
            values: [[.text("uuid"), first.uuid.map { .text($0) } ?? .null, second.uuid.map { .text($0) } ?? .null],
                     [.text("experiment"), .text(first.experiment), .text(second.experiment)],
                     [.text("variant"), .text(first.variantLabel), .text(second.variantLabel)],
                     [.text("status"), .text(displayStatus(first)), .text(displayStatus(second))]])

        let params = try reader.query("SELECT run_id, key, value_text FROM params WHERE run_id IN (?, ?) ORDER BY key",
                                      arguments: [.integer(a), .integer(b)])
        var keys: [String] = []
        var values: [String: [Int64: String]] = [:]
        for row in params.rows {
            guard let id = row[0].double.map({ Int64($0) }), let key = row[1].string, let value = row[2].string else { continue }
            if values[key] == nil { keys.append(key) }
            values[key, default: [:]][id] = value
        }
        let differing = keys.filter { values[$0]?[a] != values[$0]?[b] }
        let specTable = Table(columns: ["spec key"] + heads, rows: differing.map { [$0, values[$0]?[a] ?? "–", values[$0]?[b] ?? "–"] },
                              values: differing.map { key in [.text(key)] + [a, b].map { values[key]?[$0].map { .text($0) } ?? .null } })

        let finals = try reader.query("""
            SELECT run_id, \(Self.comparedMetrics.map(\.column).joined(separator: ", ")) FROM run_final_metrics WHERE run_id IN (?, ?)
            """, arguments: [.integer(a), .integer(b)])
        func value(_ run: Int64, _ index: Int) -> Double? {
            finals.rows.first { $0[0].double.map { Int64($0) } == run }?[index + 1].double
        }
        let metricRows = Self.comparedMetrics.indices.map { i -> (String, Double?, Double?) in
            (Self.comparedMetrics[i].label, value(a, i), value(b, i))
        }
        let metricTable = Table(
            columns: ["metric"] + heads + ["difference (\(b) − \(a))"],
            rows: metricRows.map { label, x, y in
                let digits = label == "images/s" || label == "epochs done" ? 0 : 4
                let difference = x.flatMap { x in y.map { $0 - x } }
                return [label, Numbers.fixed(x, digits), Numbers.fixed(y, digits),
                        difference.map { ($0 > 0 ? "+" : "") + Numbers.fixed($0, digits) } ?? "–"]
            },
            alignments: [.left, .right, .right, .right],
            values: metricRows.map { label, x, y in [.text(label), num(x), num(y), num(x.flatMap { x in y.map { $0 - x } })] })
        return ReportDocument([
            .init(title: "Runs \(a) and \(b)", table: identity),
            .init(title: "Spec keys that differ", table: differing.isEmpty ? nil : specTable,
                  text: differing.isEmpty ? "(none: the two runs have the same resolved spec)\n" : nil,
                  machineTable: specTable),
            .init(title: "Final metrics", table: metricTable, text: Self.singleRunCaveat),
        ])
    }
}
