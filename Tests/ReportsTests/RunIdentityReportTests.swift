import Foundation
import Testing
@testable import Reports
@testable import RunStore
import GRDB
#if canImport(FoundationXML)
import FoundationXML
import TestSupport
#endif

/// Parses JSON output into rows of objects.
func jsonRows(_ text: String) throws -> [[String: Any]] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
}

@Suite("Reports of run identity: UUIDs, tags, notes, provenance, and two runs compared")
struct RunIdentityReportTests {
    @Test("the runs table shows the first 8 characters of each UUID; JSON and CSV the whole UUID")
    func uuids() throws {
        let path = try fixtureStore()
        let reader = try StoreReader(path: path)
        let uuids = try reader.query("SELECT uuid FROM runs ORDER BY id").rows.compactMap { $0[0].string }
        let document = try Reporter(reader: reader).runs(RunFilter())
        let table = try #require(document.sections.first?.table)
        #expect((0..<4).map { table.cell($0, "uuid") } == uuids.map { String($0.prefix(8)) })
        #expect(try jsonRows(document.render(.json, width: 80)).compactMap { $0["uuid"] as? String } == uuids)
        #expect(uuids.allSatisfy { document.render(.csv, width: 80).contains($0) })
    }

    @Test("--tag keeps the runs with any of the tags; the tags column appears once a run has a tag")
    func tagFilter() throws {
        let path = try fixtureStore()
        let reporter = Reporter(reader: try StoreReader(path: path))
        #expect(try reporter.runs(RunFilter()).sections[0].table?.columns.contains("tags") == false)
        let store = try RunStore(path: path)
        try store.tag(runs: [1, 3], with: "a")
        try store.tag(runs: [2], with: "b")
        try store.tag(runs: [3], with: "c")
        func ids(_ tags: [String]) throws -> [String] {
            try reporter.runs(RunFilter(tags: tags)).sections[0].table?.rows.map { $0[0] } ?? []
        }
        #expect(try ids(["a"]) == ["1", "3"])
        #expect(try ids(["a", "b"]) == ["1", "2", "3"])
        #expect(try ids(["c", "a"]) == ["1", "3"])
        #expect(try ids(["zzz"]) == [])
        let table = try #require(try reporter.runs(RunFilter(tags: ["a"])).sections[0].table)
        #expect(table.cell(1, "tags") == "a, c")
        // Tags combine with the other filters (AND).
        #expect(try reporter.runs(RunFilter(runIDs: [3], tags: ["a"])).sections[0].table?.rows.count == 1)
        #expect(try reporter.runs(RunFilter(runIDs: [2], tags: ["a"])).sections[0].table?.rows.count == 0)
    }

    @Test("--run shows the whole UUID, tags, notes and the provenance: command line, git, CPU, BLAS, data files, checkpoints")
    func detail() throws {
        let folder = (try fixtureStore() as NSString).deletingLastPathComponent
        let path = folder + "/rich.sqlite"
        let store = try RunStore(path: path)
        let experiment = try store.createExperiment(name: "x", specPath: nil, specJSON: "{}")
        let rich = RunProvenance(host: "h", os: "o", convlabVersion: "0.1.0", swiftVersion: "s", blas: "OpenBLAS, Haswell kernels",
                                 commandLine: #"["/usr/bin/runner", "exec", "my spec.json", "--store", "it's.sqlite"]"#,
                                 gitCommit: "0123456789abcdef0123456789abcdef01234567", gitDirty: true, cpuModel: "AMD EPYC 7B13")
        let id = try store.createRun(NewRun(experimentID: experiment, runIndex: 1, variant: "{}", variantLabel: "", specJSON: "{}", specHash: "h",
                                            seed: 1, epochsPlanned: 1, provenance: rich, params: []))
        try store.tag(runs: [id], with: "baseline")
        try store.addNote(run: id, text: "looks fine", time: 0)
        FileManager.default.createFile(atPath: folder + "/train.gz", contents: Data("abc".utf8))
        try store.recordDataFiles(run: id, files: [folder + "/train.gz"])
        try store.addCheckpoint(CheckpointRecord(runID: id, epoch: 1, step: 10, path: "epoch-0001.safetensors", bytes: 2048,
                                                 sha256: String(repeating: "d", count: 64), createdAt: 1))
        let uuid = try #require(try store.storedRun(id)?.uuid)
        let text = try Reporter(reader: try StoreReader(path: path)).run(id).render(.table, width: 300)
        for expected in [uuid, "baseline", "looks fine", "/usr/bin/runner exec 'my spec.json' --store 'it'\\''s.sqlite'",
                         "0123456789abcdef0123456789abcdef01234567 (dirty", "AMD EPYC 7B13", "OpenBLAS, Haswell kernels",
                         folder + "/train.gz  sha256 ba7816bf8f01cfea…", "1; latest: epoch 1, epoch-0001.safetensors (2048 bytes)"] {
            #expect(text.contains(expected), "\(expected)")
        }
        let json = try Reporter(reader: try StoreReader(path: path)).run(id).render(.json, width: 80)
        #expect(json.contains(uuid) && json.contains("\"notes\""))
        #expect((try? JSONSerialization.jsonObject(with: Data(json.utf8))) != nil)
        // A run recorded without provenance says so rather than showing nothing.
        let plain = try Reporter(reader: try StoreReader(path: try fixtureStore())).run(1).render(.table, width: 300)
        #expect(plain.contains("– (the spec is not in a git repository, or git was not found)") && plain.split(separator: "\n").contains { $0.hasPrefix("checkpoints") && $0.hasSuffix(" none") })
    }

