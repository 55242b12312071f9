import struct ConvCore.GradientCheckSummary
import Foundation
import RunStore
import TextKit

/// A report: one or more titled tables, plus text (charts, the spec) shown in the table format.
public struct ReportDocument: Sendable {
    public struct Section: Sendable {
        public var title: String
        public var table: Table?
        public var text: String?
        /// The same data for CSV and JSON when it reads differently there (numbers split into columns).
        public var machineTable: Table?
        /// JSON gives the machine table's one row as an object, not an array of one (a summary).
        public var singleRow: Bool
        public init(title: String, table: Table? = nil, text: String? = nil, machineTable: Table? = nil, singleRow: Bool = false) {
            self.title = title; self.table = table; self.text = text; self.machineTable = machineTable; self.singleRow = singleRow
        }
        var machine: Table? { machineTable ?? table }
    }

    public var sections: [Section]
    public init(_ sections: [Section]) { self.sections = sections }

    /// Tables in the chosen format; text sections only in the table format. CSV keeps sections
    /// apart with a blank line, JSON nests them under their titles.
    public func render(_ format: OutputFormat, width: Int) -> String {
        switch format {
        case .table:
            return sections.map { section in
                let heading = sections.count > 1 && !section.title.isEmpty ? section.title.terminalSafe + "\n" : ""
                return heading + (section.table.map { $0.renderText(width: width) } ?? "")
                    + TerminalText.escaped(section.text ?? "", keepingNewlines: true)
            }.joined(separator: "\n")
        case .markdown:
            return sections.compactMap { section in
                let heading = section.title.isEmpty ? "" : "## \(section.title.terminalSafe)\n\n"
                if let table = section.table {
                    return heading + table.renderMarkdown() + (section.text.map { "\n" + TerminalText.escaped($0.trimmingCharacters(in: .newlines), keepingNewlines: true) + "\n" } ?? "")
                }
                return section.text.map { heading + "```\n\(TerminalText.escaped($0, keepingNewlines: true))```\n" }
            }.joined(separator: "\n")
        case .csv:
            let tables = sections.compactMap(\.machine)
            return tables.map { $0.renderCSV() }.joined(separator: "\r\n")
        case .json:
            let tables = sections.filter { $0.machine != nil }
            if tables.count == 1, let table = tables[0].machine, !tables[0].singleRow { return table.renderJSON() }
            return "{\n" + tables.map { section in
                let json = section.singleRow && section.machine?.rows.count == 1 ? section.machine?.jsonObject(row: 0)
                    : section.machine?.renderJSON().trimmingCharacters(in: .newlines)
                return Table.jsonQuote(key(section.title)) + ": " + (json ?? "null")
            }.joined(separator: ",\n") + "\n}\n"
        }
    }

    func key(_ title: String) -> String { title.lowercased().replacingOccurrences(of: " ", with: "_").filter { $0.isLetter || $0 == "_" || $0.isNumber } }
}

/// The report views over one store.
public struct Reporter {
    public let reader: StoreReader
    /// A running run whose heartbeat is older than this (seconds) shows as stale.
    public var staleAfter: Double = 60
    public var now: Double = Date().timeIntervalSince1970

    public init(reader: StoreReader) { self.reader = reader }

    struct RunRow {
        var id: Int64, uuid: String?, experiment: String, variant: String, variantLabel: String, status: String, heartbeat: Double?
        var started: Double?, finished: Double?, epochsDone: Int, epochsPlanned: Int, error: String?
        var finalTrainLoss: Double?, finalTestAccuracy: Double?, bestTestAccuracy: Double?
        var checked: Int, passed: Int, failed: Int, skipped: Int, trivial: Int, worstRelativeError: Double?
        /// host:pid of the process that claimed the run (schema 3 on).
        var claimedBy: String? = nil
        /// Who that process is beyond host:pid (schema 4 on).
        var claimantIdentity: ClaimantIdentity? = nil

        /// Whether the run's checks prove anything: the engine's rule, `GradientCheckSummary.isConclusive`.
        var checksConclusive: Bool {
            GradientCheckSummary(checked: checked, passed: passed, failed: failed, skipped: skipped, trivial: trivial).isConclusive
        }
    }

