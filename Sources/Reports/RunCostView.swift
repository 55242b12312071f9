import Foundation
import RunStore

/// What runs cost and what they printed (`run_costs`, `run_log`, schema 5), for `report --run`
/// and the HTML report. Stores from before schema 5 are read as they are: no cost, said so.
extension Reporter {
    static let costColumns = ["run", "wall time", "cpu user", "cpu system", "cpu/wall", "peak RSS", "load start → end", "images/s", "log"]

    var hasCosts: Bool { reader.schemaVersion >= 5 }

    /// One row per run that has a cost, with its warning and error counts.
    func costTable(_ ids: [Int64]) throws(StoreError) -> (display: Table, machine: Table)? {
        guard hasCosts, !ids.isEmpty else { return nil }
        let result = try reader.query("""
            SELECT c.run_id, c.wall_seconds, c.cpu_user_seconds, c.cpu_system_seconds, c.peak_rss_bytes, c.peak_rss_scope,
                   c.load_average_start, c.load_average_end, c.images_per_second,
                   (SELECT COUNT(*) FROM run_log l WHERE l.run_id = c.run_id AND l.level = 'warning'),
                   (SELECT COUNT(*) FROM run_log l WHERE l.run_id = c.run_id AND l.level = 'error')
            FROM run_costs c WHERE c.run_id IN (\(ids.map { _ in "?" }.joined(separator: ", "))) ORDER BY c.run_id
            """, arguments: ids.map { .integer($0) })
        guard !result.rows.isEmpty else { return nil }
        func seconds(_ v: SQLValue) -> String { v.double.map { String(format: $0 < 10 ? "%.2f s" : "%.1f s", $0) } ?? "–" }
        let rows = result.rows.map { r -> [String] in
            let cpu = (r[2].double ?? .nan) + (r[3].double ?? .nan)
            let ratio = r[1].double.map { cpu / $0 }.flatMap { $0.isFinite ? String(format: "%.2f", $0) : nil } ?? "–"
            let peak = r[4].double.map { String(format: "%.0f MB", $0 / 1e6) + (r[5].string == "process" ? " (process)" : "") } ?? "–"
            let load = "\(r[6].double.map { String(format: "%.2f", $0) } ?? "–") → \(r[7].double.map { String(format: "%.2f", $0) } ?? "–")"
            let warnings = Int(r[9].double ?? 0), errors = Int(r[10].double ?? 0)
            return [r[0].description, Numbers.duration(r[1].double), seconds(r[2]), seconds(r[3]), ratio, peak, load,
                    Numbers.integer(r[8].double), "\(warnings) warning\(warnings == 1 ? "" : "s"), \(errors) error\(errors == 1 ? "" : "s")"]
        }
        let machine = Table(query: result)
        return (Table(columns: Self.costColumns, rows: rows, alignments: [.right] + Array(repeating: .right, count: 7) + [.left]),
                Table(columns: ["run_id", "wall_seconds", "cpu_user_seconds", "cpu_system_seconds", "peak_rss_bytes", "peak_rss_scope",
                                "load_average_start", "load_average_end", "images_per_second", "warnings", "errors"],
                      rows: machine.rows, alignments: machine.alignments, values: machine.values))
    }

    /// The lines a run printed, oldest first.
    func logTable(_ id: Int64) throws(StoreError) -> Table? {
        guard hasCosts else { return nil }
        let result = try reader.query("SELECT time, level, line FROM run_log WHERE run_id = ? ORDER BY time, rowid", arguments: [.integer(id)])
        guard !result.rows.isEmpty else { return nil }
        let formatter = ISO8601DateFormatter()
        return Table(columns: ["time", "level", "line"], rows: result.rows.map { r in
            [r[0].double.map { formatter.string(from: Date(timeIntervalSince1970: $0)) } ?? "–", r[1].string ?? "", r[2].string ?? ""]
        }, values: result.rows.map { r in [num(r[0].double), .text(r[1].string ?? ""), .text(r[2].string ?? "")] })
    }

    /// `report --run`'s cost and log sections.
    func costSections(_ id: Int64) throws(StoreError) -> [ReportDocument.Section] {
        guard hasCosts else {
            return [.init(title: "Cost", text: "(not recorded: this store is from before schema 5; `runner exec` upgrades it, and records the cost of the runs it trains)\n")]
        }
        let cost = try costTable([id])
        let log = try logTable(id)
        return [
            .init(title: "Cost", table: cost.map { Self.transposed($0.display) },
                  text: cost == nil ? "(not recorded: the run was not trained by a ConvLab that measures it)\n" : nil, machineTable: cost?.machine),
            .init(title: "Log", table: log, text: log == nil ? "(no lines recorded)\n" : nil),
        ]
    }

    /// A one-row table as "field, value" rows: easier to read for one run.
    static func transposed(_ table: Table) -> Table {
        Table(columns: ["field", "value"], rows: table.columns.indices.dropFirst().map { [table.columns[$0], table.rows.first?[$0] ?? "–"] })
    }
}
