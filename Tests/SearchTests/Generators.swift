import ConvLabKit
import Foundation

/// Random search spaces and histories for the property tests, drawn from a seeded generator.
enum Generators {
    static func unit(_ random: inout SplitMix64) -> Double { RandomSampler.unit(&random) }

    static func below(_ n: Int, _ random: inout SplitMix64) -> Int { Int(random.next() % UInt64(n)) }

    /// A domain of any kind, with bounds of very different scales (and, rarely, one-point ranges).
    static func domain(_ random: inout SplitMix64) -> SearchDimension.Domain {
        switch below(4, &random) {
        case 0:
            let low = (unit(&random) - 0.5) * pow(10, Double(below(7, &random)) - 3)
            let width = below(20, &random) == 0 ? 0 : unit(&random) * pow(10, Double(below(7, &random)) - 3)
            return .uniform(low: low, high: low + width)
        case 1:
            let low = pow(10, -6 + 6 * unit(&random))
            return .logUniform(low: low, high: low * pow(10, 4 * unit(&random)))
        case 2:
            let low = below(200, &random) - 100
            return .integer(low: low, high: low + below(40, &random))
        default:
            let options: [JSONValue] = [.number(32), .number(64), .string("max"), .bool(true), .obj([("plugin", .string("elu"))])]
            return .choice(Array(options.prefix(1 + below(options.count, &random))))
        }
    }

    static func space(_ random: inout SplitMix64) -> SearchSpace {
        SearchSpace((0..<(1 + below(5, &random))).map { SearchDimension(key: "key\($0)", domain: domain(&random)) })
    }

    /// Trials 1…count of `space`, values from their domains, in random states with random
    /// objectives per epoch (sometimes missing, rarely not finite).
    static func history(_ space: SearchSpace, count: Int, epochs: Int = 5, _ random: inout SplitMix64) -> [TrialRecord] {
        (1...max(count, 1)).prefix(count).map { number in
            let values = space.dimensions.map { RandomSampler.draw($0.domain, &random) }
            let state = TrialRecord.State.allCases[below(TrialRecord.State.allCases.count, &random)]
            let reached = state == .completed ? epochs : below(epochs + 1, &random)
            var intermediate: [Int: Double] = [:]
            for epoch in (1...epochs).prefix(reached) {
                intermediate[epoch] = below(50, &random) == 0 ? .nan : unit(&random)
            }
            return TrialRecord(number: number, values: values, state: state, intermediate: intermediate)
        }
    }

    /// Whether `value` may be drawn from `domain`.
    static func contains(_ domain: SearchDimension.Domain, _ value: JSONValue) -> Bool {
        switch (domain, value) {
        case let (.uniform(low, high), .number(x)), let (.logUniform(low, high), .number(x)): return x >= low && x <= high
        case let (.integer(low, high), .number(x)): return x == x.rounded() && x >= Double(low) && x <= Double(high)
        case let (.choice(options), _): return options.contains(value)
        default: return false
        }
    }

    /// A trial's generator as a search seeds it: the seed mixed with the trial number.
    static func trialGenerator(seed: UInt64, trial: Int) -> SplitMix64 {
        var mixer = SplitMix64(seed: seed ^ (UInt64(trial) &* 0x9E37_79B9_7F4A_7C15))
        return SplitMix64(seed: mixer.next())
    }
}
