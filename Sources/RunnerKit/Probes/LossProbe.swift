import ConvLabKit

/// `loss`: the training loss, as the mean over the images of the last `every` steps, and the
/// learning rate, both at every `every`-th step.
final class LossProbe: Probe {
    static let plugin = Plugin(.probe, "loss", "training loss (mean over the last steps) and learning rate", parameters: [
        .init("every", .integer(minimum: 1), default: .int(50), "steps between records"),
    ], factory: .probe { LossProbe(every: $0.int("every", default: 50)) })

    let every: Int
    /// Σ loss and images since the last record: saved in checkpoints, so a resumed run's first
    /// record averages the same steps as an uninterrupted run's.
    private var windowSum = 0.0
    private var windowImages: UInt64 = 0

    init(every: Int) { self.every = every }

    func afterStep(_ step: TrainingStep, recorder: ProbeRecorder) throws {
        guard let loss = step.loss else { return }
        windowSum += loss.sum
        windowImages += UInt64(step.count)
        guard step.step % every == 0 else { return }
        recorder.metric(.trainLoss, windowSum / Double(windowImages))
        recorder.metric(.learningRate, step.learningRate)
        (windowSum, windowImages) = (0, 0)
    }

    func saveState() -> ProbeState {
        ProbeState(counters: ["loss_window_images": windowImages], reals: ["loss_window_sum": windowSum])
    }

    func restore(_ state: ProbeState) throws {
        guard let sum = state.reals["loss_window_sum"], let images = state.counters["loss_window_images"] else {
            throw ProbeError("the checkpoint has no state for the loss probe (runner.loss_window_sum, runner.loss_window_images)")
        }
        (windowSum, windowImages) = (sum, images)
    }
}
