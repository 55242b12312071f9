import ConvLabKit

/// Tells the reporter how a run goes, every `interval` seconds and at each epoch's end.
struct ProgressTicker {
    let reporter: any ProgressReporter
    let run: RunPlan
    let runCount: Int
    let stepsPerEpoch: Int
    let interval: Double
    private let clock: RunClock
    private let start: ContinuousClock.Instant
    private var lastReport: ContinuousClock.Instant
    private var recentLoss = 0.0, recentImages = 0
    /// Images trained and seconds spent training (probes left out) in the epochs before this one.
    private var trainedImages = 0, trainingSeconds = 0.0

    /// Counts time from now, when the loop starts.
    init(reporter: any ProgressReporter, run: RunPlan, runCount: Int, stepsPerEpoch: Int, interval: Double, clock: RunClock) {
        self.reporter = reporter
        self.run = run
        self.runCount = runCount
        self.stepsPerEpoch = stepsPerEpoch
        self.interval = interval
        self.clock = clock
        start = clock.now
        lastReport = clock.now
    }

    /// Seconds since the loop started: the records' `wall_time`.
    var elapsed: Double { clock.seconds(since: start) }

    private var totalSteps: Int { stepsPerEpoch * run.training.epochs }

    mutating func stepDone(epoch: Int, stepInEpoch: Int, step: Int, loss: Double, images: Int, epochImages: Int, epochSeconds: Double) {
        recentLoss += loss
        recentImages += images
        guard clock.seconds(since: lastReport) >= interval else { return }
        lastReport = clock.now
        let speed = Double(trainedImages + epochImages) / max(trainingSeconds + epochSeconds, 1e-9)
        reporter.step(ProgressUpdate(
            runIndex: run.variant.trial ?? run.index, runCount: runCount, epoch: epoch, epochs: run.training.epochs, stepInEpoch: stepInEpoch,
            stepsPerEpoch: stepsPerEpoch, step: step, totalSteps: totalSteps,
            recentLoss: recentLoss / Double(max(recentImages, 1)), imagesPerSecond: speed, elapsed: elapsed,
            remaining: Double((totalSteps - step) * run.training.batchSize) / max(speed, 1e-9), trial: run.variant.trial))
        (recentLoss, recentImages) = (0, 0)
    }

    mutating func epochDone(images: Int, seconds: Double) {
        trainedImages += images
        trainingSeconds += seconds
    }

    func epochFinished(epoch: Int, step: Int, loss: Double, metrics: [(name: MetricName, value: Double)]) {
        let speed = metrics.first { $0.name == .imagesPerSecond }?.value ?? 1
        reporter.epochFinished(ProgressUpdate(
            runIndex: run.variant.trial ?? run.index, runCount: runCount, epoch: epoch, epochs: run.training.epochs, stepInEpoch: stepsPerEpoch,
            stepsPerEpoch: stepsPerEpoch, step: step, totalSteps: totalSteps,
            recentLoss: loss, imagesPerSecond: speed, elapsed: elapsed,
            remaining: Double((totalSteps - step) * run.training.batchSize) / max(speed, 1e-9), trial: run.variant.trial), metrics: metrics.map { ($0.name.rawValue, $0.value) })
    }
}
