/// How gradient checks are summed up in words. An entry is `passed` or `failed` when it was
/// judged, `skipped` when a perturbation crossed a kink (ReLU, max-pool winner), and `trivial`
/// when its analytic and numeric values were both below atol (0 = 0 proves nothing). A check is
/// conclusive only if at most half of its entries were skipped or trivial.
public enum GradientCheckSummary {
    /// inconclusive ⇔ (skipped + trivial) · 2 > checked, or nothing was checked.
    public static func isConclusive(checked: Int, skipped: Int, trivial: Int) -> Bool {
        checked > 0 && (skipped + trivial) * 2 <= checked
    }

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
