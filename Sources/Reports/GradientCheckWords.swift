import struct ConvCore.GradientCheckSummary
import RunStore

/// How gradient checks are summed up in words. An entry is `passed` or `failed` when it was
/// judged, `skipped` when a perturbation crossed a kink (ReLU, max-pool winner), and `trivial`
/// when its analytic and numeric values were both below atol (0 = 0 proves nothing). Whether a
/// check is conclusive is the engine's rule, `GradientCheckSummary.isConclusive`.
public enum GradientCheckWords {
    public static func words(passed: Int, failed: Int, skipped: Int, trivial: Int, conclusive: Bool) -> String {
        "\(passed) passed, \(failed) failed, \(skipped) skipped, \(trivial) trivial" + (conclusive ? "" : ", inconclusive")
    }

    /// The line under a run's check table. Never "every checked entry passed" when some check
    /// was inconclusive: a check of skipped and trivial entries passes without proving anything.
    public static func verdict(checks: Int, inconclusive: Int, failed: Int) -> String {
        let doubt = inconclusive == 0 ? ""
            : "inconclusive: \(inconclusive) of \(checks) check\(checks == 1 ? "" : "s") had more than half of their entries skipped (at a kink) or trivial (analytic and numeric both below atol), so they prove little\n"
        if failed > 0 { return doubt }
        if inconclusive > 0 { return doubt + "no entry failed, but the checks above are not evidence that the gradients are right\n" }
        return "every checked entry passed (skipped entries straddled a ReLU or max-pool kink; trivial ones were below atol on both sides)\n"
    }
}

extension QueryResult {
    /// The result with a `conclusive` column after `trivial`, `yes` or `no` as the engine's rule
    /// (`GradientCheckSummary.isConclusive`) judges each row's counts (columns checked, passed,
    /// failed, skipped and trivial).
    func addingConclusiveColumn(no: String) -> QueryResult {
        func count(_ row: [SQLValue], _ name: String) -> Int {
            columns.firstIndex(of: name).flatMap { row[$0].double }.map { Int($0) } ?? 0
        }
        let at = (columns.firstIndex(of: "trivial") ?? columns.count - 1) + 1
        var result = self
        result.columns.insert("conclusive", at: at)
        for index in result.rows.indices {
            let row = rows[index]
            let summary = GradientCheckSummary(checked: count(row, "checked"), passed: count(row, "passed"), failed: count(row, "failed"),
                                               skipped: count(row, "skipped"), trivial: count(row, "trivial"))
            result.rows[index].insert(.text(summary.isConclusive ? "yes" : no), at: at)
        }
        return result
    }
}
