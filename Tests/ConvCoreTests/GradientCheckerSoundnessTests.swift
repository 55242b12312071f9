import Testing
@testable import ConvCore

/// The checker's numbers mean what they say: every entry is a central difference at exactly
/// θ ± ε with everything else at θ, the network is left as it was, and an entry that proves
/// nothing is not counted as passed.
@Suite("Gradient checker: sound numeric derivatives, trivial entries, summaries")
struct GradientCheckerSoundnessTests {
    static let layers: [any LayerConfiguration] = [
        Conv2DConfiguration(filters: 2, kernel: (3, 3), padding: .explicit(height: 1, width: 1)), ActivationConfiguration(.tanh),
        Pool2DConfiguration(mode: .avg, size: (2, 2)), FlattenConfiguration(),
        DenseConfiguration(units: 5), ActivationConfiguration(.sigmoid), DenseConfiguration(units: 3),
    ]
    static let input = Shape(channels: 2, height: 4, width: 4)

    static func network(seed: UInt64) throws -> Network<Double> {
        let network = try Network<Double>(input: input, layers: layers, seed: seed)
        var rng = Xoshiro256(seed: seed &+ 1)
        for parameter in network.parameters where parameter.name == "bias" {
            for i in 0..<parameter.count { parameter.value.pointer[i] = rng.nextUnit() - 0.5 }
        }
        return network
    }

    static func bits(_ network: Network<Double>) -> [[UInt64]] {
        network.parameters.map { $0.value.array.map(\.bitPattern) }
    }

    @Test("after a check every parameter is bit-identical to before")
    func parametersRestored() throws {
        let network = try Self.network(seed: 3)
        let before = Self.bits(network)
        let x: [Double] = randomArray(2 * Self.input.count, seed: 4)
        var rng = Xoshiro256(seed: 5)
        let records = GradientChecker.check(network: network, input: x, labels: [0, 2], batch: 2, loss: SoftmaxCrossEntropy(),
                                            options: .init(samplesPerTensor: 1000), rng: &rng)
        #expect(records.count == 2 * Self.input.count + network.parameterCount)
        #expect(Self.bits(network) == before)
    }

    /// Values within ε of 0 are where restoring by arithmetic shows: (x − ε) + ε ≠ x for
    /// x = −1e-7, −3e-7, … (the subtraction crosses binades and rounds), while it is exact for
    /// almost every x of size 1. Only putting the saved value back restores them bit for bit.
    @Test("parameters within ε of zero are restored bit for bit")
    func nearZeroRestored() throws {
        let network = try Network<Double>(input: Shape(features: 4), layers: [DenseConfiguration(units: 3)], seed: 1)
        for parameter in network.parameters {
            for i in 0..<parameter.count { parameter.value.pointer[i] = Double(i + 1) * (i % 2 == 0 ? -1e-7 : 1e-7) }
        }
        let before = Self.bits(network)
        var rng = Xoshiro256(seed: 2)
        let records = GradientChecker.check(network: network, input: [0.5, -1, 2, 0.25], labels: [2], batch: 1,
                                            loss: SoftmaxCrossEntropy(), options: .init(samplesPerTensor: 100), rng: &rng)
        #expect(records.count == 4 + 12 + 3)
        #expect(Self.bits(network) == before)
    }

    /// An independent oracle: for each record, C(θ + ε) and C(θ − ε) from a fresh, full forward
    /// pass of a second network holding the same values, one entry moved and everything else at θ.
    /// It runs the same layer code on the same numbers in the same order, so the checker's value
    /// must be bit-identical (==): any difference means the checker evaluated at another point
    /// (an input computed before an earlier perturbation was undone, a restore that drifted).
    @Test("each numeric derivative equals a central difference computed from scratch")
    func numericMatchesFreshCentralDifference() throws {
        let checked = try Self.network(seed: 7)
        let oracle = try Self.network(seed: 7)
        let batch = 2
        let x: [Double] = randomArray(batch * Self.input.count, seed: 8)
        let labels: [Int32] = [1, 2]
        let options = GradientCheckOptions(samplesPerTensor: 6)
        var rng = Xoshiro256(seed: 9)
        let records = GradientChecker.check(network: checked, input: x, labels: labels, batch: batch, loss: SoftmaxCrossEntropy(),
                                            options: options, rng: &rng)
        func cost(_ x: [Double]) -> Double {
            x.withUnsafeBufferPointer { x in
                labels.withUnsafeBufferPointer { labels in
                    let output = oracle.forward(x, batch: batch, mode: .training)
                    return SoftmaxCrossEntropy().evaluate(output, labels: labels, batch: batch, classes: 3, normalizer: batch,
                                                          gradient: nil).sum / Double(batch)
                }
            }
        }
        let tensors = oracle.namedParameters
        let epsilon = options.epsilon
        var mismatches: [String] = []
        for record in records {
            let numeric: Double
            if let layer = record.layerIndex {
                let parameter = try #require(tensors.first { $0.layer == layer && $0.parameter.name == record.tensor }).parameter
                let saved = parameter.value.pointer[record.index]
                parameter.value.pointer[record.index] = saved + epsilon
                let plus = cost(x)
                parameter.value.pointer[record.index] = saved - epsilon
                let minus = cost(x)
                parameter.value.pointer[record.index] = saved
                numeric = (plus - minus) / (2 * epsilon)
            } else {
                var moved = x
                moved[record.index] = x[record.index] + epsilon
                let plus = cost(moved)
                moved[record.index] = x[record.index] - epsilon
                let minus = cost(moved)
                numeric = (plus - minus) / (2 * epsilon)
            }
            if record.numeric != numeric {
                mismatches.append("\(record.layerIndex.map(String.init) ?? "input") \(record.tensor)[\(record.index)]: "
                                  + "\(record.numeric) vs \(numeric)")
            }
        }
        #expect(records.count == oracle.namedParameters.reduce(6) { $0 + min(6, $1.parameter.count) })
        #expect(mismatches.isEmpty, "\(mismatches.count) entries: \(mismatches.prefix(5))")
    }
}