    @Test("--compare lists the spec keys that differ and the final metrics side by side")
    func compare() throws {
        let reporter = Reporter(reader: try StoreReader(path: try fixtureStore()))
        let document = try reporter.compare(1, 4)
        let specs = try #require(document.sections[1].table)
        #expect(specs.columns == ["spec key", "run 1", "run 4"])
        #expect(specs.rows == [["model.pooling", "max", "avg"], ["optimizer.learning_rate", "0.05", "0.01"]])
        let metrics = try #require(document.sections[2].table)
        let accuracy = try #require(metrics.rows.first { $0[0] == "final test accuracy" })
        #expect(accuracy == ["final test accuracy", "0.8800", "0.7800", "-0.1000"])
        #expect(metrics.rows.first { $0[0] == "epochs done" } == ["epochs done", "3", "3", "0"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(document.render(.json, width: 80).utf8)) as? [String: Any])
        #expect(json.keys.sorted() == ["final_metrics", "runs_1_and_4", "spec_keys_that_differ"])
        // Runs with the same spec: nothing differs, and it says so.
        let store = try RunStore(path: reporter.reader.path)
        let experiment = try store.createExperiment(name: "same", specPath: nil, specJSON: "{}")
        for index in 1...2 {
            _ = try store.createRun(NewRun(experimentID: experiment, runIndex: index, variant: "{}", variantLabel: "", specJSON: "{}", specHash: "s",
                                           seed: 1, epochsPlanned: 1, provenance: RunProvenance(host: "", os: "", convlabVersion: "", swiftVersion: "", blas: ""),
                                           params: [("seed", "1", 1)]))
        }
        let same = try Reporter(reader: try StoreReader(path: reporter.reader.path)).compare(5, 6).render(.table, width: 200)
        #expect(same.contains("(none: the two runs have the same resolved spec)"))
        #expect(throws: StoreError.self) { _ = try reporter.compare(2, 2) }
        #expect(throws: StoreError.self) { _ = try reporter.compare(1, 99) }
    }

    @Test("--compare --html overlays the two runs' curves, one chart each, after the comparison tables")
    func compareHTML() throws {
        let reporter = Reporter(reader: try StoreReader(path: try fixtureStore()))
        let page = try reporter.html(filter: RunFilter(runIDs: [1, 4]), groupBy: [], targetAccuracy: 0.85, comparing: (1, 4))
        let collector = XMLPage(page)
        #expect(collector.wellFormed, "\(collector.error)")
        #expect(page.contains("<h2>Spec keys that differ</h2>") && page.contains("<h2>Final metrics</h2>"))
        #expect(page.range(of: "Spec keys that differ")?.lowerBound ?? page.endIndex < page.range(of: "<h2>Curves per run</h2>")?.lowerBound ?? page.startIndex)
        // Training loss, test accuracy and test loss: each chart has run 1 and run 4, and no other run.
        #expect(collector.series.filter { $0.hasPrefix("run 1 ") }.count >= 3 && collector.series.filter { $0.hasPrefix("run 4 ") }.count >= 3)
        #expect(!collector.series.contains { $0.hasPrefix("run 2 ") || $0.hasPrefix("run 3 ") })
    }

    @Test("a schema-2 store, read as it is: no UUIDs or tags, and every view still works")
    func schemaTwoStore() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("convlab-v2-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/v2.sqlite"
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            for sql in StoreSchema.migrations.prefix(2) { try db.execute(sql: sql) }
            try db.execute(sql: "INSERT INTO meta(key, value) VALUES ('schema_version', '2')")
            try db.execute(sql: "INSERT INTO experiments(id, name, spec_json, created_at) VALUES (1, 'old', '{}', 1)")
            for id in 1...2 {
                try db.execute(sql: """
                    INSERT INTO runs(id, experiment_id, run_index, variant, variant_label, spec_json, spec_hash, seed, status, epochs_planned)
                    VALUES (?, 1, ?, '{}', '', '{}', 'h', 1, 'completed', 1)
                    """, arguments: [id, id])
                try db.execute(sql: "INSERT INTO params VALUES (?, 'optimizer.learning_rate', ?, ?)", arguments: [id, "0.0\(id)", 0.01 * Double(id)])
            }
        }
        try queue.close()
        let before = FileManager.default.contents(atPath: path)
        let reader = try StoreReader(path: path)
        let reporter = Reporter(reader: reader)
        #expect(try reporter.runs(RunFilter()).sections[0].table?.cell(0, "uuid") == "–")
        #expect(try reporter.runs(RunFilter(tags: ["x"])).sections[0].table?.rows.isEmpty == true)
        #expect(try reporter.run(1).render(.table, width: 200).contains("Run 1"))
        #expect(try reporter.compare(1, 2).sections[1].table?.rows == [["optimizer.learning_rate", "0.01", "0.02"]])
        #expect(try reader.resolveRun("2") == 2)
        #expect(throws: StoreError.self) { _ = try reader.resolveRun("abcd") }
        #expect(FileManager.default.contents(atPath: path) == before)
    }
}
