import ArgumentParser
import ConvCore
import Foundation
import Reports
import RunnerKit
import RunStore

struct Exec: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train every run of one or more experiment specs and record them in the store.",
        discussion: """
        SPEC is a path (Experiments/lenet.json), the same path in any letter case, or a bare name (lenet) looked up in Experiments/.

        The spec is validated first: every problem is listed with its file, line, column and JSON path, and nothing is trained. A spec with a "matrix" expands into several runs, trained one after the other.

        Ctrl-C (or SIGTERM) ends the current run as "interrupted"; everything logged up to then stays in the store. A second Ctrl-C exits at once. A run whose loss becomes NaN is marked "diverged" and the next run starts.

        Examples:
          runner exec lenet
          runner exec Experiments/smoke.json --store /tmp/try.sqlite
          runner exec activations --dry-run
        """)

    @Argument(help: ArgumentHelp("Experiment spec files or names.", valueName: "spec"))
    var specs: [String]

    @OptionGroup var store: StoreOption

    @Flag(name: .long, help: "Validate and print the plan (runs, network, parameters) without training.")
    var dryRun = false

    @Flag(name: .shortAndLong, help: "Print only the final summary.")
    var quiet = false

    /// How often a live run refreshes its heartbeat (seconds); hidden: tests shorten it.
    @Option(name: .customLong("heartbeat-interval"), help: .hidden)
    var heartbeatInterval: Double = 5

    func validate() throws {
        guard heartbeatInterval.isFinite, (0.01...3600).contains(heartbeatInterval) else {
            throw ValidationError("--heartbeat-interval must be between 0.01 and 3600 seconds")
        }
    }

    func run() throws {
        let plans = try loadPlans(specs)
        for plan in plans { printPlan(plan, storePath: store.path) }
        if dryRun { return }

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
        let reporter = TerminalProgress(quiet: quiet)
        var outcomes: [RunOutcome] = []
        for plan in plans where stop.requested == nil {
            let runner = ExperimentRunner(store: runStore, reporter: reporter, stop: stop)
            runner.heartbeatInterval = heartbeatInterval
            do { outcomes += try runner.execute(plan) } catch {
                Console.error("error: could not write to the store: \(error)")
                throw ExitCode(1)
            }
        }
        print(ExecSummary.table(outcomes).renderText(width: Console.width), terminator: "")
        print("store: \(store.path.terminalSafe) — see `runner report --store \(store.path.terminalSafe)`")
        if let signal = stop.requested { throw ExitCode(128 + signal) }
        if outcomes.contains(where: { $0.status != .completed }) { throw ExitCode(1) }
    }

    func printPlan(_ plan: ExperimentPlan, storePath: String) {
        guard !quiet else { return }
        let runs = plan.runs
        print("\(plan.name.terminalSafe) (\(plan.file.terminalSafe)): \(runs.count) run\(runs.count == 1 ? "" : "s") → \(storePath.terminalSafe)")
        for run in runs where runs.count > 1 {
            print("  run \(run.index): \(run.variant.label.terminalSafe)")
        }
        guard let first = runs.first else { return }
        print(NetworkSummary.table(first).renderText(width: Console.width), terminator: "")
        let architectures = Set(runs.map { $0.summary.map { "\($0.kind) \($0.detail) \($0.outputShape)" }.joined(separator: "|") })
        if architectures.count > 1 { print("(the runs differ in architecture; the summary shows run 1)") }
        print("data: \(first.datasetName.terminalSafe), input \(first.inputShape), \(first.classes) classes; "
              + "\(first.epochs) epoch\(first.epochs == 1 ? "" : "s") of batch \(first.batchSize), \(first.replicas) replica\(first.replicas == 1 ? "" : "s")")
        print("")
    }
}

/// Parses and validates specs, printing every problem and exiting with 2 when there are any.
func loadPlans(_ arguments: [String]) throws -> [ExperimentPlan] {
    var plans: [ExperimentPlan] = []
    var failed = false
    for argument in arguments {
        do {
            let file = try SpecLocator.locate(argument)
            plans.append(try SpecLoader.load(file: file))
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
                  [String(o.runID), o.label.isEmpty ? "–" : o.label, o.status.rawValue, String(o.epochsDone), Numbers.fixed(o.finalTrainLoss),
                   Numbers.fixed(o.finalTestAccuracy), Numbers.fixed(o.bestTestAccuracy), Numbers.integer(o.imagesPerSecond),
                   Numbers.duration(o.seconds), String(format: "%.2f%%", o.storeFraction * 100)]
              },
              alignments: [.right, .left, .left, .right, .right, .right, .right, .right, .right, .right])
    }
}
