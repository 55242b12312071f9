import enum ConvLabKit.RunStatus
import Foundation
import GRDB

/// How complete a copy of a run is, for choosing between two copies of one run (one UUID) when
/// stores are merged: completed beats anything else, then more epochs done, then more steps
/// done, then a run that ended (diverged or failed) beats one that did not. On a tie the copy
/// met first stays: OUT's, then the inputs' in the order given.
public struct RunCompleteness: Comparable, Sendable {
    public var completed: Bool
    public var epochsDone: Int
    public var stepsDone: Int
    public var ended: Bool

    public init(status: String, epochsDone: Int, stepsDone: Int) {
        completed = status == RunStatus.completed.rawValue
        self.epochsDone = epochsDone
        self.stepsDone = stepsDone
        ended = [RunStatus.completed, .diverged, .failed, .pruned].map(\.rawValue).contains(status)
    }

    public static func < (a: Self, b: Self) -> Bool {
        (a.completed ? 1 : 0, a.epochsDone, a.stepsDone, a.ended ? 1 : 0) < (b.completed ? 1 : 0, b.epochsDone, b.stepsDone, b.ended ? 1 : 0)
    }
}

/// What a merge did.
public struct MergeSummary: Sendable, Equatable {
    public var experimentsAdded = 0
    /// Runs new to OUT.
    public var runsAdded = 0
    /// Runs OUT held a less complete copy of, replaced.
    public var runsReplaced = 0
    /// Runs OUT already held as completely (or more): left as they were.
    public var runsKept = 0
    /// Rows copied into the per-run tables (metrics, gradient norms, checks, events, …).
    public var rowsCopied = 0
    public var checkpointFilesCopied = 0
    /// Experiments added beside one of the same spec whose run indices they share (a whole-sweep
    /// store merged with shard stores, or two --fresh experiments): a report then counts those
    /// runs twice, so the command says so.
    public var twins: [String] = []
    public init() {}
}

extension RunStore {
    /// Merges the stores at `inputs` into the store at `output` (created if missing): experiments,
    /// runs with every per-run row, data-file hashes, and the checkpoint files of the runs copied.
    /// Runs are matched by UUID (ids are local and remapped): a run OUT already holds is replaced
    /// only by a more complete copy (`RunCompleteness`); tags and notes of every copy are kept. An
    /// input experiment joins the OUT experiment that holds one of its runs, or else one of the
    /// same spec (hash) holding none of its run indices (the other shards of a sweep); otherwise
    /// it is added. So merging the same inputs again changes nothing. Into an existing OUT
    /// everything is one transaction: on any error OUT is left as it was. A new OUT is built
    /// beside it and moved into place once complete (`MergeStaging`): it exists whole or not at all.
    public static func merge(into output: String, from inputs: [String], upgradeOlderInputs: Bool = false,
                             progress: @escaping (String) -> Void = { _ in }) throws(StoreError) -> MergeSummary {
        let checked = try MergeInputs.check(output: output, inputs: inputs, upgradeOlder: upgradeOlderInputs)
        if !MergeStaging.exists(output) {
            let staging = try MergeStaging(output: output)
            defer { staging.remove() }
            do throws(StoreError) {
                let summary = try merge(into: staging.storePath, checked: checked, foldWAL: true, progress: progress)
                if try staging.publish() { return summary }
            } catch {
                throw staging.naming(error)
            }
            progress("\(output) was created by another process meanwhile: merging into it")
        } else {
            MergeStaging.removeLeftovers(of: output)
        }
        return try merge(into: output, checked: checked, foldWAL: false, progress: progress)
    }

    /// One transaction into the store at `output` (created if missing); `foldWAL`: checkpoint
    /// the whole WAL into the main file on closing, so that the file alone is the store.
    private static func merge(into output: String, checked: MergeInputs, foldWAL: Bool,
                              progress: @escaping (String) -> Void) throws(StoreError) -> MergeSummary {
        let existed = FileManager.default.fileExists(atPath: output)
        let store = try RunStore(path: output)
        var summary = MergeSummary()
        var files = MergeArtifacts(outputPath: output)
        var obsolete: [String] = []
        do {
            try store.write { db in
                var replaced: [(uuid: String, name: String)] = []
                for (number, input) in checked.paths.enumerated() {
                    progress("merging \(input) (\(number + 1) of \(checked.paths.count))")
                    let source = try openInput(input)
                    defer { try? source.close() }
                    try source.read { src in
                        var merger = StoreMerger(db: db, src: src, input: input, output: output, progress: progress)
                        try merger.run(files: &files, summary: &summary, replaced: &replaced)
                    }
                }
                // The files of replaced copies that nothing references any more go once committed.
                for (uuid, name) in replaced where try Bool.fetchOne(db, sql: """
                    SELECT 1 FROM checkpoints c JOIN runs r ON r.id = c.run_id WHERE r.uuid = ? AND c.path = ?
                    """, arguments: [uuid, name]) == nil {
                    if let file = try? checkpointFile(storePath: output, runUUID: uuid, path: name) { obsolete.append(file) }
                }
            }
        } catch {
            files.removeWritten()
            try? store.close()
            if !existed { removeStoreFiles(output) }
            throw translate(error, path: output)
        }
        for file in Set(obsolete) { unlink(file) }
        if foldWAL { try store.checkpointAndClose() } else { try store.close() }
        return summary
    }

