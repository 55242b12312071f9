import ConvLabKit
import Testing

@Suite("ASHA: rung epochs, and promotion of the top 1/η exactly as Optuna's successive halving")
struct ASHAPrunerTests {
    @Test("rungs close at min_epochs · η^(s + k)")
    func rungs() {
        #expect(ASHAPruner().rungEpochs(upTo: 30) == [1, 3, 9, 27])
        #expect(ASHAPruner(minEpochs: 2, eta: 2, minEarlyStoppingRate: 1).rungEpochs(upTo: 40) == [4, 8, 16, 32])
        #expect(ASHAPruner(minEpochs: 1, eta: 4).rungEpochs(upTo: 16) == [1, 4, 16])
        #expect(ASHAPruner(minEpochs: 5).rungEpochs(upTo: 4) == [])
        #expect(ASHAPruner(minEpochs: Int.max / 2, eta: 3).rungEpochs(upTo: Int.max) == [Int.max / 2])
        #expect(ASHAPruner(minEpochs: 1, eta: 2, minEarlyStoppingRate: 70).rungEpochs(upTo: Int.max) == [])
        #expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map { ASHAPruner().promoted(of: $0) } == [1, 1, 1, 1, 1, 2, 2, 2, 3, 3])
    }

    static func decide(_ value: Double, epoch: Int = 3, others: [Double], _ direction: ObjectiveDirection = .maximize) -> PruneDecision {
        let history = others.enumerated().map { TrialRecord(number: $0.offset + 1, values: [], state: .completed, intermediate: [epoch: $0.element]) }
        let trial = TrialRecord(number: 99, values: [], state: .running, intermediate: [epoch: value])
        return ASHAPruner().decide(PruneRequest(trial: trial, epoch: epoch, epochs: 9, direction: direction, history: history))
    }

    @Test("hand-made: the best ⌊n/η⌋ go on (ties too); with fewer than η values only the best; between rungs nothing is stopped")
    func handMade() {
        let others = [0.9, 0.8, 0.7, 0.6, 0.5]
        #expect(Self.decide(0.85, others: others) == .keepTraining)
        #expect(Self.decide(0.8, others: others) == .keepTraining)
        #expect(Self.decide(0.75, others: others) == .prune(reason: "0.75 at rung 1 (epoch 3) is not among the best 2 of 6 values there (cut-off 0.8)"))
        #expect(Self.decide(0.6, others: [0.7]) == .prune(reason: "0.6 at rung 1 (epoch 3) is not among the best 1 of 2 values there (cut-off 0.7)"))
        #expect(Self.decide(0.7, others: [0.7]) == .keepTraining)
        #expect(Self.decide(0.1, others: []) == .keepTraining)
        #expect(Self.decide(0.0, epoch: 2, others: [0.9, 0.9, 0.9]) == .keepTraining)
        #expect(Self.decide(0.55, others: others, .minimize) == .keepTraining)
        #expect(Self.decide(0.65, others: others, .minimize) == .prune(reason: "0.65 at rung 1 (epoch 3) is not among the best 2 of 6 values there (cut-off 0.6)"))
        #expect(Self.decide(.nan, others: others) == .prune(reason: "the objective at rung 1 (epoch 3) is not a number"))
    }

    @Test("over random histories and settings: the decision of a direct reference computation")
    func reference() {
        var random = SplitMix64(seed: 41)
        let space = SearchSpace([])
        var pruned = 0, kept = 0
        for round in 0..<3000 {
            let pruner = ASHAPruner(minEpochs: 1 + Generators.below(2, &random), eta: 2 + Generators.below(3, &random), minEarlyStoppingRate: Generators.below(2, &random))
            let history = Generators.history(space, count: Generators.below(15, &random), epochs: 9, &random)
            let epoch = 1 + Generators.below(9, &random)
            let value = Generators.below(40, &random) == 0 ? .nan : Generators.unit(&random)
            let direction = ObjectiveDirection.allCases[round % 2]
            let trial = TrialRecord(number: 99, values: [], state: .running, intermediate: [epoch: value])
            let decision = pruner.decide(PruneRequest(trial: trial, epoch: epoch, epochs: 9, direction: direction, history: history))

            var isRung = false
            var power = 1
            for _ in 0..<pruner.minEarlyStoppingRate { power *= pruner.eta }
            while pruner.minEpochs * power <= epoch { if pruner.minEpochs * power == epoch { isRung = true }; power *= pruner.eta }
            let recorded = history.compactMap { $0.intermediate[epoch] }.filter(\.isFinite) + [value]
            let better = recorded.filter { direction == .maximize ? $0 > value : $0 < value }.count
            let expected = isRung && (value.isNaN || better >= max(1, recorded.count / pruner.eta))
            #expect((decision != .keepTraining) == expected, "round \(round): epoch \(epoch), \(recorded), \(decision)")
            if expected { pruned += 1 } else if isRung { kept += 1 }
        }
        #expect(pruned > 300 && kept > 300, "the random cases hardly exercise both outcomes: \(pruned) pruned, \(kept) promoted")
    }
}