    /// The runs matching `filter`, oldest first, with their final metrics and check summary.
    func runRows(_ filter: RunFilter) throws(StoreError) -> [RunRow] {
        let (condition, arguments) = filter.sql(schemaVersion: reader.schemaVersion)
        let result = try reader.query("""
            SELECT r.id, e.name, r.variant, r.variant_label, r.status, r.heartbeat_at, r.started_at, r.finished_at,
                   r.epochs_done, r.epochs_planned, r.error,
                   f.final_train_loss, f.final_test_accuracy, f.best_test_accuracy,
                   COALESCE(c.checked, 0), COALESCE(c.passed, 0), COALESCE(c.failed, 0), COALESCE(c.skipped, 0), c.worst_rel_error,
                   COALESCE(c.trivial, 0), \(uuidColumn), \(reader.schemaVersion >= 3 ? "r.claimed_by" : "NULL"),
                   \(ClaimantIdentity.columns(schemaVersion: reader.schemaVersion, table: "r."))
            FROM runs r
            JOIN experiments e ON e.id = r.experiment_id
            JOIN run_final_metrics f ON f.run_id = r.id
            LEFT JOIN (SELECT run_id, COUNT(*) AS checked, SUM(outcome = 'passed') AS passed, SUM(outcome = 'failed') AS failed,
                              SUM(outcome = 'skipped') AS skipped, SUM(outcome = 'trivial') AS trivial,
                              MAX(CASE WHEN outcome IN ('passed', 'failed') THEN rel_error END) AS worst_rel_error
                       FROM grad_checks WHERE run_id IN (SELECT r.id FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE \(condition))
                       GROUP BY run_id) c ON c.run_id = r.id
            WHERE \(condition)
            ORDER BY r.id
            """, arguments: arguments + arguments)
        return result.rows.map { v in
            RunRow(id: Int64(v[0].double ?? 0), uuid: v[20].string, experiment: v[1].string ?? "", variant: v[2].string ?? "{}", variantLabel: v[3].string ?? "",
                   status: v[4].string ?? "", heartbeat: v[5].double, started: v[6].double, finished: v[7].double,
                   epochsDone: Int(v[8].double ?? 0), epochsPlanned: Int(v[9].double ?? 0), error: v[10].string,
                   finalTrainLoss: v[11].double, finalTestAccuracy: v[12].double, bestTestAccuracy: v[13].double,
                   checked: Int(v[14].double ?? 0), passed: Int(v[15].double ?? 0), failed: Int(v[16].double ?? 0),
                   skipped: Int(v[17].double ?? 0), trivial: Int(v[19].double ?? 0), worstRelativeError: v[18].double,
                   claimedBy: v[21].string, claimantIdentity: ClaimantIdentity(v[22...24]))
        }
    }

    /// `r.uuid`, or NULL in a store older than schema 3 (read as it is: report never upgrades it).
    var uuidColumn: String { reader.schemaVersion >= 3 ? "r.uuid" : "NULL" }

    /// Each run's tags, comma-separated, for the runs that have any.
    func tagLists(_ ids: [Int64]) throws(StoreError) -> [Int64: String] {
        guard reader.schemaVersion >= 3, !ids.isEmpty else { return [:] }
        let result = try reader.query("""
            SELECT run_id, group_concat(tag, ', ') FROM (SELECT run_id, tag FROM run_tags
            WHERE run_id IN (\(ids.map { _ in "?" }.joined(separator: ", "))) ORDER BY run_id, tag) GROUP BY run_id
            """, arguments: ids.map { .integer($0) })
        var tags: [Int64: String] = [:]
        for row in result.rows { if let id = row[0].double, let list = row[1].string { tags[Int64(id)] = list } }
        return tags
    }

    /// The first 8 characters of a UUID: enough to tell runs apart in a table.
    static func shortUUID(_ uuid: String?) -> String { uuid.map { String($0.prefix(8)) } ?? "–" }

    func displayStatus(_ row: RunRow) -> String {
        if row.status == "running", let heartbeat = row.heartbeat, now - heartbeat > staleAfter {
            return "stale (\(Numbers.duration(now - heartbeat)) silent)"
        }
        // A run whose process is known to be gone is stale at once, as `runner exec` sees it.
        if row.status == "running", RunStore.claimantIsGone(row.claimedBy, identity: row.claimantIdentity), let claimant = row.claimedBy {
            return "stale (\(claimant) is gone)"
        }
        return row.status
    }

    /// The matrix keys of the runs (in first-seen order) with each run's value of them.
    func matrixKeys(_ rows: [RunRow]) throws(StoreError) -> (keys: [String], values: [Int64: [String: String]]) {
        var keys: [String] = []
        for row in rows {
            // The variant is a JSON object of the matrix keys, in matrix order.
            guard case .object(let members)? = try? JSONParser.parse(row.variant).value else { continue }
            for member in members where !keys.contains(member.key) { keys.append(member.key) }
        }
        guard !keys.isEmpty else { return ([], [:]) }
        let ids = rows.map(\.id)
        let result = try reader.query("""
            SELECT run_id, key, value_text FROM params
            WHERE run_id IN (\(ids.map { _ in "?" }.joined(separator: ", "))) AND key IN (\(keys.map { _ in "?" }.joined(separator: ", ")))
            """, arguments: ids.map { .integer($0) } + keys.map { .text($0) })
        var values: [Int64: [String: String]] = [:]
        for row in result.rows {
            guard let id = row[0].double.map({ Int64($0) }), let key = row[1].string, let value = row[2].string else { continue }
            values[id, default: [:]][key] = value
        }
        return (keys, values)
    }

