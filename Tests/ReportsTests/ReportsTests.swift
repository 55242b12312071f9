import Foundation
import Testing
@testable import Reports
@testable import RunStore
import GRDB
#if canImport(FoundationXML)
import FoundationXML
import TestSupport
#endif

/// A store with four runs of two pooling modes and two learning rates, with known metrics.
func fixtureStore() throws -> String {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("convlab-reports-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let path = folder + "/store.sqlite"
    let store = try RunStore(path: path)
    let experiment = try store.createExperiment(name: "lenet", specPath: "Experiments/lenet.json", specJSON: "{}")
    let provenance = RunProvenance(host: "h", os: "o", convlabVersion: "v", swiftVersion: "s", blas: "b")
    // (pooling, learning rate, test accuracy per epoch)
    let runs: [(String, Double, [Double])] = [("max", 0.05, [0.80, 0.86, 0.88]), ("max", 0.01, [0.70, 0.80, 0.84]),
                                              ("avg", 0.05, [0.78, 0.84, 0.86]), ("avg", 0.01, [0.60, 0.70, 0.78])]
    for (index, (pooling, rate, accuracies)) in runs.enumerated() {
        let id = try store.createRun(NewRun(
            experimentID: experiment, runIndex: index + 1, variant: #"{"model.pooling":"\#(pooling)","optimizer.learning_rate":\#(rate)}"#,
            variantLabel: "model.pooling=\(pooling), optimizer.learning_rate=\(rate)", specJSON: #"{"name": "lenet"}"#, specHash: "h\(index)",
            seed: 1, epochsPlanned: 3, provenance: provenance,
            params: [("model.pooling", pooling, nil), ("optimizer.learning_rate", "\(rate)", rate), ("name", "lenet", nil)]))
        try store.markStarted(run: id)
        var batch = RecordBatch()
        for (e, accuracy) in accuracies.enumerated() {
            batch.metrics.append(.init(name: "train_loss", step: (e + 1) * 10, epoch: Double(e + 1), value: 1 - accuracy, wallTime: Double(e)))
            batch.metrics.append(.init(name: "test_accuracy", step: (e + 1) * 10, epoch: Double(e + 1), value: accuracy, wallTime: Double(e)))
            batch.metrics.append(.init(name: "test_loss", step: (e + 1) * 10, epoch: Double(e + 1), value: 1.1 - accuracy, wallTime: Double(e)))
            batch.gradientNorms.append(.init(step: (e + 1) * 10, layer: 0, layerKind: "conv", tensor: "weight", l2: pooling == "max" ? 0.4 : 0.2, maxAbs: 0.1))
        }
        batch.gradientChecks.append(.init(step: 0, layer: 0, layerKind: "conv", tensor: "weight", entry: 3, analytic: 1, numeric: 1.0001,
                                          absoluteError: 1e-4, relativeError: 1e-4, outcome: "passed"))
        batch.gradientChecks.append(.init(step: 0, layer: nil, layerKind: "input", tensor: "input", entry: 5, analytic: 0, numeric: 0.5,
                                          absoluteError: 0.5, relativeError: 1, outcome: "skipped"))
        try store.append(batch, run: id, epochsDone: 3, stepsDone: 30)
        try store.finish(run: id, status: .completed)
    }
    return path
}

@Suite("Report views")
struct ReportsTests {
    @Test("the runs view: one row per run with its matrix keys, final and best metrics, check counts")
    func runsView() throws {
        let reporter = Reporter(reader: try StoreReader(path: try fixtureStore()))
        let table = try #require(try reporter.runs(RunFilter()).sections.first?.table)
        #expect(table.rows.count == 4)
        #expect(table.cell(0, "variant") == "pooling=max learning_rate=0.05")
        #expect(table.cell(0, "status") == "completed")
        #expect(table.cell(0, "test acc") == "0.8800" && table.cell(0, "best acc") == "0.8800")
        #expect(table.cell(0, Table.checksColumn) == "1/0/1/0")     // passed/failed/skipped/trivial; 1 of 2 skipped is still conclusive
        #expect(table.cell(0, "worst rel err") == "1.00e-04")     // the skipped entry's relative error of 1 does not count
    }

    @Test("numeric --where compares numbers, text --where compares text")
    func whereFilters() throws {
        let reporter = Reporter(reader: try StoreReader(path: try fixtureStore()))
        func ids(_ clauses: [String]) throws -> [String] {
            let filter = RunFilter(wheres: try clauses.map { text throws(ReportError) in try WhereClause.parse(text) })
            return try #require(try reporter.runs(filter).sections.first?.table).rows.map { $0[0] }
        }
        #expect(try ids(["optimizer.learning_rate<0.05"]) == ["2", "4"])
        #expect(try ids(["optimizer.learning_rate>=0.05", "model.pooling=avg"]) == ["3"])
        #expect(try ids(["model.pooling!=max"]) == ["3", "4"])
        #expect(throws: ReportError.self) { _ = try WhereClause.parse("just-a-key") }
    }

    @Test("the group view: mean ± sd per group, epochs to the target, gradient norms per layer")
    func groupView() throws {
        let reporter = Reporter(reader: try StoreReader(path: try fixtureStore()))
        let document = try reporter.groups(by: ["model.pooling"], filter: RunFilter(), targetAccuracy: 0.85)
        let table = try #require(document.sections.first?.table)
        #expect(table.rows.map { $0[0] } == ["max", "avg"])
        #expect(table.rows[0][1] == "2")
        // max: final accuracies 0.88 and 0.84 → mean 0.86, sample sd 0.0283.
        #expect(table.rows[0][3] == "0.8600 ± 0.0283")
        // max reaches 0.85 at epoch 2 in one run, never in the other; avg at epoch 3 in one run.
        // 95 % interval of the mean: 0.86 ± t(0.975, 1) · 0.0283 / √2 = 0.86 ± 12.7062 · 0.02 = 0.86 ± 0.2541.
        #expect(table.cell(0, "95 % CI of mean") == "0.6059 … 1.1141")
        #expect(table.rows[0][8] == "2.0 (1/2)")   // one run: no standard deviation
        #expect(table.rows[1][8] == "3.0 (1/2)")
        let norms = try #require(document.sections.last?.table)
        #expect(norms.rows == [["0 conv.weight", "4.00e-01", "2.00e-01"]])
        let machine = try #require(document.sections.first?.machineTable)
        #expect(machine.columns.contains("final_test_accuracy_sd"))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(machine.renderJSON().utf8)) as? [[String: Any]])
        #expect(json[0]["final_test_accuracy_n"] as? Double == 2)
        #expect(abs((json[0]["final_test_accuracy_ci95_low"] as? Double ?? 0) - (0.86 - 12.706204736174694 * 0.02)) < 1e-9)
        #expect(document.sections.first?.text == nil)      // every group has two runs: no one-seed warning
    }

    @Test("an unknown group key is an error with a suggestion")
    func unknownGroupKey() throws {
        let reporter = Reporter(reader: try StoreReader(path: try fixtureStore()))
        #expect {
            _ = try reporter.groups(by: ["model.poolign"], filter: RunFilter(), targetAccuracy: 0.85)
        } throws: { error in
            "\(error)".contains("no run has the spec key \"model.poolign\"; did you mean \"model.pooling\"?")
        }
    }

    @Test("the run view has curves, gradient norms and checks; an unknown id is an error")
    func runView() throws {
        let reporter = Reporter(reader: try StoreReader(path: try fixtureStore()))
        let document = try reporter.run(1)
        let text = document.render(.table, width: 120)
        #expect(text.contains("training loss (x: step)"))
        #expect(text.contains("0 conv.weight"))
        #expect(text.contains("every checked entry passed"))
        #expect {
            _ = try reporter.run(99)
        } throws: { error in
            "\(error)".contains("no run with id 99; runs are numbered 1…4")
        }
    }

    @Test("a running run with an old heartbeat shows as stale")
    func stale() throws {
        let path = try fixtureStore()
        let store = try RunStore(path: path)
        _ = try store.write { db in try db.execute(sql: "UPDATE runs SET status = 'running', heartbeat_at = heartbeat_at - 3600 WHERE id = 2") }
        let reporter = Reporter(reader: try StoreReader(path: path))
        let table = try #require(try reporter.runs(RunFilter(runIDs: [2])).sections.first?.table)
        #expect((table.cell(0, "status") ?? "").hasPrefix("stale (1h00m silent)"))
    }

    @Test("history holds every metric row, in CSV and JSON alike")
    func history() throws {
        let reporter = Reporter(reader: try StoreReader(path: try fixtureStore()))
        let document = try reporter.history(RunFilter(runIDs: [1]))
        let csv = document.render(.csv, width: 80)
        #expect(csv.components(separatedBy: "\r\n").filter { !$0.isEmpty }.count == 1 + 9)
        #expect(csv.hasPrefix("run_id,name,step,epoch,value,wall_time\r\n"))
        let json = document.render(.json, width: 80)
        let parsed = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]]
        #expect(parsed?.count == 9)
        // Ordered by name, then step: test_accuracy 0.80, 0.86, 0.88 come first.
        #expect(parsed?.first?["name"] as? String == "test_accuracy")
        #expect(parsed?.first?["value"] as? Double == 0.8)
    }

    @Test("the HTML report is well-formed XML with one curve per run and per group")
    func html() throws {
        let reporter = Reporter(reader: try StoreReader(path: try fixtureStore()))
        let page = try reporter.html(filter: RunFilter(), groupBy: ["model.pooling"], targetAccuracy: 0.85)
        let collector = XMLPage(page)
        #expect(collector.wellFormed, "\(collector.error)")
        #expect(collector.series.filter { $0 == "run 1 pooling=max learning_rate=0.05" }.count >= 3)   // loss, accuracy, test loss, norms
        #expect(collector.series.contains("pooling=max (mean of 2)"))
        #expect(collector.series.contains("pooling=avg (mean of 2)"))
        // Self-contained: no scripts, nothing loaded from elsewhere.
        #expect(!page.contains("<script"))
        #expect(!page.contains("src=") && !page.contains("<link"))
    }

    /// A store whose names, labels, parameters, errors and events are hostile to terminals and HTML.
    static let hostileNames = ["</svg><script>alert(1)</script>", "\"'&<>", "\u{1B}[2J\u{07}bell\r\u{202E}txt.exe", "tab\there\u{9B}31m"]

    func hostileStore() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("convlab-hostile-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/s.sqlite"
        let store = try RunStore(path: path)
        let provenance = RunProvenance(host: "h", os: "o", convlabVersion: "v", swiftVersion: "s", blas: "b")
        for (index, name) in Self.hostileNames.enumerated() {
            let experiment = try store.createExperiment(name: name, specPath: nil, specJSON: "{}")
            let id = try store.createRun(NewRun(
                experimentID: experiment, runIndex: 1, variant: "{\"description\":\(JSONWriterQuote(name))}", variantLabel: "description=\(name)",
                specJSON: "{}", specHash: "", seed: 1, epochsPlanned: 1, provenance: provenance,
                params: [("description", name, nil), ("seed", "\(index)", Double(index))]))
            try store.markStarted(run: id)
            var batch = RecordBatch()
            batch.metrics = [.init(name: "train_loss", step: 1, epoch: 1, value: 1, wallTime: 0),
                             .init(name: "test_accuracy", step: 1, epoch: 1, value: 0.5, wallTime: 0)]
            batch.gradientNorms = [.init(step: 1, layer: 0, layerKind: name, tensor: "weight", l2: 1, maxAbs: 1)]
            batch.events = [.init(time: 1, kind: "started", message: name)]
            try store.append(batch, run: id, epochsDone: 1, stepsDone: 1)
            try store.finish(run: id, status: .failed, error: name)
        }
        return path
    }

    @Test("the HTML report of hostile names is well-formed, has no script, and shows each name as text")
    func htmlHostileNames() throws {
        let reporter = Reporter(reader: try StoreReader(path: try hostileStore()))
        let page = try reporter.html(filter: RunFilter(), groupBy: ["description"], targetAccuracy: 0.85)
        let collector = XMLPage(page)
        #expect(collector.wellFormed, "\(collector.error)")
        #expect(!collector.elements.contains("script"))
        #expect(!page.contains("<script") && !page.contains("</svg><script"))
        // The expected text, spelled out here rather than by the code under test: each control
        // character as \u{HEX}.
        func shownEscaped(_ name: String) -> String {
            name.unicodeScalars.map { s in
                s.value < 0x20 || (0x7F...0x9F).contains(s.value) || s.value == 0x202E ? "\\u{\(String(s.value, radix: 16, uppercase: true))}" : String(s)
            }.joined()
        }
        for name in Self.hostileNames {
            let shown = shownEscaped(name)
            #expect(collector.text.contains(shown), "\(shown) is not shown as text")
            #expect(collector.series.contains { $0.contains(shown) }, "\(shown) is not a series name")
        }
        for scalar in ["\u{1B}", "\u{07}", "\r", "\u{202E}", "\u{9B}"] { #expect(!page.contains(scalar)) }
    }

    @Test("terminal tables and Markdown show control characters escaped; JSON and CSV keep the text exactly")
    func terminalHostileNames() throws {
        let reporter = Reporter(reader: try StoreReader(path: try hostileStore()))
        for document in [try reporter.runs(RunFilter()), try reporter.run(3), try reporter.groups(by: ["description"], filter: RunFilter(), targetAccuracy: 0.5)] {
            for format in [OutputFormat.table, .markdown] {
                let text = document.render(format, width: 400)
                for scalar in ["\u{1B}", "\u{07}", "\r", "\u{202E}", "\u{9B}", "\t"] {
                    #expect(!text.contains(scalar), "\(format) shows U+\(String(scalar.unicodeScalars.first?.value ?? 0, radix: 16))")
                }
                #expect(text.contains("\\u{1B}[2J\\u{7}bell\\u{D}\\u{202E}txt.exe"), "\(format)")
            }
        }
        let json = try reporter.runs(RunFilter()).render(.json, width: 80)
        for scalar in ["\u{1B}", "\u{07}", "\r", "\u{202E}", "\u{9B}"] { #expect(!json.contains(scalar)) }
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        #expect(rows.compactMap { $0["experiment"] as? String } == Self.hostileNames)
        let csv = try reporter.runs(RunFilter()).render(.csv, width: 80)
        #expect(csv.contains("\"\u{1B}[2J\u{07}bell\r\u{202E}txt.exe\""))
    }

    @Test("a run whose checks are mostly skipped or trivial is inconclusive, never 'every checked entry passed'")
    func inconclusiveChecks() throws {
        let path = try fixtureStore()
        let store = try RunStore(path: path)
        var batch = RecordBatch()
        // Run 2: one passed and one skipped already; two trivial more → 3 of 4 prove nothing.
        for entry in [7, 8] {
            batch.gradientChecks.append(.init(step: 0, layer: 0, layerKind: "conv", tensor: "weight", entry: entry, analytic: 0, numeric: 0,
                                              absoluteError: 0, relativeError: 0, outcome: "trivial"))
        }
        try store.append(batch, run: 2, epochsDone: 3, stepsDone: 30)
        let reporter = Reporter(reader: try StoreReader(path: path))
        let table = try #require(try reporter.runs(RunFilter(runIDs: [1, 2])).sections.first?.table)
        #expect([table.cell(0, Table.checksColumn), table.cell(1, Table.checksColumn)] == ["1/0/1/0", "1/0/1/2 inconclusive"])
        let json = try reporter.runs(RunFilter(runIDs: [2])).render(.json, width: 80)
        #expect(json.contains("1 passed, 0 failed, 1 skipped, 2 trivial, inconclusive"))
        let detail = try reporter.run(2).render(.table, width: 200)
        #expect(!detail.contains("every checked entry passed"))
        #expect(detail.contains("inconclusive: 1 of 1 check had more than half of their entries skipped"))
        #expect(detail.contains("trivial") && detail.contains("conclusive"))
        let conclusive = try reporter.run(1).render(.table, width: 200)
        #expect(conclusive.contains("every checked entry passed"))
        let page = try reporter.html(filter: RunFilter(runIDs: [1, 2]), groupBy: [], targetAccuracy: 0.85)
        #expect(page.contains("<th>trivial</th>") && page.contains("no: more than half skipped or trivial"))
    }

    @Test("every view reads a version-1 store that no exec has upgraded yet (the reader never migrates)")
    func versionOneStore() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("convlab-v1-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/v1.sqlite"
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(sql: StoreSchema.migrations[0])
            try db.execute(sql: "INSERT INTO meta(key, value) VALUES ('schema_version', '1')")
            try db.execute(sql: "INSERT INTO experiments(id, name, spec_json, created_at) VALUES (1, 'old', '{}', 1)")
            try db.execute(sql: """
                INSERT INTO runs(id, experiment_id, run_index, variant, variant_label, spec_json, spec_hash, seed, status, epochs_planned, started_at, finished_at)
                VALUES (1, 1, 1, '{}', '', '{}', 'h', 1, 'completed', 1, 1, 2)
                """)
            try db.execute(sql: "INSERT INTO grad_checks VALUES (1, 0, 0, 'conv', 'weight', 0, 1, 1, 0, 1e-7, 'passed')")
            try db.execute(sql: "INSERT INTO metrics VALUES (1, 'test_accuracy', 3, 1, 0.75, 2)")
        }
        try queue.close()
        let reporter = Reporter(reader: try StoreReader(path: path))
        #expect(try reporter.runs(RunFilter()).sections.first?.table?.cell(0, Table.checksColumn) == "1/0/0/0")
        #expect(try reporter.run(1).render(.table, width: 200).contains("every checked entry passed"))
        #expect(try reporter.html(filter: RunFilter(), groupBy: [], targetAccuracy: 0.5).contains("<th>trivial</th>"))
        // No run_costs table before schema 5: said, not queried.
        #expect(try reporter.run(1).render(.table, width: 200).contains("(not recorded: this store is from before schema 5"))
        #expect(try !reporter.html(filter: RunFilter(), groupBy: [], targetAccuracy: 0.5).contains("Cost per run"))
    }

    @Test("long curves are thinned to about 300 points per run in the HTML")
    func htmlThinsLongCurves() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("convlab-thin-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let store = try RunStore(path: folder + "/s.sqlite")
        let experiment = try store.createExperiment(name: "long", specPath: nil, specJSON: "{}")
        let id = try store.createRun(NewRun(experimentID: experiment, runIndex: 1, variant: "{}", variantLabel: "", specJSON: "{}", specHash: "",
                                            seed: 0, epochsPlanned: 1, provenance: RunProvenance(host: "", os: "", convlabVersion: "", swiftVersion: "", blas: ""),
                                            params: [("probes.loss.every", "2", 2)]))
        try store.markStarted(run: id)
        var batch = RecordBatch()
        batch.metrics = stride(from: 2, through: 6000, by: 2).map { .init(name: "train_loss", step: $0, epoch: 0, value: 1 / Double($0), wallTime: 0) }
        try store.append(batch, run: id, epochsDone: 1, stepsDone: 6000)
        let page = try Reporter(reader: try StoreReader(path: folder + "/s.sqlite")).html(filter: RunFilter(), groupBy: [], targetAccuracy: 0.85)
        let polyline = try #require(page.components(separatedBy: "<polyline").dropFirst().first)
        let points = polyline.components(separatedBy: "points=\"")[1].components(separatedBy: "\"")[0].split(separator: " ")
        // 3000 records every 2 steps; every 20th step kept: 300 points.
        #expect(points.count == 300)
    }

    @Test("tables render as aligned text, CSV with quoting, Markdown and JSON")
    func formats() throws {
        let table = Table(columns: ["name", "value"], rows: [["a,b", "1"], ["say \"hi\"", "22"]], alignments: [.left, .right],
                          values: [[.text("a,b"), .number(1)], [.text("say \"hi\""), .number(22)]])
        #expect(table.renderText() == "name      value\n────────  ─────\na,b           1\nsay \"hi\"     22\n")
        #expect(table.renderCSV() == "name,value\r\n\"a,b\",1\r\n\"say \"\"hi\"\"\",22\r\n")
        #expect(table.renderMarkdown() == "| name | value |\n| --- | ---: |\n| a,b | 1 |\n| say \"hi\" | 22 |\n")
        #expect(table.renderJSON() == "[\n  {\"name\": \"a,b\", \"value\": 1},\n  {\"name\": \"say \\\"hi\\\"\", \"value\": 22}\n]\n")
        let narrow = Table(columns: ["long"], rows: [[String(repeating: "x", count: 50)]]).renderText(width: 20)
        #expect(narrow.components(separatedBy: "\n")[2] == String(repeating: "x", count: 19) + "…")
    }

    @Test("sparklines and line charts scale their data")
    func charts() {
        #expect(Chart.sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == "▁▂▃▄▅▆▇█")
        let chart = Chart.lines([Chart.Series(name: "a", points: [(0, 0), (1, 1)]), Chart.Series(name: "b", points: [(0, 1), (1, 0)])],
                                width: 10, height: 4)
        #expect(chart.contains("● a   ○ b"))
        #expect(chart.components(separatedBy: "\n")[0].hasPrefix("        1 ┤"))
    }
}

