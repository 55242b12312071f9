import Foundation
import Testing
@testable import RunStore
import TestSupport

/// One store with a finished two-run experiment, shared by the report tests.
let trainedStore: String = {
    let folder = temporaryFolder()
    let store = folder + "/trained.sqlite"
    _ = try? runner("exec", writeSpec(folder, extra: #", "matrix": { "model.pooling": ["max", "avg"] }"#), "--store", store, "--quiet")
    return store
}()

@Suite("runner report, its views and its errors", .serialized)
struct ReportCLITests {
    @Test("the runs table, the group comparison and one run in detail")
    func views() throws {
        let runs = try runner("report", "--store", trainedStore)
        #expect(runs.status == 0)
        #expect(runs.stdout.contains("pooling=max") && runs.stdout.contains("pooling=avg"))
        let groups = try runner("report", "--store", trainedStore, "--group-by", "model.pooling")
        #expect(groups.status == 0)
        #expect(groups.stdout.contains("Groups by model.pooling") && groups.stdout.contains("Mean gradient L2 norm per layer"))
        let detail = try runner("report", "--store", trainedStore, "--run", "1")
        #expect(detail.status == 0)
        #expect(detail.stdout.contains("training loss (x: step)") && detail.stdout.contains("Resolved spec"))
    }

    @Test("CSV keeps a name's escape sequence for programs, but escapes it on a terminal",
          .enabled(if: availableOrRequiredInCI(FileManager.default.isExecutableFile(atPath: "/usr/bin/script"))))
    func csvOnATerminal() throws {
        let folder = temporaryFolder()
        let store = folder + "/s.sqlite"
        let spec = writeSpec(folder, epochs: 1, trainSize: 64)
        let text = try String(contentsOfFile: spec, encoding: .utf8).replacingOccurrences(of: #""name": "tiny""#, with: #""name": "e\u001b[31mvil""#)
        try text.write(toFile: spec, atomically: true, encoding: .utf8)
        #expect(try runner("exec", spec, "--store", store, "--quiet").status == 0)
        let query = "SELECT name FROM experiments"
        let piped = try runner("report", "--store", store, "--format", "csv", "--sql", query)
        #expect(piped.stdout == "name\r\ne\u{1B}[31mvil\r\n")
        // `script` gives the runner a terminal.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        process.arguments = ["-qec", "'\(runnerPath)' report --store '\(store)' --format csv --sql '\(query)'", "/dev/null"]
        let output = Pipe()
        (process.standardInput, process.standardOutput) = (FileHandle.nullDevice, output)
        try process.run()
        let shown = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(shown.contains(#"e\u{1B}[31mvil"#) && !shown.unicodeScalars.contains("\u{1B}"), "\(shown)")
    }

    @Test("every view in every format", arguments: ["csv", "json", "markdown"])
    func formats(format: String) throws {
        for extra in [[], ["--group-by", "model.pooling"], ["--run", "2"], ["--history"]] {
            let result = try finish(launch(["report", "--store", trainedStore, "--format", format] + extra))
            #expect(result.status == 0, "\(extra): \(result.stderr)")
            if format == "json" {
                #expect((try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) != nil, "\(extra)")
            }
        }
    }

    @Test("--sql runs a query; `--sql -` reads it from standard input; bare --sql lists the tables")
    func sql() throws {
        let query = try runner("report", "--store", trainedStore, "--sql", "SELECT COUNT(*) AS n FROM runs", "--format", "csv")
        #expect(query.stdout == "n\r\n2\r\n")
        let piped = try runner("report", "--store", trainedStore, "--sql", "-", "--format", "csv", stdin: "SELECT key FROM params WHERE key = 'model.pooling' LIMIT 1;\n")
        #expect(piped.stdout == "key\r\nmodel.pooling\r\n")
        let catalog = try runner("report", "--store", trainedStore, "--sql")
        #expect(catalog.status == 0 && catalog.stdout.contains("run_final_metrics") && catalog.stdout.contains("grad_check_summary"))
    }

    @Test("--html writes one self-contained file")
    func html() throws {
        let path = temporaryFolder() + "/report.html"
        let result = try runner("report", "--store", trainedStore, "--html", path, "--group-by", "model.pooling")
        #expect(result.status == 0)
        let page = try String(contentsOfFile: path, encoding: .utf8)
        #expect(page.contains("<svg") && page.contains("data-series=\"run 1 pooling=max\""))
    }

    @Test("bad input: one line on standard error, a non-zero exit, the store unchanged", arguments: [
        (["--run", "99"], "no run with id 99; runs are numbered 1…2"),
        (["--sql", "SELEC nonsense"], "SQL error: near \"SELEC\": syntax error"),
        (["--sql", "DELETE FROM runs"], "the store is opened read-only: this statement would change it, and was refused"),
        (["--group-by", "model.poolng"], "did you mean \"model.pooling\"?"),
        (["--where", "oops"], "is not key=value"),
        (["--format", "xml"], "--format must be table, csv, json or markdown"),
        (["--sql", "SELECT 1", "--timeout", "nan"], "--timeout must be a positive number of seconds"),
        (["--sql", "SELECT 1", "--timeout", "0"], "--timeout must be a positive number of seconds"),
        (["--sql", "SELECT 1", "--max-rows", "0"], "--max-rows must be a positive number of rows"),
    ])
    func badInput(arguments: [String], message: String) throws {
        let before = try scalar(trainedStore, "SELECT COUNT(*) FROM metrics")
        let result = try finish(launch(["report", "--store", trainedStore] + arguments))
        #expect(result.status == 2)
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(try scalar(trainedStore, "SELECT COUNT(*) FROM runs") == .integer(2))
        #expect(try scalar(trainedStore, "SELECT COUNT(*) FROM metrics") == before)
    }

    @Test("--sql text that starts with a comment is a query; text of comments only lists the tables")
    func sqlComments() throws {
        let query = try runner("report", "--store", trainedStore, "--sql", "-- note\nSELECT 1 AS one", "--format", "csv")
        #expect(query.status == 0, "\(query.stderr)")
        #expect(query.stdout == "one\r\n1\r\n")
        let block = try runner("report", "--store", trainedStore, "--sql", "/* a; b */ SELECT 2 AS two; -- done", "--format", "csv")
        #expect(block.stdout == "two\r\n2\r\n", "\(block.stderr)")
        for blank in ["-- nothing here", "  /* nor here */ ;  ", "-- note\n-- another\n"] {
            let catalog = try runner("report", "--store", trainedStore, "--sql", blank)
            #expect(catalog.status == 0, "\(blank): \(catalog.stderr)")
            #expect(catalog.stdout.contains("grad_check_summary"), "\(blank)")
        }
    }

    @Test("a query that never ends is stopped by the row limit or the time limit, with a clear message",
          arguments: [
            ([] as [String], "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT x FROM c",
             "the query returned more than 100000 rows and was stopped; add a LIMIT or raise --max-rows"),
            (["--max-rows", "10"], "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT x FROM c",
             "the query returned more than 10 rows and was stopped"),
            (["--timeout", "1"], "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT COUNT(*) FROM c",
             "the query ran longer than 1 s and was stopped; narrow it (WHERE, LIMIT) or raise --timeout"),
          ])
    func endlessQuery(limits: [String], sql: String, message: String) throws {
        let before = try storeBytes(trainedStore)
        let started = Date()
        let result = try finish(launch(["report", "--store", trainedStore, "--sql", sql] + limits))
        #expect(result.status == 2)
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(Date().timeIntervalSince(started) < 60)     // a hang guard: the limits stop it in about a second
        #expect(try storeBytes(trainedStore) == before)
    }

    @Test("SQL that reaches beyond the store is refused, and the store is unchanged byte for byte", arguments: [
        ("ATTACH DATABASE '%OTHER%' AS other", "ATTACH is refused: report --sql reads this store and no other file"),
        ("-- sneaky\nattach '%OTHER%' as other", "ATTACH is refused"),
        ("DETACH DATABASE main", "DETACH is refused"),
        ("VACUUM INTO '%NEW%'", "the store is opened read-only: this statement would change it, and was refused"),
        ("SELECT load_extension('/nonexistent/ext')", "load_extension is refused: report --sql reads this store and loads no code"),
        ("SELECT hex(fts3_tokenizer('simple'))", "fts3_tokenizer is refused: report --sql reads this store and neither reads nor sets the addresses of code"),
        ("SELECT fts3_tokenizer('simple', x'4141414141414141')", "fts3_tokenizer is refused"),
        ("SELECT \"FTS3_Tokenizer\"('porter')", "fts3_tokenizer is refused"),
        ("PRAGMA user_version = 5", "the store is opened read-only"),
        ("PRAGMA journal_mode = DELETE", "the store is opened read-only"),
        ("SELECT 1; DELETE FROM runs", "one statement at a time: this text holds 2 statements"),
        ("SELECT 1; SELECT 2", "one statement at a time"),
        ("INSERT INTO runs SELECT * FROM runs", "the store is opened read-only"),
    ])
    func hostileSQL(sql: String, message: String) throws {
        let folder = temporaryFolder()
        let other = folder + "/other.sqlite"
        _ = try RunStore(path: other)
        let created = folder + "/vacuumed.sqlite"
        let before = try storeBytes(trainedStore)
        let text = sql.replacingOccurrences(of: "%OTHER%", with: other).replacingOccurrences(of: "%NEW%", with: created)
        let result = try finish(launch(["report", "--store", trainedStore, "--sql", text]))
        #expect(result.status == 2, "\(result.stdout)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: created))
        #expect(try storeBytes(trainedStore) == before)
    }

    @Test("--html and schema --output refuse the store, a symlink to it, and any SQLite file; other files are replaced whole")
    func outputNeverDestroysAStore() throws {
        let folder = temporaryFolder()
        let store = folder + "/s.sqlite"
        try FileManager.default.copyItem(atPath: trainedStore, toPath: store)
        // Its last rows may still be in the WAL (another test's reader can keep it from being folded in).
        if FileManager.default.fileExists(atPath: trainedStore + "-wal") {
            try FileManager.default.copyItem(atPath: trainedStore + "-wal", toPath: store + "-wal")
        }
        let other = folder + "/other.sqlite"
        _ = try RunStore(path: other)
        let link = folder + "/link.html"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: store)
        let before = try storeBytes(store), otherBefore = try storeBytes(other)
        for (arguments, message) in [
            (["report", "--store", store, "--html", store], "refusing to write \(store): it is the store being read"),
            (["report", "--store", store, "--html", link], "refusing to write \(link): it is the store being read"),
            (["report", "--store", store, "--html", folder + "/./s.sqlite"], "it is the store being read"),
            (["report", "--store", store, "--html", other], "refusing to write \(other): it is a SQLite database"),
            (["schema", "--output", store], "refusing to write \(store): it is a SQLite database"),
            (["schema", "--store-sql", "--output", other], "it is a SQLite database"),
        ] {
            let result = try finish(launch(arguments))
            #expect(result.status == 2, "\(arguments)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(arguments): \(result.stderr)")
        }
        #expect(try storeBytes(store) == before)
        #expect(try storeBytes(other) == otherBefore)
        // An ordinary file is replaced, through a temporary file that does not stay behind.
        let page = folder + "/report.html"
        try "old".write(toFile: page, atomically: true, encoding: .utf8)
        #expect(try runner("report", "--store", store, "--html", page).status == 0)
        #expect(try String(contentsOfFile: page, encoding: .utf8).hasSuffix("</html>\n"))
        let schema = folder + "/schema.json"
        #expect(try runner("schema", "--output", schema).status == 0)
        #expect(try String(contentsOfFile: schema, encoding: .utf8) == (try runner("schema").stdout))
        let names = try FileManager.default.contentsOfDirectory(atPath: folder)
        #expect(!names.contains { $0.contains(".tmp-") }, "\(names)")
    }

    @Test("a missing store, an empty store and a store from a newer version")
    func stores() throws {
        let folder = temporaryFolder()
        let missing = try runner("report", "--store", folder + "/none.sqlite")
        #expect(missing.status == 2)
        #expect(missing.stderr == "error: \(folder)/none.sqlite: no store here; run `runner exec Experiments/smoke.json` to create one, or pass --store PATH\n")

        let empty = folder + "/empty.sqlite"
        _ = try RunStore(path: empty)
        let emptyResult = try runner("report", "--store", empty)
        #expect(emptyResult.status == 0)
        #expect(emptyResult.stdout.hasPrefix("no runs yet — try `runner exec Experiments/smoke.json"))

        let newer = folder + "/newer.sqlite"
        let store = try RunStore(path: newer)
        _ = try store.write { db in try db.execute(sql: "UPDATE meta SET value = '7' WHERE key = 'schema_version'") }
        try store.checkpointAndClose()
        let before = FileManager.default.contents(atPath: newer)
        for command in [["report"], ["exec", writeSpec(folder)]] {
            let result = try finish(launch(command + ["--store", newer]))
            #expect(result.status == 2)
            #expect(result.stderr.contains("was written by a newer ConvLab (store schema 7, this build knows up to \(StoreSchema.currentVersion))"), "\(result.stderr)")
        }
        #expect(FileManager.default.contents(atPath: newer) == before)
    }
}

@Suite("runner plugins and schema")
struct PluginsCLITests {
    @Test("plugins lists every kind with parameters and defaults")
    func plugins() throws {
        let result = try runner("plugins")
        #expect(result.status == 0)
        for kind in ["LAYER", "ACTIVATION", "POOLING", "LOSS", "OPTIMIZER", "SCHEDULE", "DATASET", "PROBE"] {
            #expect(result.stdout.contains("\n\(kind)\n") || result.stdout.hasPrefix("\(kind)\n"), "\(kind)")
        }
        #expect(result.stdout.contains("kernel: integer in [1, 4096] or [h, w] (default required)"))
        let json = try runner("plugins", "--kind", "optimizer", "--format", "json")
        #expect(json.stdout.contains("\"learning_rate\""))
        #expect(try runner("plugins", "--kind", "nope").status != 0)
    }

    @Test("schema prints the committed Schemas/experiment.schema.json")
    func schema() throws {
        let result = try runner("schema")
        let committed = try String(contentsOfFile: packageRoot + "/Schemas/experiment.schema.json", encoding: .utf8)
        #expect(result.stdout == committed)
    }

    @Test("--help teaches: subcommands, examples, exit codes")
    func help() throws {
        let result = try runner("--help")
        #expect(result.stdout.contains("exec") && result.stdout.contains("report") && result.stdout.contains("Exit codes"))
        let report = try runner("report", "--help")
        #expect(report.stdout.contains("--group-by") && report.stdout.contains("runner report --sql"))
        #expect(report.stdout.contains("--max-rows <rows>") && report.stdout.contains("--timeout <seconds>"))
        #expect(report.stdout.contains("(default: 100000)") && report.stdout.contains("(default: 30.0)"))
    }
}
