import ConvCore
import Testing
@testable import Datasets

@Suite("Batch sampler state")
struct BatchSamplerStateTests {
    typealias Batch = (epoch: Int, index: Int, labels: [Int32], images: [Float])

    static func draw(_ sampler: inout BatchSampler, _ count: Int) -> [Batch] {
        (0..<count).map { _ in
            let (epoch, index, size) = sampler.nextBatch()
            return (epoch, index, Array(sampler.labels[..<size]), Array(sampler.images[..<(size * sampler.data.sampleShape.count)]))
        }
    }

    static func same(_ a: [Batch], _ b: [Batch]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.epoch == $1.epoch && $0.index == $1.index && $0.labels == $1.labels && $0.images == $1.images }
    }

    /// Seeded cases: data sizes, batch sizes (uneven last batches too), stops anywhere, also at
    /// an epoch's end, and in a later epoch. The restored sampler is a new one, whose own walk
    /// had moved elsewhere.
    @Test("a sampler restored mid-epoch draws exactly the remaining batches of the uninterrupted walk")
    func restoredWalkMatches() throws {
        var cases = Xoshiro256(seed: 0xBA7C)
        for _ in 0..<25 {
            let count = 1 + cases.nextInt(below: 60), batchSize = 1 + cases.nextInt(below: 17), seed = cases.next() % 1000
            let data = SyntheticDataset.make(seed: 2, trainCount: count, testCount: 1, size: 6).train
            let shuffle = cases.nextInt(below: 4) != 0
            var straight = BatchSampler(data: data, batchSize: batchSize, shuffle: shuffle, seed: seed)
            let perEpoch = straight.batchesPerEpoch
            let stop = cases.nextInt(below: 3 * perEpoch + 1), rest = 1 + cases.nextInt(below: 2 * perEpoch)
            let all = Self.draw(&straight, stop + rest)

            var first = BatchSampler(data: data, batchSize: batchSize, shuffle: shuffle, seed: seed)
            _ = Self.draw(&first, stop)
            let state = first.state
            var resumed = BatchSampler(data: data, batchSize: batchSize, shuffle: shuffle, seed: seed)
            _ = Self.draw(&resumed, cases.nextInt(below: 5))
            try resumed.restore(try #require(BatchSampler.State(words: state.words)))
            #expect(resumed.state == state)
            #expect(Self.same(Self.draw(&resumed, rest), Array(all[stop...])), "count \(count), batch \(batchSize), stop \(stop)")
        }
    }

    /// The walk is the runner's loop (`order(epoch:)` then `gather` batch by batch), so a state
    /// taken from a run that used that loop means the same position.
    @Test("nextBatch walks the same batches as order(epoch:) and gather")
    func walkIsTheEpochLoop() {
        let data = SyntheticDataset.make(seed: 1, trainCount: 21, testCount: 1, size: 6).train
        var walker = BatchSampler(data: data, batchSize: 4, shuffle: true, seed: 5)
        var looper = walker
        for epoch in 1...3 {
            let order = looper.order(epoch: epoch)
            for index in 0..<looper.batchesPerEpoch {
                let size = looper.gather(index, of: order)
                let step = walker.nextBatch()
                #expect(step.epoch == epoch && step.index == index && step.count == size)
                #expect(walker.labels == looper.labels && walker.images == looper.images)
            }
            #expect(walker.state.epoch == epoch && walker.state.batchesDrawn == walker.batchesPerEpoch)
        }
    }

    @Test("a state of other data, seed, shuffling or batch size, or outside the walk, is refused and changes nothing")
    func refusals() throws {
        let data = SyntheticDataset.make(seed: 1, trainCount: 30, testCount: 1, size: 6).train
        var source = BatchSampler(data: data, batchSize: 8, shuffle: true, seed: 5)
        _ = Self.draw(&source, 6)
        let saved = source.state
        func refuse(_ sampler: BatchSampler, _ state: BatchSampler.State, _ fragment: String) {
            var target = sampler
            _ = target.nextBatch()
            let before = target.state
            #expect(throws: BatchSamplerStateError.self) { try target.restore(state) }
            do { try target.restore(state) } catch { #expect(error.message.contains(fragment), "\(error.message)") }
            #expect(target.state == before)
        }
        refuse(BatchSampler(data: data, batchSize: 8, shuffle: true, seed: 6), saved, "seed 5, this run's is 6")
        refuse(BatchSampler(data: data, batchSize: 4, shuffle: true, seed: 5), saved, "batch size 8, this run's is 4")
        refuse(BatchSampler(data: data, batchSize: 8, shuffle: false, seed: 5), saved, "shuffle true")
        refuse(BatchSampler(data: data.subset(0..<29), batchSize: 8, shuffle: true, seed: 5), saved, "30 images")
        var relabelled = data
        relabelled.labels.swapAt(0, relabelled.labels.firstIndex { $0 != data.labels[0] } ?? 1)
        refuse(BatchSampler(data: relabelled, batchSize: 8, shuffle: true, seed: 5), saved, "other labels")
        var beyond = saved
        beyond.batchesDrawn = 5
        refuse(BatchSampler(data: data, batchSize: 8, shuffle: true, seed: 5), beyond, "outside the walk")
        var epochZero = saved
        epochZero.epoch = 0
        refuse(BatchSampler(data: data, batchSize: 8, shuffle: true, seed: 5), epochZero, "outside the walk")
        #expect(BatchSampler.State(words: [1, 2, 3]) == nil)
        #expect(BatchSampler.State(words: [1, 2, 30, 8, 0, 1, 0]) == nil)   // shuffle must be 0 or 1
    }
}
