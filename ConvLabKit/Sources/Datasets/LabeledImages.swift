import ConvCore

/// Images `(N, C, H, W)` with their class labels.
///
/// Images read from files are kept as their bytes (one byte a pixel, a quarter of Float32's
/// memory) with a 256-entry table of what each byte value stands for after normalisation; a
/// batch is normalised as it is gathered (`copySamples`). The table holds exactly the Float32
/// values the normalisation computes for each byte, so a gathered batch is bit-identical to one
/// normalised in place. Generated images (the synthetic data set) are kept as Float32.
public struct LabeledImages: Sendable {
    public var sampleShape: Shape
    public var labels: [Int32]
    public var classes: Int
    private(set) var storage: Storage

    enum Storage: Sendable {
        /// Pixels and the value of each byte (`table[b]`).
        case bytes([UInt8], table: [Float])
        case floats([Float])
    }

    public init(sampleShape: Shape, images: [Float], labels: [Int32], classes: Int) {
        precondition(images.count == labels.count * sampleShape.count)
        self.sampleShape = sampleShape
        self.storage = .floats(images)
        self.labels = labels
        self.classes = classes
    }

    /// Images as bytes; pixel value b stands for `table[b]` (default: b itself).
    public init(sampleShape: Shape, pixels: [UInt8], table: [Float]? = nil, labels: [Int32], classes: Int) {
        precondition(pixels.count == labels.count * sampleShape.count)
        let table = table ?? (0..<256).map(Float.init)
        precondition(table.count == 256)
        self.sampleShape = sampleShape
        self.storage = .bytes(pixels, table: table)
        self.labels = labels
        self.classes = classes
    }

    public var count: Int { labels.count }

    /// Whether the pixels are kept as bytes (and normalised when gathered).
    public var storesBytes: Bool {
        if case .bytes = storage { return true }
        return false
    }

    /// Every image, normalised, as one Float32 array (a copy: for tests and small data; training
    /// and evaluation gather batches instead).
    public var images: [Float] {
        switch storage {
        case .floats(let images): return images
        case .bytes(let pixels, let table): return pixels.map { table[Int($0)] }
        }
    }

    /// Writes samples `indices` (in that order), normalised, to `target`, one after the other.
    public func copySamples(_ indices: some Sequence<Int>, into target: UnsafeMutablePointer<Float>) {
        let size = sampleShape.count
        switch storage {
        case .floats(let images):
            images.withUnsafeBufferPointer { source in
                var out = target
                for sample in indices {
                    out.update(from: source.baseAddress! + sample * size, count: size)
                    out += size
                }
            }
        case .bytes(let pixels, let table):
            pixels.withUnsafeBufferPointer { source in
                table.withUnsafeBufferPointer { table in
                    var out = target
                    for sample in indices {
                        let from = source.baseAddress! + sample * size
                        for i in 0..<size { out[i] = table[Int(from[i])] }
                        out += size
                    }
                }
            }
        }
    }

    /// The samples at `indices`, in that order.
    public func subset(_ indices: some Collection<Int>) -> LabeledImages {
        let size = sampleShape.count
        let labels = indices.map { self.labels[$0] }
        switch storage {
        case .floats(let images):
            var subset: [Float] = []
            subset.reserveCapacity(indices.count * size)
            for index in indices { subset.append(contentsOf: images[(index * size)..<((index + 1) * size)]) }
            return LabeledImages(sampleShape: sampleShape, images: subset, labels: labels, classes: classes)
        case .bytes(let pixels, let table):
            var subset: [UInt8] = []
            subset.reserveCapacity(indices.count * size)
            for index in indices { subset.append(contentsOf: pixels[(index * size)..<((index + 1) * size)]) }
            return LabeledImages(sampleShape: sampleShape, pixels: subset, table: table, labels: labels, classes: classes)
        }
    }

    /// Splits off a validation set: a seeded shuffle, then the last `fraction` of it.
    public func splitValidation(fraction: Double, seed: UInt64) -> (train: LabeledImages, validation: LabeledImages) {
        var order = Array(0..<count)
        var rng = Xoshiro256(seed: seed, stream: 0x7A11D)
        rng.shuffle(&order)
        let validationCount = Int((Double(count) * fraction).rounded())
        return (subset(order.dropLast(validationCount).sorted()), subset(order.suffix(validationCount).sorted()))
    }

    /// Maps every pixel through `transform` (on the table, for bytes).
    mutating func mapValues(_ transform: (Float) -> Float) {
        switch storage {
        case .floats(var images):
            storage = .floats([])    // keep the array unique while it changes
            for i in images.indices { images[i] = transform(images[i]) }
            storage = .floats(images)
        case .bytes(let pixels, let table):
            storage = .bytes(pixels, table: table.map(transform))
        }
    }

    /// Σ x and Σ x² − in Double, pixel by pixel in storage order (the order the Float32 images
    /// were summed in before they were kept as bytes, so the mean and σ are the same to the bit).
    func pixelSums(mean: Double? = nil) -> Double {
        switch storage {
        case .floats(let images):
            if let mean { return images.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } }
            return images.reduce(0.0) { $0 + Double($1) }
        case .bytes(let pixels, let table):
            let values = table.map(Double.init)
            if let mean { return pixels.reduce(0.0) { $0 + (values[Int($1)] - mean) * (values[Int($1)] - mean) } }
            return pixels.reduce(0.0) { $0 + values[Int($1)] }
        }
    }

    var pixelCount: Int {
        switch storage {
        case .floats(let images): images.count
        case .bytes(let pixels, _): pixels.count
        }
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

    /// Normalises both halves with statistics of the training half only. Images kept as bytes
    /// get new tables (the same Float32 arithmetic, applied to the 256 values a byte can take).
    public func apply(to split: inout DatasetSplit, rawMaximum: Float) {
        guard self != .none else { return }
        let inverse = 1 / rawMaximum
        split.train.mapValues { $0 * inverse }
        split.test.mapValues { $0 * inverse }
        guard self == .standardize, split.train.pixelCount > 0 else { return }
        let n = Double(split.train.pixelCount)
        let mean = split.train.pixelSums() / n
        let variance = split.train.pixelSums(mean: mean) / n
        let (mu, inverseSigma) = (Float(mean), Float(1 / max(variance.squareRoot(), 1e-12)))
        split.train.mapValues { ($0 - mu) * inverseSigma }
        split.test.mapValues { ($0 - mu) * inverseSigma }
    }
}

extension Trainer where T == Float {
    /// Loss sum and hits over `data` in evaluation mode, `batchSize` samples at a time, each
    /// batch normalised as it is gathered into one reused buffer.
    public func evaluate(_ data: LabeledImages, batchSize: Int = 500) -> LossResult {
        data.labels.withUnsafeBufferPointer { labels in
            evaluate(labels: labels, count: data.count, batchSize: batchSize) { range, target in
                data.copySamples(range, into: target)
            }
        }
    }
}
