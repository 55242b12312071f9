import ConvLabKit

/// `grad_check`: every layer's analytic gradients against central finite differences, in
/// Float64, on the first images of the batch about to be trained, every `every` steps from step
/// 0. It checks any layer, activation or pooling rule, built-in or a plugin's, with no code of
/// theirs: a wrong backward shows up as failed checks in `runner report`.
final class GradientCheckProbe: Probe {
    static let plugin = Plugin(.probe, "grad_check", "analytic gradients against central finite differences, in Float64", parameters: [
        .init("every", .integer(minimum: 0), default: .int(1000), "steps between checks, from step 0 (0: off)"),
        .init("samples", .integer(minimum: 1, maximum: 1000), default: .int(8), "entries checked per tensor"),
        .init("epsilon", .number(minimum: 0, maximum: 0.1, exclusiveMinimum: true), default: .number(1e-6), "finite-difference step"),
        .init("atol", .number(minimum: 0), default: .number(1e-5), "absolute tolerance"),
        .init("rtol", .number(minimum: 0), default: .number(1e-3), "relative tolerance"),
        .init("batch", .integer(minimum: 1, maximum: 256), default: .int(4), "samples in the checked batch"),
    ], factory: .probe { p in
        GradientCheckProbe(every: p.int("every", default: 1000), batch: p.int("batch", default: 4),
                           options: GradientCheckOptions(samplesPerTensor: p.int("samples", default: 8),
                                                         epsilon: p.double("epsilon", default: 1e-6),
                                                         absoluteTolerance: p.double("atol", default: 1e-5),
                                                         relativeTolerance: p.double("rtol", default: 1e-3)))
    })

    let every: Int
    let batch: Int
    let options: GradientCheckOptions
    /// Which entries are checked; its own stream of the run's seed, saved in checkpoints.
    private var rng: Xoshiro256?

    init(every: Int, batch: Int, options: GradientCheckOptions) {
        self.every = every
        self.batch = batch
        self.options = options
    }

    func runStarted(_ run: ProbeRun, recorder: ProbeRecorder) throws {
        if rng == nil { rng = Xoshiro256(seed: run.seed, stream: 0xC4EC) }
    }

    func beforeStep(_ step: TrainingStep, recorder: ProbeRecorder) throws {
        guard every > 0, step.step % every == 0, var generator = rng else { return }
        let count = min(batch, step.count)
        let size = step.run.inputShape.count
        let checked = step.run.network.converted(to: Double.self)
        let records = GradientChecker.check(network: checked, input: step.images[0..<(count * size)].map(Double.init),
                                            labels: Array(step.labels[0..<count]), batch: count, loss: step.run.loss,
                                            options: options, rng: &generator)
        rng = generator
        recorder.gradientChecks(records)
    }

    func saveState() -> ProbeState {
        ProbeState(generators: rng.map { ["grad_check": $0] } ?? [:])
    }

    func restore(_ state: ProbeState) throws {
        guard let generator = state.generators["grad_check"] else {
            throw ProbeError("the checkpoint has no state for the grad_check probe (rng.runner.grad_check)")
        }
        rng = generator
    }
}