    static func openInput(_ path: String) throws(StoreError) -> DatabaseQueue {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(60)
        do { return try DatabaseQueue(path: path, configuration: configuration) } catch { throw translate(error, path: path) }
    }

    /// A store this process created and must take back: the file, its WAL companions and artifacts.
    static func removeStoreFiles(_ path: String) {
        for suffix in ["", "-wal", "-shm", "-journal"] { unlink(path + suffix) }
        try? FileManager.default.removeItem(atPath: path + ".artifacts")
    }
}

/// One input merged into OUT, inside OUT's write transaction.
private struct StoreMerger {
    let db: Database
    let src: Database
    let input: String
    let output: String
    let progress: (String) -> Void
    /// Per-run tables copied row for row; tags, notes and checkpoints are merged apart.
    static let copiedTables = RunStore.perRunTables.filter { !["run_tags", "run_notes", "checkpoints"].contains($0) }

    struct SourceRun {
        var id: Int64, uuid: String, experimentID: Int64, runIndex: Int, completeness: RunCompleteness
    }

    enum Decision { case insert, replace(Int64), keep(Int64) }

    /// Rows of the input; an error reading them (a page damaged since it was checked) names the input, not OUT.
    func inputRows(_ sql: String, _ arguments: StatementArguments = []) throws(StoreError) -> [Row] {
        do { return try Row.fetchAll(src, sql: sql, arguments: arguments) } catch { throw inputError(error) }
    }

    func next(_ cursor: RowCursor) throws(StoreError) -> Row? {
        do { return try cursor.next() } catch { throw inputError(error) }
    }

    func inputError(_ error: any Error) -> StoreError {
        let translated = RunStore.translate(error, path: input)
        return StoreError(translated.kind, path: input,
                          translated.message.replacingOccurrences(of: "; choose another --store path", with: "") + " (nothing was merged)")
    }

    func columns(_ table: String) throws -> [String] {
        try String.fetchAll(db, sql: "SELECT name FROM pragma_table_info(?) ORDER BY cid", arguments: [table])
    }

