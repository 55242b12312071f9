import RunStore

/// The HTML report's part for a search: its header, the ranked trials, the best trial, and the
/// charts of `SearchCharts`.
extension Reporter {
    /// A section for each search the runs `ids` belong to.
    func htmlSearches(_ ids: [Int64]) throws(StoreError) -> String {
        guard reader.schemaVersion >= 6, !ids.isEmpty else { return "" }
        let experiments = try reader.query("""
            SELECT DISTINCT e.id, e.name FROM runs r JOIN experiments e ON e.id = r.experiment_id
            WHERE r.trial IS NOT NULL AND r.id IN (\(ids.map { _ in "?" }.joined(separator: ", "))) ORDER BY e.id
            """, arguments: ids.map { .integer($0) })
        var html = ""
        for row in experiments.rows {
            guard let id = row[0].double.map({ Int64($0) }) else { continue }
            let search = try searchTrials(id: id, name: row[1].string ?? "")
            html += "<h2>Search \(escape(search.experimentName))</h2>\n" + htmlParagraphs(search.header) + htmlTable(search.table)
                + "<p><strong>\(escape(search.bestLine))</strong></p>\n" + Self.searchCharts(search)
        }
        return html
    }

    /// The objective over trials, then each key's value against the objective.
    public static func searchCharts(_ search: SearchTrials) -> String {
        "<div class=\"grid\">\n" + SearchCharts.objectiveOverTrials(search)
            + search.dimensions.map { SearchCharts.valueAgainstObjective(search, $0) }.joined() + "</div>\n"
    }
}
