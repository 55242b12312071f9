import ConvLabKit
import Testing

@Suite("median pruner: hand-made decisions and its guarantees")
struct MedianPrunerTests {
    /// Completed trials 1–3 with 0.5, 0.6, 0.8 at epoch 2 (median 0.6); a pruned and a running trial
    /// far below, which do not count.
    static let history = [
        TrialRecord(number: 1, values: [], state: .completed, intermediate: [1: 0.4, 2: 0.5, 3: 0.55]),
        TrialRecord(number: 2, values: [], state: .completed, intermediate: [1: 0.5, 2: 0.6, 3: 0.65]),
        TrialRecord(number: 3, values: [], state: .completed, intermediate: [1: 0.7, 2: 0.8, 3: 0.85]),
        TrialRecord(number: 4, values: [], state: .pruned, intermediate: [1: 0.05, 2: 0.1]),
        TrialRecord(number: 5, values: [], state: .running, intermediate: [1: 0.01, 2: 0.02]),
    ]

    static func decide(_ pruner: MedianPruner = MedianPruner(), value: Double, epoch: Int = 2, _ direction: ObjectiveDirection = .maximize,
                       history: [TrialRecord] = history) -> PruneDecision {
        let trial = TrialRecord(number: 9, values: [], state: .running, intermediate: [epoch: value])
        return pruner.decide(PruneRequest(trial: trial, epoch: epoch, epochs: 3, direction: direction, history: history))
    }

    @Test("below the median of the completed trials: pruned, the reason naming the median, the count and the epoch")
    func handMade() {
        #expect(Self.decide(value: 0.55) == .prune(reason: "0.55 is below the median 0.6 of 3 completed trials at epoch 2"))
        #expect(Self.decide(value: 0.6) == .keepTraining)
        #expect(Self.decide(value: 0.61) == .keepTraining)
        // Epoch 1 is the warm-up; with warmup_epochs 0 the same value is judged.
        #expect(Self.decide(value: 0.0, epoch: 1) == .keepTraining)
        #expect(Self.decide(MedianPruner(warmupEpochs: 0), value: 0.45, epoch: 1) == .prune(reason: "0.45 is below the median 0.5 of 3 completed trials at epoch 1"))
        // Two completed trials are not enough by default; min_trials 2 makes them so.
        let two = Array(Self.history.dropFirst())
        #expect(Self.decide(value: 0.0, history: two) == .keepTraining)
        #expect(Self.decide(MedianPruner(minTrials: 2), value: 0.65, history: two) == .prune(reason: "0.65 is below the median 0.7 of 2 completed trials at epoch 2"))
        // An even count: the mean of the middle two, (0.6 + 0.8)/2.
        let four = Self.history + [TrialRecord(number: 6, values: [], state: .completed, intermediate: [2: 0.9])]
        #expect(Self.decide(value: 0.65, history: four) == .prune(reason: "0.65 is below the median 0.7 of 4 completed trials at epoch 2"))
        // Minimising, a loss above the median is the worse one.
        #expect(Self.decide(value: 0.65, .minimize) == .prune(reason: "0.65 is above the median 0.6 of 3 completed trials at epoch 2"))
        #expect(Self.decide(value: 0.55, .minimize) == .keepTraining)
        #expect(Self.decide(value: .nan) == .prune(reason: "the objective at epoch 2 is not a number"))
    }

    @Test("over random histories: exactly the reference rule; never during warm-up, never with fewer than min_trials")
    func properties() {
        var random = SplitMix64(seed: 31)
        let space = SearchSpace([])
        var pruned = 0
        for round in 0..<2000 {
            let pruner = MedianPruner(warmupEpochs: Generators.below(3, &random), minTrials: 1 + Generators.below(4, &random))
            let history = Generators.history(space, count: Generators.below(12, &random), &random)
            let epoch = 1 + Generators.below(5, &random)
            let value = Generators.below(30, &random) == 0 ? .nan : Generators.unit(&random)
            let direction = ObjectiveDirection.allCases[round % 2]
            let trial = TrialRecord(number: 99, values: [], state: .running, intermediate: [epoch: value])
            let decision = pruner.decide(PruneRequest(trial: trial, epoch: epoch, epochs: 5, direction: direction, history: history))

            let others = history.filter { $0.state == .completed }.compactMap { $0.intermediate[epoch] }.filter(\.isFinite).sorted()
            let median = others.isEmpty ? .nan : (others[(others.count - 1) / 2] + others[others.count / 2]) / 2
            let worse = direction == .maximize ? value < median : value > median
            let expected = epoch > pruner.warmupEpochs && others.count >= pruner.minTrials && (value.isNaN || worse)
            if case .prune = decision { pruned += 1 }
            #expect((decision != .keepTraining) == expected, "round \(round): \(decision)")
            if epoch <= pruner.warmupEpochs || others.count < pruner.minTrials { #expect(decision == .keepTraining) }
        }
        #expect(pruned > 200, "the random histories hardly exercise pruning: \(pruned)")
    }
}
