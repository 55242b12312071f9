import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import Reports
@testable import RunStore
import TestSupport

/// A store of completed runs with the given pooling, seed and final test accuracy.
func seededStore(_ runs: [(pooling: String, seed: Int, accuracy: Double)]) throws -> String {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("convlab-groups-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let path = folder + "/store.sqlite"
    let store = try RunStore(path: path)
    let experiment = try store.createExperiment(name: "lenet", specPath: "Experiments/lenet.json", specJSON: "{}")
    let provenance = RunProvenance(host: "h", os: "o", convlabVersion: "v", swiftVersion: "s", blas: "b")
    for (index, run) in runs.enumerated() {
        let id = try store.createRun(NewRun(
            experimentID: experiment, runIndex: index + 1, variant: #"{"model.pooling":"\#(run.pooling)"}"#,
            variantLabel: "model.pooling=\(run.pooling)", specJSON: "{}", specHash: "h\(index)", seed: UInt64(run.seed), epochsPlanned: 1,
            provenance: provenance, params: [("model.pooling", run.pooling, nil), ("seed", "\(run.seed)", Double(run.seed))]))
        try store.markStarted(run: id)
        var batch = RecordBatch()
        batch.metrics.append(.init(name: "test_accuracy", step: 10, epoch: 1, value: run.accuracy, wallTime: 1))
        try store.append(batch, run: id, epochsDone: 1, stepsDone: 10)
        try store.finish(run: id, status: .completed)
    }
    return path
}

/// The expected figures come from SciPy 1.17.1:
///
/// ```python
/// from scipy import stats
/// mx = [0.8855, 0.8775, 0.8721]; av = [0.8814, 0.8770, 0.8702]; l2 = [0.8600, 0.8610, 0.8590]
/// for g in (av, l2):
///     w = stats.ttest_ind(g, mx, equal_var=False); r = stats.ttest_rel(g, mx)
///     print(w.statistic, w.pvalue, w.df, w.confidence_interval(), r.statistic, r.pvalue, r.confidence_interval())
/// ```
/// avg − max: Welch t −0.4268563149474141, p 0.6921012979196426, CI (−0.016433632250334902, 0.012100298917001602);
///            paired t −2.067925479671239, p 0.17456573909392395.
/// l2 − max:  Welch p 0.039538149070725497; paired t −4.964971486750117, p 0.03825380276364154.
/// Holm over the two paired p-values: 0.0382538 · 2 = 0.0765077, then max(0.0765077, 0.1745657 · 1) = 0.1745657.
@Suite("Group comparison against a baseline")
struct GroupComparisonTests {
    static let max = [0.8855, 0.8775, 0.8721], avg = [0.8814, 0.8770, 0.8702], l2 = [0.8600, 0.8610, 0.8590]

    func store(_ groups: [(String, [Double])]) throws -> String {
        try seededStore(groups.flatMap { name, values in values.enumerated().map { (name, $0.offset + 1, $0.element) } })
    }

    func close(_ value: Any?, _ expected: Double, _ tolerance: Double = 1e-9) -> Bool {
        guard let value = value as? Double else { return false }
        return abs(value - expected) <= tolerance
    }

    func machine(_ document: ReportDocument) throws -> [[String: Any]] {
        let table = try #require(document.sections.first { $0.title.hasPrefix("Difference from") }?.machine)
        return try #require(try JSONSerialization.jsonObject(with: Data(table.renderJSON().utf8)) as? [[String: Any]])
    }

    @Test("one other group: difference with its Welch interval, Welch and paired tests by seed, sign-flip test, Hedges' g, and a plain verdict")
    func twoGroups() throws {
        let reporter = Reporter(reader: try StoreReader(path: try store([("max", Self.max), ("avg", Self.avg)])))
        let document = try reporter.groups(by: ["model.pooling"], filter: RunFilter(), targetAccuracy: 0.85, baseline: "max")
        let row = try #require(try machine(document).first)
        #expect(row["group"] as? String == "avg" && row["baseline"] as? String == "max")
        #expect(close(row["difference"], (0.8814 + 0.8770 + 0.8702) / 3 - (0.8855 + 0.8775 + 0.8721) / 3, 1e-12))
        #expect(close(row["welch_t"], -0.4268563149474141) && close(row["welch_p"], 0.6921012979196426))
        #expect(close(row["ci95_low"], -0.016433632250334902) && close(row["ci95_high"], 0.012100298917001602))
        #expect(row["paired_n"] as? Double == 3 && close(row["paired_t"], -2.067925479671239) && close(row["paired_p"], 0.17456573909392395))
        // Differences −0.0041, −0.0005, −0.0019 all negative: 2 of the 8 sign patterns are as extreme.
        #expect(close(row["sign_flip_p"], 0.25, 1e-12))
        #expect(row["deciding_test"] as? String == "paired t-test" && close(row["p_holm"], 0.17456573909392395))
        #expect(row["different_at_5_percent"] as? Bool == false)
        let text = document.render(.table, width: 200)
        #expect(text.contains("The data cannot tell avg from max apart at the 5 % level (paired t-test, p = 0.175)"), "\(text)")
        #expect(text.contains("cannot give p below 0.250") && text.contains("Hedges' g") && !text.contains("Holm-adjusted ("))
        // Markdown carries the sentences too; the group table has its interval column.
        #expect(document.render(.markdown, width: 80).contains("The data cannot tell avg from max apart"))
        #expect(document.sections[0].table?.columns.contains("95 % CI of mean") == true)
        // The HTML report carries the difference table and its sentences, and stays well-formed XML.
        let page = try reporter.html(filter: RunFilter(), groupBy: ["model.pooling"], targetAccuracy: 0.85, baseline: "max")
        #expect(page.contains("<h2>Difference from model.pooling = max</h2>") && page.contains("<p>The data cannot tell avg from max apart"))
        #expect(XMLParser(data: Data(page.utf8)).parse())
    }

    @Test("several groups: the deciding p-values are Holm-adjusted and the report says so; 0.038 alone would pass, adjusted it does not")
    func holm() throws {
        let reporter = Reporter(reader: try StoreReader(path: try store([("max", Self.max), ("avg", Self.avg), ("l2", Self.l2)])))
        let document = try reporter.groups(by: ["model.pooling"], filter: RunFilter(), targetAccuracy: 0.85, baseline: "max")
        let rows = try machine(document)
        let l2 = try #require(rows.first { $0["group"] as? String == "l2" })
        #expect(close(l2["paired_p"], 0.03825380276364154) && close(l2["welch_p"], 0.039538149070725497))
        #expect(close(l2["p_holm"], 2 * 0.03825380276364154) && l2["different_at_5_percent"] as? Bool == false)
        let avg = try #require(rows.first { $0["group"] as? String == "avg" })
        #expect(close(avg["p_holm"], 0.17456573909392395))
        let text = document.render(.table, width: 200)
        #expect(text.contains("Holm-adjusted over the 2 comparisons") && text.contains("p, Holm-adjusted (2 tests)"))
        #expect(text.contains("The data cannot tell l2 from max apart at the 5 % level (paired t-test, Holm-adjusted p = 0.077)"), "\(text)")
    }

    @Test("a clear difference is called one, with its direction; unpaired seeds fall back to Welch's test")
    func clearDifference() throws {
        // Seeds 1–3 for max, 4–6 for l2: no shared seed.
        let path = try seededStore(Self.max.enumerated().map { ("max", $0.offset + 1, $0.element) }
                                   + [0.8300, 0.8310, 0.8290].enumerated().map { ("l2", $0.offset + 4, $0.element) })
        let document = try Reporter(reader: try StoreReader(path: path)).groups(by: ["model.pooling"], filter: RunFilter(), targetAccuracy: 0.85, baseline: "max")
        let row = try #require(try machine(document).first)
        #expect(row["paired_n"] as? Double == 0 && row["deciding_test"] as? String == "Welch's t-test")
        #expect(row["different_at_5_percent"] as? Bool == true)
        #expect(document.render(.table, width: 200).contains("The data tell l2 from max apart at the 5 % level (Welch's t-test, p = "))
        #expect(document.render(.table, width: 200).contains("l2 is lower by 0.0484"))
    }

    @Test("one run per group: the interval is unknown, and the report says one seed cannot tell groups apart")
    func oneSeed() throws {
        let reporter = Reporter(reader: try StoreReader(path: try store([("max", [0.8862]), ("avg", [0.8814])])))
        let document = try reporter.groups(by: ["model.pooling"], filter: RunFilter(), targetAccuracy: 0.85, baseline: "max")
        #expect(document.sections[0].table?.cell(0, "95 % CI of mean") == "unknown (n = 1)")
        let text = document.render(.table, width: 200)
        #expect(text.contains("Every group has one run, so its interval is unknown: one seed cannot tell groups apart"))
        #expect(text.contains("avg against max: not testable"))
        let row = try #require(try machine(document).first)
        #expect(row["welch_p"] is NSNull && row["p_holm"] is NSNull && row["different_at_5_percent"] is NSNull)
    }

    @Test("a baseline that is no group is an error naming the groups")
    func unknownBaseline() throws {
        let reporter = Reporter(reader: try StoreReader(path: try store([("max", Self.max), ("avg", Self.avg)])))
        #expect {
            _ = try reporter.groups(by: ["model.pooling"], filter: RunFilter(), targetAccuracy: 0.85, baseline: "mx")
        } throws: { error in
            "\(error)".contains("--baseline \"mx\" is not a group of model.pooling; the groups are: max; avg")
        }
    }
}