    static func shortKey(_ key: String) -> String { key.split(separator: ".").last.map(String.init) ?? key }

    /// View 1: one row per run.
    public func runs(_ filter: RunFilter) throws(StoreError) -> ReportDocument {
        let rows = try runRows(filter)
        let (keys, values) = try matrixKeys(rows)
        let tags = try tagLists(rows.map(\.id))
        // The tags column only when some run has a tag: most stores have none.
        let showTags = !tags.isEmpty
        var table = Table(
            columns: ["run", "uuid", "experiment", "variant", "status", "epochs", "train loss", "test acc", "best acc", "checks ✓/✗/skip/trivial", "worst rel err", "time"],
            rows: rows.map { row in
                let variant = keys.isEmpty ? (row.variantLabel.isEmpty ? "–" : row.variantLabel)
                    : keys.map { "\(Self.shortKey($0))=\(values[row.id]?[$0] ?? "–")" }.joined(separator: " ")
                let duration = row.started.map { (row.finished ?? row.heartbeat ?? $0) - $0 }
                return [String(row.id), Self.shortUUID(row.uuid), row.experiment, variant, displayStatus(row), "\(row.epochsDone)/\(row.epochsPlanned)",
                        Numbers.fixed(row.finalTrainLoss), Numbers.fixed(row.finalTestAccuracy), Numbers.fixed(row.bestTestAccuracy),
                        row.checked == 0 ? "–" : "\(row.passed)/\(row.failed)/\(row.skipped)/\(row.trivial)" + (row.checksConclusive ? "" : " inconclusive"),
                        Numbers.scientific(row.worstRelativeError), Numbers.duration(duration)]
            },
            alignments: [.right, .left, .left, .left, .left, .right, .right, .right, .right, .left, .right, .right],
            values: rows.map { row in
                let duration = row.started.map { (row.finished ?? row.heartbeat ?? $0) - $0 }
                let variant = keys.isEmpty ? row.variantLabel : keys.map { "\($0)=\(values[row.id]?[$0] ?? "")" }.joined(separator: ", ")
                return [.number(Double(row.id)), row.uuid.map { .text($0) } ?? .null, .text(row.experiment), .text(variant), .text(displayStatus(row)),
                        .number(Double(row.epochsDone)), num(row.finalTrainLoss), num(row.finalTestAccuracy), num(row.bestTestAccuracy),
                        .text(GradientCheckWords.words(passed: row.passed, failed: row.failed, skipped: row.skipped, trivial: row.trivial,
                                                         conclusive: row.checksConclusive)),
                        num(row.worstRelativeError), num(duration)]
            })
        if showTags {
            table.columns.insert("tags", at: 4)
            table.alignments.insert(.left, at: 4)
            for (r, row) in rows.enumerated() {
                table.rows[r].insert(tags[row.id] ?? "", at: 4)
                table.values?[r].insert(.text(tags[row.id] ?? ""), at: 4)
            }
        }
        return ReportDocument([.init(title: "Runs", table: table)])
    }

    /// `--history`: every metric row of the selected runs.
    public func history(_ filter: RunFilter) throws(StoreError) -> ReportDocument {
        let (condition, arguments) = filter.sql(schemaVersion: reader.schemaVersion)
        let result = try reader.query("""
            SELECT m.run_id, m.name, m.step, m.epoch, m.value, m.wall_time
            FROM metrics m JOIN runs r ON r.id = m.run_id JOIN experiments e ON e.id = r.experiment_id
            WHERE \(condition) ORDER BY m.run_id, m.name, m.step
            """, arguments: arguments)
        return ReportDocument([.init(title: "Metrics", table: Table(query: result))])
    }
}

func num(_ value: Double?) -> Table.JSONCell { value.map { .number($0) } ?? .null }

extension Table {
    /// A query result as a table; numbers right-aligned.
    public init(query: QueryResult) {
        let numeric = query.columns.indices.map { c in
            query.rows.contains { if case .real = $0[c] { true } else if case .integer = $0[c] { true } else { false } }
        }
        self.init(columns: query.columns,
                  rows: query.rows.map { $0.map { if case .real(let d) = $0 { Numbers.compact(d) } else { $0.description } } },
                  alignments: numeric.map { $0 ? .right : .left },
                  values: query.rows.map { row in
                      row.map { v -> JSONCell in
                          switch v {
                          case .null: .null
                          case .integer(let i): .number(Double(i))
                          case .real(let d): .number(d)
                          case .text(let s): .text(s)
                          }
                      }
                  })
    }
}
