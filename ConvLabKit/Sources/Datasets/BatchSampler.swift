import ConvCore

/// Walks a data set in mini-batches, reshuffled every epoch from the seed alone, and gathers
/// each batch into one contiguous buffer `(batch, C, H, W)`, normalised (the data set may keep
/// its pixels as bytes).
///
/// Each epoch's order comes from a generator seeded by (seed, epoch), so the walk has no
/// running generator: its whole state is where it stands (`State`), and a sampler restored to
/// that state draws exactly the batches the uninterrupted one would.
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
        dataFingerprint = Self.fingerprint(data)
    }

    /// The epoch being walked (from 1) and how many of its batches were drawn by `nextBatch`.
    public private(set) var epoch = 1
    public private(set) var batchesDrawn = 0
    private var currentOrder: [Int]?
    private let dataFingerprint: UInt64

    /// Gathers the next batch of the walk into `images`/`labels`, moving to the next epoch's
    /// order when an epoch is done.
    public mutating func nextBatch() -> (epoch: Int, index: Int, count: Int) {
        if batchesDrawn == batchesPerEpoch {
            epoch += 1
            batchesDrawn = 0
            currentOrder = nil
        }
        let order = currentOrder ?? self.order(epoch: epoch)
        currentOrder = order
        let index = batchesDrawn
        let count = gather(index, of: order)
        batchesDrawn += 1
        return (epoch, index, count)
    }

    /// Where the walk stands, and what it walks (so that a state is not restored into a sampler
    /// of other data, seed or batch size).
    public struct State: Equatable, Sendable {
        public var seed: UInt64
        public var shuffle: Bool
        public var sampleCount: Int
        public var batchSize: Int
        /// FNV-1a of the labels, in order.
        public var dataFingerprint: UInt64
        public var epoch: Int
        public var batchesDrawn: Int

        /// As UInt64 words, for a checkpoint file.
        public var words: [UInt64] {
            [seed, shuffle ? 1 : 0, UInt64(sampleCount), UInt64(batchSize), dataFingerprint, UInt64(epoch), UInt64(batchesDrawn)]
        }

        public init?(words: [UInt64]) {
            guard words.count == 7, words[1] <= 1, words[2] <= UInt64(Int.max), words[3] <= UInt64(Int.max),
                  words[5] <= UInt64(Int.max), words[6] <= UInt64(Int.max) else { return nil }
            seed = words[0]; shuffle = words[1] == 1; sampleCount = Int(words[2]); batchSize = Int(words[3])
            dataFingerprint = words[4]; epoch = Int(words[5]); batchesDrawn = Int(words[6])
        }

        init(seed: UInt64, shuffle: Bool, sampleCount: Int, batchSize: Int, dataFingerprint: UInt64, epoch: Int, batchesDrawn: Int) {
            self.seed = seed; self.shuffle = shuffle; self.sampleCount = sampleCount; self.batchSize = batchSize
            self.dataFingerprint = dataFingerprint; self.epoch = epoch; self.batchesDrawn = batchesDrawn
        }
    }

    public var state: State {
        State(seed: seed, shuffle: shuffle, sampleCount: data.count, batchSize: batchSize, dataFingerprint: dataFingerprint,
              epoch: epoch, batchesDrawn: batchesDrawn)
    }

    /// Continues the walk from `state`; refuses one of other data, seed, shuffling or batch size,
    /// or a position outside the walk, and then leaves the sampler as it was.
    public mutating func restore(_ state: State) throws(BatchSamplerStateError) {
        let own = self.state
        func differs(_ what: String, _ saved: String, _ current: String) -> BatchSamplerStateError {
            BatchSamplerStateError(message: "the saved batch order is of \(what) \(saved), this run's is \(current)")
        }
        guard state.sampleCount == own.sampleCount else { throw differs("a training set of", "\(state.sampleCount) images", "\(own.sampleCount)") }
        guard state.dataFingerprint == own.dataFingerprint else {
            throw BatchSamplerStateError(message: "the saved batch order is of a training set with other labels: the data changed")
        }
        guard state.batchSize == own.batchSize else { throw differs("batch size", "\(state.batchSize)", "\(own.batchSize)") }
        guard state.seed == own.seed else { throw differs("seed", "\(state.seed)", "\(own.seed)") }
        guard state.shuffle == own.shuffle else { throw differs("shuffle", "\(state.shuffle)", "\(own.shuffle)") }
        guard state.epoch >= 1, (0...batchesPerEpoch).contains(state.batchesDrawn) else {
            throw BatchSamplerStateError(message: "the saved batch position (epoch \(state.epoch), batch \(state.batchesDrawn) of \(batchesPerEpoch)) is outside the walk")
        }
        epoch = state.epoch
        batchesDrawn = state.batchesDrawn
        currentOrder = nil
    }

    static func fingerprint(_ data: LabeledImages) -> UInt64 { FNV1a64.hash(data.labels) }

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
        let samples = order[start..<(start + count)]
        images.withUnsafeMutableBufferPointer { data.copySamples(samples, into: $0.baseAddress!) }
        for (k, sample) in samples.enumerated() { labels[k] = data.labels[sample] }
        return count
    }
}

public struct BatchSamplerStateError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
