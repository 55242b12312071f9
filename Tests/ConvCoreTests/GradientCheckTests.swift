import Testing
@testable import ConvCore

@Suite("Gradient check: analytic against finite differences, Float64")
struct GradientCheckTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var input: Shape
        var layers: [any LayerConfiguration]
        var testDescription: String { name }
    }

    static func conv(_ filters: Int, _ kh: Int, _ kw: Int, stride: (Int, Int) = (1, 1), pad: (Int, Int) = (0, 0),
                     algorithm: ConvolutionAlgorithm = .im2col) -> Conv2DConfiguration {
        Conv2DConfiguration(filters: filters, kernel: (kh, kw), stride: stride,
                            padding: .explicit(height: pad.0, width: pad.1), algorithm: algorithm)
    }

    static let head: [any LayerConfiguration] = [FlattenConfiguration(), DenseConfiguration(units: 4)]

    static let cases: [Case] = [
        Case(name: "conv alone, stride 1", input: Shape(channels: 2, height: 6, width: 6), layers: [conv(3, 3, 3)] + head),
        // (8 + 2 − 3) mod 2 = (10 + 2 − 3) mod 2 = 1: the last row and column are never reached by the stride.
        Case(name: "conv stride 2, padding, r ≠ 0", input: Shape(channels: 2, height: 8, width: 10),
             layers: [conv(3, 3, 3, stride: (2, 2), pad: (1, 1))] + head),
        Case(name: "conv non-square input and kernel, uneven strides", input: Shape(channels: 3, height: 8, width: 5),
             layers: [conv(2, 3, 2, stride: (2, 1), pad: (1, 0))] + head),
        Case(name: "conv reference algorithm, stride 3", input: Shape(channels: 2, height: 10, width: 8),
             layers: [conv(2, 4, 3, stride: (3, 2), pad: (2, 1), algorithm: .reference)] + head),
        Case(name: "max pool alone", input: Shape(channels: 2, height: 6, width: 6),
             layers: [Pool2DConfiguration(mode: .max, size: (2, 2))] + head),
        Case(name: "overlapping max pool with padding", input: Shape(channels: 2, height: 7, width: 7),
             layers: [Pool2DConfiguration(mode: .max, size: (3, 3), stride: (2, 2), padding: (1, 1))] + head),
        Case(name: "overlapping avg pool with padding", input: Shape(channels: 2, height: 7, width: 6),
             layers: [Pool2DConfiguration(mode: .avg, size: (3, 2), stride: (2, 1), padding: (1, 1))] + head),
        Case(name: "dense alone", input: Shape(features: 7), layers: [DenseConfiguration(units: 5)]),
        // Dropout between two dense layers: straight on the input, the dropped units' entries
        // (input and the weights reading them, ~40 % of all) are all exactly 0 = 0, and the
        // check would prove little (it was inconclusive once trivial entries were counted).
        Case(name: "dropout", input: Shape(features: 12),
             layers: [DenseConfiguration(units: 10), DropoutConfiguration(rate: 0.4), DenseConfiguration(units: 3)]),
        Case(name: "stacked LeNet-like, max", input: Shape(channels: 1, height: 12, width: 12), layers: [
            conv(4, 3, 3, pad: (1, 1)), ActivationConfiguration(.relu), Pool2DConfiguration(mode: .max, size: (2, 2)),
            conv(6, 3, 3), ActivationConfiguration(.tanh), Pool2DConfiguration(mode: .avg, size: (2, 2)),
            FlattenConfiguration(), DenseConfiguration(units: 8), ActivationConfiguration(.sigmoid), DenseConfiguration(units: 3),
        ]),
    ] + activationCases

    static let activationCases: [Case] = [
        ActivationFunction.relu, .leakyReLU(slope: 0.1), .sigmoid, .tanh, .elu(alpha: 1), .elu(alpha: 0.5), .identity,
    ].map { function in
        Case(name: "activation \(function.name) \(function)", input: Shape(channels: 2, height: 5, width: 5),
             layers: [conv(3, 3, 3, pad: (1, 1)), ActivationConfiguration(function)] + head)
    }

    @Test("every layer, alone and stacked, with softmax cross-entropy", arguments: cases)
    func passes(c: Case) throws {
        let records = try gradientCheck(input: c.input, layers: c.layers)
        #expect(records.failures.isEmpty, "\(records.failures)")
        // Kinks are rare on random data; most entries must actually be judged. A trivial entry
        // (0 = 0, e.g. a cell that lost its max-pool window) agrees but proves nothing: the
        // check as a whole must also be conclusive (at most half skipped or trivial).
        let summary = GradientCheckSummary(records)
        #expect(summary.passed + summary.trivial >= records.count * 3 / 4)
        #expect(summary.verdict == .passed, "\(summary)")
        #expect(Set(records.map(\.tensor)) == Set(["input", "weight", "bias"]))
    }

    @Test("mean squared error", arguments: [cases[1], cases[9]])
    func passesWithMSE(c: Case) throws {
        let records = try gradientCheck(input: c.input, layers: c.layers, loss: MeanSquaredError())
        #expect(records.failures.isEmpty, "\(records.failures)")
        let summary = GradientCheckSummary(records)
        #expect(summary.passed + summary.trivial >= records.count * 3 / 4)
        #expect(summary.verdict == .passed, "\(summary)")
    }

    @Test("a kernel that is not rotated in backward is caught")
    func catchesUnrotatedKernel() throws {
        let faulty = FaultyConfiguration(inner: Self.conv(2, 3, 3, pad: (1, 1), algorithm: .reference), fault: .unrotatedKernel)
        let records = try gradientCheck(input: Shape(channels: 2, height: 5, width: 5), layers: [faulty] + Self.head, samples: 20)
        let inputFailures = records.failures.filter { $0.tensor == "input" }
        #expect(!inputFailures.isEmpty)
    }

    @Test("a max-pool error sent to the wrong cell is caught")
    func catchesMisroutedPooling() throws {
        let faulty = FaultyConfiguration(inner: Pool2DConfiguration(mode: .max, size: (2, 2)), fault: .misroutedPooling)
        let records = try gradientCheck(input: Shape(channels: 1, height: 6, width: 6),
                                        layers: [Self.conv(2, 3, 3, pad: (1, 1)), faulty] + Self.head, samples: 20)
        #expect(!records.failures.isEmpty)
    }

    @Test("a perturbation across a ReLU kink is skipped and counted, not failed")
    func kinksAreSkipped() throws {
        // Inputs exactly at 0 put every ReLU on its kink.
        let network = try Network<Double>(input: Shape(features: 4),
                                          layers: [ActivationConfiguration(.relu), DenseConfiguration(units: 2)], seed: 3)
        var rng = Xoshiro256(seed: 1)
        let records = GradientChecker.check(network: network, input: [0, 0, 0, 0], labels: [1], batch: 1,
                                            loss: SoftmaxCrossEntropy(), rng: &rng)
        let inputRecords = records.filter { $0.tensor == "input" }
        #expect(inputRecords.count == 4)
        #expect(inputRecords.allSatisfy { $0.outcome == .skipped })
    }

    @Test("a full LeNet-5 check with 8 samples per tensor")
    func leNetCheck() throws {
        let records = try gradientCheck(input: Shape(channels: 1, height: 28, width: 28), layers: LeNet.layers(pooling: .max),
                                        batch: 2, samples: 8)
        // 11 tensors (input + 5 weights + 5 biases), 8 entries each, except conv1's 6 biases.
        #expect(records.count == 8 * 10 + 6)
        #expect(records.failures.isEmpty, "\(records.failures)")
    }
}

