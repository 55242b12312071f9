/// Data-parallel training: the batch is cut into one contiguous slice per replica, each
/// replica runs forward, loss and backward on its slice on its own core, the gradients are
/// summed in a fixed order, and the optimizer updates the shared parameters once.
///
/// The number of replicas is part of the computation (it fixes the slices and the summation
/// order), not of the machine: the same seed and replica count give bit-identical results on
/// one core or two.
public final class Trainer<T: EngineScalar> {
    public let network: Network<T>
    public let loss: any LossFunction
    public let optimizer: any Optimizer<T>
    /// replicas[0] is `network` itself.
    public let replicas: [Network<T>]
    private let lossGradients: [ScalarBuffer<T>]   // per replica: (slice, classes)
    /// Each replica's gradient buffers, and the shared parameters, collected once.
    private let replicaGradients: [[ScalarBuffer<T>]]
    private let parameters: [Parameter<T>]
    /// Whether replicas run on separate threads (false: one after the other, on one core).
    public var usesThreads: Bool
    /// The threads the replicas beyond the first run on, owned here (WorkerPool says why not libdispatch).
    private let workers: WorkerPool
    /// The most samples a replica runs through the network at once in evaluation: an evaluation
    /// batch (1,000 by default) is cut into such pieces, so every layer's output buffer stays the
    /// size of a piece (deep.json: 170 MB less per replica than at 500) and in cache. The loss
    /// sums of the pieces are added, which changes only the rounding of the evaluation loss.
    public var evaluationPiece = 128

    public var classes: Int { network.outputShape.count }

    public init(network: Network<T>, loss: any LossFunction, optimizer: any Optimizer<T>, replicas: Int = 2,
                usesThreads: Bool = true) {
        self.network = network
        self.loss = loss
        self.optimizer = optimizer
        self.replicas = [network] + (1..<max(replicas, 1)).map { _ in network.replica() }
        lossGradients = self.replicas.map { _ in ScalarBuffer(count: 0) }
        replicaGradients = self.replicas.map(\.gradients)
        parameters = network.parameters
        self.usesThreads = usesThreads
        workers = WorkerPool(workers: self.replicas.count - 1)
        setBLASThreads(1)
    }

    /// Slice `index` of a batch split into `replicas.count` nearly equal contiguous parts.
    func slice(_ index: Int, of batch: Int) -> Range<Int> {
        let parts = min(replicas.count, batch)
        guard index < parts else { return batch..<batch }
        let base = batch / parts, extra = batch % parts
        let start = index * base + min(index, extra)
        return start..<(start + base + (index < extra ? 1 : 0))
    }

    private func run(_ body: (Int) -> Void) {
        if usesThreads { workers.run(replicas.count, body) } else { (0..<replicas.count).forEach(body) }
    }

    /// One optimisation step on a batch `(batch, ...inputShape)`; returns the batch's loss sum and hits.
    @discardableResult
    public func step(images: UnsafeBufferPointer<T>, labels: UnsafeBufferPointer<Int32>, batch: Int,
                     learningRate: Double) -> LossResult {
        let sampleSize = network.inputShape.count
        var results = Array(repeating: LossResult(), count: replicas.count)
        var active = Array(repeating: false, count: replicas.count)
        results.withUnsafeMutableBufferPointer { results in
            active.withUnsafeMutableBufferPointer { active in
                run { index in
                    let range = slice(index, of: batch)
                    guard !range.isEmpty else { return }
                    active[index] = true
                    let replica = replicas[index]
                    let input = UnsafeBufferPointer(rebasing: images[(range.lowerBound * sampleSize)..<(range.upperBound * sampleSize)])
                    let sliceLabels = UnsafeBufferPointer(rebasing: labels[range])
                    let output = replica.forward(input, batch: range.count, mode: .training)
                    lossGradients[index].ensureCount(range.count * classes)
                    results[index] = loss.evaluate(output, labels: sliceLabels, batch: range.count, classes: classes,
                                                   normalizer: batch, gradient: lossGradients[index].pointer)
                    replica.backward(lossGradients[index].readable, batch: range.count)
                }
            }
        }
        reduceGradients(active: active)
        optimizer.update(parameters, gradients: replicaGradients[0], learningRate: learningRate)
        return results.reduce(LossResult(), +)
    }

    /// network.gradients += Σ_{k ≥ 1} replicas[k].gradients, in replica order.
    private func reduceGradients(active: [Bool]) {
        for k in 1..<replicas.count where active[k] {
            for (target, source) in zip(replicaGradients[0], replicaGradients[k]) { addInPlace(target.pointer, source.readable) }
        }
    }

    /// Loss sum and hits over a whole data set, in evaluation mode, `batchSize` samples at a time.
    public func evaluate(images: UnsafeBufferPointer<T>, labels: UnsafeBufferPointer<Int32>, count: Int,
                         batchSize: Int = 500) -> LossResult {
        let sampleSize = network.inputShape.count
        return evaluate(labels: labels, count: count, batchSize: batchSize) { range in
            UnsafeBufferPointer(rebasing: images[(range.lowerBound * sampleSize)..<(range.upperBound * sampleSize)])
        }
    }

    /// The same over samples that `gather` writes, `range` at a time, to the buffer it is given
    /// (`range.count` samples, `(N, ...inputShape)`): a data set kept in another form (bytes)
    /// is converted one evaluation batch at a time, into one buffer the trainer reuses.
    public func evaluate(labels: UnsafeBufferPointer<Int32>, count: Int, batchSize: Int = 500,
                         gather: (Range<Int>, UnsafeMutablePointer<T>) -> Void) -> LossResult {
        let sampleSize = network.inputShape.count
        let buffer = ScalarBuffer<T>(count: min(max(batchSize, 1), count) * sampleSize)
        return evaluate(labels: labels, count: count, batchSize: batchSize) { range in
            gather(range, buffer.pointer.baseAddress!)
            return UnsafeBufferPointer(start: buffer.pointer.baseAddress!, count: range.count * sampleSize)
        }
    }

    /// The evaluation loop: `batch(range)` gives samples `range` as one contiguous block.
    private func evaluate(labels: UnsafeBufferPointer<Int32>, count: Int, batchSize: Int,
                          batch input: (Range<Int>) -> UnsafeBufferPointer<T>) -> LossResult {
        let sampleSize = network.inputShape.count
        var total = LossResult()
        var start = 0
        let batchSize = max(batchSize, 1)
        while start < count {
            let batch = min(batchSize, count - start)
            let images = input(start..<(start + batch))
            var results = Array(repeating: LossResult(), count: replicas.count)
            results.withUnsafeMutableBufferPointer { results in
                run { index in
                    let local = slice(index, of: batch)
                    guard !local.isEmpty else { return }
                    // The replica's slice, at most `evaluationPiece` samples per forward pass.
                    var result = LossResult()
                    var first = local.lowerBound
                    while first < local.upperBound {
                        let last = min(first + evaluationPiece, local.upperBound)
                        let input = UnsafeBufferPointer(rebasing: images[(first * sampleSize)..<(last * sampleSize)])
                        let output = replicas[index].forward(input, batch: last - first, mode: .evaluation)
                        result = result + loss.evaluate(output, labels: UnsafeBufferPointer(rebasing: labels[(start + first)..<(start + last)]),
                                                        batch: last - first, classes: classes, normalizer: batch, gradient: nil)
                        first = last
                    }
                    results[index] = result
                }
            }
            total = results.reduce(total, +)
            start += batch
        }
        return total
    }
}
