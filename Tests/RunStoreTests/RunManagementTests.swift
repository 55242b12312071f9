import Foundation
import Testing
import GRDB
@testable import RunStore
import TestSupport

/// Sets run `id`'s UUID (to make prefixes collide on purpose).
func setUUID(_ store: RunStore, _ id: Int64, _ uuid: String) throws {
    _ = try store.write { db in try db.execute(sql: "UPDATE runs SET uuid = ? WHERE id = ?", arguments: [uuid, id]) }
}

/// Fills every per-run table for run `id`.
func fillPerRunTables(_ store: RunStore, run id: Int64) throws {
    var batch = RecordBatch()
    batch.gradientNorms = [.init(step: 1, layer: 0, layerKind: "conv", tensor: "weight", l2: 1, maxAbs: 1)]
    batch.gradientChecks = [.init(step: 1, layer: 0, layerKind: "conv", tensor: "weight", entry: 0, analytic: 1, numeric: 1,
                                  absoluteError: 0, relativeError: 0, outcome: "passed")]
    batch.events = [.init(time: 1, kind: "started", message: "m")]
    try store.append(batch, run: id, epochsDone: 1, stepsDone: 1)
    try store.addCheckpoint(checkpoint(id, epoch: 1))
    try store.tag(runs: [id], with: "t")
    try store.addNote(run: id, text: "n")
    _ = try store.write { db in try db.execute(sql: "INSERT INTO run_data_files VALUES (?, '/d', 'x')", arguments: [id]) }
    try store.recordCost(run: id, RunCost(wallSeconds: 2, cpuUserSeconds: 3, cpuSystemSeconds: 0.5, peakRSSBytes: 1 << 20, peakRSSScope: "run",
                                          loadAverageStart: 1, loadAverageEnd: 2, imagesPerSecond: 100, host: "h:1"),
                         log: [RunLogLine(time: 1, level: .warning, line: "w")])
}

