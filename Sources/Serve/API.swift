import enum ConvLabKit.RunStatus
import Foundation
import Reports
import RunStore

/// The JSON API the pages use. Views that `runner report` has answer with exactly its JSON
/// (`/api/runs` is `runner report --format json`, `/api/runs/ID` is `report --run ID`,
/// `/api/compare` is `report --compare A B`, `/api/groups` is `report --group-by`); the
/// incremental endpoints give metric and gradient-norm rows after a step, as `--history` does.
enum API {
    static let filterParameters: Set<String> = ["experiment", "status", "tag", "where"]
    static let statuses = RunStatus.allCases.map(\.rawValue)
    /// Rows one incremental answer holds at most; a client asks again from `last_step`.
    static let maxRows = 20_000

    /// The runs a request's filters select (the same filters as `runner report`).
    static func filter(_ query: QueryParameters) throws(HTTPProblem) -> RunFilter {
        var filter = RunFilter(experiment: try query.value("experiment"), statuses: query.values("status", splittingCommas: true),
                               tags: query.values("tag"))
        for status in filter.statuses where !statuses.contains(status) {
            throw HTTPProblem.badParameter("status", "\"\(status.prefix(40))\" is not one of \(statuses.joined(separator: ", "))")
        }
        for text in query.values("where") {
            do {
                filter.wheres.append(try WhereClause.parse(text))
            } catch {
                throw HTTPProblem.badParameter("where", error.message)
            }
        }
        return filter
    }

    static func reporter(_ reader: StoreReader, staleAfter: Double) -> Reporter {
        var reporter = Reporter(reader: reader)
        reporter.staleAfter = staleAfter
        return reporter
    }

    /// `/api/runs`: `runner report --format json` with the same filters.
    static func runs(_ reporter: Reporter, _ query: QueryParameters) throws -> String {
        try query.rejectUnknown(allowed: filterParameters)
        return try reporter.runs(try filter(query)).render(.json, width: 200)
    }

    /// `/api/runs/ID`: `runner report --run ID --format json`.
    static func run(_ reporter: Reporter, _ reference: String, _ query: QueryParameters) throws -> String {
        try query.rejectUnknown(allowed: [])
        let id = try reporter.reader.resolveRun(reference)
        return try reporter.run(id).render(.json, width: 200)
    }

    /// A run's status as the runs view shows it (`running`, `stale (…)`, `completed`, …), with its progress.
    static func state(_ reporter: Reporter, run id: Int64) throws -> (object: JSONObject, live: Bool) {
        var object = JSONObject()
        object.add("run", Double(id))
        let table = try reporter.runs(RunFilter(runIDs: [id])).sections.first?.table
        let status = table.flatMap { table in table.columns.firstIndex(of: "status").map { table.rows.first?[$0] } } ?? nil
        let progress = try reporter.reader.query("SELECT epochs_done, epochs_planned, steps_done FROM runs WHERE id = ?", arguments: [.integer(id)]).rows.first
        object.add("status", status)
        object.add("live", status == "running")
        object.add("epochs_done", progress?[0].double)
        object.add("epochs_planned", progress?[1].double)
        object.add("steps_done", progress?[2].double)
        return (object, status == "running")
    }

    /// An incremental answer: its JSON, how many rows it holds, and whether the run is live (a
    /// client waiting for rows keeps asking only then).
    struct Increment: Sendable {
        var text: String
        var rows: Int
        var live: Bool
    }

    /// `wait=S`: seconds an incremental answer may wait for rows after `since_step` (long polling).
    static func wait(_ query: QueryParameters) throws(HTTPProblem) -> Double {
        guard let text = try query.value("wait") else { return 0 }
        guard let seconds = Double(text), (0...30).contains(seconds) else {
            throw HTTPProblem.badParameter("wait", "\"\(text.prefix(40))\" is not a number of seconds from 0 to 30")
        }
        return seconds
    }

