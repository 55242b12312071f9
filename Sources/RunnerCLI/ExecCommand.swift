import ConvLabKit
import ArgumentParser
import ConvCore
import Foundation
import Reports
import RunnerKit
import RunStore
import TextKit

struct Exec: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train every run of one or more experiment specs and record them in the store.",
        discussion: """
        SPEC is a path (Experiments/lenet.json), the same path in any letter case, or a bare name (lenet) looked up in Experiments/.

        The spec is validated first: every problem is listed with its file, line, column and JSON path, and nothing is trained. A spec with a "matrix" expands into several runs, trained one after the other. A spec with a "search" has one run per trial (and seed); a trial's values are drawn when a process claims it, from what the store holds of the other trials, and its pruner may stop it after any epoch ("pruned", a normal end).

        Ctrl-C (or SIGTERM) ends the current run as "interrupted"; everything logged up to then stays in the store. A second Ctrl-C exits at once. A run whose loss becomes NaN is marked "diverged" and the next run starts.

        Running a spec again on a store that holds it continues that experiment: completed runs are skipped; queued, interrupted and crashed runs, and runs of a process that died, are trained (again from step 0); a run that failed because of its spec or data, or diverged, is not retried. Several `runner exec` of one spec on one store share its runs: each run is claimed before it trains, and each process ends when every run is done. An edited spec is a new experiment; --fresh starts one anyway.

        Examples:
          runner exec lenet
          runner exec Experiments/smoke.json --store /tmp/try.sqlite
          runner exec activations --dry-run
          runner exec lenet & runner exec lenet      # two workers, one sweep
          runner exec lenet --shard 0/2 --store a.sqlite   # on one machine …
          runner exec lenet --shard 1/2 --store b.sqlite   # … and on another; then `runner merge all.sqlite a.sqlite b.sqlite`

        --shard I/N trains only the runs at positions p (counted from 0 in matrix order) with p mod N = I (of a search, the trials t with (t − 1) mod N = I, each store's sampler seeing only its own trials), so N shards split the sweep between them with nothing left out or done twice. A shard's store holds the experiment and only that shard's runs; running the shard again on its store resumes it like a whole sweep. A shard's runs have the same UUIDs in every store, so `runner merge` puts the shards back together as one experiment. A shard with no runs (I ≥ the number of runs) says so and exits 0 without touching the store. `runner slurm` writes the Slurm job array that does all of this.
        """)

    @Argument(help: ArgumentHelp("Experiment spec files or names.", valueName: "spec"))
    var specs: [String]

    @OptionGroup var store: StoreOption

    @OptionGroup var plugins: PluginOptions

    @Flag(name: .long, help: "Validate and print the plan (runs, network, parameters) without training.")
    var dryRun = false

    @Flag(name: .shortAndLong, help: "Print only the final summary.")
    var quiet = false

    @Flag(name: .long, help: "Start a new experiment even if the store already holds this spec.")
    var fresh = false

    @Option(help: ArgumentHelp("A running run silent for longer than this is taken to be dead, and trained here.", valueName: "seconds"))
    var staleAfter: Double = 60

    @Option(help: ArgumentHelp("Train only shard I of N: the runs at positions p (from 0) with p mod N = I. One spec only.", valueName: "I/N"))
    var shard: String?

    /// How often a live run refreshes its heartbeat (seconds); hidden: tests shorten it.
    @Option(name: .customLong("heartbeat-interval"), help: .hidden)
    var heartbeatInterval: Double = 5

    func validate() throws {
        guard heartbeatInterval.isFinite, (0.01...3600).contains(heartbeatInterval) else {
            throw ValidationError("--heartbeat-interval must be between 0.01 and 3600 seconds")
        }
        guard staleAfter.isFinite, (1...31_536_000).contains(staleAfter), staleAfter > heartbeatInterval else {
            throw ValidationError("--stale-after must be a number of seconds from 1 to 31536000 (a year), and longer than --heartbeat-interval, not \(staleAfter)")
        }
        if shard != nil {
            _ = try parsedShard()
            guard specs.count == 1 else {
                throw ValidationError("--shard takes exactly one spec (given \(specs.count)): shard positions are counted within one spec's runs; give each spec its own shards")
            }
            guard !fresh else {
                throw ValidationError("--shard cannot be combined with --fresh: a shard's runs are named by the spec in every store; to run the sweep again from scratch, give the shards new stores")
            }
        }
    }

    func parsedShard() throws -> SweepShard? {
        guard let shard else { return nil }
        do { return try SweepShard(parsing: shard) } catch { throw ValidationError(error.description) }
    }

    func run() throws {
        let plans = try loadPlans(specs, registry: plugins.registry())
        let shard = try parsedShard()
        if let shard, let plan = plans.first, shard.runs(of: plan).isEmpty {
            print("shard \(shard) of \(plan.file.terminalSafe) has no runs: the spec expands to \(plan.runs.count) run\(plan.runs.count == 1 ? "" : "s"), "
                  + "and shard I of \(shard.count) takes the positions p (from 0) with p mod \(shard.count) = I. Nothing to do; the store was not touched.")
            return
        }
        for plan in plans { printPlan(plan, storePath: store.path, shard: shard) }
        if dryRun {
            for plan in plans { try printSweepPreview(plan, shard: shard) }
            return
        }

        let runStore: RunStore
        do { runStore = try RunStore(path: store.path) } catch {
            Console.error("error: \(error)")
            throw ExitCode(2)
        }
        let stop = StopSignal()
        let signals = SignalHandling(stop: stop)
        defer { _ = signals }
        // Closed on every way out, so the WAL is folded into the store's file (best effort: what
        // the WAL holds is durable either way).
        defer { try? runStore.close() }
        let reporter = RunCostRecorder(wrapping: SweepReporter(TerminalProgress(quiet: quiet)), store: runStore,
                                       onFailure: { Console.error("warning: could not record the run's cost: \($0)") })
        var outcomes: [RunOutcome] = []
        for plan in plans where stop.requested == nil {
            let runner = ExperimentRunner(store: runStore, reporter: reporter, stop: stop)
            runner.heartbeatInterval = heartbeatInterval
            runner.staleAfter = staleAfter
            runner.fresh = fresh
            runner.shard = shard
            do { outcomes += try runner.execute(plan) } catch where error.kind == .cannotResume {
                Console.error("error: \(error)")
                throw ExitCode(2)
            } catch {
                Console.error("error: could not write to the store: \(error)")
                throw ExitCode(1)
            }
        }
        print(ExecSummary.table(outcomes).renderText(width: Console.width), terminator: "")
        print("store: \(store.path.terminalSafe) — see `runner report --store \(store.path.terminalSafe)`")
        if let signal = stop.requested { throw ExitCode(128 + signal) }
        // The sweep's result, whoever trained its runs: 0 only when every one is completed.
        if outcomes.contains(where: { !$0.endedNormally }) { throw ExitCode(1) }
    }

    /// What exec would do with each run, read from the store without changing it.
    func printSweepPreview(_ plan: ExperimentPlan, shard: SweepShard?) throws {
        let planned = shard?.runs(of: plan) ?? plan.runs
        let wanted = Set(planned.map(\.index))
        let preview: (found: (Int64, [StoredRun])?, changedFrom: (id: Int64, untracked: Bool)?, newest: Int64)
        do {
            preview = try RunStore.previewSweep(storePath: store.path, name: plan.name, specPath: plan.file, specHash: plan.sweepHash)
        } catch {
            Console.error("error: \(error)")
            throw ExitCode(2)
        }
        let file = plan.file.terminalSafe
        var actions: [String] = planned.map { _ in SweepText.describe(.start, nil) }
        // A search's trials drawn already show their values, as the store has them.
        var labels = planned.map(\.variant.label)
        if let (id, all) = preview.found, !fresh, case let runs = all.filter({ wanted.contains($0.runIndex) }),
           runs.map(\.runIndex) == planned.map(\.index) {
            print("would continue experiment \(id), which holds this spec:")
            actions = runs.map { SweepText.describe(SweepText.action($0, staleAfter: staleAfter), $0) }
            if plan.search != nil { labels = runs.map(\.variantLabel) }
        } else if let (id, _) = preview.found {
            print("--fresh: would start experiment \(preview.newest + 1); experiment \(id) of the same spec stays as it was")
        } else if let old = preview.changedFrom {
            print("\(file) " + SweepText.previous(old.id, untracked: old.untracked) + ": would start experiment \(preview.newest + 1)")
        } else {
            print("would start experiment \(preview.newest + 1)")
        }
        for (run, (label, action)) in zip(planned, zip(labels, actions)) {
            print("  run \(run.index)\(label.isEmpty ? "" : " (\(label))"): \(action)".terminalSafe)
        }
    }

    func printPlan(_ plan: ExperimentPlan, storePath: String, shard: SweepShard? = nil) {
        guard !quiet else { return }
        let runs = plan.runs
        print("\(plan.name.terminalSafe) (\(plan.file.terminalSafe)): \(runs.count) run\(runs.count == 1 ? "" : "s") → \(storePath.terminalSafe)")
        let mine = Set((shard?.runs(of: plan) ?? runs).map(\.index))
        if let shard {
            print("shard \(shard): runs \(runs.filter { mine.contains($0.index) }.map { String($0.index) }.joined(separator: ", ")); the others belong to other shards")
        }
        if let search = plan.search {
            print("search: \(search.summary.terminalSafe); each trial's values are drawn when a process claims it")
            for dimension in search.space.dimensions {
                print("  \(dimension.key.terminalSafe): \(SearchPlan.text(of: dimension.domain).terminalSafe)")
            }
        }
        for run in runs where runs.count > 1 && mine.contains(run.index) && plan.search == nil {
            print("  run \(run.index): \(run.variant.label.terminalSafe)")
        }
        guard let first = runs.first else { return }
        print(NetworkSummary.table(first).renderText(width: Console.width), terminator: "")
        let architectures = Set(runs.map { $0.summary.map { "\($0.kind) \($0.detail) \($0.outputShape)" }.joined(separator: "|") })
        if architectures.count > 1 { print("(the runs differ in architecture; the summary shows run 1)") }
        print("data: \(first.datasetName.terminalSafe), input \(first.inputShape), \(first.classes) classes; "
              + "\(first.training.epochs) epoch\(first.training.epochs == 1 ? "" : "s") of batch \(first.training.batchSize), \(first.training.replicas) replica\(first.training.replicas == 1 ? "" : "s")")
        print("")
    }
}

