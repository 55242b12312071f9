/// Tolerances and sampling of a gradient check. Defaults follow PyTorch's gradcheck.
public struct GradientCheckOptions: Sendable, Equatable {
    /// Entries checked per tensor (all of them when the tensor is smaller).
    public var samplesPerTensor: Int = 8
    /// Central-difference step.
    public var epsilon: Double = 1e-6
    public var absoluteTolerance: Double = 1e-5
    public var relativeTolerance: Double = 1e-3
    /// Also check ∂C/∂input.
    public var includeInput: Bool = true

    public init(samplesPerTensor: Int = 8, epsilon: Double = 1e-6, absoluteTolerance: Double = 1e-5,
                relativeTolerance: Double = 1e-3, includeInput: Bool = true) {
        self.samplesPerTensor = samplesPerTensor
        self.epsilon = epsilon
        self.absoluteTolerance = absoluteTolerance
        self.relativeTolerance = relativeTolerance
        self.includeInput = includeInput
    }
}

/// One checked entry.
public struct GradientCheckRecord: Sendable, Equatable {
    /// Stored by raw value (`passed`, `failed`, `skipped`, `trivial`): the store and the reports
    /// count them under these names.
    public enum Outcome: String, Sendable, CaseIterable {
        case passed, failed, skipped
        /// Analytic and numeric agree but both are below atol in magnitude (a dead ReLU: 0 = 0):
        /// the entry proves nothing, so it is counted apart, never as passed.
        case trivial
    }

    /// Nil for the network's input.
    public var layerIndex: Int?
    public var layerKind: String
    /// `weight`, `bias` or `input`.
    public var tensor: String
    /// Flat index into the tensor.
    public var index: Int
    public var analytic: Double
    public var numeric: Double
    public var absoluteError: Double
    /// |a − n| / max(|a|, |n|, atol): relative to the gradient's size, but never to one below the
    /// absolute tolerance, where the difference is rounding noise.
    public var relativeError: Double
    /// `skipped` when a perturbation crossed a kink (a ReLU sign or a max-pool winner changed):
    /// the finite difference is then not a derivative, and the entry is counted, not judged.
    public var outcome: Outcome

    public init(layerIndex: Int?, layerKind: String, tensor: String, index: Int, analytic: Double, numeric: Double,
                absoluteError: Double, relativeError: Double, outcome: Outcome) {
        self.layerIndex = layerIndex
        self.layerKind = layerKind
        self.tensor = tensor
        self.index = index
        self.analytic = analytic
        self.numeric = numeric
        self.absoluteError = absoluteError
        self.relativeError = relativeError
        self.outcome = outcome
    }
}

