import Foundation
import Testing
@testable import RunStore
import TestSupport

/// A store with a finished two-run sweep (pooling max, avg), trained once; each test works on a copy.
let sweepStore: String = {
    let folder = temporaryFolder()
    let store = folder + "/sweep.sqlite"
    _ = try? runner("exec", writeSpec(folder, extra: #", "matrix": { "model.pooling": ["max", "avg"] }"#), "--store", store, "--quiet")
    return store
}()

/// A copy of `sweepStore` in a folder of its own.
func copyOfSweep() throws -> String {
    let path = temporaryFolder() + "/store.sqlite"
    try FileManager.default.copyItem(atPath: sweepStore, toPath: path)
    return path
}

func uuid(_ store: String, run: Int) throws -> String {
    try #require(try scalar(store, "SELECT uuid FROM runs WHERE id = \(run)").string)
}

/// The non-empty lines of a text.
func lines(_ text: String) -> [Substring] { text.split(separator: "\n") }

@Suite("runner runs: tag, untag, note, rm; report by UUID, --tag, --compare", .serialized)
struct RunsCLITests {
    @Test("exec gives every run a UUID and records its command line and CPU; report shows 8 characters of it, --run takes a prefix")
    func identity() throws {
        let store = try copyOfSweep()
        let first = try uuid(store, run: 1)
        #expect(first.count == 36 && first == first.lowercased())
        let commandLine = try #require(try scalar(store, "SELECT command_line FROM runs WHERE id = 1").string)
        let argv = try #require(try JSONSerialization.jsonObject(with: Data(commandLine.utf8)) as? [String])
        #expect(argv.dropFirst().prefix(2) == ["exec", argv[2]] && argv.contains("--store") && argv.contains(sweepStore))
        if FileManager.default.fileExists(atPath: "/proc/cpuinfo") {
            #expect(try scalar(store, "SELECT cpu_model FROM runs WHERE id = 1") != .null)
        }
        let table = try runner("report", "--store", store)
        #expect(table.stdout.contains(String(first.prefix(8))) && !table.stdout.contains(first))
        let json = try runner("report", "--store", store, "--format", "json")
        #expect(json.stdout.contains("\"uuid\": \"\(first)\""))
        let detail = try runner("report", "--store", store, "--run", String(first.prefix(6)).uppercased())
        #expect(detail.status == 0 && detail.stdout.contains("Run 1") && detail.stdout.contains(first), "\(detail.stderr)")
        #expect(detail.stdout.contains("command line") && detail.stdout.contains(" exec "))
    }

    @Test("tag and untag runs named by id or UUID prefix; report --tag filters (any of the tags); notes show in --run")
    func tagsAndNotes() throws {
        let store = try copyOfSweep()
        let second = try uuid(store, run: 2)
        let tagged = try runner("runs", "tag", "1", String(second.prefix(5)), "baseline", "--store", store)
        #expect(tagged.status == 0 && tagged.stdout == "tagged runs 1, 2 \"baseline\"\n", "\(tagged.stderr)")
        #expect(try runner("runs", "tag", "2", "avg-only", "--store", store).status == 0)
        func ids(_ tags: String...) throws -> [String] {
            let result = try finish(launch(["report", "--store", store, "--format", "csv"] + tags.flatMap { ["--tag", $0] }))
            // CSV lines end in CRLF, which Swift reads as one Character: split on the string.
            return result.stdout.components(separatedBy: "\r\n").dropFirst().filter { !$0.isEmpty }.map { String($0.split(separator: ",")[0]) }
        }
        #expect(try ids("baseline") == ["1", "2"])
        #expect(try ids("avg-only") == ["2"])
        #expect(try ids("avg-only", "baseline") == ["1", "2"])
        let untagged = try runner("runs", "untag", "2", "baseline", "--store", store)
        #expect(untagged.status == 0 && untagged.stdout == "removed \"baseline\" from 1 run\n")
        #expect(try ids("baseline") == ["1"])
        let none = try runner("report", "--store", store, "--tag", "nothing")
        #expect(none.status == 1 && none.stderr.contains("no runs match the filters"))

        let noted = try runner("runs", "note", "1", "the loss spikes at epoch 2\nsecond line", "--store", store)
        #expect(noted.status == 0 && noted.stdout == "noted on run 1\n")
        let detail = try runner("report", "--store", store, "--run", "1")
        #expect(detail.stdout.contains("the loss spikes at epoch 2") && detail.stdout.contains("baseline"))
        let list = try runner("runs", "list", "--store", store, "--tag", "avg-only")
        #expect(list.status == 0 && lines(list.stdout).count == 3)     // header, rule, one run
    }

    @Test("rm --yes deletes the runs' rows in every table and their artifacts folders; the other run is untouched")
    func remove() throws {
        let store = try copyOfSweep()
        let first = try uuid(store, run: 1), second = try uuid(store, run: 2)
        for id in [first, second] {
            try FileManager.default.createDirectory(atPath: "\(store).artifacts/\(id)", withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: "\(store).artifacts/\(id)/epoch-0001.safetensors", contents: Data([1, 2, 3]))
        }
        let metricsOfTwo = try scalar(store, "SELECT COUNT(*) FROM metrics WHERE run_id = 2")
        let result = try runner("runs", "rm", String(first.prefix(8)), "--yes", "--store", store)
        #expect(result.status == 0 && result.stdout == "deleted run 1 and 1 artifacts folder\n", "\(result.stderr)")
        for table in ["runs", "params", "metrics", "grad_norms", "grad_checks", "events"] {
            let column = table == "runs" ? "id" : "run_id"
            #expect(try scalar(store, "SELECT COUNT(*) FROM \(table) WHERE \(column) = 1") == .integer(0), "\(table)")
        }
        #expect(try scalar(store, "SELECT COUNT(*) FROM metrics WHERE run_id = 2") == metricsOfTwo)
        #expect(!FileManager.default.fileExists(atPath: "\(store).artifacts/\(first)"))
        #expect(FileManager.default.fileExists(atPath: "\(store).artifacts/\(second)/epoch-0001.safetensors"))
    }

    @Test("--compare A B: the differing spec keys and final metrics side by side; with --html, the two runs' curves overlaid")
    func compare() throws {
        let store = try copyOfSweep()
        let result = try runner("report", "--store", store, "--compare", "1", "2")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("Spec keys that differ") && result.stdout.contains("model.pooling") && result.stdout.contains("Final metrics"))
        let pooling = try #require(lines(result.stdout).first { $0.hasPrefix("model.pooling") })
        #expect(pooling.contains("max") && pooling.contains("avg"))
        let json = try runner("report", "--store", store, "--compare", String(try uuid(store, run: 1).prefix(4)), "2", "--format", "json")
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], "\(json.stderr)")
        #expect(parsed["spec_keys_that_differ"] != nil && parsed["final_metrics"] != nil)
        let page = temporaryFolder() + "/compare.html"
        let html = try runner("report", "--store", store, "--compare", "1", "2", "--html", page)
        #expect(html.status == 0, "\(html.stderr)")
        let text = try String(contentsOfFile: page, encoding: .utf8)
        #expect(text.contains("Spec keys that differ") && text.contains("data-series=\"run 1 pooling=max\"") && text.contains("data-series=\"run 2 pooling=avg\""))
    }

    @Test("on a terminal, rm asks: no keeps the run, yes deletes it", .enabled(if: availableOrRequiredInCI(FileManager.default.isExecutableFile(atPath: "/usr/bin/script"))))
    func removeAsks() throws {
        let store = try copyOfSweep()
        /// `script` gives the runner a terminal; the answer is typed into it.
        func answer(_ text: String) throws -> Result {
            let command = "'\(runnerPath)' runs rm 1 --store '\(store)'"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
            process.arguments = ["-qec", command, "/dev/null"]
            let input = Pipe(), output = Pipe()
            process.standardInput = input
            process.standardOutput = output
            process.standardError = output
            try process.run()
            input.fileHandleForWriting.write(Data(text.utf8))
            try input.fileHandleForWriting.close()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return Result(status: process.terminationStatus, stdout: String(decoding: data, as: UTF8.self), stderr: "")
        }
        let declined = try answer("n\n")
        #expect(declined.status == 0 && declined.stdout.contains("delete run 1 with all its rows and artifacts? [y/N]")
                && declined.stdout.contains("nothing was deleted"), "\(declined.stdout)")
        #expect(try scalar(store, "SELECT COUNT(*) FROM runs") == .integer(2))
        let accepted = try answer("y\n")
        #expect(accepted.status == 0 && accepted.stdout.contains("deleted run 1"), "\(accepted.stdout)")
        #expect(try scalar(store, "SELECT COUNT(*) FROM runs") == .integer(1))
    }

    /// A store whose two runs' UUIDs share the prefix "abcd" and whose run 2 is live (a heartbeat
    /// in the future is always fresh, and it was claimed on another machine), folded into its one file.
    static func hostileStore() throws -> String {
        let path = try copyOfSweep()
        let store = try RunStore(path: path)
        _ = try store.write { db in
            try db.execute(sql: "UPDATE runs SET uuid = 'abcd0000-0000-4000-8000-00000000000' || id")
            // Claimed on another machine: only its heartbeat can say whether it lives.
            try db.execute(sql: "UPDATE runs SET status = 'running', heartbeat_at = ?, claimed_by = 'elsewhere:1' WHERE id = 2",
                           arguments: [Date().timeIntervalSince1970 + 1e6])
        }
        try store.checkpointAndClose()
        return path
    }

    @Test("bad input: one line on standard error, exit 2, the store byte for byte unchanged", arguments: [
        (["runs", "tag", "99", "x"], "no run with id 99; runs are numbered 1…2"),
        (["runs", "tag", "1", "99", "x"], "no run with id 99"),
        (["runs", "untag", "99", "x"], "no run with id 99"),
        (["runs", "note", "99", "text"], "no run with id 99"),
        (["runs", "rm", "99", "--yes"], "no run with id 99"),
        (["runs", "rm", "2", "--yes"], "run 2 (abcd0000) is running"),
        (["runs", "rm", "1"], "standard input is not a terminal; add --yes to delete run 1 — nothing was deleted"),
        (["runs", "tag", "1", ""], "a tag may not be empty"),
        (["runs", "tag", "1", " padded"], "may not start or end with a space"),
        (["runs", "tag", "1", "bad\u{1B}[2Jtag"], "a tag may not hold control characters (it holds U+001B)"),
        (["runs", "tag", "1", "bell\u{7}"], "control characters"),
        (["runs", "note", "1", ""], "a note may not be empty"),
        (["runs", "note", "1", "esc\u{1B}"], "control characters"),
        (["runs", "tag", "abcd", "x"], "run \"abcd\" is ambiguous: it begins the UUIDs of runs 1 (abcd0000-0000), 2 (abcd0000-0000)"),
        (["runs", "tag", "abc", "x"], "\"abc\" is not a run"),
        (["runs", "tag", "feed", "x"], "no run whose UUID begins with \"feed\""),
        (["report", "--run", "abcd"], "is ambiguous"),
        (["report", "--run", "abcd0000-0000-4000-8000-000000000009"], "no run whose UUID begins with"),
        (["report", "--compare", "1"], "--compare takes two runs (ids or UUID prefixes), got 1: 1"),
        (["report", "--compare", "1", "2", "3"], "--compare takes two runs"),
        (["report", "--compare", "1", "99"], "no run with id 99"),
        (["report", "--compare", "1", "1"], "--compare needs two different runs"),
        (["report", "--tag", ""], "--tag may not be empty"),
    ])
    func badInput(arguments: [String], message: String) throws {
        let store = try Self.hostileStore()
        let before = try storeBytes(store)
        let result = try finish(launch(arguments + ["--store", store]))
        #expect(result.status == 2, "\(arguments): \(result.stdout)")
        #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        #expect(lines(result.stderr).count == 1, "\(arguments): \(result.stderr)")
        #expect(!result.stderr.contains("\u{1B}"))
        #expect(try storeBytes(store) == before, "\(arguments)")
    }

    @Test("runs commands on a missing store or a newer store: one line, exit 2, nothing created or changed")
    func storesThatCannotBeUsed() throws {
        let folder = temporaryFolder()
        for command in [["runs", "tag", "1", "x"], ["runs", "note", "1", "x"], ["runs", "rm", "1", "--yes"], ["runs", "list"]] {
            let result = try finish(launch(command + ["--store", folder + "/none.sqlite"]))
            #expect(result.status == 2 && result.stderr.contains("no store here") && lines(result.stderr).count == 1, "\(command): \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: folder + "/none.sqlite"))
        }
        let newer = try copyOfSweep()
        let store = try RunStore(path: newer)
        _ = try store.write { db in try db.execute(sql: "INSERT INTO grdb_migrations(identifier) VALUES ('v9')") }
        try store.checkpointAndClose()
        let before = try storeBytes(newer)
        for command in [["runs", "tag", "1", "x"], ["runs", "rm", "1", "--yes"], ["report", "--compare", "1", "2"]] {
            let result = try finish(launch(command + ["--store", newer]))
            #expect(result.status == 2 && result.stderr.contains("was written by a newer ConvLab (store migrations v9 are unknown"), "\(command): \(result.stderr)")
        }
        #expect(try storeBytes(newer) == before)
    }

    @Test("runner schema --store-sql prints the schema-3 DDL")
    func storeSQL() throws {
        let result = try runner("schema", "--store-sql")
        #expect(result.status == 0 && result.stdout == StoreSchema.documentedSQL)
        #expect(result.stdout.contains("-- Schema version 3") && result.stdout.contains("CREATE TABLE run_tags"))
    }
}
