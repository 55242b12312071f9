import ConvCore
import Testing
@testable import Datasets

/// Images kept as bytes and normalised when gathered must be the very Float32 values that
/// normalising every image in place gives (the old way), so that training and evaluation do not
/// move at all: every comparison here is exact (==), no tolerance.
@Suite("Images kept as bytes")
struct ByteStorageTests {
    /// The old path: the bytes as Float32, normalised in place exactly as before.
    static func normalisedInPlace(_ train: [UInt8], _ test: [UInt8], _ normalization: Normalization) -> ([Float], [Float]) {
        var train = train.map(Float.init), test = test.map(Float.init)
        guard normalization != .none else { return (train, test) }
        let inverse: Float = 1 / 255
        for i in train.indices { train[i] *= inverse }
        for i in test.indices { test[i] *= inverse }
        guard normalization == .standardize, !train.isEmpty else { return (train, test) }
        let n = Double(train.count)
        let mean = train.reduce(0.0) { $0 + Double($1) } / n
        let variance = train.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
        let (mu, inverseSigma) = (Float(mean), Float(1 / max(variance.squareRoot(), 1e-12)))
        for i in train.indices { train[i] = (train[i] - mu) * inverseSigma }
        for i in test.indices { test[i] = (test[i] - mu) * inverseSigma }
        return (train, test)
    }

    @Test("normalised bytes equal Float32 normalised in place, bit for bit (random data, every normalisation)",
          arguments: Normalization.allCases)
    func tableEqualsInPlace(normalization: Normalization) {
        var rng = Xoshiro256(seed: 77, stream: UInt64(normalization.hashValue & 0xFFFF))
        for _ in 0..<20 {
            let shape = Shape(channels: 1 + rng.nextInt(below: 2), height: 1 + rng.nextInt(below: 5), width: 1 + rng.nextInt(below: 5))
            let (trainCount, testCount) = (1 + rng.nextInt(below: 30), 1 + rng.nextInt(below: 10))
            // Narrow pixel ranges too, where a table entry's rounding would show.
            let high = [1, 17, 255][rng.nextInt(below: 3)]
            let train = (0..<(trainCount * shape.count)).map { _ in UInt8(rng.nextInt(below: high + 1)) }
            let test = (0..<(testCount * shape.count)).map { _ in UInt8(rng.nextInt(below: high + 1)) }
            var split = DatasetSplit(
                train: LabeledImages(sampleShape: shape, pixels: train, labels: Array(repeating: 0, count: trainCount), classes: 2),
                test: LabeledImages(sampleShape: shape, pixels: test, labels: Array(repeating: 1, count: testCount), classes: 2))
            normalization.apply(to: &split, rawMaximum: 255)
            let (expectedTrain, expectedTest) = Self.normalisedInPlace(train, test, normalization)
            #expect(split.train.storesBytes && split.test.storesBytes)
            #expect(split.train.images.map(\.bitPattern) == expectedTrain.map(\.bitPattern))
            #expect(split.test.images.map(\.bitPattern) == expectedTest.map(\.bitPattern))
            // Gathered in any order: the same values, sample by sample.
            let order = (0..<trainCount).map { _ in rng.nextInt(below: trainCount) }
            var gathered = [Float](repeating: .nan, count: order.count * shape.count)
            gathered.withUnsafeMutableBufferPointer { split.train.copySamples(order, into: $0.baseAddress!) }
            let expected = order.flatMap { expectedTrain[($0 * shape.count)..<(($0 + 1) * shape.count)] }
            #expect(gathered.map(\.bitPattern) == expected.map(\.bitPattern))
        }
    }

