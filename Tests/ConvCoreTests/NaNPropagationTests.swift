import Testing
@testable import ConvCore

/// A NaN anywhere in the activations must reach the loss, as IEEE arithmetic (and PyTorch)
/// would carry it: nothing may turn it into a finite number, or a diverging run looks healthy.
@Suite("NaN propagates through pooling, activations and losses")
struct NaNPropagationTests {
    static let nan = Double.nan

    // MARK: max pooling

    /// 2×2/2 (the unrolled path) and 3×3/2 with padding (the general path). A NaN in any of the
    /// four cells of a window, first or last in scan order, must win the window; its error must
    /// go back to the NaN cell.
    @Test("max pooling: a NaN in the window wins, and its error goes to the NaN cell", arguments: [0, 1, 2, 3])
    func maxPoolingUnrolled(cell: Int) throws {
        // One 2×2 window holding 1, 4, 2, 3 with a NaN put in `cell`.
        var x: [Double] = [1, 4, 2, 3]
        x[cell] = Self.nan
        let (_, y, dx) = try runLayer(Pool2DConfiguration(mode: .max, size: (2, 2)), input: Shape(channels: 1, height: 2, width: 2),
                                      batch: 1, x: x, outputGradient: [5])
        #expect(y.count == 1 && y[0].isNaN)
        #expect(dx == (0..<4).map { $0 == cell ? 5 : 0 })
    }

    @Test("max pooling, general path (3×3, stride 2, padding 1): NaN wins wherever it is", arguments: [0, 4, 8])
    func maxPoolingGeneral(cell: Int) throws {
        var x: [Double] = [1, 9, 2, 3, 4, 5, 6, 7, 8]
        x[cell] = Self.nan
        let (_, y, dx) = try runLayer(Pool2DConfiguration(mode: .max, size: (3, 3), stride: (2, 2), padding: (1, 1)),
                                      input: Shape(channels: 1, height: 3, width: 3), batch: 1, x: x,
                                      outputGradient: [1, 10, 100, 1000])
        // Windows (rows × cols of the input): [0,1]×[0,1], [0,1]×[1,2], [1,2]×[0,1], [1,2]×[1,2].
        let windows: [[Int]] = [[0, 1, 3, 4], [1, 2, 4, 5], [3, 4, 6, 7], [4, 5, 7, 8]]
        let gradients: [Double] = [1, 10, 100, 1000]
        var expected = [Double](repeating: 0, count: 9)
        for (w, window) in windows.enumerated() {
            if window.contains(cell) {
                #expect(y[w].isNaN, "window \(w)")
                expected[cell] += gradients[w]
            } else {
                #expect(!y[w].isNaN, "window \(w)")
                expected[window.max { x[$0] < x[$1] }!] += gradients[w]
            }
        }
        #expect(dx == expected)
    }

    @Test("max pooling in Float32 propagates NaN too (both paths)")
    func maxPoolingFloat() throws {
        for configuration in [Pool2DConfiguration(mode: .max, size: (2, 2)),
                              Pool2DConfiguration(mode: .max, size: (2, 2), stride: (1, 1))] {
            let x: [Float] = [0, .nan, -1, 2]
            let (_, y, _) = try runLayer(configuration, input: Shape(channels: 1, height: 2, width: 2), batch: 1, x: x,
                                         outputGradient: [1])
            #expect(y.count == 1 && y[0].isNaN)
        }
    }

    // MARK: average pooling

    @Test("average pooling: a NaN makes its windows NaN and their errors reach every cell", arguments: [
        Pool2DConfiguration(mode: .avg, size: (2, 2)),
        Pool2DConfiguration(mode: .avg, size: (3, 3), stride: (1, 1), padding: (1, 1)),
    ])
    func averagePooling(configuration: Pool2DConfiguration) throws {
        let x: [Double] = [1, 2, 3, Self.nan]
        let (_, y, _) = try runLayer(configuration, input: Shape(channels: 1, height: 2, width: 2), batch: 1, x: x)
        #expect(!y.isEmpty && y.allSatisfy { $0.isNaN })
        // A NaN error spreads over its window.
        let delta = [Double](repeating: Self.nan, count: y.count)
        let (_, _, dx) = try runLayer(configuration, input: Shape(channels: 1, height: 2, width: 2), batch: 1,
                                      x: [1.0, 2, 3, 4], outputGradient: delta)
        #expect(try #require(dx).allSatisfy { $0.isNaN })
    }

    // MARK: activations

    static let functions: [ActivationFunction] = [.relu, .leakyReLU(slope: 0.1), .elu(alpha: 1), .elu(alpha: 0.5),
                                                  .sigmoid, .tanh, .identity]

    /// σ(NaN) = NaN, and δ_z = δ_a·σ'(NaN) = NaN: the input gradient shows the NaN as well.
    /// Finite neighbours stay finite (the NaN is not smeared over the buffer).
    @Test("σ(NaN) = NaN and σ'(NaN)·δ = NaN", arguments: functions)
    func activations(function: ActivationFunction) throws {
        for x in [[Self.nan, -1, 2], [-1, Self.nan, 2]] as [[Double]] {
            let (_, y, dx) = try runLayer(ActivationConfiguration(function), input: Shape(features: 3), batch: 1, x: x,
                                          outputGradient: [1, 1, 1])
            let nanIndex = x.firstIndex { $0.isNaN }!
            #expect(y[nanIndex].isNaN, "\(function) forward")
            // identity' ≡ 1 does not depend on z: δ passes unchanged.
            #expect(try #require(dx)[nanIndex].isNaN == (function != .identity), "\(function) backward")
            for i in 0..<3 where i != nanIndex {
                #expect(y[i].isFinite && dx![i].isFinite, "\(function) entry \(i)")
            }
        }
        let floats: [Float] = [.nan, 1]
        let (_, y, dx) = try runLayer(ActivationConfiguration(function), input: Shape(features: 2), batch: 1, x: floats,
                                      outputGradient: [1, 1])
        #expect(y[0].isNaN && dx![0].isNaN == (function != .identity), "\(function) Float32")
    }

