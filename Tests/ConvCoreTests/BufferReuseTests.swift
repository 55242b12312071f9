import Testing
@testable import ConvCore

/// Buffers grow by capacity and are reused across batch sizes; evaluation keeps no patch
/// matrices. Reuse must never let one batch's leftovers reach another's results, so the
/// comparisons here are exact (the same arithmetic in the same order gives the same bits).
@Suite("Buffers reused across batch sizes")
struct BufferReuseTests {
    @Test("ensureCount within the capacity keeps the block and changes only the count")
    func capacity() {
        let buffer = ScalarBuffer<Float>(count: 10)
        let start = buffer.pointer.baseAddress
        buffer.ensureCount(4)
        #expect(buffer.count == 4 && buffer.capacity == 10 && buffer.pointer.baseAddress == start)
        buffer.ensureCount(10)
        #expect(buffer.count == 10 && buffer.pointer.baseAddress == start)
        buffer.ensureCount(25)
        #expect(buffer.count == 25 && buffer.capacity == 25)
        buffer.pointer.update(repeating: 3)     // all 25 writable
        buffer.ensureCount(0)
        #expect(buffer.count == 0 && buffer.capacity == 25)
    }

    static func layer(_ g: ConvolutionGeometry, samplesPerChunk: Int, seed: UInt64) -> Conv2D<Float> {
        let weight = Parameter<Float>(name: "weight", shape: [g.filters, g.channels, g.kernelHeight, g.kernelWidth])
        let bias = Parameter<Float>(name: "bias", shape: [g.filters])
        var rng = Xoshiro256(seed: seed)
        for i in 0..<weight.count { weight.value.pointer[i] = Float(rng.nextUnit() * 2 - 1) }
        for i in 0..<bias.count { bias.value.pointer[i] = Float(rng.nextUnit() * 2 - 1) }
        let chunkBytes = samplesPerChunk * MemoryLayout<Float>.stride * g.patchSize * g.outputPlane
        return Conv2D<Float>(geometry: g, weight: weight, bias: bias, algorithm: .im2col, chunkBytes: chunkBytes)
    }

    /// Forward (training) and backward of a fresh layer: what a reused one must reproduce.
    static func step(_ layer: Conv2D<Float>, _ x: [Float], _ delta: [Float], batch: Int) -> [[UInt32]] {
        x.withUnsafeBufferPointer { x in
            let y = Array(layer.forward(x, batch: batch, mode: .training))
            let dx = delta.withUnsafeBufferPointer { Array(layer.backward($0, batch: batch, needsInputGradient: true)!) }
            return [y, dx, layer.gradients[0].array, layer.gradients[1].array].map { $0.map(\.bitPattern) }
        }
    }

    @Test("random geometries: evaluation equals training forward, keeps one chunk of columns, and a reused layer equals a fresh one")
    func evaluationAndReuse() {
        var rng = Xoshiro256(seed: 2024)
        for _ in 0..<150 {
            let draw = Im2colPropertyTests.draw(&rng)
            let g = draw.geometry
            let perChunk = draw.samplesPerChunk
            let small = 1 + rng.nextInt(below: 5), large = small + 1 + rng.nextInt(below: 6)
            func values(_ count: Int) -> [Float] { (0..<count).map { _ in Float(rng.nextUnit() * 2 - 1) } }
            let xLarge = values(large * g.inputSize), xSmall = values(small * g.inputSize)
            let deltaSmall = values(small * g.filters * g.outputPlane)
            let seed = UInt64(rng.nextInt(below: 1000))

            let reused = Self.layer(g, samplesPerChunk: perChunk, seed: seed)
            let fresh = Self.layer(g, samplesPerChunk: perChunk, seed: seed)
            // Evaluation of a large batch first: the same outputs as a training forward, and
            // the patch buffer holds one chunk at most.
            let evaluated = xLarge.withUnsafeBufferPointer { Array(reused.forward($0, batch: large, mode: .evaluation)) }
            #expect(reused.columns.capacity <= g.patchSize * min(large, reused.chunkSize) * g.outputPlane, "\(draw)")
            let trained = xLarge.withUnsafeBufferPointer { Array(fresh.forward($0, batch: large, mode: .training)) }
            #expect(evaluated.map(\.bitPattern) == trained.map(\.bitPattern), "evaluation forward differs: \(draw)")
            // Then a smaller training batch (a tail batch) on the grown buffers, twice.
            let once = Self.step(reused, xSmall, deltaSmall, batch: small)
            let again = Self.step(reused, xSmall, deltaSmall, batch: small)
            let clean = Self.step(Self.layer(g, samplesPerChunk: perChunk, seed: seed), xSmall, deltaSmall, batch: small)
            #expect(once == clean && again == clean, "a reused layer differs from a fresh one: \(draw)")
        }
    }
}

@Suite("Evaluation in pieces")
struct EvaluationPieceTests {
    /// Cutting a replica's slice into pieces changes only how the per-sample losses are added:
    /// the hits are the same integers, and the sums (≤ 50 Double terms of size ~1) agree to
    /// 1e-12 relative, a thousand times the rounding of such a sum and far below any real change.
    @Test("any piece size gives the same hits and the same loss sum up to Double rounding")
    func pieces() throws {
        let shape = Shape(channels: 1, height: 5, width: 5)
        let count = 47
        let network = try Network<Float>(input: shape, layers: [
            Conv2DConfiguration(filters: 2, kernel: (3, 3)), ActivationConfiguration(.relu), FlattenConfiguration(), DenseConfiguration(units: 4),
        ], seed: 9)
        let trainer = Trainer(network: network, loss: SoftmaxCrossEntropy(), optimizer: OptimizerConfiguration.sgd().make(Float.self),
                              replicas: 2, usesThreads: false)
        let images: [Float] = randomArray(count * shape.count, seed: 1)
        let labels = randomLabels(count, classes: 4, seed: 2)
        func evaluate(piece: Int, batch: Int) -> LossResult {
            trainer.evaluationPiece = piece
            return images.withUnsafeBufferPointer { x in labels.withUnsafeBufferPointer { trainer.evaluate(images: x, labels: $0, count: count, batchSize: batch) } }
        }
        let whole = evaluate(piece: 1000, batch: 1000)
        for piece in [1, 2, 5, 16, 128] {
            for batch in [1, 10, 47, 500] {
                let result = evaluate(piece: piece, batch: batch)
                #expect(result.correct == whole.correct)
                #expect(abs(result.sum - whole.sum) <= 1e-12 * abs(whole.sum), "piece \(piece), batch \(batch)")
            }
        }
    }
}
