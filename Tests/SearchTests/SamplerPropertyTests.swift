import ConvLabKit
import Testing

/// Properties every built-in sampler keeps, over random spaces and histories.
@Suite("samplers: values inside their domains, the same for the same seed and history")
struct SamplerPropertyTests {
    static let samplers: [(name: String, sampler: any Sampler)] = [
        ("random", RandomSampler()),
        ("tpe", TPESampler()),
        ("tpe, no start-up, few candidates", TPESampler(startupTrials: 0, gamma: 0.5, candidates: 3, priorWeight: 0.1)),
    ]

    @Test("every value lies in its domain, for 400 random spaces and histories", arguments: samplers.indices)
    func valuesInDomain(index: Int) {
        let sampler = Self.samplers[index].sampler
        var random = SplitMix64(seed: 7)
        for round in 0..<400 {
            let space = Generators.space(&random)
            let history = Generators.history(space, count: Generators.below(40, &random), &random)
            let direction = ObjectiveDirection.allCases[round % 2]
            var generator = Generators.trialGenerator(seed: UInt64(round), trial: history.count + 1)
            let drawn = sampler.sample(SampleRequest(trial: history.count + 1, space: space, direction: direction, history: history), random: &generator)
            #expect(drawn.values.count == space.dimensions.count)
            for (dimension, value) in zip(space.dimensions, drawn.values) {
                #expect(Generators.contains(dimension.domain, value), "\(Self.samplers[index].name): \(value) outside \(dimension.domain)")
            }
        }
    }

    @Test("the same seed and history give the same values and state; the history's order does not matter", arguments: samplers.indices)
    func reproducible(index: Int) {
        let sampler = Self.samplers[index].sampler
        var random = SplitMix64(seed: 8)
        for round in 0..<100 {
            let space = Generators.space(&random)
            let history = Generators.history(space, count: 12 + Generators.below(30, &random), &random)
            let request = SampleRequest(trial: history.count + 1, space: space, direction: .maximize, history: history)
            var first = Generators.trialGenerator(seed: UInt64(round), trial: request.trial)
            var second = Generators.trialGenerator(seed: UInt64(round), trial: request.trial)
            var shuffled = request
            shuffled.history.shuffle(using: &random)
            #expect(sampler.sample(request, random: &first) == sampler.sample(shuffled, random: &second))
        }
    }

    @Test("another seed gives other values")
    func seedMatters() {
        var random = SplitMix64(seed: 9)
        let space = SearchSpace([SearchDimension(key: "lr", domain: .logUniform(low: 1e-4, high: 1)), SearchDimension(key: "m", domain: .uniform(low: 0, high: 0.99))])
        let history = Generators.history(space, count: 20, &random)
        for sampler in Self.samplers.map(\.sampler) {
            let request = SampleRequest(trial: 21, space: space, direction: .maximize, history: history)
            var a = Generators.trialGenerator(seed: 1, trial: 21), b = Generators.trialGenerator(seed: 2, trial: 21)
            #expect(sampler.sample(request, random: &a).values != sampler.sample(request, random: &b).values)
        }
    }
}