    /// A NaN coming back as the error is not a derivative question: it must pass wherever the
    /// derivative is not an exact zero.
    @Test("a NaN error passes back through every activation where σ' ≠ 0", arguments: functions)
    func nanErrors(function: ActivationFunction) throws {
        let (_, _, dx) = try runLayer(ActivationConfiguration(function), input: Shape(features: 2), batch: 1,
                                      x: [0.5, -0.5], outputGradient: [Self.nan, Self.nan])
        #expect(try #require(dx)[0].isNaN)
        if function != .relu { #expect(dx![1].isNaN) }
    }

    @Test("relu keeps its values away from NaN: relu(x) = max(x, 0), relu'(x) = 1[x > 0]")
    func reluUnchanged() throws {
        let (_, y, dx) = try runLayer(ActivationConfiguration(.relu), input: Shape(features: 5), batch: 1,
                                      x: [-2.0, -0.0, 0, 0.5, 3], outputGradient: [7, 7, 7, 7, 7])
        #expect(y == [0, 0, 0, 0.5, 3])
        #expect(dx == [0, 0, 0, 7, 7])
    }

    // MARK: losses

    static func evaluate(_ loss: any LossFunction, _ logits: [Double], labels: [Int32], classes: Int)
        -> (LossResult, [Double]) {
        var gradient = [Double](repeating: 0, count: logits.count)
        let result = logits.withUnsafeBufferPointer { z in
            labels.withUnsafeBufferPointer { labels in
                gradient.withUnsafeMutableBufferPointer { g in
                    loss.evaluate(z, labels: labels, batch: labels.count, classes: classes, normalizer: labels.count, gradient: g)
                }
            }
        }
        return (result, gradient)
    }

    static let losses: [any LossFunction] = [SoftmaxCrossEntropy(), MeanSquaredError()]

    /// A NaN logit, at the label or elsewhere, first or last in the row: the loss is NaN (not the
    /// loss of the other logits), and so is the gradient of the row.
    @Test("a NaN logit makes the loss and the row's gradient NaN", arguments: [0, 1, 2])
    func lossesPropagate(position: Int) {
        for loss in Self.losses {
            var logits: [Double] = [2, 0.5, -1, /* second sample, finite */ 0.1, 0.2, 0.3]
            logits[position] = Self.nan
            let (result, gradient) = Self.evaluate(loss, logits, labels: [1, 2], classes: 3)
            #expect(result.sum.isNaN, "\(loss.name) with NaN at \(position)")
            #expect(gradient[position].isNaN, "\(loss.name)")
            #expect(gradient[3...].allSatisfy { $0.isFinite }, "\(loss.name): the other sample stays finite")
        }
    }

    @Test("an infinite logit makes softmax cross-entropy NaN, not a clamped number")
    func infiniteLogit() {
        let (result, _) = Self.evaluate(SoftmaxCrossEntropy(), [.infinity, 0, 0], labels: [1], classes: 3)
        #expect(result.sum.isNaN)
    }

    /// A row with a NaN has no meaningful prediction; like torch.argmax it points at the NaN,
    /// so a NaN row is never counted right by accident of the other logits.
    @Test("a row with a NaN is the argmax's NaN, never a correct prediction elsewhere")
    func nanRowIsNotCorrect() {
        for loss in Self.losses {
            // A NaN anywhere, whatever the label: the row is never counted correct. An all-NaN row
            // with label 0 was, once (argmax gave its first NaN, index 0), which gave diverged runs
            // an accuracy equal to the share of class 0.
            for (row, label) in [([0, Self.nan, 5], 2), ([0, Self.nan, 5], 1), ([Self.nan, Self.nan, Self.nan], 0), ([9, 1, Self.nan], 0)] {
                let (result, _) = Self.evaluate(loss, row, labels: [Int32(label)], classes: 3)
                #expect(result.correct == 0, "\(loss.name): \(row), label \(label)")
            }
        }
    }

    // MARK: end to end

    /// One NaN pixel, LeNet-like network with ReLU and max pooling: the loss is NaN.
    @Test("a NaN in the input reaches the loss of a conv–relu–maxpool–dense network", arguments: PoolingMode.allCases)
    func endToEnd(pooling: PoolingMode) throws {
        let network = try Network<Float>(input: Shape(channels: 1, height: 8, width: 8), layers: [
            Conv2DConfiguration(filters: 2, kernel: (3, 3), padding: .same), ActivationConfiguration(.relu),
            Pool2DConfiguration(mode: pooling, size: (2, 2)), FlattenConfiguration(), DenseConfiguration(units: 3),
        ], seed: 1)
        var x: [Float] = randomArray(64, seed: 2)
        x[27] = .nan
        let output = x.withUnsafeBufferPointer { Array(network.forward($0, batch: 1, mode: .training)) }
        #expect(output.allSatisfy { $0.isNaN })
        var gradient = [Float](repeating: 0, count: 3)
        let loss = output.withUnsafeBufferPointer { z in
            [Int32(0)].withUnsafeBufferPointer { labels in
                gradient.withUnsafeMutableBufferPointer { g in
                    SoftmaxCrossEntropy().evaluate(z, labels: labels, batch: 1, classes: 3, normalizer: 1, gradient: g)
                }
            }
        }
        #expect(loss.sum.isNaN)
    }
}
