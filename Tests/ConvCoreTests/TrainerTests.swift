import Testing
@testable import ConvCore

@Suite("Data-parallel trainer")
struct TrainerTests {
    /// Every batch size, including ones smaller than the replica count and uneven ones: the
    /// slices are contiguous, in order, cover the batch exactly once and differ by at most one.
    @Test("replica slices partition every batch", arguments: [1, 2, 3, 4])
    func slicesPartition(replicas: Int) throws {
        let network = try Network<Float>(input: Shape(features: 3), layers: [DenseConfiguration(units: 2)], seed: 1)
        let trainer = Trainer(network: network, loss: SoftmaxCrossEntropy(), optimizer: OptimizerConfiguration.sgd().make(Float.self),
                              replicas: replicas)
        for batch in 1...23 {
            let slices = (0..<replicas).map { trainer.slice($0, of: batch) }
            var next = 0
            for slice in slices where !slice.isEmpty {
                #expect(slice.lowerBound == next, "batch \(batch)")
                next = slice.upperBound
            }
            #expect(next == batch, "batch \(batch): \(slices)")
            let sizes = slices.map(\.count).filter { $0 > 0 }
            #expect(sizes.max()! - sizes.min()! <= 1, "batch \(batch): \(slices)")
        }
    }

    /// An uneven batch (7 samples on 3 replicas): the summed gradient and the loss equal one
    /// replica's. Float64, a dense network, sums of 7 products in another order: 1e-12.
    @Test("an uneven batch gives the single-replica gradient and loss")
    func unevenBatch() throws {
        func step(replicas: Int) throws -> (Double, [Double]) {
            let network = try Network<Double>(input: Shape(features: 5), layers: [
                DenseConfiguration(units: 4), ActivationConfiguration(.tanh), DenseConfiguration(units: 3),
            ], seed: 2)
            let trainer = Trainer(network: network, loss: SoftmaxCrossEntropy(), optimizer: OptimizerConfiguration.sgd().make(Double.self),
                                  replicas: replicas, usesThreads: false)
            let x: [Double] = randomArray(7 * 5, seed: 3)
            let labels = randomLabels(7, classes: 3, seed: 4)
            let loss = x.withUnsafeBufferPointer { x in
                labels.withUnsafeBufferPointer { trainer.step(images: x, labels: $0, batch: 7, learningRate: 0).sum }
            }
            return (loss, network.gradients.flatMap(\.array))
        }
        let (oneLoss, one) = try step(replicas: 1)
        let (threeLoss, three) = try step(replicas: 3)
        #expect(abs(oneLoss - threeLoss) <= 1e-12)
        #expect(one.count == three.count && zip(one, three).allSatisfy { abs($0 - $1) <= 1e-12 })
    }
}
