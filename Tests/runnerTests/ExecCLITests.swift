import Foundation
import Testing
@testable import RunStore
import TestSupport

@Suite("runner exec, driven as a person would", .serialized)
struct ExecCLITests {
    @Test("exec on synthetic data: exit 0, a summary, and rows in every table")
    func endToEnd() throws {
        let folder = temporaryFolder()
        let store = folder + "/s.sqlite"
        let result = try runner("exec", writeSpec(folder, extra: #", "matrix": { "model.pooling": ["max", "avg"] }"#), "--store", store)
        #expect(result.status == 0, "\(result.stderr)")
        // The finished store is whole in its one file: the WAL was folded in when exec closed it.
        #expect((FileManager.default.contents(atPath: store + "-wal") ?? Data()).isEmpty, "exec left its writes in the WAL")
        #expect(result.stdout.contains("tiny ("))
        #expect(result.stdout.contains("FLOPs/image"))
        #expect(result.stdout.components(separatedBy: "completed").count - 1 == 2)
        for table in ["experiments", "runs", "params", "metrics", "grad_norms", "grad_checks", "events"] {
            #expect(try scalar(store, "SELECT COUNT(*) > 0 FROM \(table)") == .integer(1), "\(table) is empty")
        }
        #expect(try scalar(store, "SELECT COUNT(*) FROM runs WHERE status = 'completed'") == .integer(2))
        // Progress goes to standard error as plain lines when it is not a terminal.
        #expect(result.stderr.contains("epoch 2/2"))
    }

    @Test("spec names: a bare name and a path in the wrong case both find Experiments/smoke.json")
    func specNames() throws {
        for name in ["smoke", "experiments/SMOKE.json", "Experiments/smoke.json"] {
            let result = try runner("exec", name, "--dry-run", "--store", temporaryFolder() + "/s.sqlite")
            #expect(result.status == 0, "\(name): \(result.stderr)")
            #expect(result.stdout.contains("smoke (Experiments/smoke.json): 2 runs"))
        }
    }

    @Test("a heartbeat interval that is not a sane number of seconds is refused before anything runs", arguments: ["nan", "0", "1e300", "inf"])
    func badHeartbeatInterval(value: String) throws {
        let folder = temporaryFolder()
        let result = try runner("exec", writeSpec(folder), "--store", folder + "/s.sqlite", "--heartbeat-interval=\(value)")
        #expect(result.status == 2)
        #expect(result.stderr.contains("--heartbeat-interval must be between 0.01 and 3600 seconds"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/s.sqlite"))
    }

    @Test("--dry-run validates and plans without creating a store")
    func dryRun() throws {
        let folder = temporaryFolder()
        let result = try runner("exec", writeSpec(folder), "--dry-run", "--store", folder + "/s.sqlite")
        #expect(result.status == 0)
        #expect(!FileManager.default.fileExists(atPath: folder + "/s.sqlite"))
    }

    @Test("a bad spec: exit 2, every problem with file:line:column and path, and nothing trained")
    func badSpec() throws {
        let folder = temporaryFolder()
        let path = folder + "/bad.json"
        try """
        {
          "name": "bad",
          "dataset": { "plugin": "synthetic", "size": 8, "classes": 3 },
          "model": { "layers": [ { "conv": { "filters": 2, "kernal": 3 } }, { "flatten": {} }, { "dense": { "units": 3 } } ] },
          "trainig": { "epochs": 1 }
        }
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let result = try runner("exec", path, "--store", folder + "/s.sqlite")
        #expect(result.status == 2)
        #expect(result.stderr.contains("\(path):4:62: model.layers[0].conv.kernal: unknown key \"kernal\"; did you mean \"kernel\"?"))
        #expect(result.stderr.contains("\(path):4:36: model.layers[0].conv.kernel: is required"))
        #expect(result.stderr.contains("\(path):5:14: trainig: unknown key \"trainig\"; did you mean \"training\"?"))
        #expect(!FileManager.default.fileExists(atPath: folder + "/s.sqlite"))
        let syntax = folder + "/syntax.json"
        try "{\n  \"name\": \"x\"\n  \"seed\": 1\n}".write(toFile: syntax, atomically: true, encoding: .utf8)
        let second = try runner("validate", syntax)
        #expect(second.status == 2)
        #expect(second.stderr.contains("\(syntax):3:3: JSON syntax error: expected ',' or '}' after a value in an object"))
        let missing = try runner("validate", "no-such-spec")
        #expect(missing.status == 2 && missing.stderr.contains("no-such-spec: no such spec file; available: Experiments/"))
    }

    @Test("a store path that cannot be used is a clear error, and a file that is not a store is left alone")
    func unusableStore() throws {
        let folder = temporaryFolder()
        let spec = writeSpec(folder)
        let missingFolder = try runner("exec", spec, "--store", folder + "/no/such/folder/s.sqlite", "--quiet")
        #expect(missingFolder.status == 2)
        #expect(missingFolder.stderr.contains("cannot be opened (does its folder exist, and may it be written?)"))
        let text = folder + "/notes.txt"
        try "my notes".write(toFile: text, atomically: true, encoding: .utf8)
        let notAStore = try runner("exec", spec, "--store", text, "--quiet")
        #expect(notAStore.status == 2)
        #expect(notAStore.stderr.contains("\(text): is not a SQLite database; choose another --store path"))
        #expect(try String(contentsOfFile: text, encoding: .utf8) == "my notes")
    }

    @Test("a diverging run is marked diverged, the next one runs, and the exit code says so")
    func divergence() throws {
        let folder = temporaryFolder()
        let store = folder + "/s.sqlite"
        let result = try runner("exec", writeSpec(folder, extra: #", "matrix": { "optimizer.learning_rate": [1e30, 0.1] }"#), "--store", store)
        #expect(result.status == 1)
        #expect(try StoreReader(path: store).query("SELECT status FROM runs ORDER BY id").rows.map { $0[0] } == [.text("diverged"), .text("completed")])
    }

    @Test("a NaN test loss after a finite first loss: that run diverged, naming the value; the next run completes; no store error")
    func nonFiniteTestLoss() throws {
        let folder = temporaryFolder()
        let store = folder + "/s.sqlite"
        // One step per epoch (64 images, batch 64): the loss is finite, the update by 1e30 is not survivable.
        let spec = writeSpec(folder, epochs: 1, trainSize: 64, extra: #", "matrix": { "optimizer.learning_rate": [1e30, 0.1] }"#)
        var text = try String(contentsOfFile: spec, encoding: .utf8)
        text = text.replacingOccurrences(of: #""batch_size": 32"#, with: #""batch_size": 64"#)
        try text.write(toFile: spec, atomically: true, encoding: .utf8)
        let result = try runner("exec", spec, "--store", store)
        #expect(result.status == 1, "\(result.stderr)")
        #expect(!result.stderr.contains("could not write to the store"), "\(result.stderr)")
        #expect(result.stderr.contains("diverged in") && result.stderr.contains("test_loss became NaN at step 1 (epoch 1)"), "\(result.stderr)")
        let runs = try StoreReader(path: store).query("SELECT status, error FROM runs ORDER BY id").rows
        #expect(runs == [[.text("diverged"), .text("test_loss became NaN at step 1 (epoch 1); lower optimizer.learning_rate")],
                         [.text("completed"), .null]])
    }

    @Test("names from the spec reach the terminal with control characters escaped, and JSON and CSV keep them exactly")
    func hostileNames() throws {
        let folder = temporaryFolder()
        let store = folder + "/s.sqlite"
        // JSON escapes, so the spec is legal: ESC [2J (clear screen), BEL, CR, U+202E (right-to-left override).
        let hostile = #"\u001b[2J\u0007evil\r\u202e"#
        let decoded = "\u{1B}[2J\u{07}evil\r\u{202E}"
        let spec = writeSpec(folder, epochs: 1, extra: #", "description": "\#(hostile)", "matrix": { "description": ["\#(hostile)", "plain"] }"#)
        var text = try String(contentsOfFile: spec, encoding: .utf8)
        text = text.replacingOccurrences(of: #""name": "tiny""#, with: #""name": "tiny\#(hostile)""#)
        try text.write(toFile: spec, atomically: true, encoding: .utf8)
        func expectSafe(_ output: String, _ what: String) {
            for raw in ["\u{1B}", "\u{07}", "\r", "\u{202E}"] {
                #expect(!output.contains(raw), "\(what) shows a raw \(raw.unicodeScalars.first.map { String($0.value, radix: 16) } ?? "")")
            }
        }
        let exec = try runner("exec", spec, "--store", store)
        #expect(exec.status == 0, "\(exec.stderr)")
        expectSafe(exec.stdout, "exec's output")
        expectSafe(exec.stderr, "exec's progress")
        #expect(exec.stdout.contains(#"tiny\u{1B}[2J\u{7}evil\u{D}\u{202E}"#), "\(exec.stdout)")
        for arguments in [[], ["--run", "1"], ["--format", "markdown"], ["--group-by", "description"], ["--sql", "SELECT name FROM experiments"]] {
            let report = try finish(launch(["report", "--store", store] + arguments))
            #expect(report.status == 0, "\(arguments): \(report.stderr)")
            expectSafe(report.stdout, "report \(arguments)")
            #expect(report.stdout.contains(#"\u{1B}[2J\u{7}evil\u{D}\u{202E}"#), "\(arguments): \(report.stdout)")
        }
        let json = try runner("report", "--store", store, "--sql", "SELECT name FROM experiments", "--format", "json")
        expectSafe(json.stdout, "JSON")
        let parsed = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]]
        #expect(parsed?.first?["name"] as? String == "tiny" + decoded)
        let csv = try runner("report", "--store", store, "--sql", "SELECT name FROM experiments", "--format", "csv")
        #expect(csv.stdout == "name\r\n\"tiny\(decoded)\"\r\n")
        // An error message quoting the spec is escaped too.
        let bad = folder + "/bad.json"
        try #"{ "name": "x", "dataset": { "plugin": "synthetic" }, "model": { "layers": [] }, "\#(hostile)": 1 }"#.write(toFile: bad, atomically: true, encoding: .utf8)
        let validate = try runner("validate", bad)
        #expect(validate.status == 2)
        expectSafe(validate.stderr, "validate's errors")
        #expect(validate.stderr.contains(#"\u{1B}[2J"#), "\(validate.stderr)")
    }

    func interrupt(with signal: Int32, heartbeat: Double? = nil, then: (String) -> Void = { _ in }) throws -> (Result, String) {
        let folder = temporaryFolder()
        let store = folder + "/s.sqlite"
        let launched = try launch(["exec", writeSpec(folder, epochs: 500, trainSize: 2000, extra: #", "matrix": { "seeds": [1, 2] }"#), "--store", store]
                                  + (heartbeat.map { ["--heartbeat-interval", String($0)] } ?? []))
        let logged = waitUntil(seconds: 60) {
            ((try? scalar(store, "SELECT COUNT(*) FROM metrics"))?.double ?? 0) > 0
        }
        #expect(logged, "no metrics were written")
        then(store)
        kill(launched.0.processIdentifier, signal)
        return (finish(launched), store)
    }

    @Test("Ctrl-C marks the run interrupted and keeps what was logged", arguments: [SIGINT, SIGTERM])
    func interruptKeepsRecords(signal: Int32) throws {
        let (result, store) = try interrupt(with: signal)
        #expect(result.status == 128 + signal, "\(result.stderr)")
        let reader = try StoreReader(path: store)
        #expect(try reader.query("SELECT status FROM runs ORDER BY id").rows.map { $0[0] } == [.text("interrupted"), .text("interrupted")])
        #expect(try reader.query("SELECT COUNT(*) > 0 FROM metrics WHERE run_id = 1").rows[0][0] == .integer(1))
        #expect(try reader.query("SELECT COUNT(*) FROM events WHERE run_id = 1 AND kind = 'interrupted'").rows[0][0] == .integer(1))
        #expect(try reader.query("SELECT error FROM runs WHERE id = 2").rows[0][0] == .text("not started: the experiment was stopped by \(signal == SIGINT ? "SIGINT (Ctrl-C)" : "SIGTERM")"))
    }

    @Test("kill -9 leaves a readable store and a run that shows as stale; the heartbeat moved while it lived, and stops")
    func killNine() throws {
        func heartbeat(_ store: String) -> Double {
            (try? scalar(store, "SELECT heartbeat_at FROM runs WHERE id = 1"))?.double ?? 0
        }
        var beats: [Double] = []
        var liveReport = ""
        let (result, store) = try interrupt(with: SIGKILL, heartbeat: 0.2) { store in
            // While the run trains, its heartbeat keeps moving: three samples 0.8 s apart all differ.
            for _ in 0..<3 {
                beats.append(heartbeat(store))
                Thread.sleep(forTimeInterval: 0.8)
            }
            liveReport = (try? runner("report", "--store", store, "--stale-after", "2"))?.stdout ?? ""
        }
        #expect(beats.count == 3 && beats[0] < beats[1] && beats[1] < beats[2], "heartbeat did not move: \(beats)")
        #expect(liveReport.contains("running") && !liveReport.contains("stale"), "\(liveReport)")
        #expect(result.status == SIGKILL)    // terminated by the signal
        #expect(try scalar(store, "SELECT status FROM runs WHERE id = 1") == .text("running"))
        #expect(try scalar(store, "PRAGMA quick_check") == .text("ok"))
        // After kill -9 nothing beats: the heartbeat stays where it was, and the run turns stale
        // once it is older than --stale-after, not before.
        let last = heartbeat(store)
        Thread.sleep(forTimeInterval: 2.5)
        #expect(heartbeat(store) == last)
        let report = try runner("report", "--store", store, "--stale-after", "2")
        #expect(report.status == 0)
        #expect(report.stdout.contains("stale ("), "\(report.stdout)")
        // On this machine the report also sees that the claiming process is gone: stale at once.
        let patient = try runner("report", "--store", store, "--stale-after", "3600")
        #expect(patient.stdout.contains("stale (") && patient.stdout.contains("is gone)"), "\(patient.stdout)")
        // Claimed from another machine, only the heartbeat can tell: not stale before the limit.
        _ = try RunStore(path: store).write { db in try db.execute(sql: "UPDATE runs SET claimed_by = 'elsewhere:1' WHERE id = 1") }
        let remote = try runner("report", "--store", store, "--stale-after", "3600")
        #expect(remote.stdout.contains("running") && !remote.stdout.contains("stale"), "\(remote.stdout)")
    }

    @Test("two exec processes of one spec on one new store both finish, on ONE experiment, each run trained once")
    func concurrentProcesses() throws {
        let folder = temporaryFolder()
        let store = folder + "/shared.sqlite"
        let spec = writeSpec(folder, epochs: 3, extra: #", "matrix": { "seeds": [1, 2] }"#)
        let first = try launch(["exec", spec, "--store", store])
        let second = try launch(["exec", spec, "--store", store])
        let results = [finish(first), finish(second)]
        for result in results {
            #expect(result.status == 0, "\(result.stderr)")
            #expect(!result.stderr.lowercased().contains("locked"))
        }
        // Started at the same moment, they found-or-created the experiment in one transaction each:
        // one created it, the other continued it, and they shared its two runs.
        #expect(try scalar(store, "SELECT COUNT(*) FROM experiments") == .integer(1))
        #expect(try scalar(store, "SELECT COUNT(*) FROM runs") == .integer(2))
        #expect(try scalar(store, "SELECT COUNT(*) FROM runs WHERE status = 'completed'") == .integer(2))
        #expect(try scalar(store, "SELECT COUNT(*) FROM events WHERE kind = 'started'") == .integer(2))
    }
}
