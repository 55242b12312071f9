import ConvCore
import Foundation
import TextKit

/// Draws every value independently from its domain, ignoring the history (Bergstra & Bengio,
/// "Random search for hyper-parameter optimization", 2012). A trial's values depend on the
/// search's seed and its number only.
public struct RandomSampler: Sampler {
    public init() {}

    public func sample(_ request: SampleRequest, random: inout SplitMix64) -> SampledTrial {
        SampledTrial(values: request.space.dimensions.map { Self.draw($0.domain, &random) }, state: .object([("phase", JSONNode(.string("random")))]))
    }

    /// One value drawn uniformly from the domain (for `logUniform`, uniform in the logarithm).
    public static func draw(_ domain: SearchDimension.Domain, _ random: inout SplitMix64) -> JSONValue {
        switch domain {
        case let .uniform(low, high):
            return .number(low + (high - low) * unit(&random))
        case let .logUniform(low, high):
            return .number(min(high, max(low, exp(log(low) + (log(high) - log(low)) * unit(&random)))))
        case let .integer(low, high):
            return .number(Double(low + Int(random.next() % UInt64(high - low + 1))))
        case .choice(let options):
            return options[Int(random.next() % UInt64(options.count))]
        }
    }

    /// A uniform draw from [0, 1) with 53 random bits.
    public static func unit(_ random: inout SplitMix64) -> Double { Double(random.next() >> 11) * 0x1p-53 }
}
