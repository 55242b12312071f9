import Testing
@testable import ConvCore

@Suite("Gradient checker: trivial entries and summaries")
struct GradientCheckSummaryTests {
    /// Negative inputs to a ReLU: every unit is dead, ∂C/∂x = 0 and ∂C/∂W = 0 exactly, and the
    /// finite difference is 0 as well (no perturbation of ±1e-6 reaches the kink at 0).
    @Test("an entry whose analytic and numeric values are both below atol is trivial, not passed")
    func deadReLUIsTrivial() throws {
        let network = try Network<Double>(input: Shape(features: 4),
                                          layers: [ActivationConfiguration(.relu), DenseConfiguration(units: 2)], seed: 3)
        network.parameters[1].value.fill(0.3)   // bias: its gradient is softmax − onehot, not zero
        var rng = Xoshiro256(seed: 1)
        let records = GradientChecker.check(network: network, input: [-1, -2, -3, -4], labels: [1], batch: 1,
                                            loss: SoftmaxCrossEntropy(), rng: &rng)
        let zeroes = records.filter { $0.tensor != "bias" }
        #expect(zeroes.count == 4 + 8)
        #expect(zeroes.allSatisfy { $0.outcome == .trivial }, "\(zeroes.map(\.outcome))")
        #expect(records.filter { $0.tensor == "bias" }.allSatisfy { $0.outcome == .passed })
        #expect(GradientCheckRecord.Outcome.trivial.rawValue == "trivial")

        let summary = GradientCheckSummary(records)
        #expect(summary.checked == 14 && summary.passed == 2 && summary.trivial == 12 && summary.failed == 0 && summary.skipped == 0)
        #expect(!summary.isConclusive)
        #expect(summary.verdict == .inconclusive)
    }

    /// A failure is never hidden as trivial: only an entry that would pass can be trivial.
    @Test("trivial applies only to entries that agree")
    func trivialNeverHidesFailure() throws {
        let options = GradientCheckOptions()
        #expect(GradientChecker.outcome(analytic: 0, numeric: 0, smooth: true, options) == .trivial)
        #expect(GradientChecker.outcome(analytic: 9e-6, numeric: 8e-6, smooth: true, options) == .trivial)
        #expect(GradientChecker.outcome(analytic: 2e-5, numeric: 2e-5, smooth: true, options) == .passed)
        #expect(GradientChecker.outcome(analytic: 9e-6, numeric: -9e-6, smooth: true, options) == .failed)
        #expect(GradientChecker.outcome(analytic: 0, numeric: 0, smooth: false, options) == .skipped)
        #expect(GradientChecker.outcome(analytic: 1, numeric: 1.01, smooth: true, options) == .failed)
        #expect(GradientChecker.outcome(analytic: 1, numeric: 1.0005, smooth: true, options) == .passed)
    }

    @Test("the summary counts every outcome and is inconclusive past half skipped or trivial")
    func summaryRule() {
        func records(_ outcomes: [GradientCheckRecord.Outcome]) -> [GradientCheckRecord] {
            outcomes.map {
                GradientCheckRecord(layerIndex: 0, layerKind: "dense", tensor: "weight", index: 0, analytic: 0, numeric: 0,
                                    absoluteError: 0, relativeError: 0, outcome: $0)
            }
        }
        let half = GradientCheckSummary(records([.passed, .passed, .skipped, .trivial]))
        #expect(half.checked == 4 && half.passed == 2 && half.skipped == 1 && half.trivial == 1)
        #expect(half.isConclusive && half.verdict == .passed)
        let mostlyVacuous = GradientCheckSummary(records([.passed, .passed, .skipped, .trivial, .trivial]))
        #expect(!mostlyVacuous.isConclusive && mostlyVacuous.verdict == .inconclusive)
        let failed = GradientCheckSummary(records([.failed, .trivial, .trivial, .trivial]))
        #expect(failed.failed == 1 && failed.verdict == .failed)
        let empty = GradientCheckSummary([])
        #expect(!empty.isConclusive && empty.verdict == .inconclusive)
    }
}
