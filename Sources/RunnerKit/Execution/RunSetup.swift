import ConvLabKit
import Checkpoints
import ConvCore
import Datasets
import RunStore

/// A claimed run made ready to train: its network, trainer, sampler and probes, restored from
/// its checkpoint when it resumes, its data, and where it starts.
struct PreparedRun {
    var run: RunPlan
    var trainer: Trainer<Float>
    var sampler: BatchSampler
    var hooks: ProbeHooks
    var checkpoints: CheckpointKeeper
    var data: (validation: LabeledImages?, test: LabeledImages)
    var position: RunPosition
    var summary: RunSummary
}

/// Turns a run this process has just claimed, and the point it resumes from, into a
/// `PreparedRun`: its history in the store set straight, its data loaded and checked, its
/// network, trainer, sampler and probes made, the checkpoint's state restored. Whatever fails
/// here ends the run (failed, or taken over) before its first step.
struct RunSetup {
    let run: RunPlan
    let claimed: StoredRun
    let resume: ResumePoint?
    let runCount: Int
    let writer: RunWriter
    let clock: RunClock
    let datasets: DatasetCache
    let reporter: any ProgressReporter

    /// Where the run starts: known before anything else can fail, so a failure reports it.
    private(set) var position = RunPosition()
    private(set) var summary = RunSummary()

    init(run: RunPlan, claimed: StoredRun, resume: ResumePoint?, runCount: Int, writer: RunWriter, clock: RunClock,
         datasets: DatasetCache, reporter: any ProgressReporter) {
        self.run = run
        self.claimed = claimed
        self.resume = resume
        self.runCount = runCount
        self.writer = writer
        self.clock = clock
        self.datasets = datasets
        self.reporter = reporter
    }

    private var store: RunStore { writer.store }
    private var claimant: String { writer.claimant }

    mutating func prepare(provenance: RunProvenance) throws(RunStop) -> PreparedRun {
        try setHistoryStraight(provenance: provenance)
        let data = try loadData()
        let (trainer, sampler, hooks) = try makeModel(training: data.train)
        return PreparedRun(run: run, trainer: trainer, sampler: sampler, hooks: hooks,
                           checkpoints: CheckpointKeeper(store: store, claimant: claimant, runID: claimed.id, runUUID: claimed.uuid,
                                                         settings: run.checkpoint, previous: resume?.record),
                           data: (data.validation, data.test), position: position, summary: summary)
    }

    /// Where a claimed run starts: its latest checkpoint (`resume`, already checked), or step 0.
    /// What an earlier attempt recorded past that point is discarded, so the run's records are
    /// those of one uninterrupted run. Each write checks the claim in its own transaction: had
    /// this process been stopped since the claim long enough to lose the run, it must not touch
    /// the new owner's rows.
    private mutating func setHistoryStraight(provenance: RunProvenance) throws(RunStop) {
        let runID = claimed.id
        guard try stored({ () throws(StoreError) in try store.recordProvenance(run: runID, provenance, claimant: claimant) }) else { throw .takenOver }
        if let resume {
            guard try stored({ () throws(StoreError) in
                try store.discardRecords(run: runID, after: resume.record.step, epochsDone: resume.record.epoch, claimant: claimant)
            }) else { throw .takenOver }
            position = RunPosition(epochsDone: resume.record.epoch, step: resume.record.step)
            if let final = try stored({ () throws(StoreError) in try store.finalMetrics(run: runID) }) {
                summary = RunSummary(trainLoss: final.trainLoss, testAccuracy: final.testAccuracy, bestTestAccuracy: final.bestTestAccuracy)
            }
        } else if claimed.startedAt != nil {
            guard try stored({ () throws(StoreError) in try store.discardRecords(run: runID, after: nil, claimant: claimant) }) else { throw .takenOver }
        }
        let before = claimed
        writer.event(.started, "run \(run.index) of \(runCount)\(run.variant.label.isEmpty ? "" : " (\(run.variant.label))"), seed \(run.seed)"
              + (resume.map { "; resumed from epoch \($0.record.epoch) (step \($0.record.step)) after an earlier attempt (\(before.status.rawValue), step \(before.stepsDone))" }
                 ?? (before.startedAt == nil ? "" : "; an earlier attempt (\(before.status.rawValue), step \(before.stepsDone)) is trained again from step 0"))
              + ", by \(claimant)")
    }

    /// The run's data set (its files' hashes recorded with the run), with the validation part held out.
    private func loadData() throws(RunStop) -> (train: LabeledImages, validation: LabeledImages?, test: LabeledImages) {
        var split: DatasetSplit
        do { split = try datasets.split(for: run, reporter: reporter) } catch { throw .failed(error.description) }
        do {
            try store.recordDataFiles(run: claimed.id, files: DataFiles.paths(of: run))
        } catch where error.kind == .io {
            throw .failed(error.description)
        } catch {
            throw .store(error)
        }
        var validation: LabeledImages?
        if run.evaluation.validationSplit > 0 {
            let parts = split.train.splitValidation(fraction: run.evaluation.validationSplit, seed: run.seed)
            split.train = parts.train
            validation = parts.validation
        }
        guard split.train.count > 0 else { throw .unusable("the training set is empty") }
        return (split.train, validation, split.test)
    }

    /// Network, trainer, sampler and probes, restored from the checkpoint when the run resumes.
    private func makeModel(training: LabeledImages) throws(RunStop) -> (Trainer<Float>, BatchSampler, ProbeHooks) {
        let network: Network<Float>
        do { network = try run.makeNetwork() } catch { throw .unusable(error.description) }
        let trainer = Trainer(network: network, loss: run.loss, optimizer: run.optimizer.make(Float.self), replicas: run.training.replicas)
        var sampler = BatchSampler(data: training, batchSize: run.training.batchSize, shuffle: run.training.shuffle, seed: run.seed)
        var probes: [(name: String, probe: any Probe)] = []
        for recipe in run.probes {
            do { probes.append((recipe.name, try recipe.makeProbe())) } catch { throw .failed("the \(recipe.name) probe: \(error.message)") }
        }
        let hooks = ProbeHooks(probes, writer: writer, clock: clock)
        if let resume {
            let checkpoint = resume.checkpoint
            do throws(CheckpointError) { try checkpoint.restore(into: trainer, sampler: &sampler) } catch {
                // Unreachable for a file whose SHA-256 and spec hash matched; ends the run, not the sweep.
                throw .failed("cannot resume: \(error.description)")
            }
            var saved = ProbeState(counters: Dictionary(checkpoint.runnerCounters.map { ($0.name, $0.value) }) { a, _ in a },
                                   reals: Dictionary(checkpoint.runnerReals.map { ($0.name, $0.value) }) { a, _ in a })
            for generator in checkpoint.runnerGenerators {
                if let rng = Xoshiro256(stateWords: generator.words) { saved.generators[generator.name] = rng }
            }
            try hooks.restore(saved)
        }
        return (trainer, sampler, hooks)
    }

    /// A store call whose failure ends the sweep.
    private func stored<T>(_ body: () throws(StoreError) -> T) throws(RunStop) -> T {
        do { return try body() } catch { throw .store(error) }
    }
}