    mutating func run(files: inout MergeArtifacts, summary: inout MergeSummary, replaced: inout [(uuid: String, name: String)]) throws {
        let runs = try inputRows("SELECT id, uuid, experiment_id, run_index, status, epochs_done, steps_done FROM runs ORDER BY experiment_id, run_index, id")
            .map { row in
                SourceRun(id: row[0], uuid: row[1], experimentID: row[2], runIndex: row[3],
                          completeness: RunCompleteness(status: row[4], epochsDone: row[5], stepsDone: row[6]))
            }
        if let bad = runs.first(where: { !RunStore.isRunUUID($0.uuid) }) {
            throw StoreError(.invalidValue, path: input, "run \(bad.id) has the UUID \"\(bad.uuid)\", which is not one (the store was edited by hand); nothing was merged")
        }
        // The runs OUT holds already, by UUID.
        var held: [String: (id: Int64, experimentID: Int64, completeness: RunCompleteness)] = [:]
        for run in runs {
            if let row = try Row.fetchOne(db, sql: "SELECT id, experiment_id, status, epochs_done, steps_done FROM runs WHERE uuid = ?", arguments: [run.uuid]) {
                held[run.uuid] = (row[0], row[1], RunCompleteness(status: row[2], epochsDone: row[3], stepsDone: row[4]))
            }
        }
        var decisions: [Int64: Decision] = [:]
        for run in runs {
            guard let mine = held[run.uuid] else { decisions[run.id] = .insert; continue }
            decisions[run.id] = mine.completeness < run.completeness ? .replace(mine.id) : .keep(mine.id)
        }

        // Experiment by experiment, its runs inserted before the next is placed: two experiments
        // of one spec in one input (--fresh) must not land in the same OUT experiment.
        let experiments = try inputRows("SELECT * FROM experiments ORDER BY id")
        let experimentColumns = try columns("experiments").filter { $0 != "id" }
        let runColumns = try columns("runs").filter { $0 != "id" && $0 != "experiment_id" }
        let runRows = Dictionary(grouping: try inputRows("SELECT * FROM runs ORDER BY experiment_id, run_index, id"),
                                 by: { $0["experiment_id"] as Int64 })
        let known = Set(experiments.map { $0["id"] as Int64 })
        if let orphan = runRows.keys.first(where: { !known.contains($0) }) {
            throw StoreError(.invalidValue, path: input, "has runs of experiment \(orphan), which it does not hold (the store was edited by hand); nothing was merged")
        }
        var copied: [(source: Int64, target: Int64, uuid: String, oldFiles: Set<String>)] = []
        for experiment in experiments {
            let id: Int64 = experiment["id"]
            let own = runs.filter { $0.experimentID == id }
            let inserted = Set(own.filter { if case .insert = decisions[$0.id] { true } else { false } }.map(\.runIndex))
            var targetID: Int64
            if let found = try target(for: experiment, runs: own, held: held, inserted: inserted) {
                targetID = found
            } else {
                if let specHash = experiment["spec_hash"] as String?,
                   try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM experiments WHERE spec_hash = ?", arguments: [specHash]) ?? 0 > 0 {
                    summary.twins.append(experiment["name"] as String)
                }
                try db.execute(sql: "INSERT INTO experiments(\(experimentColumns.joined(separator: ", "))) VALUES (\(placeholders(experimentColumns.count)))",
                               arguments: StatementArguments(experimentColumns.map { experiment[$0] as DatabaseValue }))
                targetID = db.lastInsertedRowID
                summary.experimentsAdded += 1
            }
            for row in runRows[id] ?? [] {
                let sourceID: Int64 = row["id"], uuid: String = row["uuid"]
                // A column an input of an older schema lacks (schema 4's claimant identity) is NULL.
                let values = runColumns.map { (row[$0] as DatabaseValue?) ?? .null }
                switch decisions[sourceID] ?? .insert {
                case .insert:
                    try db.execute(sql: "INSERT INTO runs(experiment_id, \(runColumns.joined(separator: ", "))) VALUES (?, \(placeholders(runColumns.count)))",
                                   arguments: StatementArguments([targetID.databaseValue] + values))
                    copied.append((sourceID, db.lastInsertedRowID, uuid, []))
                    summary.runsAdded += 1
                case .replace(let target):
                    let oldFiles = Set(try String.fetchAll(db, sql: "SELECT path FROM checkpoints WHERE run_id = ?", arguments: [target]))
                    files.protect(uuid: uuid, names: oldFiles)
                    for table in Self.copiedTables + ["checkpoints"] {
                        try db.execute(sql: "DELETE FROM \(table) WHERE run_id = ?", arguments: [target])
                    }
                    try db.execute(sql: "UPDATE runs SET \(runColumns.map { "\($0) = ?" }.joined(separator: ", ")) WHERE id = ?",
                                   arguments: StatementArguments(values + [target.databaseValue]))
                    copied.append((sourceID, target, uuid, oldFiles))
                    summary.runsReplaced += 1
                case .keep:
                    summary.runsKept += 1
                }
            }
        }

