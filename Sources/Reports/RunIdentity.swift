import Foundation
import RunStore
import TextKit

/// What schema 3 records about a run beyond its training — UUID, tags, notes, provenance, data
/// files, checkpoints — as facts for `report --run`. A store older than schema 3 has none of it.
struct RunIdentity {
    var leadingFacts: [(String, String)] = []
    var provenanceFacts: [(String, String)] = []
    var notes: [(time: Double, text: String)] = []

    var notesSection: [ReportDocument.Section] {
        guard !notes.isEmpty else { return [] }
        return [.init(title: "Notes", table: Table(columns: ["time", "note"], rows: notes.map { [RunIdentity.date($0.time), $0.text] },
                                                   values: notes.map { [.number($0.time), .text($0.text)] }))]
    }

    static func load(_ reader: StoreReader, run id: Int64) throws(StoreError) -> RunIdentity {
        var identity = RunIdentity()
        guard reader.schemaVersion >= 3,
              let row = try reader.query("""
                  SELECT uuid, command_line, git_commit, git_dirty, cpu_model, blas, claimed_by, failure_kind FROM runs WHERE id = ?
                  """, arguments: [.integer(id)]).rows.first else { return identity }
        let tags = try reader.query("SELECT tag FROM run_tags WHERE run_id = ? ORDER BY tag", arguments: [.integer(id)]).rows.compactMap { $0[0].string }
        identity.leadingFacts = [("uuid", row[0].string ?? "–"), ("tags", tags.isEmpty ? "–" : tags.joined(separator: ", "))]
        identity.notes = try reader.query("SELECT time, text FROM run_notes WHERE run_id = ? ORDER BY time, rowid", arguments: [.integer(id)])
            .rows.map { (time: $0[0].double ?? 0, text: $0[1].string ?? "") }

        var facts: [(String, String)] = []
        facts.append(("command line", row[1].string.map(commandLine) ?? "–"))
        if let commit = row[2].string {
            facts.append(("git commit", commit + (row[3].double == 1 ? " (dirty: uncommitted changes to tracked files)" : " (clean)")))
        } else {
            facts.append(("git commit", "– (the spec is not in a git repository, or git was not found)"))
        }
        facts.append(("cpu", row[4].string ?? "–"))
        if let claimant = row[6].string { facts.append(("claimed by", claimant)) }
        if let kind = row[7].string { facts.append(("failure", kind == "crash" ? "crash (may be claimed again)" : "spec or data (not retried)")) }
        let files = try reader.query("SELECT path, sha256 FROM run_data_files WHERE run_id = ? ORDER BY path", arguments: [.integer(id)])
        for file in files.rows {
            facts.append(("data file", "\(file[0].string ?? "")  sha256 \((file[1].string ?? "").prefix(16))…"))
        }
        let checkpoints = try reader.query("SELECT epoch, path, bytes FROM checkpoints WHERE run_id = ? ORDER BY epoch DESC", arguments: [.integer(id)])
        if let latest = checkpoints.rows.first {
            facts.append(("checkpoints", "\(checkpoints.rows.count); latest: epoch \(latest[0].description), \(latest[1].string ?? "") (\(Numbers.integer(latest[2].double)) bytes)"))
        } else {
            facts.append(("checkpoints", "none"))
        }
        identity.provenanceFacts = facts
        return identity
    }

    /// argv (a JSON array) as a shell would take it: arguments with spaces or quotes in single quotes.
    static func commandLine(_ json: String) -> String {
        guard case .array(let items)? = try? JSONParser.parse(json).value else { return json }
        return items.map { item -> String in
            guard case .string(let argument) = item.value else { return "?" }
            let plain = !argument.isEmpty && argument.unicodeScalars.allSatisfy {
                ($0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil)) || "-_./=:,@%+".unicodeScalars.contains($0)
            }
            return plain ? argument : "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
        }.joined(separator: " ")
    }

    static func date(_ time: Double) -> String { ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: time)) }
}
