import ConvCore

/// Walks a data set in mini-batches, reshuffled every epoch from the seed alone, and gathers
/// each batch into one contiguous buffer `(batch, C, H, W)`.
public struct BatchSampler {
    public let data: LabeledImages
    public let batchSize: Int
    public let shuffle: Bool
    public let seed: UInt64
    public private(set) var images: [Float]     // (batch, C, H, W)
    public private(set) var labels: [Int32]     // (batch)

    public init(data: LabeledImages, batchSize: Int, shuffle: Bool, seed: UInt64) {
        self.data = data
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.seed = seed
        images = Array(repeating: 0, count: batchSize * data.sampleShape.count)
        labels = Array(repeating: 0, count: batchSize)
    }

    /// Batches per epoch; the last may be smaller.
    public var batchesPerEpoch: Int { (data.count + batchSize - 1) / batchSize }

    /// The sample order of one epoch: the same for the same seed and epoch, on every machine.
    public func order(epoch: Int) -> [Int] {
        var order = Array(0..<data.count)
        if shuffle {
            var rng = Xoshiro256(seed: seed, stream: 0xE90C + UInt64(epoch))
            rng.shuffle(&order)
        }
        return order
    }

    /// Copies batch `index` of `order` into `images`/`labels`; returns its size.
    public mutating func gather(_ index: Int, of order: [Int]) -> Int {
        let start = index * batchSize
        let count = min(batchSize, order.count - start)
        let size = data.sampleShape.count
        data.images.withUnsafeBufferPointer { source in
            images.withUnsafeMutableBufferPointer { target in
                for k in 0..<count {
                    let sample = order[start + k]
                    (target.baseAddress! + k * size).update(from: source.baseAddress! + sample * size, count: size)
                    labels[k] = data.labels[sample]
                }
            }
        }
        return count
    }
}
