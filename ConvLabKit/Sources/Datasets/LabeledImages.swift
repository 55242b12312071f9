import ConvCore

/// Images `(N, C, H, W)` as Float32 with their class labels.
public struct LabeledImages: Sendable {
    public var sampleShape: Shape
    public var images: [Float]
    public var labels: [Int32]
    public var classes: Int

    public init(sampleShape: Shape, images: [Float], labels: [Int32], classes: Int) {
        precondition(images.count == labels.count * sampleShape.count)
        self.sampleShape = sampleShape
        self.images = images
        self.labels = labels
        self.classes = classes
    }

    public var count: Int { labels.count }

    /// The samples at `indices`, in that order.
    public func subset(_ indices: some Collection<Int>) -> LabeledImages {
        let size = sampleShape.count
        var images: [Float] = []
        images.reserveCapacity(indices.count * size)
        for index in indices { images.append(contentsOf: self.images[(index * size)..<((index + 1) * size)]) }
        return LabeledImages(sampleShape: sampleShape, images: images, labels: indices.map { labels[$0] }, classes: classes)
    }


    /// Splits off a validation set: a seeded shuffle, then the last `fraction` of it.
    public func splitValidation(fraction: Double, seed: UInt64) -> (train: LabeledImages, validation: LabeledImages) {
        var order = Array(0..<count)
        var rng = Xoshiro256(seed: seed, stream: 0x7A11D)
        rng.shuffle(&order)
        let validationCount = Int((Double(count) * fraction).rounded())
        return (subset(order.dropLast(validationCount).sorted()), subset(order.suffix(validationCount).sorted()))
    }
}

/// The train and test halves of a data set.
public struct DatasetSplit: Sendable {
    public var train: LabeledImages
    public var test: LabeledImages
    public init(train: LabeledImages, test: LabeledImages) { self.train = train; self.test = test }
}

/// How pixel values are mapped before training.
public enum Normalization: String, Sendable, CaseIterable {
    /// Raw values (0…255 for IDX bytes).
    case none
    /// x / 255 → [0, 1].
    case scale
    /// (x/255 − μ) / σ with μ, σ of the training images.
    case standardize

    /// Normalises both halves with statistics of the training half only.
    public func apply(to split: inout DatasetSplit, rawMaximum: Float) {
        guard self != .none else { return }
        let inverse = 1 / rawMaximum
        for i in split.train.images.indices { split.train.images[i] *= inverse }
        for i in split.test.images.indices { split.test.images[i] *= inverse }
        guard self == .standardize, !split.train.images.isEmpty else { return }
        let n = Double(split.train.images.count)
        let mean = split.train.images.reduce(0.0) { $0 + Double($1) } / n
        let variance = split.train.images.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
        let (mu, inverseSigma) = (Float(mean), Float(1 / max(variance.squareRoot(), 1e-12)))
        for i in split.train.images.indices { split.train.images[i] = (split.train.images[i] - mu) * inverseSigma }
        for i in split.test.images.indices { split.test.images[i] = (split.test.images[i] - mu) * inverseSigma }
    }
}
