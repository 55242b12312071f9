import GRDB

/// How a person names a run on the command line: its id (`3`) or the start of its UUID (at
/// least 4 hex digits, `3f2a` or the whole `3f2a…-…`). Digits name the run with that id when
/// there is one, and are tried as a UUID prefix otherwise; with a leading zero (`0042`) they can
/// only be a UUID prefix, since no id has one.
public enum RunReference {
    public static let minimumPrefix = 4

    /// The id of the run `text` names; a reference that matches no run, or several, is an error
    /// that says so (and lists the matches).
    static func resolve(_ text: String, db: Database, path: String) throws -> Int64 {
        let reference = text.trimmingCharacters(in: .whitespaces).lowercased()
        let isDigits = !reference.isEmpty && reference.allSatisfy { $0.isASCII && $0.isNumber } && !reference.hasPrefix("0")
        let hexDigits = reference.filter { $0 != "-" }
        let isPrefix = !reference.isEmpty && reference.allSatisfy { $0 == "-" || ($0.isASCII && $0.isHexDigit) }
            && hexDigits.count >= minimumPrefix && reference.count <= 36
        let hasUUIDs = try db.columns(in: "runs").contains { $0.name == "uuid" }
        if isDigits, let id = Int64(reference), let uuid = try String.fetchOne(db, sql: "SELECT \(hasUUIDs ? "uuid" : "''") FROM runs WHERE id = ?", arguments: [id]) {
            // Digits that are one run's id and begin another run's UUID would name a different run
            // as the store grows: refused, naming both, so `rm 1234` never deletes the wrong one.
            if isPrefix, hasUUIDs, let other = try Row.fetchOne(db, sql: "SELECT id, uuid FROM runs WHERE substr(uuid, 1, ?) = ? AND id != ? LIMIT 1",
                                                       arguments: [reference.count, reference, id]) {
                throw StoreError(.ambiguousRun, path: path,
                                 "run \"\(text)\" is ambiguous: it is run \(id)'s id (UUID \(uuid.prefix(13))) and begins run \(other[0] as Int64)'s UUID (\((other[1] as String).prefix(13))); give more of either UUID")
            }
            return id
        }
        guard isDigits || isPrefix else {
            throw StoreError(.invalidValue, path: path,
                             "\"\(text)\" is not a run: give its id (e.g. 3) or at least \(minimumPrefix) hex digits of its UUID (see `runner report`)")
        }
        if isPrefix, hasUUIDs {
            let matches = try Row.fetchAll(db, sql: "SELECT id, uuid FROM runs WHERE substr(uuid, 1, ?) = ? ORDER BY id LIMIT 11",
                                           arguments: [reference.count, reference])
            if matches.count == 1 { return matches[0][0] }
            if matches.count > 1 {
                let listed = matches.prefix(10).map { "\($0[0] as Int64) (\(($0[1] as String).prefix(13)))" }.joined(separator: ", ")
                throw StoreError(.ambiguousRun, path: path,
                                 "run \"\(text)\" is ambiguous: it begins the UUIDs of runs \(listed)\(matches.count > 10 ? ", …" : ""); give more of the UUID, or the id")
            }
        }
        if isDigits {
            let numbered = try Row.fetchOne(db, sql: "SELECT COUNT(*), MIN(id), MAX(id) FROM runs")
            let count: Int = numbered?[0] ?? 0
            let range = count == 0 ? "the store has no runs" : "runs are numbered \(numbered?[1] as Int64? ?? 0)…\(numbered?[2] as Int64? ?? 0)"
            let alsoPrefix = isPrefix && hasUUIDs ? " and no UUID begins with \"\(reference)\"" : ""
            throw StoreError(.unknownRun, path: path, "no run with id \(text)\(alsoPrefix); \(range) (see `runner report`)")
        }
        throw StoreError(.unknownRun, path: path, "no run whose UUID begins with \"\(reference)\" (see `runner report`)")
    }
}

extension RunStore {
    /// The run id that `reference` (an id or a UUID prefix) names.
    public func resolveRun(_ reference: String) throws(StoreError) -> Int64 {
        try read { db in try RunReference.resolve(reference, db: db, path: path) }
    }
}

extension StoreReader {
    /// The run id that `reference` (an id or a UUID prefix) names.
    public func resolveRun(_ reference: String) throws(StoreError) -> Int64 {
        do {
            return try queue.read { db in try RunReference.resolve(reference, db: db, path: path) }
        } catch let error as StoreError {
            throw error
        } catch {
            throw RunStore.translate(error, path: path)
        }
    }
}
