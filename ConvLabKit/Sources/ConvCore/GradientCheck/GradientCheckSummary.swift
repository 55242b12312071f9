/// The counts of one gradient check and what they allow one to say.
///
/// Rule: a check is conclusive when it judged something and at most half of its entries are
/// skipped (a kink moved) or trivial (both values below atol). An inconclusive check must not be
/// reported as passed, however many of its few judged entries agreed.
public struct GradientCheckSummary: Sendable, Equatable {
    public enum Verdict: String, Sendable {
        /// Conclusive and no entry failed.
        case passed
        /// At least one entry failed (whatever the rest).
        case failed
        /// No failure, but more than half of the entries skipped or trivial, or none at all.
        case inconclusive
    }

    public var checked = 0, passed = 0, failed = 0, skipped = 0, trivial = 0

    public init<S: Sequence>(_ records: S) where S.Element == GradientCheckRecord {
        for record in records {
            checked += 1
            switch record.outcome {
            case .passed: passed += 1
            case .failed: failed += 1
            case .skipped: skipped += 1
            case .trivial: trivial += 1
            }
        }
    }

    /// The counts as a store or a report holds them.
    public init(checked: Int, passed: Int, failed: Int, skipped: Int, trivial: Int) {
        (self.checked, self.passed, self.failed, self.skipped, self.trivial) = (checked, passed, failed, skipped, trivial)
    }

    /// 2·(skipped + trivial) ≤ checked, and checked > 0: the one statement of the rule (the
    /// store's `grad_check_summary` view spells it in SQL; a test holds the two equal).
    public var isConclusive: Bool { checked > 0 && 2 * (skipped + trivial) <= checked }

    public var verdict: Verdict { failed > 0 ? .failed : isConclusive ? .passed : .inconclusive }
}
