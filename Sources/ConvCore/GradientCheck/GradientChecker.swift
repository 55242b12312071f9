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
    public enum Outcome: String, Sendable { case passed, failed, skipped }

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
}

/// Analytic gradients against central finite differences, in Float64, on the same layer code
/// that trains in Float32.
///
///     numeric = (C(θ + ε) − C(θ − ε)) / 2ε,     C = mean loss over the batch
///     passed ⇔ |analytic − numeric| ≤ atol + rtol·|numeric|
public enum GradientChecker {
    public static func check(
        network: Network<Double>, input: [Double], labels: [Int32], batch: Int, loss: any LossFunction,
        options: GradientCheckOptions = .init(), rng: inout Xoshiro256
    ) -> [GradientCheckRecord] {
        precondition(input.count == batch * network.inputShape.count, "input does not match the batch")
        network.freezeRandomMasks(true)
        defer { network.freezeRandomMasks(false) }
        let classes = network.outputShape.count
        var input = input
        let gradient = ScalarBuffer<Double>(count: batch * classes)

        // Analytic pass.
        var analyticInput: [Double] = []
        labels.withUnsafeBufferPointer { labels in
            input.withUnsafeBufferPointer { x in
                let output = network.forward(x, batch: batch, mode: .training)
                _ = loss.evaluate(output, labels: labels, batch: batch, classes: classes, normalizer: batch,
                                  gradient: gradient.pointer)
                if let dx = network.backward(gradient.readable, batch: batch, needsInputGradient: options.includeInput) {
                    analyticInput = Array(dx)
                }
            }
        }
        let baseline = network.kinkFingerprints
        // Layer inputs of the unperturbed pass: a parameter of layer L changes nothing before L,
        // so its finite difference re-runs layers L... only. (Each layer's buffers are reused, so
        // layer L's input stays what it was as long as no earlier layer runs again.)
        var inputs: [UnsafeBufferPointer<Double>] = []

        /// C at the current parameters, re-running from layer `first`, and whether no kink moved.
        func cost(from first: Int) -> (Double, Bool) {
            labels.withUnsafeBufferPointer { labels in
                input.withUnsafeBufferPointer { x in
                    let output = network.forward(from: first, first == 0 ? x : inputs[first], batch: batch, mode: .training)
                    let result = loss.evaluate(output, labels: labels, batch: batch, classes: classes, normalizer: batch, gradient: nil)
                    let smooth = zip(baseline[first...], network.layers[first...]).allSatisfy { $0 == $1.kinkFingerprint }
                    return (result.sum / Double(batch), smooth)
                }
            }
        }

        func judge(_ layer: Int?, _ kind: String, _ tensor: String, _ index: Int, analytic a: Double,
                   perturb: (Double) -> Void) -> GradientCheckRecord {
            let first = layer ?? 0
            perturb(options.epsilon)
            let (plus, plusSmooth) = cost(from: first)
            perturb(-2 * options.epsilon)
            let (minus, minusSmooth) = cost(from: first)
            perturb(options.epsilon)
            let n = (plus - minus) / (2 * options.epsilon)
            let absolute = abs(a - n)
            let scale = max(abs(a), abs(n), options.absoluteTolerance)
            let relative = scale == 0 ? 0 : absolute / scale
            let outcome: GradientCheckRecord.Outcome =
                !(plusSmooth && minusSmooth) ? .skipped
                : absolute <= options.absoluteTolerance + options.relativeTolerance * abs(n) ? .passed : .failed
            return GradientCheckRecord(layerIndex: layer, layerKind: kind, tensor: tensor, index: index, analytic: a,
                                       numeric: n, absoluteError: absolute, relativeError: relative, outcome: outcome)
        }

        var records: [GradientCheckRecord] = []
        if options.includeInput, !analyticInput.isEmpty {
            for index in sample(input.count, options.samplesPerTensor, &rng) {
                records.append(judge(nil, "input", "input", index, analytic: analyticInput[index]) { input[index] += $0 })
            }
        }
        // Restore the unperturbed pass and keep its layer inputs for the parameter checks.
        inputs = input.withUnsafeBufferPointer { network.layerInputs($0, batch: batch, mode: .training) }
        for (layer, kind, parameter, grad) in network.namedParameters {
            let analytic = grad.array
            let values = parameter.value.pointer
            for index in sample(parameter.count, options.samplesPerTensor, &rng) {
                records.append(judge(layer, kind, parameter.name, index, analytic: analytic[index]) { values[index] += $0 })
            }
        }
        return records
    }

    /// Up to `k` distinct indices of `0..<count`, in increasing order (all of them if k ≥ count).
    static func sample(_ count: Int, _ k: Int, _ rng: inout Xoshiro256) -> [Int] {
        guard k < count else { return Array(0..<count) }
        var chosen = Set<Int>()
        while chosen.count < k { chosen.insert(rng.nextInt(below: count)) }
        return chosen.sorted()
    }
}