/// Parses and validates specs, printing every problem and exiting with 2 when there are any.
func loadPlans(_ arguments: [String], registry: PluginRegistry) throws -> [ExperimentPlan] {
    var plans: [ExperimentPlan] = []
    var failed = false
    for argument in arguments {
        do {
            let file = try SpecLocator.locate(argument)
            plans.append(try SpecLoader.load(file: file, registry: registry))
        } catch {
            Console.error(error.description)
            failed = true
        }
    }
    if failed {
        Console.error("(nothing was run; fix the spec and try again — `runner plugins` lists every name and parameter)")
        throw ExitCode(2)
    }
    return plans
}

/// Turns SIGINT/SIGTERM into a stop request; a second one exits at once.
final class SignalHandling {
    private var sources: [any DispatchSourceSignal] = []

    init(stop: StopSignal) {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if stop.requested != nil {
                    Console.error("\nstopping now")
                    _exit(128 + number)
                }
                stop.request(number)
                Console.error("\n\(Provenance.signalName(number)): finishing the current step and saving; press Ctrl-C again to quit at once")
            }
            source.resume()
            sources.append(source)
        }
    }
}

enum NetworkSummary {
    static func table(_ run: RunPlan) -> Table {
        var rows = run.summary.map { layer in
            [String(layer.index), layer.kind, layer.detail, layer.outputShape.description,
             layer.parameterCount == 0 ? "" : String(layer.parameterCount),
             layer.forwardFLOPsPerSample == 0 ? "" : String(layer.forwardFLOPsPerSample)]
        }
        rows.append(["", "total", "", "", String(run.parameterCount), String(run.summary.reduce(0) { $0 + $1.forwardFLOPsPerSample })])
        return Table(columns: ["#", "layer", "configuration", "output", "params", "FLOPs/image"], rows: rows,
                     alignments: [.right, .left, .left, .left, .right, .right])
    }
}

