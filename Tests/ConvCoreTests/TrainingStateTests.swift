import Testing
@testable import ConvCore

/// Capture and restore of the whole training state: a trainer stopped after k steps and rebuilt
/// from its state continues bit for bit like one that never stopped.
@Suite("Training state")
struct TrainingStateTests {
    static let optimizers: [OptimizerConfiguration] = [
        .sgd(momentum: 0.9, nesterov: false, weightDecay: 1e-3),
        .sgd(momentum: 0.9, nesterov: true, weightDecay: 1e-3),
        .adam(weightDecay: 1e-3),
    ]

    /// conv → relu → max pool → flatten → dense → dropout → dense: every parameter kind and a
    /// random layer.
    static func network(seed: UInt64, dropout: Double = 0.3, hidden: Int = 12) throws -> Network<Float> {
        try Network<Float>(input: Shape(channels: 1, height: 8, width: 8), layers: [
            Conv2DConfiguration(filters: 3, kernel: (3, 3)), ActivationConfiguration(.relu),
            Pool2DConfiguration(mode: .max, size: (2, 2)), FlattenConfiguration(),
            DenseConfiguration(units: hidden), ActivationConfiguration(.relu), DropoutConfiguration(rate: dropout),
            DenseConfiguration(units: 4),
        ], seed: seed)
    }

    static func trainer(_ optimizer: OptimizerConfiguration, seed: UInt64, replicas: Int = 2) throws -> Trainer<Float> {
        Trainer(network: try network(seed: seed), loss: SoftmaxCrossEntropy(), optimizer: optimizer.make(Float.self),
                replicas: replicas, usesThreads: false)
    }

    /// Batch `step` of a data stream fixed by `seed`: the same batch whatever trainer takes it.
    static func train(_ trainer: Trainer<Float>, steps: Range<Int>, seed: UInt64) -> [UInt64] {
        steps.map { step in
            let batch = 5 + step % 4   // uneven slices too
            let x: [Float] = randomArray(batch * 64, seed: seed &* 1000 &+ UInt64(step))
            let labels = randomLabels(batch, classes: 4, seed: seed &* 1000 &+ UInt64(step) &+ 7)
            let result = x.withUnsafeBufferPointer { x in
                labels.withUnsafeBufferPointer { trainer.step(images: x, labels: $0, batch: batch, learningRate: 0.05) }
            }
            return result.sum.bitPattern
        }
    }

    static func bits(_ state: TrainingState<Float>) -> [String: [UInt32]] {
        Dictionary(uniqueKeysWithValues: state.tensors.map { ($0.name, $0.values.map(\.bitPattern)) })
    }

    @Test("stop after k steps, restore into a new trainer, continue: bit-identical to never stopping",
          arguments: optimizers)
    func resumeIsBitIdentical(optimizer: OptimizerConfiguration) throws {
        var cases = Xoshiro256(seed: 0x5EED)
        for _ in 0..<4 {
            let seed = cases.next() % 10_000, k = 1 + cases.nextInt(below: 6), m = 1 + cases.nextInt(below: 5)
            let straight = try Self.trainer(optimizer, seed: seed)
            let straightLosses = Self.train(straight, steps: 0..<(k + m), seed: seed)

            let first = try Self.trainer(optimizer, seed: seed)
            let firstLosses = Self.train(first, steps: 0..<k, seed: seed)
            let saved = first.captureState(epoch: 0, step: k)
            // Other initial weights and untouched generators: everything must come from the state.
            let resumed = try Self.trainer(optimizer, seed: seed &+ 1)
            #expect(Self.bits(resumed.captureState(epoch: 0, step: 0)) != Self.bits(saved))
            try resumed.restore(saved)
            let restoredExactly = resumed.captureState(epoch: 0, step: k) == saved   // a Bool: the states are large
            #expect(restoredExactly, "\(optimizer), seed \(seed), k \(k)")
            let resumedLosses = Self.train(resumed, steps: k..<(k + m), seed: seed)

            let context = "\(optimizer), seed \(seed), k \(k), m \(m)"
            #expect(firstLosses + resumedLosses == straightLosses, "\(context)")
            let end = straight.captureState(epoch: 0, step: k + m), resumedEnd = resumed.captureState(epoch: 0, step: k + m)
            #expect(Self.bits(resumedEnd) == Self.bits(end), "\(context)")
            #expect(resumedEnd.counters == end.counters && resumedEnd.generators == end.generators, "\(context)")
        }
    }

    /// The converse, so the test above can fail: without restoring the generators the dropout
    /// masks differ and so do the losses.
    @Test("a restore that skipped the dropout generators would not be bit-identical")
    func generatorsMatter() throws {
        let straight = try Self.trainer(.sgd(momentum: 0.9), seed: 3)
        let straightLosses = Self.train(straight, steps: 0..<6, seed: 3)
        let first = try Self.trainer(.sgd(momentum: 0.9), seed: 3)
        _ = Self.train(first, steps: 0..<3, seed: 3)
        var saved = first.captureState(epoch: 0, step: 3)
        let fresh = try Self.trainer(.sgd(momentum: 0.9), seed: 3)
        saved.generators = fresh.captureState(epoch: 0, step: 0).generators
        try fresh.restore(saved)
        #expect(Self.train(fresh, steps: 3..<6, seed: 3) != Array(straightLosses[3...]))
    }