        // The rows of the runs copied, each table in one pass per run.
        var rows = 0, reported = 0
        for table in Self.copiedTables {
            // A table newer than the input's schema (run_costs in a schema-4 store) has nothing to copy.
            let inputHasTable = try inputRows("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [table]).isEmpty == false
            guard inputHasTable else { continue }
            let names = try columns(table).filter { $0 != "run_id" }
            let insert = try db.makeStatement(sql: "INSERT INTO \(table)(run_id, \(names.joined(separator: ", "))) VALUES (?, \(placeholders(names.count)))")
            for run in copied {
                let cursor: RowCursor
                do {
                    cursor = try Row.fetchCursor(src, sql: "SELECT \(names.joined(separator: ", ")) FROM \(table) WHERE run_id = ? ORDER BY rowid", arguments: [run.source])
                } catch { throw inputError(error) }
                while let row = try next(cursor) {
                    try insert.execute(arguments: StatementArguments([run.target.databaseValue] + (0..<names.count).map { row[$0] as DatabaseValue }))
                    rows += 1
                }
                if rows - reported >= 250_000 {
                    progress("  \(rows) rows copied")
                    reported = rows
                }
            }
        }
        summary.rowsCopied += rows

        // Checkpoints, with their files: checked against the input's record and copied under a
        // name OUT does not reference yet.
        for run in copied {
            let records = try inputRows("SELECT epoch, step, path, bytes, sha256, created_at FROM checkpoints WHERE run_id = ? ORDER BY epoch", [run.source])
            for record in records {
                let name = try files.copy(from: input, uuid: run.uuid, path: record["path"], sha256: record["sha256"], bytes: record["bytes"])
                try db.execute(sql: "INSERT INTO checkpoints(run_id, epoch, step, path, bytes, sha256, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                               arguments: [run.target, record["epoch"], record["step"], name, record["bytes"], record["sha256"], record["created_at"]])
                summary.checkpointFilesCopied += 1
            }
        }
        for run in copied { replaced += run.oldFiles.map { (run.uuid, $0) } }

        // Tags and notes of every copy of a run, kept or not: what people wrote is never dropped.
        var target: [Int64: Int64] = [:]
        for run in copied { target[run.source] = run.target }
        for (source, decision) in decisions {
            if case .keep(let id) = decision { target[source] = id }
        }
        for row in try inputRows("SELECT run_id, tag FROM run_tags") {
            guard let id = target[row[0]] else { continue }
            try db.execute(sql: "INSERT OR IGNORE INTO run_tags(run_id, tag) VALUES (?, ?)", arguments: [id, row[1] as String])
        }
        for row in try inputRows("SELECT run_id, time, text FROM run_notes ORDER BY rowid") {
            guard let id = target[row[0]] else { continue }
            let time: Double = row[1], text: String = row[2]
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM run_notes WHERE run_id = ? AND time = ? AND text = ?", arguments: [id, time, text]) == nil {
                try db.execute(sql: "INSERT INTO run_notes(run_id, time, text) VALUES (?, ?, ?)", arguments: [id, time, text])
            }
        }
        // Data-file hashes are a cache by path, size and mtime; OUT's own entries stay.
        let dataColumns = try columns("data_files")
        for row in try inputRows("SELECT \(dataColumns.joined(separator: ", ")) FROM data_files") {
            try db.execute(sql: "INSERT OR IGNORE INTO data_files(\(dataColumns.joined(separator: ", "))) VALUES (\(placeholders(dataColumns.count)))",
                           arguments: StatementArguments((0..<dataColumns.count).map { row[$0] as DatabaseValue }))
        }
        progress("  \(runs.count) run\(runs.count == 1 ? "" : "s"): \(copied.count) copied, \(runs.count - copied.count) already there as complete")
    }

    /// The OUT experiment an input experiment joins, or nil for a new one: the experiment holding
    /// one of its runs; else the same experiment copied before (identical row); else one of the
    /// same spec hash that has none of the run indices it brings (another shard of the sweep).
    /// Never one that already has a run index it brings under another UUID.
    func target(for experiment: Row, runs: [SourceRun], held: [String: (id: Int64, experimentID: Int64, completeness: RunCompleteness)],
                inserted: Set<Int>) throws -> Int64? {
        func free(_ candidate: Int64) throws -> Bool {
            let indices = Set(try Int.fetchAll(db, sql: "SELECT run_index FROM runs WHERE experiment_id = ?", arguments: [candidate]))
            return indices.isDisjoint(with: inserted)
        }
        for run in runs {
            if let mine = held[run.uuid], try free(mine.experimentID) { return mine.experimentID }
        }
        let name: String = experiment["name"], specJSON: String = experiment["spec_json"], createdAt: Double = experiment["created_at"]
        let specHash: String? = experiment["spec_hash"]
        let same = try Int64.fetchAll(db, sql: """
            SELECT id FROM experiments WHERE name = ? AND spec_json = ? AND created_at = ? AND spec_hash IS ? ORDER BY id DESC
            """, arguments: [name, specJSON, createdAt, specHash])
        for candidate in same where try free(candidate) { return candidate }
        guard let specHash else { return nil }
        for candidate in try Int64.fetchAll(db, sql: "SELECT id FROM experiments WHERE spec_hash = ? ORDER BY id DESC", arguments: [specHash]) {
            if try free(candidate) { return candidate }
        }
        return nil
    }
}

private func placeholders(_ count: Int) -> String {
    Array(repeating: "?", count: count).joined(separator: ", ")
}