@Suite("Run references, tags, notes and deletion")
struct RunManagementTests {
    @Test("a run is named by its id or by at least 4 hex digits of its UUID, in any case")
    func references() throws {
        let path = temporaryStorePath()
        let store = try makeStore(path, runs: 3)
        try setUUID(store, 1, "abcd1234-0000-4000-8000-000000000001")
        try setUUID(store, 2, "abcd9999-0000-4000-8000-000000000002")
        try setUUID(store, 3, "12345678-0000-4000-8000-000000000003")
        let fourth = try store.createRun(NewRun(experimentID: 1, runIndex: 4, variant: "{}", variantLabel: "", specJSON: "{}", specHash: "0",
                                                seed: 4, epochsPlanned: 1, provenance: provenance, params: []))
        try setUUID(store, fourth, "00020000-0000-4000-8000-000000000004")
        let reader = try StoreReader(path: path)
        for (reference, id) in [("2", Int64(2)), ("abcd1", 1), ("ABCD9", 2), ("abcd1234-0000-4000-8000-000000000001", 1), ("1234", 3), (" 3 ", 3), ("0002", 4), ("00020000", 4)] {
            #expect(try reader.resolveRun(reference) == id, "\(reference)")
            #expect(try store.resolveRun(reference) == id, "\(reference)")
        }
        #expect {
            _ = try reader.resolveRun("abcd")
        } throws: { error in
            (error as? StoreError)?.kind == .ambiguousRun
                && "\(error)".hasSuffix("run \"abcd\" is ambiguous: it begins the UUIDs of runs 1 (abcd1234-0000), 2 (abcd9999-0000); give more of the UUID, or the id")
        }
        for (reference, message) in [("99", "no run with id 99; runs are numbered 1…4"), ("beef", "no run whose UUID begins with \"beef\""),
                                     ("9999", "no run with id 9999 and no UUID begins with \"9999\""),
                                     ("abc", "\"abc\" is not a run: give its id (e.g. 3) or at least 4 hex digits of its UUID"),
                                     ("zz12", "is not a run"), ("0", "is not a run"), ("", "is not a run"), ("ab'cd", "is not a run"), ("%", "is not a run")] {
            #expect("\(reference)", performing: { _ = try reader.resolveRun(reference) }, throws: { "\($0)".contains(message) })
        }
        // Once a store has a run 1234, "1234" is its id and the start of run 3's UUID: refused, naming both.
        let fifth = try store.createRun(NewRun(experimentID: 1, runIndex: 5, variant: "{}", variantLabel: "", specJSON: "{}", specHash: "0",
                                               seed: 5, epochsPlanned: 1, provenance: provenance, params: []))
        _ = try store.write { db in try db.execute(sql: "UPDATE runs SET id = 1234 WHERE id = ?", arguments: [fifth]) }
        #expect {
            _ = try reader.resolveRun("1234")
        } throws: { error in
            (error as? StoreError)?.kind == .ambiguousRun && "\(error)".contains("it is run 1234's id") && "\(error)".contains("begins run 3's UUID (12345678-0000)")
        }
        #expect(try reader.resolveRun("12345") == 3)
    }

    @Test("tags: added once per run, removed, listed in order; untagging what is not there is no error")
    func tags() throws {
        let store = try makeStore(temporaryStorePath(), runs: 2)
        #expect(try store.tag(runs: [1, 2], with: "baseline") == 2)
        #expect(try store.tag(runs: [1], with: "baseline") == 0)
        try store.tag(runs: [1], with: "a b ü")
        #expect(try store.tags(run: 1) == ["a b ü", "baseline"])
        #expect(try store.untag(runs: [1, 2], tag: "baseline") == 2)
        #expect(try store.untag(runs: [1], tag: "never") == 0)
        #expect(try store.tags(run: 2) == [])
    }

    @Test("a tag that is empty, padded, too long or holds a control character is refused; a note likewise; nothing changes (seeded)")
    func badLabels() throws {
        let path = temporaryStorePath()
        let store = try makeStore(path, runs: 1)
        var rng = SplitMix(seed: 11)
        let controls: [Unicode.Scalar] = ["\u{0}", "\u{7}", "\u{1B}", "\n", "\r", "\t", "\u{7F}", "\u{85}", "\u{2028}", "\u{202E}", "\u{2066}"]
        var bad = ["", " ", "  x", "x ", String(repeating: "t", count: RunLabels.maximumTagLength + 1)]
        for _ in 0..<30 {
            let word = String((0..<Int(rng.next() % 6)).map { _ in Character(Unicode.Scalar(UInt8(97 + rng.next() % 26))) })
            let control = String(Character(controls[Int(rng.next() % UInt64(controls.count))]))
            let at = Int(rng.next() % UInt64(word.count + 1))
            bad.append(String(word.prefix(at)) + control + String(word.dropFirst(at)))
        }
        for tag in bad {
            #expect(RunLabels.tagProblem(tag) != nil, "\(tag.debugDescription)")
            #expect(throws: StoreError.self) { try store.tag(runs: [1], with: tag) }
        }
        for note in ["", " \n ", "bell\u{7}", "escape \u{1B}[31m", String(repeating: "n", count: RunLabels.maximumNoteLength + 1)] {
            #expect(throws: StoreError.self) { try store.addNote(run: 1, text: note) }
        }
        #expect(RunLabels.noteProblem("two lines\n\tindented") == nil)
        let reader = try StoreReader(path: path)
        #expect(try reader.query("SELECT (SELECT COUNT(*) FROM run_tags) + (SELECT COUNT(*) FROM run_notes)").rows[0][0] == .integer(0))
    }

    @Test("tagging or noting an unknown run changes nothing, even for the runs named with it")
    func unknownRuns() throws {
        let path = temporaryStorePath()
        let store = try makeStore(path, runs: 1)
        #expect(throws: StoreError.self) { try store.tag(runs: [1, 7], with: "x") }
        #expect(throws: StoreError.self) { try store.addNote(run: 7, text: "x") }
        #expect(try store.tags(run: 1) == [])
    }

    @Test("notes are kept in order with their times")
    func notes() throws {
        let store = try makeStore(temporaryStorePath(), runs: 1)
        try store.addNote(run: 1, text: "second", time: 20)
        try store.addNote(run: 1, text: "first", time: 10)
        #expect(try store.notes(run: 1).map(\.text) == ["first", "second"])
    }

    @Test("every table with a run_id column is one deleteRuns empties")
    func perRunTablesAreComplete() throws {
        let path = temporaryStorePath()
        try makeStore(path, runs: 0)
        let reader = try StoreReader(path: path)
        let tables = try reader.query("""
            SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) c WHERE m.type = 'table' AND c.name = 'run_id' ORDER BY m.name
            """).rows.compactMap { $0[0].string }
        #expect(tables == RunStore.perRunTables.sorted())
    }

    @Test("deleting runs removes their rows in every table and their artifacts folders, and nothing of the other runs")
    func delete() throws {
        let path = temporaryStorePath()
        let store = try makeStore(path, runs: 3)
        for id: Int64 in 1...3 { try fillPerRunTables(store, run: id) }
        let uuids = try (1...3).map { try #require(try store.storedRun(Int64($0))?.uuid) }
        for uuid in uuids { try FileManager.default.createDirectory(atPath: store.artifactsFolder(runUUID: uuid) + "/sub", withIntermediateDirectories: true) }
        let deletion = try store.deleteRuns([1, 3], staleAfter: 60)
        #expect(deletion.ids == [1, 3] && deletion.removedFolders.count == 2 && deletion.failures.isEmpty)
        let reader = try StoreReader(path: path)
        for table in RunStore.perRunTables + ["runs"] {
            let column = table == "runs" ? "id" : "run_id"
            #expect(try reader.query("SELECT DISTINCT \(column) FROM \(table) ORDER BY 1").rows == [[.integer(2)]], "\(table)")
        }
        #expect(!FileManager.default.fileExists(atPath: store.artifactsFolder(runUUID: uuids[0])))
        #expect(FileManager.default.fileExists(atPath: store.artifactsFolder(runUUID: uuids[1])))
        #expect(!FileManager.default.fileExists(atPath: store.artifactsFolder(runUUID: uuids[2])))
        #expect(try reader.query("SELECT COUNT(*) FROM pragma_foreign_key_check").rows[0][0] == .integer(0))
    }

    @Test("a live run (fresh heartbeat) or an unknown run in the list: nothing at all is deleted")
    func deleteRefusals() throws {
        let path = temporaryStorePath()
        let store = try makeStore(path, runs: 2)
        for id: Int64 in 1...2 { try fillPerRunTables(store, run: id) }
        _ = try store.write { db in try db.execute(sql: "UPDATE runs SET status = 'running', heartbeat_at = 1000 WHERE id = 2") }
        let uuid = try #require(try store.storedRun(2)?.uuid)
        #expect {
            _ = try store.deleteRuns([1, 2], staleAfter: 60, now: 1030)
        } throws: { error in
            (error as? StoreError)?.kind == .liveRun && "\(error)".contains("run 2 (\(uuid.prefix(8))) is running: its heartbeat is 30 s old")
        }
        #expect(throws: StoreError.self) { _ = try store.deleteRuns([1, 9], staleAfter: 60) }
        #expect(try StoreReader(path: path).query("SELECT COUNT(*) FROM runs").rows[0][0] == .integer(2))
        #expect(try StoreReader(path: path).query("SELECT COUNT(*) FROM metrics WHERE run_id = 1").rows[0][0] == .integer(1))
        // Once the heartbeat is stale, the dead run can go.
        #expect(try store.deleteRuns([2], staleAfter: 60, now: 1061).ids == [2])
    }

    @Test("new runs get distinct lower-case version-4 UUIDs and the provenance given")
    func newRunIdentity() throws {
        let path = temporaryStorePath()
        let store = try RunStore(path: path)
        let experiment = try store.createExperiment(name: "e", specPath: nil, specJSON: "{}", specHash: "s")
        let rich = RunProvenance(host: "h", os: "o", convlabVersion: "v", swiftVersion: "s", blas: "b", commandLine: #"["runner", "exec", "a b"]"#,
                                 gitCommit: String(repeating: "f", count: 40), gitDirty: true, cpuModel: "AMD EPYC")
        for index in 1...20 {
            _ = try store.createRun(NewRun(experimentID: experiment, runIndex: index, variant: "{}", variantLabel: "", specJSON: "{}", specHash: "x",
                                           seed: 1, epochsPlanned: 1, provenance: index == 1 ? rich : provenance, params: []))
        }
        let reader = try StoreReader(path: path)
        let uuids = try reader.query("SELECT uuid FROM runs").rows.compactMap { $0[0].string }
        #expect(Set(uuids).count == 20 && uuids.allSatisfy(isVersion4UUID))
        #expect(try reader.query("SELECT command_line, git_commit, git_dirty, cpu_model FROM runs WHERE id = 1").rows
                == [[.text(#"["runner", "exec", "a b"]"#), .text(String(repeating: "f", count: 40)), .integer(1), .text("AMD EPYC")]])
        #expect(try reader.query("SELECT command_line, git_commit, git_dirty, cpu_model FROM runs WHERE id = 2").rows == [[.null, .null, .null, .null]])
        #expect(try reader.query("SELECT spec_hash FROM experiments").rows == [[.text("s")]])
    }
}
