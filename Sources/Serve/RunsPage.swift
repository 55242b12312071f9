import Reports
import RunStore

/// `/`: one row per run — the `runner report` runs view — filtered by experiment, status, tag
/// and `--where` clauses, sortable by any column, live runs marked and stale ones shown as stale,
/// with boxes to pick runs for /compare.
enum RunsPage {
    static let parameters = API.filterParameters.union(["sort", "order"])

    static func render(_ reporter: Reporter, _ query: QueryParameters) throws -> String {
        try query.rejectUnknown(allowed: parameters)
        let filter = try API.filter(query)
        let reader = reporter.reader
        guard var table = try reporter.runs(filter).sections.first?.table else { throw HTTPProblem(.internalServerError, "the runs view returned no table") }
        let sort = try query.value("sort")
        let descending = try query.value("order") == "desc"
        if let sort {
            guard let column = table.columns.firstIndex(of: sort) else {
                throw HTTPProblem.badParameter("sort", "\"\(sort.prefix(40))\" is not a column; columns: \(table.columns.joined(separator: ", "))")
            }
            table = sorted(table, by: column, descending: descending)
        }
        let statusColumn = table.columns.firstIndex(of: "status")
        let experiments = try reader.query("SELECT DISTINCT name FROM experiments ORDER BY name").rows.compactMap { $0[0].string }
        let tags = reader.schemaVersion >= 3 ? try reader.query("SELECT DISTINCT tag FROM run_tags ORDER BY tag").rows.compactMap { $0[0].string } : []
        let runCount = try reader.query("SELECT COUNT(*) FROM runs").rows.first?.first?.double ?? 0

        var body = "<h1>Runs</h1>\n" + filterForm(query, experiments: experiments, tags: tags)
        let searches = try reporter.searches()
        if !searches.isEmpty {
            body += "<p class=\"searches\">Searches, their trials ranked: " + searches.map { search in
                "<a href=\"/searches/\(search.id)\">\(HTML.escape(search.name))</a>"
            }.joined(separator: ", ") + "</p>\n"
        }
        if runCount == 0 {
            body += "<p class=\"empty\">No runs yet — start one with <code>runner exec Experiments/smoke.json --store \(HTML.escape(reader.path))</code>; this page shows it as it trains.</p>\n"
        } else if table.rows.isEmpty {
            body += "<p class=\"empty\">No runs match these filters. <a href=\"/\">Show all runs</a>.</p>\n"
        } else {
            let live = statusColumn.map { c in table.rows.filter { $0[c] == "running" }.count } ?? 0
            body += "<p class=\"meta\">\(table.rows.count) run\(table.rows.count == 1 ? "" : "s")\(live > 0 ? ", \(live) training now" : "")</p>\n"
            body += "<form id=\"compare-form\" action=\"/compare\" method=\"get\">"
            body += "<button type=\"submit\">Compare selected</button> or group by <input name=\"group_by\" placeholder=\"model.pooling\" size=\"18\"> "
            body += "<button type=\"submit\">Compare groups</button></form>\n"
            var display = table
            display.columns.insert("", at: 0)
            display.alignments.insert(.left, at: 0)
            for r in display.rows.indices { display.rows[r].insert("", at: 0) }
            let sortPairs = query.pairs.filter { $0.name != "sort" && $0.name != "order" }.map { ($0.name, $0.value) }
            body += HTML.table(display, id: "runs", header: { c, name in
                guard c > 0 else { return "" }
                let next = sort == name && !descending ? "desc" : "asc"
                let arrow = sort == name ? (descending ? " ▼" : " ▲") : ""
                return "<a href=\"/\(HTML.escape(HTML.query(sortPairs + [("sort", name), ("order", next)])))\">\(HTML.escape(name))\(arrow)</a>"
            }, cell: { r, c, text in
                let id = table.rows[r][0]
                if c == 0 { return "<input type=\"checkbox\" name=\"runs\" value=\"\(HTML.escape(id))\" form=\"compare-form\" aria-label=\"pick run \(HTML.escape(id))\">" }
                if c == 1 { return "<a href=\"/runs/\(HTML.escape(HTML.percent(id)))\">\(HTML.escape(text))</a>" }
                if let statusColumn, c == statusColumn + 1 { return statusBadge(text) }
                return HTML.escape(text)
            }, rowAttributes: { r in
                " data-run=\"\(HTML.escape(table.rows[r][0]))\"" + (statusColumn.map { table.rows[r][$0] == "running" ? " class=\"live\"" : "" } ?? "")
            })
        }
        return PageLayout.page(title: "Runs", storePath: reader.path, body: body)
    }

    /// A status as a badge: live runs (running, heartbeat fresh) and stale ones stand out.
    static func statusBadge(_ status: String) -> String {
        let kind = status == "running" ? "live" : status.hasPrefix("stale") ? "stale" : status
        let label = status == "running" ? "● running" : status
        return "<span class=\"status \(HTML.escape(kind.filter { $0.isLetter }))\">\(HTML.escape(label))</span>"
    }

    /// Rows ordered by one column: numbers as numbers, text as text, empty cells last.
    static func sorted(_ table: Table, by column: Int, descending: Bool) -> Table {
        var result = table
        let order = table.rows.indices.sorted { a, b in
            let x = table.values?[a][column], y = table.values?[b][column]
            switch (x, y) {
            case (.number(let p)?, .number(let q)?): return p == q ? a < b : (descending ? p > q : p < q)
            case (.number?, _): return true
            case (_, .number?): return false
            default:
                let p = table.rows[a][column], q = table.rows[b][column]
                if p == q { return a < b }
                if p == "–" || p.isEmpty { return false }
                if q == "–" || q.isEmpty { return true }
                return descending ? p > q : p < q
            }
        }
        result.rows = order.map { table.rows[$0] }
        result.values = table.values.map { values in order.map { values[$0] } }
        return result
    }

    static func filterForm(_ query: QueryParameters, experiments: [String], tags: [String]) -> String {
        let experiment = query.values("experiment").first
        let statuses = Set(query.values("status", splittingCommas: true))
        let tagChosen = Set(query.values("tag"))
        var form = "<form class=\"filters\" action=\"/\" method=\"get\">\n"
        form += "<label>experiment <select name=\"experiment\"><option value=\"\">all</option>"
        form += experiments.map { "<option\($0 == experiment ? " selected" : "") value=\"\(HTML.escape($0))\">\(HTML.escape($0))</option>" }.joined()
        form += "</select></label>\n<label>status <select name=\"status\"><option value=\"\">any</option>"
        form += API.statuses.map { "<option\(statuses.contains($0) ? " selected" : "")>\($0)</option>" }.joined()
        form += "</select></label>\n"
        if !tags.isEmpty {
            form += "<label>tag <select name=\"tag\"><option value=\"\">any</option>"
            form += tags.map { "<option\(tagChosen.contains($0) ? " selected" : "") value=\"\(HTML.escape($0))\">\(HTML.escape($0))</option>" }.joined()
            form += "</select></label>\n"
        }
        form += "<label>where <input name=\"where\" size=\"28\" placeholder=\"optimizer.learning_rate&lt;0.1\" value=\"\(HTML.escape(query.values("where").first ?? ""))\"></label>\n"
        form += "<button type=\"submit\">Filter</button></form>\n"
        return form
    }
}
