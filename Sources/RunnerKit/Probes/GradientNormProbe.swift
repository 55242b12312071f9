import ConvLabKit

/// `grad_norms`: the L2 and max-abs norm of every parameter tensor's gradient (the full batch's,
/// the replicas summed), every `every` steps.
final class GradientNormProbe: Probe {
    static let plugin = Plugin(.probe, "grad_norms", "L2 and max-abs gradient norm of every parameter tensor", parameters: [
        .init("every", .integer(minimum: 0), default: .int(100), "steps between records (0: off)"),
    ], factory: .probe { GradientNormProbe(every: $0.int("every", default: 100)) })

    let every: Int

    init(every: Int) { self.every = every }

    func afterStep(_ step: TrainingStep, recorder: ProbeRecorder) throws {
        guard every > 0, step.step % every == 0 else { return }
        for (layer, kind, parameter, gradient) in step.run.network.namedParameters {
            var sumOfSquares = 0.0, maxAbs = 0.0
            for g in gradient.readable {
                let v = Double(g)
                sumOfSquares += v * v
                maxAbs = max(maxAbs, abs(v))
            }
            recorder.gradientNorm(layer: layer, layerKind: kind, tensor: parameter.name, l2: sumOfSquares.squareRoot(), maxAbs: maxAbs)
        }
    }
}