    @Test("a subset of byte images stays bytes, with the same values")
    func subsetKeepsBytes() {
        let shape = Shape(channels: 1, height: 2, width: 2)
        var split = DatasetSplit(
            train: LabeledImages(sampleShape: shape, pixels: (0..<40).map { UInt8($0 * 6) }, labels: (0..<10).map { Int32($0 % 3) }, classes: 3),
            test: LabeledImages(sampleShape: shape, pixels: [1, 2, 3, 4], labels: [0], classes: 3))
        Normalization.standardize.apply(to: &split, rawMaximum: 255)
        let parts = split.train.splitValidation(fraction: 0.3, seed: 5)
        #expect(parts.train.storesBytes && parts.validation.storesBytes)
        #expect(parts.train.count == 7 && parts.validation.count == 3)
        let all = split.train.images
        for part in [parts.train, parts.validation] {
            for (k, label) in part.labels.enumerated() {
                // Every sample of the part is one of the originals, with its label.
                let sample = Array(part.images[(k * 4)..<((k + 1) * 4)])
                let origin = (0..<10).first { Array(all[($0 * 4)..<(($0 + 1) * 4)]) == sample }
                #expect(origin.map { split.train.labels[$0] } == label)
            }
        }
    }

    @Test("a sampler over bytes gathers what one over the same images as Float32 gathers")
    func samplerBytesEqualFloats() {
        var rng = Xoshiro256(seed: 3)
        let shape = Shape(channels: 1, height: 3, width: 4)
        let pixels = (0..<(23 * shape.count)).map { _ in UInt8(rng.nextInt(below: 256)) }
        let labels = (0..<23).map { _ in Int32(rng.nextInt(below: 4)) }
        var split = DatasetSplit(train: LabeledImages(sampleShape: shape, pixels: pixels, labels: labels, classes: 4),
                                 test: LabeledImages(sampleShape: shape, pixels: Array(pixels.prefix(12)), labels: [0], classes: 4))
        Normalization.standardize.apply(to: &split, rawMaximum: 255)
        let floats = LabeledImages(sampleShape: shape, images: split.train.images, labels: labels, classes: 4)
        var a = BatchSampler(data: split.train, batchSize: 5, shuffle: true, seed: 8)
        var b = BatchSampler(data: floats, batchSize: 5, shuffle: true, seed: 8)
        for _ in 0..<(3 * a.batchesPerEpoch) {     // three epochs, tail batches of 3 included
            let (x, y) = (a.nextBatch(), b.nextBatch())
            #expect(x == y)
            #expect(a.images.prefix(x.count * shape.count).map(\.bitPattern) == b.images.prefix(y.count * shape.count).map(\.bitPattern))
            #expect(a.labels.prefix(x.count) == b.labels.prefix(y.count))
        }
    }

    @Test("evaluating byte images gives exactly the loss and hits of evaluating their Float32 copy")
    func evaluationEqual() throws {
        var rng = Xoshiro256(seed: 11)
        let shape = Shape(channels: 1, height: 6, width: 6)
        let count = 37
        let pixels = (0..<(count * shape.count)).map { _ in UInt8(rng.nextInt(below: 256)) }
        let labels = (0..<count).map { _ in Int32(rng.nextInt(below: 3)) }
        var split = DatasetSplit(train: LabeledImages(sampleShape: shape, pixels: pixels, labels: labels, classes: 3),
                                 test: LabeledImages(sampleShape: shape, pixels: pixels, labels: labels, classes: 3))
        Normalization.scale.apply(to: &split, rawMaximum: 255)
        let network = try Network<Float>(input: shape, layers: [
            Conv2DConfiguration(filters: 3, kernel: (3, 3), padding: .explicit(height: 1, width: 1)), ActivationConfiguration(.relu),
            FlattenConfiguration(), DenseConfiguration(units: 3),
        ], seed: 4)
        let trainer = Trainer(network: network, loss: SoftmaxCrossEntropy(), optimizer: OptimizerConfiguration.sgd().make(Float.self),
                              replicas: 2, usesThreads: false)
        let images = split.test.images
        for batchSize in [1, 7, 16, 37, 100] {
            let fromBytes = trainer.evaluate(split.test, batchSize: batchSize)
            let fromFloats = images.withUnsafeBufferPointer { x in
                labels.withUnsafeBufferPointer { trainer.evaluate(images: x, labels: $0, count: count, batchSize: batchSize) }
            }
            #expect(fromBytes.sum == fromFloats.sum && fromBytes.correct == fromFloats.correct)
        }
    }
}