/// A JSON string literal (the variant column holds JSON).
func JSONWriterQuote(_ s: String) -> String {
    let data = try? JSONSerialization.data(withJSONObject: [s], options: [])
    let array = data.map { String(decoding: $0, as: UTF8.self) } ?? "[\"\"]"
    return String(array.dropFirst().dropLast())
}

@Suite("Terminal-safe text and output files")
struct SafeOutputTests {
    @Test("escaped text has no control character, keeps every other scalar in order, and is unchanged when safe")
    func escapingProperty() {
        var rng = SplitMix(seed: 42)
        // Scalars from the ranges that matter: C0, ASCII, DEL and C1, bidi controls, separators, CJK, emoji.
        let pools: [ClosedRange<UInt32>] = [0x00...0x1F, 0x20...0x7E, 0x7F...0xA0, 0x200B...0x206F, 0x4E00...0x4E10, 0x1F600...0x1F610]
        for _ in 0..<2000 {
            let length = Int(rng.next() % 24)
            let scalars = (0..<length).compactMap { _ -> Unicode.Scalar? in
                let pool = pools[Int(rng.next() % UInt64(pools.count))]
                return Unicode.Scalar(pool.lowerBound + UInt32(rng.next() % UInt64(pool.count)))
            }
            let text = String(String.UnicodeScalarView(scalars))
            let shown = TerminalText.escaped(text)
            #expect(!shown.unicodeScalars.contains(where: TerminalText.isUnsafe), "\(scalars.map(\.value))")
            // Reading the escapes back gives the text: nothing is lost or reordered.
            // (Scalar by scalar: a joiner after "}" would merge with it into one Character.)
            var back = String.UnicodeScalarView()
            let out = Array(shown.unicodeScalars)
            var i = 0
            while i < out.count {
                if out[i] == "\\", i + 2 < out.count, out[i + 1] == "u", out[i + 2] == "{",
                   let close = out[(i + 3)...].firstIndex(of: "}"),
                   let value = UInt32(String(String.UnicodeScalarView(out[(i + 3)..<close])), radix: 16),
                   let scalar = Unicode.Scalar(value), TerminalText.isUnsafe(scalar) {
                    back.append(scalar)
                    i = close + 1
                } else {
                    back.append(out[i])
                    i += 1
                }
            }
            #expect(String(back) == text, "\(scalars.map(\.value))")
            if !text.unicodeScalars.contains(where: TerminalText.isUnsafe) { #expect(shown == text) }
        }
        #expect(TerminalText.escaped("a\u{1B}[2J\u{07}\r\u{202E}b") == "a\\u{1B}[2J\\u{7}\\u{D}\\u{202E}b")
        #expect(TerminalText.escaped("line\nnext\u{1B}", keepingNewlines: true) == "line\nnext\\u{1B}")
        #expect(TerminalText.escaped("line\nnext") == "line\\u{A}next")
    }

    func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("convlab-output-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test("a SQLite file, the store, a symlink or hard link to it, and its WAL are refused; an ordinary file is replaced whole")
    func outputFile() throws {
        let dir = try folder()
        let store = dir + "/s.sqlite"
        _ = try RunStore(path: store)
        let before = FileManager.default.contents(atPath: store)
        try FileManager.default.createSymbolicLink(atPath: dir + "/link", withDestinationPath: store)
        try FileManager.default.linkItem(atPath: store, toPath: dir + "/hard")
        for target in [store, dir + "/link", dir + "/hard", store + "-wal", dir + "/../" + (dir as NSString).lastPathComponent + "/s.sqlite"] {
            #expect(throws: ReportError.self) { try OutputFile.write("<html/>", to: target, protecting: [store]) }
        }
        // Without naming the store, its header alone protects it.
        #expect {
            try OutputFile.write("x", to: store)
        } throws: { error in
            "\(error)" == "refusing to write \(store): it is a SQLite database (a ConvLab store?), which this would destroy; choose another file"
        }
        #expect(FileManager.default.contents(atPath: store) == before)
        let page = dir + "/page.html"
        try OutputFile.write("first", to: page, protecting: [store])
        try OutputFile.write("second, longer", to: page, protecting: [store])
        #expect(try String(contentsOfFile: page, encoding: .utf8) == "second, longer")
        #expect(throws: ReportError.self) { try OutputFile.write("x", to: dir + "/no/such/folder/page.html") }
        #expect(throws: ReportError.self) { try OutputFile.write("x", to: dir) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains(".tmp-") } == [])
    }

    @Test("a device, a FIFO or a link to one is refused at once: never replaced by a file, never opened to be read")
    func outputToSpecialFiles() throws {
        let dir = try folder()
        let fifo = dir + "/pipe"
        #expect(mkfifo(fifo, 0o600) == 0)
        try FileManager.default.createSymbolicLink(atPath: dir + "/null-link", withDestinationPath: "/dev/null")
        for target in ["/dev/null", "/dev/full", dir + "/null-link", fifo] {
            // The check runs off the test's thread: on the old code it blocked for ever opening the FIFO.
            let finished = DispatchSemaphore(value: 0)
            let outcome = Outcome()
            DispatchQueue.global().async {
                do { try OutputFile.write("<html/>", to: target) } catch { outcome.set("\(error)") }
                finished.signal()
            }
            #expect(finished.wait(timeout: .now() + 10) == .success, "\(target): the write did not return")
            #expect(outcome.message == "cannot write \(target): it is not a regular file (a device, pipe or socket); name a file")
        }
        var status = stat()
        #expect(stat("/dev/null", &status) == 0 && status.st_mode & S_IFMT == S_IFCHR, "/dev/null is no longer a device")
    }
}

private final class Outcome: @unchecked Sendable {
    private let lock = NSLock()
    private var value: String?
    func set(_ message: String) { lock.withLock { value = message } }
    var message: String? { lock.withLock { value } }
}

extension Reports.Table {
    static let checksColumn = "checks ✓/✗/skip/trivial"

    /// The cell of `row` in the column named `column` (nil when there is no such column).
    func cell(_ row: Int, _ column: String) -> String? {
        columns.firstIndex(of: column).map { rows[row][$0] }
    }
}
