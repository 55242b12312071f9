import Reports
import RunStore

/// `/searches/ID`: a search's trials — `runner report --trials`'s ranked table (each trial linked
/// to its first run), the best trial, the objective over trials and each key's value against the
/// objective. While a trial is unsettled, app.js long-polls `/api/searches/ID/changes` and, when
/// the signature changes, swaps in the page's fresh table and charts without a reload.
enum SearchPage {
    static func render(_ reporter: Reporter, _ reference: String, _ query: QueryParameters) throws -> String {
        try query.rejectUnknown(allowed: [])
        let search = try API.searchTrials(reporter, reference)
        let signature = try reporter.searchSignature(id: search.experimentID, metric: search.metric)
        let live = signature.live
        var body = "<div id=\"search\" data-search=\"\(search.experimentID)\" data-live=\"\(live)\" data-signature=\"\(signature.text)\">\n"
        body += "<h1>Search <span class=\"subtitle\">\(HTML.escape(search.experimentName))</span></h1>\n"
        body += "<p class=\"meta\">" + search.header.split(separator: "\n").map { HTML.escape(String($0)) }.joined(separator: "<br>")
        body += live ? "<br>The table and charts follow the trials as they finish." : ""
        body += "<br><a href=\"/api/searches/\(search.experimentID)\">JSON</a> · <a href=\"/?experiment=\(search.experimentID)\">its runs</a></p>\n"
        body += "<p class=\"best\" id=\"search-best\">\(HTML.escape(search.bestLine))</p>\n"
        let table = search.table
        let status = table.columns.firstIndex(of: "status")
        body += HTML.table(table, id: "trials", cell: { r, c, text in
            let trial = search.trials[r]
            if c == 1, let run = trial.runs.first { return "<a href=\"/runs/\(run)\">\(HTML.escape(text))</a>" }
            if c == status { return RunsPage.statusBadge(text) }
            return HTML.escape(text)
        }, rowAttributes: { r in
            let trial = search.trials[r]
            let kind = trial.status == "running" ? "live" : trial.status.filter { $0.isLetter }
            return " data-trial=\"\(trial.number)\" class=\"\(HTML.escape(kind))\""
        })
        body += "<h2>Charts</h2>\n" + Reporter.searchCharts(search)
        body += "</div>\n"
        return PageLayout.page(title: "Search \(search.experimentName)", storePath: reporter.reader.path, body: body)
    }
}
