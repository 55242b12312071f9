import Reports
import RunStore

/// `/compare?runs=1,2,5` overlays the runs' curves and puts their final metrics side by side
/// (two runs: also the spec keys that differ, as `report --compare`); `/compare?group_by=KEY`
/// compares groups as `report --group-by` does — mean ± sd, 95 % intervals, with `baseline` the
/// differences and their tests — with each group's mean curve.
enum ComparePage {
    static let maxRuns = 40

    static func render(_ reporter: Reporter, _ query: QueryParameters) throws -> String {
        try query.rejectUnknown(allowed: API.filterParameters.union(["runs", "group_by", "baseline", "target_accuracy"]))
        let reader = reporter.reader
        let references = query.values("runs", splittingCommas: true)
        let keys = query.values("group_by", splittingCommas: true)
        guard references.count <= maxRuns else {
            throw HTTPProblem.badParameter("runs", "\(references.count) runs; pick at most \(maxRuns), or compare groups with group_by")
        }
        guard !references.isEmpty || !keys.isEmpty else {
            return PageLayout.page(title: "Compare", storePath: reader.path, body: """
                <h1>Compare</h1>
                <p>Pick runs on the <a href="/">runs page</a> and press “Compare selected”, or name them here:</p>
                <form action="/compare" method="get"><label>runs <input name="runs" placeholder="1,2,5" size="20"></label>
                <label>or group by <input name="group_by" placeholder="model.pooling" size="20"></label>
                <label>baseline <input name="baseline" placeholder="max" size="8"></label> <button type="submit">Compare</button></form>
                """)
        }
        var ids: [Int64] = []
        for reference in references {
            let id = try reader.resolveRun(reference)
            if !ids.contains(id) { ids.append(id) }
        }
        var filter = try API.filter(query)
        filter.runIDs = ids
        guard let runsTable = try reporter.runs(filter).sections.first?.table, !runsTable.rows.isEmpty else {
            throw HTTPProblem(.notFound, "no runs match these filters; see the runs page")
        }
        let shown = runsTable.rows.compactMap { Int64($0[0]) }
        guard shown.count <= maxRuns || !keys.isEmpty else {
            throw HTTPProblem.badParameter("runs", "\(shown.count) runs match; narrow the filters to at most \(maxRuns)")
        }

        var body = "<h1>Compare \(keys.isEmpty ? "\(shown.count) runs" : "groups by " + HTML.escape(keys.joined(separator: ", ")))</h1>\n"
        if !keys.isEmpty {
            let document = try reporter.groups(by: keys, filter: filter, targetAccuracy: try API.targetAccuracy(query), baseline: try query.value("baseline"))
            for section in document.sections {
                body += "<h2>\(HTML.escape(section.title))</h2>\n" + (section.table.map { HTML.table($0) } ?? "")
                if let text = section.text, !text.isEmpty { body += HTML.preformatted(text, class: "note") }
            }
        } else if shown.count == 2 {
            for section in try reporter.compare(shown[0], shown[1]).sections {
                body += "<h2>\(HTML.escape(section.title))</h2>\n" + (section.table.map { HTML.table($0) } ?? "")
                if let text = section.text, !text.isEmpty { body += HTML.preformatted(text, class: "note") }
            }
        }
        body += "<h2>Final metrics</h2>\n" + HTML.table(runsTable, cell: { r, c, text in
            c == 0 ? "<a href=\"/runs/\(HTML.escape(text))\">\(HTML.escape(text))</a>" : HTML.escape(text)
        })

        // Curves: each run's, or each group's mean over its runs at the x values they share.
        let curveRuns = Array(shown.prefix(keys.isEmpty ? maxRuns : 400))
        var curves: [Int64: Curves] = [:]
        for id in curveRuns { curves[id] = try Curves.load(reader, run: id, points: 400, gradNorms: false) }
        var labels: [(name: String, members: [Int64])] = []
        if keys.isEmpty {
            let variantColumn = runsTable.columns.firstIndex(of: "variant")
            labels = runsTable.rows.compactMap { row in
                guard let id = Int64(row[0]) else { return nil }
                let variant = variantColumn.map { row[$0] } ?? ""
                return ("run \(id)" + (variant.isEmpty || variant == "–" ? "" : " \(variant)"), [id])
            }
        } else {
            let params = try reader.query("""
                SELECT run_id, key, value_text FROM params WHERE run_id IN (\(curveRuns.map { _ in "?" }.joined(separator: ", ")))
                AND key IN (\(keys.map { _ in "?" }.joined(separator: ", ")))
                """, arguments: curveRuns.map { .integer($0) } + keys.map { .text($0) })
            var values: [Int64: [String: String]] = [:]
            for row in params.rows { if let id = row[0].double, let key = row[1].string, let value = row[2].string { values[Int64(id), default: [:]][key] = value } }
            for id in curveRuns {
                let name = keys.map { "\(Reporter.shortKeyName($0))=\(values[id]?[$0] ?? "–")" }.joined(separator: " ")
                if let index = labels.firstIndex(where: { $0.name == name }) { labels[index].members.append(id) } else { labels.append((name, [id])) }
            }
        }
        func series(_ metric: String) -> [SVGChart.Series] {
            labels.compactMap { label in
                var sums: [Double: (total: Double, count: Int)] = [:]
                for id in label.members { for point in curves[id]?.metrics[metric] ?? [] {
                    let sum = sums[point.x] ?? (0, 0)
                    sums[point.x] = (sum.total + point.y, sum.count + 1)
                } }
                let points = sums.keys.sorted().compactMap { x in sums[x].map { (x: x, y: $0.total / Double($0.count)) } }
                let name = label.members.count > 1 ? "\(label.name) (mean of \(label.members.count))" : label.name
                return points.isEmpty ? nil : SVGChart.Series(name: name, points: points)
            }
        }
        body += "<h2>Curves</h2>\n<div class=\"grid\">\n"
        body += SVGChart(title: "training loss", xLabel: "step", series: series("train_loss"), smoothing: 0.6).render()
        body += SVGChart(title: "test accuracy", xLabel: "epoch", series: series("test_accuracy")).render()
        body += SVGChart(title: "test loss", xLabel: "epoch", series: series("test_loss")).render()
        body += "</div>\n"
        return PageLayout.page(title: "Compare", storePath: reader.path, body: body)
    }
}

extension Reporter {
    /// The last part of a dotted spec key, as the report's labels show it (`pooling` for `model.pooling`).
    static func shortKeyName(_ key: String) -> String { key.split(separator: ".").last.map(String.init) ?? key }
}
