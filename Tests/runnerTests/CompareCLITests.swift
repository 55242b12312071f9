import Foundation
import Testing
@testable import RunStore
import TestSupport

/// Two poolings over three seeds, trained once for the suite.
let seededStore: String = {
    let folder = temporaryFolder()
    let store = folder + "/seeded.sqlite"
    _ = try? runner("exec", writeSpec(folder, name: "seeded", extra: #", "matrix": { "model.pooling": ["max", "avg"], "seeds": [1, 2, 3] }"#),
                    "--store", store, "--quiet")
    return store
}()

/// `runner` with its output piped and $COLUMNS set as a user's shell might export it.
func pipedRunner(columns: String, _ arguments: [String]) throws -> Result {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: runnerPath)
    process.arguments = arguments
    var environment = ProcessInfo.processInfo.environment
    environment.removeValue(forKey: "CONVLAB_STORE")
    environment["COLUMNS"] = columns
    process.environment = environment
    let out = Pipe(), err = Pipe()
    (process.standardInput, process.standardOutput, process.standardError) = (FileHandle.nullDevice, out, err)
    try process.run()
    return finish((process, out, err))
}

@Suite("runner report: groups with their uncertainty, a baseline, run costs, whole cells when piped", .serialized)
struct CompareCLITests {
    @Test("--group-by --baseline prints the interval of each group and the difference with its tests and verdict, in every format")
    func baseline() throws {
        let result = try runner("report", "--store", seededStore, "--group-by", "model.pooling", "--baseline", "max")
        #expect(result.status == 0, "\(result.stderr)")
        for expected in ["95 % CI of mean", "Difference from model.pooling = max", "avg − max", "95 % CI (Welch)", "Welch t-test",
                         "paired by seed", "3 seeds:", "paired t-test", "sign-flip test (exact)", "Hedges' g", "at the 5 % level",
                         "from max apart at the 5 % level (paired t-test, p = "] {
            #expect(result.stdout.contains(expected), "\(expected)\n\(result.stdout)")
        }
        let json = try runner("report", "--store", seededStore, "--group-by", "model.pooling", "--baseline", "max", "--format", "json")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let rows = try #require(object.first { $0.key.hasPrefix("difference_from") }?.value as? [[String: Any]])
        #expect(rows.count == 1 && rows[0]["paired_n"] as? Double == 3 && rows[0]["deciding_test"] as? String == "paired t-test")
        let csv = try runner("report", "--store", seededStore, "--group-by", "model.pooling", "--baseline", "max", "--format", "csv")
        #expect(csv.stdout.contains("group,baseline,n,baseline_n,difference,ci95_low,ci95_high,welch_t"))
        let markdown = try runner("report", "--store", seededStore, "--group-by", "model.pooling", "--baseline", "max", "--format", "markdown")
        #expect(markdown.stdout.contains("| paired t-test |") && markdown.stdout.contains("at the 5 % level ("))
        let page = temporaryFolder() + "/r.html"
        let html = try runner("report", "--store", seededStore, "--group-by", "model.pooling", "--baseline", "max", "--html", page)
        let text = try String(contentsOfFile: page, encoding: .utf8)
        #expect(html.status == 0 && text.contains("Difference from model.pooling = max") && text.contains("95 % CI of mean")
                && text.contains("Cost per run") && text.contains("peak RSS"))
    }

    @Test("a baseline without groups, or that is no group, is one line and exit 2")
    func badBaseline() throws {
        let alone = try runner("report", "--store", seededStore, "--baseline", "max")
        #expect(alone.status == 2 && alone.stderr == "error: --baseline compares groups, so it needs --group-by; e.g. --group-by model.pooling --baseline max\n")
        let unknown = try runner("report", "--store", seededStore, "--group-by", "model.pooling", "--baseline", "mean")
        #expect(unknown.status == 2 && unknown.stderr.contains("--baseline \"mean\" is not a group of model.pooling; the groups are: max; avg"))
        #expect(unknown.stderr.split(separator: "\n").count == 1 && unknown.stdout.isEmpty)
    }

    @Test("--compare of two single runs says n = 1 gives no interval")
    func compareSingleRuns() throws {
        let result = try runner("report", "--store", seededStore, "--compare", "1", "4")
        #expect(result.status == 0 && result.stdout.contains("One run on each side (n = 1): the difference has no confidence interval"))
    }

    @Test("report --run shows what the run cost and the lines it printed")
    func cost() throws {
        let result = try runner("report", "--store", seededStore, "--run", "2")
        #expect(result.status == 0)
        for expected in ["Cost", "wall time", "cpu user", "cpu system", "peak RSS", "load start → end", "images/s", "0 warnings, 0 errors",
                         "Log", "run 2/6 (id 2): model.pooling=max, seed=2", "completed after 2 epochs"] {
            #expect(result.stdout.contains(expected), "\(expected)\n\(result.stdout)")
        }
        let json = try runner("report", "--store", seededStore, "--run", "2", "--format", "json")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let cost = try #require((object["cost"] as? [[String: Any]])?.first)
        #expect((cost["wall_seconds"] as? Double ?? 0) > 0 && (cost["peak_rss_bytes"] as? Double ?? 0) > 1e6)
    }

    @Test("piped, the runs table keeps every cell whole whatever $COLUMNS says; --width cuts it")
    func wholeCellsWhenPiped() throws {
        let piped = try pipedRunner(columns: "80", ["report", "--store", seededStore])
        #expect(piped.status == 0 && !piped.stdout.contains("…"), "\(piped.stdout)")
        #expect(piped.stdout.contains("pooling=max seed=1") && piped.stdout.contains("completed"))
        let narrow = try pipedRunner(columns: "80", ["report", "--store", seededStore, "--width", "80"])
        func widest(_ text: String) -> Int { text.split(separator: "\n").map(\.unicodeScalars.count).max() ?? 0 }
        #expect(narrow.stdout.contains("…") && widest(narrow.stdout) < widest(piped.stdout) && widest(piped.stdout) > 120)
        let tooNarrow = try runner("report", "--store", seededStore, "--width", "5")
        #expect(tooNarrow.status == 2 && tooNarrow.stderr.contains("--width must be at least 20 columns"))
    }
}