/// Analytic gradients against central finite differences, in Float64, on the same layer code
/// that trains in Float32.
///
///     numeric = (C(θ + ε) − C(θ − ε)) / 2ε,     C = mean loss over the batch
///     passed ⇔ |analytic − numeric| ≤ atol + rtol·|numeric|
///
/// Every entry is evaluated at exactly θ ± ε with everything else at θ (the saved value is put
/// back, never recomputed by adding and subtracting ε), and the network's parameters are
/// bit-identical afterwards.
public enum GradientChecker {
    public static func check(
        network: Network<Double>, input: [Double], labels: [Int32], batch: Int, loss: any LossFunction,
        options: GradientCheckOptions = .init(), rng: inout Xoshiro256
    ) -> [GradientCheckRecord] {
        precondition(input.count == batch * network.inputShape.count, "input does not match the batch")
        network.freezeRandomMasks(true)
        defer { network.freezeRandomMasks(false) }
        let classes = network.outputShape.count
        // A stable address: layers may keep a pointer to their input between passes.
        let x = ScalarBuffer<Double>(input)                     // (N, ...inputShape)
        let gradient = ScalarBuffer<Double>(count: batch * classes)

        // Analytic pass.
        var analyticInput: [Double] = []
        labels.withUnsafeBufferPointer { labels in
            let output = network.forward(x.readable, batch: batch, mode: .training)
            _ = loss.evaluate(output, labels: labels, batch: batch, classes: classes, normalizer: batch,
                              gradient: gradient.pointer)
            if let dx = network.backward(gradient.readable, batch: batch, needsInputGradient: options.includeInput) {
                analyticInput = Array(dx)
            }
        }
        let baseline = network.kinkFingerprints
        // Layer inputs of the unperturbed pass; inputs[0] is x itself. A parameter of layer L
        // changes nothing before L, so its finite difference re-runs layers L... only.
        var inputs: [UnsafeBufferPointer<Double>] = []

        /// C at the current values, re-running from layer `first`, and whether no kink moved.
        func cost(from first: Int) -> (Double, Bool) {
            labels.withUnsafeBufferPointer { labels in
                let output = network.forward(from: first, inputs.isEmpty ? x.readable : inputs[first], batch: batch, mode: .training)
                let result = loss.evaluate(output, labels: labels, batch: batch, classes: classes, normalizer: batch, gradient: nil)
                let smooth = zip(baseline[first...], network.layers[first...]).allSatisfy { $0 == $1.kinkFingerprint }
                return (result.sum / Double(batch), smooth)
            }
        }

        /// C(θ + ε) and C(θ − ε) for one entry, which holds θ again afterwards, bit for bit.
        func judge(_ layer: Int?, _ kind: String, _ tensor: String, _ index: Int, analytic a: Double,
                   entry: UnsafeMutablePointer<Double>) -> GradientCheckRecord {
            let first = layer ?? 0
            let saved = entry.pointee
            entry.pointee = saved + options.epsilon
            let (plus, plusSmooth) = cost(from: first)
            entry.pointee = saved - options.epsilon
            let (minus, minusSmooth) = cost(from: first)
            entry.pointee = saved
            let n = (plus - minus) / (2 * options.epsilon)
            let absolute = abs(a - n)
            let scale = max(abs(a), abs(n), options.absoluteTolerance)
            let relative = scale == 0 ? 0 : absolute / scale
            return GradientCheckRecord(layerIndex: layer, layerKind: kind, tensor: tensor, index: index, analytic: a,
                                       numeric: n, absoluteError: absolute, relativeError: relative,
                                       outcome: outcome(analytic: a, numeric: n, smooth: plusSmooth && minusSmooth, options))
        }

        var records: [GradientCheckRecord] = []
        if options.includeInput, !analyticInput.isEmpty {
            for index in sample(x.count, options.samplesPerTensor, &rng) {
                records.append(judge(nil, "input", "input", index, analytic: analyticInput[index], entry: x.pointer.baseAddress! + index))
            }
        }
        // One clean pass at θ (x is bit-identical to the caller's again) for the layer inputs.
        inputs = network.layerInputs(x.readable, batch: batch, mode: .training)
        // Entries are drawn in layer order (the same draws as ever for a seed) but evaluated from
        // the last layer back: re-running layers L... overwrites the buffers that hold the inputs
        // of layers after L, never those of L or earlier, so every tensor still finds the input
        // of its layer as the clean pass left it. (Front to back, a later layer would be checked
        // on an input computed while an earlier entry was perturbed.)
        let tensors = network.namedParameters
        let chosen = tensors.map { sample($0.parameter.count, options.samplesPerTensor, &rng) }
        var perTensor = [[GradientCheckRecord]](repeating: [], count: tensors.count)
        for (t, tensor) in tensors.enumerated().reversed() {
            let analytic = tensor.gradient.array
            let values = tensor.parameter.value.pointer.baseAddress!
            perTensor[t] = chosen[t].map { index in
                judge(tensor.layer, tensor.kind, tensor.parameter.name, index, analytic: analytic[index], entry: values + index)
            }
        }
        return records + perTensor.joined()
    }

    /// skipped: a kink moved; failed: |a − n| > atol + rtol·|n|; trivial: agrees, but |a| and |n|
    /// are both below atol, so it proves nothing; passed otherwise. A disagreement is never
    /// hidden as trivial.
    static func outcome(analytic a: Double, numeric n: Double, smooth: Bool, _ options: GradientCheckOptions)
        -> GradientCheckRecord.Outcome {
        guard smooth else { return .skipped }
        // Written so that a NaN on either side fails.
        guard abs(a - n) <= options.absoluteTolerance + options.relativeTolerance * abs(n) else { return .failed }
        return abs(a) < options.absoluteTolerance && abs(n) < options.absoluteTolerance ? .trivial : .passed
    }

    /// Up to `k` distinct indices of `0..<count`, in increasing order (all of them if k ≥ count).
    static func sample(_ count: Int, _ k: Int, _ rng: inout Xoshiro256) -> [Int] {
        guard k < count else { return Array(0..<count) }
        var chosen = Set<Int>()
        while chosen.count < k { chosen.insert(rng.nextInt(below: count)) }
        return chosen.sorted()
    }
}
