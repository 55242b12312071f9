import Reports
import RunStore

/// `/runs/ID`: one run — the sections of `runner report --run ID` (facts and provenance, notes,
/// gradient checks, events, cost, the resolved spec) with its curves and per-layer gradient norms
/// drawn as SVG charts, and its checkpoints. While the run trains, app.js polls the metrics API
/// and redraws the charts as points arrive.
enum RunPage {
    static func render(_ reporter: Reporter, _ reference: String, _ query: QueryParameters) throws -> String {
        try query.rejectUnknown(allowed: [])
        let reader = reporter.reader
        let id = try reader.resolveRun(reference)
        let document = try reporter.run(id)
        let state = try reporter.runs(RunFilter(runIDs: [id])).sections.first?.table
        let status = state.flatMap { table in table.columns.firstIndex(of: "status").flatMap { table.rows.first?[$0] } } ?? "?"
        let label = try reader.query("SELECT e.name, r.variant_label FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE r.id = ?",
                                     arguments: [.integer(id)]).rows.first
        let curves = try Curves.load(reader, run: id)
        let live = status == "running"

        var body = "<div id=\"run\" data-run=\"\(id)\" data-live=\"\(live)\">\n"
        body += "<h1>Run \(id) <span class=\"subtitle\">\(HTML.escape(label?[0].string ?? ""))"
        if let variant = label?[1].string, !variant.isEmpty { body += " · \(HTML.escape(variant))" }
        body += "</span> <span id=\"run-status\">\(RunsPage.statusBadge(status))</span></h1>\n"
        body += "<p class=\"meta\"><span id=\"run-progress\"></span>\(live ? " The curves grow as the run records more." : "")"
        body += " <a href=\"/api/runs/\(id)\">JSON</a>"
        if reader.schemaVersion >= 6, let trial = try reader.query("SELECT trial, experiment_id FROM runs WHERE id = ? AND trial IS NOT NULL",
                                                                   arguments: [.integer(id)]).rows.first {
            body += " · trial \(trial[0].description) of <a href=\"/searches/\(trial[1].description)\">its search</a>"
        }
        body += "</p>\n"

        body += "<h2>Curves</h2>\n<p class=\"controls\"><label>smoothing of noisy series <select id=\"smoothing\">"
            + [("0", "off"), ("0.6", "0.6"), ("0.8", "0.8"), ("0.95", "0.95")].map { "<option value=\"\($0.0)\"\($0.0 == "0.6" ? " selected" : "")>\($0.1)</option>" }.joined()
            + "</select></label> (the raw series stays faint behind the average)</p>\n"
        body += "<div class=\"grid\">\n" + charts(curves) + "</div>\n"
        for section in document.sections {
            switch section.title {
            case "Curves": continue
            case "Gradient norms (L2) per layer":
                body += "<h2>Gradient norms per layer</h2>\n"
                if curves.gradNorms.isEmpty { body += "<p class=\"empty\" id=\"grad-empty\">None recorded yet.</p>\n" }
                body += "<div class=\"grid\" id=\"grad-charts\">\n" + gradCharts(curves) + "</div>\n"
                if var table = section.table, let sparkline = table.columns.firstIndex(of: "over time") {
                    // The braille sparkline is for terminals; the charts above show the same.
                    table.columns.remove(at: sparkline)
                    table.alignments.remove(at: sparkline)
                    for r in table.rows.indices { table.rows[r].remove(at: sparkline) }
                    body += HTML.table(table)
                }
            case "Resolved spec":
                body += "<h2>Resolved spec</h2>\n" + HTML.preformatted(section.text ?? "", class: "spec")
            default:
                body += "<h2>\(HTML.escape(section.title.hasPrefix("Run ") ? "Run" : section.title))</h2>\n"
                if let table = section.table { body += HTML.table(table) }
                if let text = section.text, !text.isEmpty { body += HTML.preformatted(text, class: "note") }
            }
        }
        body += try checkpoints(reader, run: id)
        body += "</div>\n"
        return PageLayout.page(title: "Run \(id)", storePath: reader.path, body: body)
    }

    /// The three charts of a run's metrics. Their `data-*` attributes tell app.js which metrics
    /// each draws, so it can redraw them from the API.
    static func charts(_ curves: Curves) -> String {
        func chart(_ key: String, _ title: String, x: String, names: [String], smoothing: Double = 0) -> String {
            let series = names.compactMap { name in curves.metrics[name].map { SVGChart.Series(name: Curves.legend(name), points: $0) } }
            let chart = SVGChart(title: title, xLabel: x, series: series, smoothing: smoothing)
            return chart.render(attributes: " data-chart=\"\(key)\" data-names=\"\(names.joined(separator: ","))\" data-x=\"\(x)\""
                + " data-title=\"\(HTML.escape(title))\" data-smoothing=\"\(smoothing)\"")
        }
        return chart("train_loss", "training loss", x: "step", names: ["train_loss"], smoothing: 0.6)
            + chart("accuracy", "accuracy", x: "epoch", names: ["train_accuracy_epoch", "validation_accuracy", "test_accuracy"])
            + chart("epoch_loss", "loss per epoch", x: "epoch", names: ["train_loss_epoch", "validation_loss", "test_loss"])
    }

    /// One chart per layer, its tensors as series, on a log scale and smoothed (raw faintly behind).
    static func gradCharts(_ curves: Curves) -> String {
        var layers: [(layer: Int, series: [SVGChart.Series])] = []
        for norm in curves.gradNorms {
            if layers.last?.layer != norm.layer { layers.append((norm.layer, [])) }
            layers[layers.count - 1].series.append(SVGChart.Series(name: norm.name, points: norm.points))
        }
        return layers.map { layer in
            SVGChart(title: "layer \(layer.layer) ‖∇‖₂", xLabel: "step", series: layer.series, logarithmic: true, smoothing: 0.6)
                .render(attributes: " data-chart=\"grad\" data-layer=\"\(layer.layer)\" data-x=\"step\" data-title=\"layer \(layer.layer) ‖∇‖₂\" data-smoothing=\"0.6\" data-log=\"true\"")
        }.joined()
    }

    /// Every checkpoint the run wrote (schema 3 on).
    static func checkpoints(_ reader: StoreReader, run id: Int64) throws(StoreError) -> String {
        guard reader.schemaVersion >= 3 else { return "" }
        let rows = try reader.query("SELECT epoch, step, path, bytes, sha256 FROM checkpoints WHERE run_id = ? ORDER BY epoch", arguments: [.integer(id)])
        guard !rows.rows.isEmpty else { return "<h2>Checkpoints</h2>\n<p class=\"empty\">None.</p>\n" }
        let table = Table(columns: ["epoch", "step", "file", "bytes", "sha256"], rows: rows.rows.map { row in
            [row[0].description, row[1].description, row[2].string ?? "", row[3].description, row[4].string ?? ""]
        }, alignments: [.right, .right, .left, .right, .left])
        return "<h2>Checkpoints</h2>\n" + HTML.table(table)
    }
}
