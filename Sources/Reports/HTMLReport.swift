import struct ConvLabKit.MetricName
import Foundation
import RunStore

/// `report --html`: one self-contained file (inline SVG and CSS, no scripts, no network) with
/// loss and accuracy curves per run and per group, gradient norms per layer and the
/// gradient-check summary. Written as well-formed XHTML so that any XML parser can read it.
extension Reporter {
    /// With `comparing`, the page starts with `compare(a, b)`'s tables, and the charts overlay
    /// the two runs (pass a filter of those two runs).
    public func html(filter: RunFilter, groupBy keys: [String], targetAccuracy: Double,
                     comparing: (Int64, Int64)? = nil, baseline: String? = nil) throws(StoreError) -> String {
        let rows = try runRows(filter)
        let (matrixKeys, matrixValues) = try self.matrixKeys(rows)
        func label(_ row: RunRow) -> String {
            let variant = matrixKeys.map { "\(Self.shortKey($0))=\(matrixValues[row.id]?[$0] ?? "–")" }.joined(separator: " ")
            return "run \(row.id)" + (variant.isEmpty ? "" : " \(variant)")
        }
        let ids = rows.map(\.id)
        var body = "<h1>ConvLab report</h1>\n<p class=\"meta\">\(escape(reader.path)) · \(rows.count) run\(rows.count == 1 ? "" : "s") · generated \(escape(ISO8601DateFormatter().string(from: Date())))</p>\n"
        guard !rows.isEmpty else { return page(body + "<p>No runs match.</p>\n") }

        if let (a, b) = comparing {
            for section in try compare(a, b).sections {
                body += "<h2>\(escape(section.title))</h2>\n" + (section.table.map { htmlTable($0) + htmlParagraphs(section.text) } ?? "<p>\(escape(section.text ?? ""))</p>\n")
            }
        }
        body += "<h2>Runs</h2>\n" + htmlTable(try runs(filter).sections[0].table)
        body += try htmlCosts(ids)
        body += try htmlSearches(ids)

        let idList = ids.map { _ in "?" }.joined(separator: ", ")
        // A chart is 420 pixels wide, so each run's training-loss curve is thinned to about 300
        // points in SQL (every k-th record, k from the run's recording interval and length):
        // a store of a million rows draws as fast as a small one.
        var curves: [String: [Int64: [(Double, Double)]]] = [:]
        let intervals = try reader.query("""
            SELECT r.id, r.steps_done, COALESCE(p.value_real, 1) FROM runs r
            LEFT JOIN params p ON p.run_id = r.id AND p.key = ? WHERE r.id IN (\(idList))
            """, arguments: [.text(MetricName.trainLossIntervalKey)] + ids.map { .integer($0) })
        for row in intervals.rows {
            guard let id = row[0].double.map({ Int64($0) }), let steps = row[1].double, let every = row[2].double else { continue }
            let stride = Int64(every) * Int64(max(1, (steps / every / 300).rounded(.up)))
            // Two queries, so that each is a range of the (run_id, name, step) index.
            let points = try reader.query("""
                SELECT name, step, epoch, value FROM metrics WHERE run_id = ? AND name = ? AND step % ? = 0
                UNION ALL
                SELECT name, step, epoch, value FROM metrics WHERE run_id = ? AND name IN (?, ?, ?)
                ORDER BY step
                """, arguments: [.integer(id), .text(MetricName.trainLoss.rawValue), .integer(stride), .integer(id)]
                    + [MetricName.testAccuracy, .testLoss, .validationAccuracy].map { .text($0.rawValue) })
            for m in points.rows {
                guard let name = m[0].string, let step = m[1].double, let epoch = m[2].double, let value = m[3].double else { continue }
                curves[name, default: [:]][id, default: []].append((name == MetricName.trainLoss.rawValue ? step : epoch, value))
            }
        }
        func runSeries(_ name: MetricName) -> [SVGSeries] {
            rows.compactMap { row in curves[name.rawValue]?[row.id].map { SVGSeries(name: label(row), points: $0) } }
        }
        body += "<h2>Curves per run</h2>\n<div class=\"grid\">\n"
        body += svgChart(title: "training loss", xLabel: "step", series: runSeries(.trainLoss))
        body += svgChart(title: "test accuracy", xLabel: "epoch", series: runSeries(.testAccuracy))
        body += svgChart(title: "test loss", xLabel: "epoch", series: runSeries(.testLoss))
        if curves[MetricName.validationAccuracy.rawValue] != nil { body += svgChart(title: "validation accuracy", xLabel: "epoch", series: runSeries(.validationAccuracy)) }
        body += "</div>\n"

        if !keys.isEmpty {
            let document = try groups(by: keys, filter: filter, targetAccuracy: targetAccuracy, baseline: baseline)
            body += "<h2>Groups by \(escape(keys.joined(separator: ", ")))</h2>\n" + htmlTable(document.sections.first?.table)
                + htmlParagraphs(document.sections.first?.text)
            if baseline != nil, document.sections.count > 1 {
                let difference = document.sections[1]
                body += "<h2>\(escape(difference.title))</h2>\n" + htmlTable(difference.table) + htmlParagraphs(difference.text)
            }
            // Mean curve of each group: the average over its runs at each x they share.
            let params = try reader.query("SELECT run_id, key, value_text FROM params WHERE run_id IN (\(idList)) AND key IN (\(keys.map { _ in "?" }.joined(separator: ", ")))",
                                          arguments: ids.map { .integer($0) } + keys.map { .text($0) })
            var groupOf: [Int64: [String: String]] = [:]
            for p in params.rows { if let id = p[0].double, let k = p[1].string, let v = p[2].string { groupOf[Int64(id), default: [:]][k] = v } }
            var order: [String] = []
            var members: [String: [Int64]] = [:]
            for row in rows {
                let name = keys.map { "\(Self.shortKey($0))=\(groupOf[row.id]?[$0] ?? "–")" }.joined(separator: " ")
                if members[name] == nil { order.append(name) }
                members[name, default: []].append(row.id)
            }
            func groupSeries(_ metric: MetricName) -> [SVGSeries] {
                order.compactMap { name in
                    var sums: [Double: (Double, Int)] = [:]
                    for id in members[name] ?? [] { for (x, y) in curves[metric.rawValue]?[id] ?? [] { let s = sums[x] ?? (0, 0); sums[x] = (s.0 + y, s.1 + 1) } }
                    let points = sums.keys.sorted().map { ($0, sums[$0].map { $0.0 / Double($0.1) } ?? 0) }
                    return points.isEmpty ? nil : SVGSeries(name: "\(name) (mean of \(members[name]?.count ?? 0))", points: points)
                }
            }
            body += "<div class=\"grid\">\n" + svgChart(title: "training loss, group mean", xLabel: "step", series: groupSeries(.trainLoss))
                + svgChart(title: "test accuracy, group mean", xLabel: "epoch", series: groupSeries(.testAccuracy)) + "</div>\n"
            if document.sections.count > 1 { body += "<h3>Mean gradient L2 norm per layer</h3>\n" + htmlTable(document.sections[1].table) }
        }

        // Thinned like the loss curves: about 300 points per run and tensor.
        var normRows: [[SQLValue]] = []
        for row in intervals.rows {
            guard let id = row[0].double.map({ Int64($0) }), let steps = row[1].double else { continue }
            let every = try reader.query("SELECT value_real FROM params WHERE run_id = ? AND key = 'probes.grad_norms.every'",
                                         arguments: [.integer(id)]).rows.first?.first?.double ?? 1
            let stride = Int64(max(every, 1)) * Int64(max(1, (steps / max(every, 1) / 300).rounded(.up)))
            normRows += try reader.query("""
                SELECT run_id, layer, layer_kind, tensor, step, l2 FROM grad_norms WHERE run_id = ? AND step % ? = 0 ORDER BY layer, tensor DESC, step
                """, arguments: [.integer(id), .integer(stride)]).rows
        }
        let norms = QueryResult(columns: ["run_id", "layer", "layer_kind", "tensor", "step", "l2"], rows: normRows)
        var normOrder: [String] = []
        var normCurves: [String: [Int64: [(Double, Double)]]] = [:]
        for n in norms.rows {
            guard let id = n[0].double, let step = n[4].double, let l2 = n[5].double else { continue }
            let name = "layer \(n[1].description) \(n[2].string ?? "").\(n[3].string ?? "")"
            if normCurves[name] == nil { normOrder.append(name) }
            normCurves[name, default: [:]][Int64(id), default: []].append((step, l2))
        }
        if !normOrder.isEmpty {
            body += "<h2>Gradient norms per layer</h2>\n<div class=\"grid\">\n"
            for name in normOrder {
                body += svgChart(title: "\(name) ‖∇‖₂", xLabel: "step", series: rows.compactMap { row in
                    normCurves[name]?[row.id].map { SVGSeries(name: label(row), points: $0) }
                }, logY: true)
            }
            body += "</div>\n"
        }

        // Counted here rather than read from the grad_check_summary view, so that a store not yet
        // upgraded to schema 2 (read-only here) reports too.
        let checks = try reader.query("""
            SELECT run_id AS run, COUNT(*) AS checked, SUM(outcome = 'passed') AS passed, SUM(outcome = 'failed') AS failed,
                   SUM(outcome = 'skipped') AS skipped, SUM(outcome = 'trivial') AS trivial,
                   MAX(CASE WHEN outcome IN ('passed', 'failed') THEN rel_error END) AS worst_rel_error
            FROM grad_checks WHERE run_id IN (\(idList)) GROUP BY run_id ORDER BY run_id
            """, arguments: ids.map { .integer($0) }).addingConclusiveColumn(no: "no: more than half skipped or trivial")
        body += "<h2>Gradient checks</h2>\n" + (checks.rows.isEmpty ? "<p>None recorded.</p>\n" : htmlTable(Table(query: checks)))
        return page(body)
    }