/// Deliberately wrong backward passes, to prove the checker notices.
struct FaultyConfiguration: LayerConfiguration {
    enum Fault: Sendable { case unrotatedKernel, misroutedPooling }
    var inner: any LayerConfiguration
    var fault: Fault
    var kind: String { inner.kind }
    func makeLayer<S: EngineScalar>(input: Shape, context: LayerBuildContext) throws(NetworkBuildError) -> any Layer<S> {
        FaultyLayer<S>(inner: try inner.makeLayer(input: input, context: context), fault: fault)
    }
}

final class FaultyLayer<T: EngineScalar>: Layer {
    let inner: any Layer<T>
    let fault: FaultyConfiguration.Fault
    init(inner: any Layer<T>, fault: FaultyConfiguration.Fault) { self.inner = inner; self.fault = fault }
    var kind: String { inner.kind }
    var inputShape: Shape { inner.inputShape }
    var outputShape: Shape { inner.outputShape }
    var parameters: [Parameter<T>] { inner.parameters }
    var gradients: [ScalarBuffer<T>] { inner.gradients }
    var forwardFLOPsPerSample: Int { 0 }
    var kinkFingerprint: UInt64? { inner.kinkFingerprint }
    func replica() -> FaultyLayer<T> { FaultyLayer(inner: inner.replica(), fault: fault) }
    func forward(_ input: UnsafeBufferPointer<T>, batch: Int, mode: PassMode) -> UnsafeBufferPointer<T> {
        inner.forward(input, batch: batch, mode: mode)
    }

    func backward(_ outputGradient: UnsafeBufferPointer<T>, batch: Int, needsInputGradient: Bool) -> UnsafeBufferPointer<T>? {
        switch fault {
        case .unrotatedKernel:
            // Rotating W before the reference backward cancels its rot180: full_corr(δ, W) instead of full_corr(δ, rot180 W).
            let weights = inner.parameters[0]
            let (kh, kw) = (weights.shape[2], weights.shape[3])
            func rotateEachKernel() {
                let w = weights.value.pointer
                for start in stride(from: 0, to: w.count, by: kh * kw) {
                    let kernel = Array(w[start..<(start + kh * kw)])
                    for i in 0..<(kh * kw) { w[start + i] = kernel[kh * kw - 1 - i] }
                }
            }
            rotateEachKernel()
            defer { rotateEachKernel() }
            return inner.backward(outputGradient, batch: batch, needsInputGradient: needsInputGradient)
        case .misroutedPooling:
            guard let dx = inner.backward(outputGradient, batch: batch, needsInputGradient: needsInputGradient) else { return nil }
            // Shift every routed error one cell to the right (wrapping): the wrong cell.
            let shifted = UnsafeMutableBufferPointer(mutating: dx)
            let copy = Array(dx)
            for i in copy.indices { shifted[(i + 1) % copy.count] = copy[i] }
            return dx
        }
    }
}