    @Test("the state names every tensor, buffer, counter and generator as the reports do")
    func names() throws {
        let adam = try Self.trainer(.adam(), seed: 1)
        _ = Self.train(adam, steps: 0..<2, seed: 1)
        let state = adam.captureState(epoch: 1, step: 2)
        let parameters = ["layers.0.conv.weight", "layers.0.conv.bias", "layers.4.dense.weight", "layers.4.dense.bias",
                          "layers.7.dense.weight", "layers.7.dense.bias"]
        #expect(state.parameters.map(\.name) == parameters)
        #expect(state.tensors.map(\.name) == parameters + parameters.map { "optimizer.first_moment.\($0)" }
                + parameters.map { "optimizer.second_moment.\($0)" })
        #expect(state[tensor: "layers.0.conv.weight"]?.shape == [3, 1, 3, 3])
        #expect(state.counters == [NamedCounter(name: "optimizer.steps", value: 2)])
        #expect(state.generators.map(\.name) == ["replicas.0.layers.6.dropout", "replicas.1.layers.6.dropout"])
        #expect(state.optimizerKind == "adam" && state.epoch == 1 && state.step == 2)
        let plain = try Self.trainer(.sgd(), seed: 1).captureState(epoch: 0, step: 0)
        #expect(plain.tensors.map(\.name) == parameters && plain.counters.isEmpty)
    }

    /// Every way a state can fail to fit: a typed error naming the tensor and both shapes, and
    /// the trainer unchanged.
    @Test("a state of another network, optimizer or replica count is refused, and nothing changes")
    func mismatches() throws {
        let saved = try Self.trainer(.sgd(momentum: 0.9), seed: 1).captureState(epoch: 2, step: 10)
        func refuse(_ target: Trainer<Float>, _ state: TrainingState<Float>, _ expected: TrainingStateError) {
            let before = target.captureState(epoch: 0, step: 0)
            #expect(throws: expected) { try target.restore(state) }
            let unchanged = target.captureState(epoch: 0, step: 0) == before
            #expect(unchanged, "\(expected)")
        }
        // Another hidden width: the first mismatch in network order is layer 4's weight.
        let wider = Trainer(network: try Self.network(seed: 1, hidden: 13), loss: SoftmaxCrossEntropy(),
                            optimizer: OptimizerConfiguration.sgd(momentum: 0.9).make(Float.self), replicas: 2, usesThreads: false)
        refuse(wider, saved, .shapeMismatch(name: "layers.4.dense.weight", saved: [12, 27], trainer: [13, 27]))
        #expect(TrainingStateError.shapeMismatch(name: "layers.4.dense.weight", saved: [12, 27], trainer: [13, 27]).description
                .contains("layers.4.dense.weight is [12, 27] but this network's is [13, 27]"))

        var missing = saved
        missing.tensors.removeAll { $0.name == "optimizer.momentum.layers.7.dense.bias" }
        refuse(try Self.trainer(.sgd(momentum: 0.9), seed: 2), missing, .missing(name: "optimizer.momentum.layers.7.dense.bias", shape: [4]))

        var extra = saved
        extra.tensors.append(NamedTensor(name: "layers.9.dense.weight", shape: [2], values: [1, 2]))
        refuse(try Self.trainer(.sgd(momentum: 0.9), seed: 2), extra, .unexpected(name: "layers.9.dense.weight", shape: [2]))

        var short = saved
        short.tensors[0].values.removeLast()
        refuse(try Self.trainer(.sgd(momentum: 0.9), seed: 2), short, .shapeMismatch(name: "layers.0.conv.weight", saved: [3, 1, 3, 3], trainer: [3, 1, 3, 3]))

        refuse(try Self.trainer(.adam(), seed: 2), saved, .optimizerMismatch(saved: "sgd", trainer: "adam"))
        // Plain SGD keeps no momentum: the saved buffers are extra.
        refuse(try Self.trainer(.sgd(), seed: 2), saved, .unexpected(name: "optimizer.momentum.layers.0.conv.weight", shape: [3, 1, 3, 3]))
        refuse(try Self.trainer(.sgd(momentum: 0.9), seed: 2, replicas: 3), saved, .missing(name: "replicas.2.layers.6.dropout", shape: [4]))
        refuse(try Self.trainer(.sgd(momentum: 0.9), seed: 2, replicas: 1), saved, .unexpected(name: "replicas.1.layers.6.dropout", shape: [4]))

        var zero = saved
        zero.generators[1].words = [0, 0, 0, 0]
        refuse(try Self.trainer(.sgd(momentum: 0.9), seed: 2), zero, .invalidGenerator(name: "replicas.1.layers.6.dropout"))

        let adamSaved = try Self.trainer(.adam(), seed: 1).captureState(epoch: 0, step: 0)
        var noSteps = adamSaved
        noSteps.counters = []
        refuse(try Self.trainer(.adam(), seed: 2), noSteps, .missing(name: "optimizer.steps", shape: []))

        var negative = saved
        negative.step = -1
        refuse(try Self.trainer(.sgd(momentum: 0.9), seed: 2), negative, .invalidPosition(epoch: 2, step: -1))
    }

    @Test("Xoshiro256 rebuilt from its state words continues the same stream")
    func generatorWords() {
        var cases = Xoshiro256(seed: 99)
        for _ in 0..<20 {
            var rng = Xoshiro256(seed: cases.next())
            for _ in 0..<cases.nextInt(below: 50) { _ = rng.next() }
            guard var copy = Xoshiro256(stateWords: rng.stateWords) else { Issue.record("valid words refused"); return }
            #expect((0..<16).map { _ in rng.next() } == (0..<16).map { _ in copy.next() })
        }
        #expect(Xoshiro256(stateWords: [0, 0, 0, 0]) == nil)
        #expect(Xoshiro256(stateWords: [1, 2, 3]) == nil)
    }
}
