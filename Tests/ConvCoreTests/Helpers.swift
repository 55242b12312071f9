@testable import ConvCore

/// Runs one layer alone on `input`, returning its output and, for `outputGradient`, its input gradient.
func runLayer<T: EngineScalar>(_ configuration: any LayerConfiguration, input shape: Shape, batch: Int,
                               x: [T], outputGradient: [T]? = nil) throws -> (layer: any Layer<T>, y: [T], dx: [T]?) {
    let layer: any Layer<T> = try configuration.makeLayer(input: shape, context: .init(index: 0, initializer: Initializer.heUniform, seed: 7))
    return x.withUnsafeBufferPointer { x in
        let y = Array(layer.forward(x, batch: batch, mode: .training))
        guard let outputGradient else { return (layer, y, nil) }
        let dx = outputGradient.withUnsafeBufferPointer { layer.backward($0, batch: batch, needsInputGradient: true) }.map(Array.init)
        return (layer, y, dx)
    }
}

func randomArray<T: EngineScalar>(_ count: Int, seed: UInt64, scale: Double = 1) -> [T] {
    var rng = Xoshiro256(seed: seed)
    return (0..<count).map { _ in T((rng.nextUnit() * 2 - 1) * scale) }
}

func randomLabels(_ count: Int, classes: Int, seed: UInt64) -> [Int32] {
    var rng = Xoshiro256(seed: seed)
    return (0..<count).map { _ in Int32(rng.nextInt(below: classes)) }
}

func dot<T: EngineScalar>(_ a: [T], _ b: [T]) -> Double {
    zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
}

/// Gradient-checks a whole network in Float64 on a random batch; returns the records.
func gradientCheck(input: Shape, layers: [any LayerConfiguration], loss: any LossFunction = SoftmaxCrossEntropy(),
                   batch: Int = 3, samples: Int = 12, seed: UInt64 = 11) throws -> [GradientCheckRecord] {
    let network = try Network<Double>(input: input, layers: layers, seed: seed)
    // Biases start at zero; give them values so their gradients are exercised away from symmetry.
    for parameter in network.parameters where parameter.name == "bias" {
        var rng = Xoshiro256(seed: seed &+ 99)
        for i in 0..<parameter.count { parameter.value.pointer[i] = (rng.nextUnit() - 0.5) * 0.2 }
    }
    let x: [Double] = randomArray(batch * input.count, seed: seed &+ 1)
    let labels = randomLabels(batch, classes: network.outputShape.count, seed: seed &+ 2)
    var rng = Xoshiro256(seed: seed &+ 3)
    return GradientChecker.check(network: network, input: x, labels: labels, batch: batch, loss: loss,
                                 options: .init(samplesPerTensor: samples), rng: &rng)
}

extension Array where Element == GradientCheckRecord {
    var failures: [GradientCheckRecord] { filter { $0.outcome == .failed } }
    var passedCount: Int { filter { $0.outcome == .passed }.count }
}