enum ExecSummary {
    static func table(_ outcomes: [RunOutcome]) -> Table {
        Table(columns: ["run", "variant", "status", "epochs", "train loss", "test acc", "best acc", "images/s", "time", "store"],
              rows: outcomes.map { o in
                  let trainedHere = o.disposition == .started || o.disposition.isResumed
                  return [String(o.runID), o.label.isEmpty ? "–" : o.label, status(o), String(o.epochsDone), Numbers.fixed(o.finalTrainLoss),
                          Numbers.fixed(o.finalTestAccuracy), Numbers.fixed(o.bestTestAccuracy), Numbers.integer(o.imagesPerSecond),
                          trainedHere ? Numbers.duration(o.seconds) : "–", trainedHere ? String(format: "%.2f%%", o.storeFraction * 100) : "–"]
              },
              alignments: [.right, .left, .left, .right, .right, .right, .right, .right, .right, .right])
    }

    /// The run's status, and what this process did with it when it did not simply train it.
    static func status(_ o: RunOutcome) -> String {
        switch o.disposition {
        case .started: o.status.rawValue
        case .resumed: "\(o.status.rawValue) (resumed)"
        case .skipped: "skipped: \(o.status.rawValue)"
        case .skippedLive(let claimant): "skipped: live in \(claimant)" + (o.status == .running ? "" : " → \(o.status.rawValue)")
        case .takenOver(let by): "taken over by \(by)" + (o.status == .running ? "" : " → \(o.status.rawValue)")
        case .notStarted: "\(o.status.rawValue) (not started)"
        }
    }
}

extension RunDisposition {
    var isResumed: Bool { if case .resumed = self { true } else { false } }
}

/// The terminal's progress, plus what happens to the sweep (experiment continued or started,
/// runs skipped, resumed or taken over), which is shown even with --quiet.
final class SweepReporter: ProgressReporter {
    let progress: TerminalProgress
    init(_ progress: TerminalProgress) { self.progress = progress }
    func runStarted(_ run: RunPlan, of total: Int, runID: Int64) { progress.runStarted(run, of: total, runID: runID) }
    func step(_ update: ProgressUpdate) { progress.step(update) }
    func epochFinished(_ update: ProgressUpdate, metrics: [(name: String, value: Double)]) { progress.epochFinished(update, metrics: metrics) }
    func runFinished(_ outcome: RunOutcome) { progress.runFinished(outcome) }
    func note(_ message: String) { progress.note(message) }
    func sweepMessage(_ message: String) {
        // Clears a live progress line first, so the message starts at the left.
        if Console.isTerminal(STDERR_FILENO) { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
        Console.error(message)
    }
}
