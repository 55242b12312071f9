extension Trainer {
    /// The whole training state, at the position the caller gives (the trainer does not count
    /// epochs; `step` is the caller's count of `step` calls).
    public func captureState(epoch: Int, step: Int) -> TrainingState<T> {
        let names = parameterNames
        var tensors = zip(names, trainedParameters).map { NamedTensor(name: $0, shape: $1.shape, values: $1.value.array) }
        let optimizerState = optimizer.exportState(for: trainedParameters)
        for buffer in optimizerState.buffers.keys.sorted() {
            for (index, values) in (optimizerState.buffers[buffer] ?? []).enumerated() {
                tensors.append(NamedTensor(name: TrainingState<T>.optimizerBufferName(buffer, parameter: names[index]),
                                           shape: trainedParameters[index].shape, values: values))
            }
        }
        let counters = optimizerState.counters.keys.sorted().map {
            NamedCounter(name: TrainingState<T>.optimizerCounterName($0), value: optimizerState.counters[$0] ?? 0)
        }
        let generators = dropoutLayers.map { NamedGenerator(name: $0.name, words: $0.layer.rng.stateWords) }
        return TrainingState(epoch: epoch, step: step, optimizerKind: optimizer.kind, tensors: tensors, counters: counters,
                             generators: generators)
    }

    /// Puts a captured state back: parameter values (shared by every replica), optimizer
    /// buffers and counters, every dropout generator. Everything is checked first, so a state
    /// of another network throws and leaves the trainer as it was.
    public func restore(_ state: TrainingState<T>) throws(TrainingStateError) {
        guard state.epoch >= 0, state.step >= 0 else { throw .invalidPosition(epoch: state.epoch, step: state.step) }
        guard state.optimizerKind == optimizer.kind else { throw .optimizerMismatch(saved: state.optimizerKind, trainer: optimizer.kind) }
        let names = parameterNames
        let current = optimizerState()
        // The shapes this trainer expects, in its order.
        var expected = zip(names, trainedParameters).map { ($0, $1.shape) }
        for buffer in current.buffers.keys.sorted() {
            expected += zip(names, trainedParameters).map { (TrainingState<T>.optimizerBufferName(buffer, parameter: $0), $1.shape) }
        }
        let saved = Dictionary(state.tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for (name, shape) in expected {
            guard let tensor = saved[name] else { throw .missing(name: name, shape: shape) }
            guard tensor.shape == shape, tensor.values.count == shape.reduce(1, *) else {
                throw .shapeMismatch(name: name, saved: tensor.shape, trainer: shape)
            }
        }
        let expectedNames = Set(expected.map(\.0))
        if let extra = state.tensors.first(where: { !expectedNames.contains($0.name) }) { throw .unexpected(name: extra.name, shape: extra.shape) }

        let counterNames = current.counters.keys.sorted().map { TrainingState<T>.optimizerCounterName($0) }
        let savedCounters = Dictionary(state.counters.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
        for name in counterNames where savedCounters[name] == nil { throw .missing(name: name, shape: []) }
        if let extra = state.counters.first(where: { !counterNames.contains($0.name) }) { throw .unexpected(name: extra.name, shape: []) }

        let dropouts = dropoutLayers
        let savedGenerators = Dictionary(state.generators.map { ($0.name, $0.words) }, uniquingKeysWith: { first, _ in first })
        var generators: [Xoshiro256] = []
        for (name, _) in dropouts {
            guard let words = savedGenerators[name] else { throw .missing(name: name, shape: [4]) }
            guard let rng = Xoshiro256(stateWords: words) else { throw .invalidGenerator(name: name) }
            generators.append(rng)
        }
        if let extra = state.generators.first(where: { name in !dropouts.contains { $0.name == name.name } }) {
            throw .unexpected(name: extra.name, shape: [extra.words.count])
        }

        // Everything fits: write.
        for (name, parameter) in zip(names, trainedParameters) {
            _ = parameter.value.pointer.update(fromContentsOf: saved[name]?.values ?? [])
        }
        var buffers: [String: [[T]]] = [:]
        for buffer in current.buffers.keys {
            buffers[buffer] = names.map { saved[TrainingState<T>.optimizerBufferName(buffer, parameter: $0)]?.values ?? [] }
        }
        var counters: [String: UInt64] = [:]
        for counter in current.counters.keys { counters[counter] = savedCounters[TrainingState<T>.optimizerCounterName(counter)] }
        optimizer.importState(OptimizerState(kind: optimizer.kind, buffers: buffers, counters: counters), for: trainedParameters)
        for ((_, layer), rng) in zip(dropouts, generators) { layer.rng = rng }
    }

    private var parameterNames: [String] {
        network.namedParameters.map { TrainingState<T>.parameterName(layer: $0.layer, kind: $0.kind, tensor: $0.parameter.name) }
    }

    private var trainedParameters: [Parameter<T>] { network.parameters }

    private func optimizerState() -> OptimizerState<T> { optimizer.exportState(for: trainedParameters) }

    /// Every dropout layer of every replica, by generator name.
    private var dropoutLayers: [(name: String, layer: Dropout<T>)] {
        replicas.enumerated().flatMap { r, replica in
            replica.layers.enumerated().compactMap { i, layer in
                (layer as? Dropout<T>).map { (TrainingState<T>.dropoutGeneratorName(replica: r, layer: i), $0) }
            }
        }
    }
}