    /// `/api/runs/ID/metrics?names=a,b&since_step=N`: the run's metric rows after step N (all
    /// with no since_step), oldest first, as `report --history` gives them, with the run's status:
    /// what a page polls to grow its curves.
    static func metrics(_ reporter: Reporter, _ reference: String, _ query: QueryParameters) throws -> Increment {
        try query.rejectUnknown(allowed: ["names", "since_step", "wait"])
        let names = query.values("names", splittingCommas: true)
        guard names.count <= 32 else { throw HTTPProblem.badParameter("names", "\(names.count) names; at most 32") }
        for name in names where name.count > 64 || !name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) {
            throw HTTPProblem.badParameter("names", "\"\(name.prefix(40))\" is not a metric name (letters, digits and _), e.g. train_loss,test_accuracy")
        }
        let since = try query.integer("since_step", in: -1...Int64(Int32.max) * 1024) ?? -1
        let id = try reporter.reader.resolveRun(reference)
        let nameFilter = names.isEmpty ? "" : " AND name IN (\(names.map { _ in "?" }.joined(separator: ", ")))"
        let result = try reporter.reader.query("""
            SELECT name, step, epoch, value, wall_time FROM metrics WHERE run_id = ? AND step > ?\(nameFilter) ORDER BY step, name LIMIT ?
            """, arguments: [.integer(id), .integer(since)] + names.map { .text($0) } + [.integer(Int64(maxRows + 1))])
        return try incremental(reporter, run: id, since: since, result: result, stepColumn: 1)
    }

    /// `/api/runs/ID/grad_norms?since_step=N`: the L2 and max-abs gradient norm rows after step N.
    static func gradNorms(_ reporter: Reporter, _ reference: String, _ query: QueryParameters) throws -> Increment {
        try query.rejectUnknown(allowed: ["since_step", "wait"])
        let since = try query.integer("since_step", in: -1...Int64(Int32.max) * 1024) ?? -1
        let id = try reporter.reader.resolveRun(reference)
        let result = try reporter.reader.query("""
            SELECT step, layer, layer_kind, tensor, l2, max_abs FROM grad_norms WHERE run_id = ? AND step > ? ORDER BY step, layer, tensor LIMIT ?
            """, arguments: [.integer(id), .integer(since), .integer(Int64(maxRows + 1))])
        return try incremental(reporter, run: id, since: since, result: result, stepColumn: 0)
    }

    /// Rows after `since`, cut at a whole step when there are more than `maxRows` (`truncated`:
    /// ask again from `last_step`).
    static func incremental(_ reporter: Reporter, run id: Int64, since: Int64, result: QueryResult, stepColumn: Int) throws -> Increment {
        var rows = result.rows
        var truncated = false
        if rows.count > maxRows {
            truncated = true
            let cut = rows[maxRows].stepValue(stepColumn)
            rows = Array(rows.prefix(maxRows)).filter { $0.stepValue(stepColumn) < cut }
        }
        let last = rows.last.map { $0.stepValue(stepColumn) } ?? since
        var (object, live) = try state(reporter, run: id)
        object.add("since_step", Double(since))
        object.add("last_step", Double(last))
        object.add("truncated", truncated)
        object.add("rows", json: Table(query: QueryResult(columns: result.columns, rows: rows)).renderJSON())
        return Increment(text: object.text, rows: rows.count, live: live)
    }

    /// `/api/compare?runs=A,B`: `runner report --compare A B --format json`.
    static func compare(_ reporter: Reporter, _ query: QueryParameters) throws -> String {
        try query.rejectUnknown(allowed: ["runs"])
        let references = query.values("runs", splittingCommas: true)
        guard references.count == 2 else {
            throw HTTPProblem.badParameter("runs", "give two runs to compare, e.g. runs=3,5 (got \(references.count)); /compare overlays more")
        }
        let a = try reporter.reader.resolveRun(references[0]), b = try reporter.reader.resolveRun(references[1])
        return try reporter.compare(a, b).render(.json, width: 200)
    }

    /// `/api/groups?group_by=KEY&baseline=VALUE`: `runner report --group-by KEY [--baseline VALUE] --format json`.
    static func groups(_ reporter: Reporter, _ query: QueryParameters) throws -> String {
        try query.rejectUnknown(allowed: filterParameters.union(["group_by", "baseline", "target_accuracy"]))
        let keys = query.values("group_by", splittingCommas: true)
        guard !keys.isEmpty else { throw HTTPProblem.badParameter("group_by", "missing: give a spec key, e.g. group_by=model.pooling") }
        let target = try targetAccuracy(query)
        return try reporter.groups(by: keys, filter: try filter(query), targetAccuracy: target, baseline: try query.value("baseline")).render(.json, width: 200)
    }

    static func targetAccuracy(_ query: QueryParameters) throws(HTTPProblem) -> Double {
        guard let text = try query.value("target_accuracy") else { return 0.85 }
        guard let value = Double(text), (0...1).contains(value) else {
            throw HTTPProblem.badParameter("target_accuracy", "\"\(text.prefix(40))\" is not a fraction from 0 to 1")
        }
        return value
    }

    /// `/api/searches/ID`: `runner report --trials --experiment ID --format json`.
    static func search(_ reporter: Reporter, _ reference: String, _ query: QueryParameters) throws -> String {
        try query.rejectUnknown(allowed: [])
        return try searchTrials(reporter, reference).document.render(.json, width: 200)
    }

    /// The search `reference` names; one that is not a search is no page (404).
    static func searchTrials(_ reporter: Reporter, _ reference: String) throws -> SearchTrials {
        let search = try searchNamed(reporter, reference)
        return try reporter.searchTrials(id: search.id, name: search.name)
    }

    static func searchNamed(_ reporter: Reporter, _ reference: String) throws -> (id: Int64, name: String) {
        do {
            return try reporter.search(named: reference)
        } catch let error as ReportError {
            throw HTTPProblem(.notFound, error.message)
        }
    }

    /// `/api/searches/ID/changes?signature=S&wait=W`: the search's signature (it changes whenever a
    /// trial run's status, epochs, values or objective rows do; `SearchSignature`) and whether it is
    /// live; with `wait`, answered as soon as the signature differs from S. What the search page
    /// polls before it redraws; it does not rank the trials, so polling a large search stays cheap.
    static func searchChanges(_ reporter: Reporter, _ reference: String, _ query: QueryParameters) throws -> Increment {
        try query.rejectUnknown(allowed: ["signature", "wait"])
        let known = try query.value("signature")
        let search = try searchNamed(reporter, reference)
        let metric = try reporter.searchObjective(id: search.id, name: search.name)
        let signature = try reporter.searchSignature(id: search.id, metric: metric)
        var object = JSONObject()
        object.add("search", Double(search.id))
        object.add("signature", signature.text)
        object.add("live", signature.live)
        return Increment(text: object.text, rows: signature.text == known ? 0 : 1, live: signature.live)
    }

    /// `/api/store`: the store's path, schema version and run counts.
    static func store(_ reader: StoreReader, _ query: QueryParameters) throws -> String {
        try query.rejectUnknown(allowed: [])
        let counts = try reader.query("SELECT COUNT(*), COALESCE(SUM(status = 'running'), 0) FROM runs").rows.first
        var object = JSONObject()
        object.add("path", reader.path)
        object.add("schema_version", Double(reader.schemaVersion))
        object.add("runs", counts?[0].double)
        object.add("running", counts?[1].double)
        return object.text
    }
}

extension Array where Element == SQLValue {
    func stepValue(_ column: Int) -> Int64 { Int64(self[column].double ?? 0) }
}
