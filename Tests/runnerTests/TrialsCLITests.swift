import Foundation
import Testing
import TestSupport

/// `runner report --trials` and `--status pruned` through the real binary, over a search written
/// as `runner exec` records one (`SearchFixture`).
@Suite("runner report --trials and the status pruned")
struct TrialsCLITests {
    @Test("--trials ranks the newest search and names its best trial; --status pruned lists only pruned runs")
    func trials() throws {
        let store = temporaryFolder() + "/store.sqlite"
        try SearchFixture.write(path: store)
        let report = try runner("report", "--store", store, "--trials", "--format", "csv")
        #expect(report.status == 0, "\(report.stderr)")
        // Trial 3 (0.91) ranks first, trial 1 (0.86) second.
        let lines = report.stdout.split(whereSeparator: \.isNewline)
        let ranked = lines.drop { !$0.hasPrefix("rank,trial,") }.dropFirst()
        #expect(ranked.first?.hasPrefix("1,3,") == true && ranked.dropFirst().first?.hasPrefix("2,1,") == true, "\(report.stdout)")
        let pruned = try runner("report", "--store", store, "--status", "pruned", "--format", "json")
        #expect(pruned.status == 0, "\(pruned.stderr)")
        #expect(pruned.stdout.contains("\"pruned\"") && !pruned.stdout.contains("\"completed\""), "\(pruned.stdout)")
    }

    @Test("--trials on a store without a search, or naming an experiment that is no search: one line, exit 2")
    func noSearch() throws {
        let folder = temporaryFolder()
        let store = folder + "/store.sqlite"
        let spec = writeSpec(folder, epochs: 1, trainSize: 64)
        #expect(try runner("exec", spec, "--store", store, "--quiet").status == 0)
        let none = try runner("report", "--store", store, "--trials")
        #expect(none.status == 2 && none.stdout.isEmpty)
        #expect(none.stderr.contains("no search") && none.stderr.split(separator: "\n").count == 1, "\(none.stderr)")
        try SearchFixture.write(path: folder + "/search.sqlite")
        let matrix = try runner("report", "--store", folder + "/search.sqlite", "--trials", "--experiment", "999")
        #expect(matrix.status == 2 && matrix.stderr.contains("no experiment \"999\""), "\(matrix.stderr)")
    }

    @Test("a search key the spec does not have is one line, whichever of the range's probes meets it first")
    func unknownKeyOnce() throws {
        let folder = temporaryFolder()
        let spec = writeSpec(folder, extra: #", "search": { "space": { "optimizer.nope": { "uniform": [0, 1] } }, "sampler": "random", "trials": 2 }"#)
        let result = try runner("validate", spec)
        #expect(result.status == 2)
        let lines = result.stderr.split(whereSeparator: \.isNewline).filter { $0.contains("search.space.optimizer.nope") }
        #expect(lines.count == 1 && lines.first?.contains("unknown key \"nope\"") == true, "\(result.stderr)")
    }
}