    struct SVGSeries {
        var name: String
        var points: [(Double, Double)]
    }

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]

    func svgChart(title: String, xLabel: String, series: [SVGSeries], logY: Bool = false) -> String {
        let (width, height, left, right, top, bottom) = (420.0, 260.0, 56.0, 12.0, 28.0, 40.0)
        func ty(_ y: Double) -> Double { logY ? log10(max(y, 1e-30)) : y }
        let all = series.flatMap(\.points).filter { $0.0.isFinite && $0.1.isFinite && (!logY || $0.1 > 0) }
        var svg = "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\">\n"
        svg += "<title>\(escape(title))</title>\n<text x=\"\(Int(left))\" y=\"16\" font-size=\"12\" font-weight=\"bold\">\(escape(title))\(logY ? " (log scale)" : "")</text>\n"
        guard let minX = all.map(\.0).min(), let maxX = all.map(\.0).max(), let minY = all.map({ ty($0.1) }).min(), let maxY = all.map({ ty($0.1) }).max() else {
            return svg + "<text x=\"\(Int(left))\" y=\"120\">no data</text></svg></figure>\n"
        }
        let spanX = maxX > minX ? maxX - minX : 1, spanY = maxY > minY ? maxY - minY : 1
        func px(_ x: Double) -> Double { left + (x - minX) / spanX * (width - left - right) }
        func py(_ y: Double) -> Double { height - bottom - (ty(y) - minY) / spanY * (height - top - bottom) }
        svg += "<rect x=\"\(Int(left))\" y=\"\(Int(top))\" width=\"\(Int(width - left - right))\" height=\"\(Int(height - top - bottom))\" fill=\"none\" stroke=\"#999\"/>\n"
        func axisLabel(_ v: Double) -> String {
            let value = logY ? pow(10, v) : v
            return abs(value) != 0 && (abs(value) < 1e-3 || abs(value) >= 1e5) ? String(format: "%.1e", value) : String(format: "%.4g", value)
        }
        for i in 0...4 {
            let v = minY + spanY * Double(i) / 4
            let y = height - bottom - Double(i) / 4 * (height - top - bottom)
            svg += "<text x=\"\(Int(left - 4))\" y=\"\(String(format: "%.1f", y + 4))\" font-size=\"10\" fill=\"#555\" text-anchor=\"end\">\(axisLabel(v))</text>\n"
        }
        svg += "<text x=\"\(Int(left))\" y=\"\(Int(height - bottom + 16))\" font-size=\"10\" fill=\"#555\">\(String(format: "%.4g", minX))</text>\n"
        svg += "<text x=\"\(Int(width - right))\" y=\"\(Int(height - bottom + 16))\" font-size=\"10\" fill=\"#555\" text-anchor=\"end\">\(String(format: "%.4g", maxX))</text>\n"
        svg += "<text x=\"\(Int((left + width) / 2))\" y=\"\(Int(height - 6))\" font-size=\"10\" fill=\"#555\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        for (i, s) in series.enumerated() {
            let color = Self.palette[i % Self.palette.count]
            let points = s.points.filter { $0.0.isFinite && $0.1.isFinite && (!logY || $0.1 > 0) }
                .map { coordinate(px($0.0)) + "," + coordinate(py($0.1)) }.joined(separator: " ")
            svg += "<polyline data-series=\"\(escape(s.name))\" points=\"\(points)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\"/>\n"
        }
        svg += "</svg>\n<figcaption>" + series.enumerated().map { i, s in
            "<span style=\"color:\(Self.palette[i % Self.palette.count])\">■</span> \(escape(s.name))"
        }.joined(separator: " &#160; ") + "</figcaption></figure>\n"
        return svg
    }

    func htmlTable(_ table: Table?) -> String {
        guard let table else { return "" }
        var html = "<table>\n<thead><tr>" + table.columns.map { "<th>\(escape($0))</th>" }.joined() + "</tr></thead>\n<tbody>\n"
        for row in table.rows {
            html += "<tr>" + row.enumerated().map { c, cell in
                "<td\(table.alignments[c] == .right ? " class=\"num\"" : "")>\(escape(cell))</td>"
            }.joined() + "</tr>\n"
        }
        return html + "</tbody>\n</table>\n"
    }

    /// What each run cost, and the warnings and errors runs printed (schema 5 on).
    func htmlCosts(_ ids: [Int64]) throws(StoreError) -> String {
        guard let costs = try costTable(ids) else { return "" }
        var html = "<h2>Cost per run</h2>\n" + htmlTable(costs.display)
        let problems = try reader.query("""
            SELECT run_id, level, line FROM run_log WHERE level IN ('warning', 'error')
            AND run_id IN (\(ids.map { _ in "?" }.joined(separator: ", "))) ORDER BY run_id, time, rowid
            """, arguments: ids.map { .integer($0) })
        if !problems.rows.isEmpty {
            html += "<h2>Warnings and errors the runs printed</h2>\n"
                + htmlTable(Table(columns: ["run", "level", "line"], rows: problems.rows.map { [$0[0].description, $0[1].string ?? "", $0[2].string ?? ""] }))
        }
        return html
    }

    /// Each non-empty line of a section's text as a paragraph.
    func htmlParagraphs(_ text: String?) -> String {
        (text ?? "").split(separator: "\n").map { "<p>\(escape(String($0)))</p>\n" }.joined()
    }

    func page(_ body: String) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <!DOCTYPE html>
        <html xmlns="http://www.w3.org/1999/xhtml" lang="en">
        <head>
        <meta charset="UTF-8"/>
        <title>ConvLab report</title>
        <style>
        body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
        table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
        th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; }
        td.num { text-align: right; font-variant-numeric: tabular-nums; }
        .grid { display: flex; flex-wrap: wrap; gap: 1em; }
        figure { margin: 0; }
        figcaption { font-size: 0.8em; max-width: 420px; }
        .meta { color: #666; }
        </style>
        </head>
        <body>
        \(body)</body>
        </html>

        """
    }
}

/// A pixel coordinate with one decimal, without the cost of String(format:) per point.
func coordinate(_ value: Double) -> String {
    let tenths = Int((value * 10).rounded())
    let sign = tenths < 0 ? "-" : ""
    return "\(sign)\(abs(tenths) / 10).\(abs(tenths) % 10)"
}

/// Text for XHTML content and attributes. Control characters are shown escaped as in the
/// terminal (`\u{1B}`): XML 1.0 admits most of them in no form, not even as character references.
func escape(_ text: String) -> String {
    TerminalText.escaped(text).replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        .replacingOccurrences(of: "'", with: "&#39;")
}
