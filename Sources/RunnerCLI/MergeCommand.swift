import ArgumentParser
import ConvLabKit
import Foundation
import Reports
import RunStore

struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Merge stores (the shards of a sweep, stores from several machines) into one.",
        discussion: """
        Copies every experiment and run of the inputs into OUT, with their parameters, metrics, gradient norms, gradient checks, events, data-file hashes, tags, notes and checkpoints — the checkpoint files too, from IN.artifacts/<run uuid>/ to OUT.artifacts/<run uuid>/, each checked against the SHA-256 its store recorded. OUT is created if it does not exist; an existing OUT keeps what it holds.

        Runs are known by their UUID; ids are local to a store and are given anew. A run already in OUT (or met earlier in the inputs) is replaced only by a more complete copy: a completed run beats any other, then more epochs done wins, then more steps done, then a run that ended (diverged or failed) beats one that did not; on a tie the copy met first stays. Tags and notes of every copy are kept. So merging the same inputs again changes nothing, and the shards of `runner exec --shard` (whose runs have the same UUID in every store) come back as ONE experiment: `runner report --group-by …` compares across them.

        An input experiment joins the OUT experiment that holds one of its runs, or else one of the same spec that has none of its runs yet (another shard of the sweep); otherwise it is added.

        Into an existing OUT the merge is one SQLite transaction: if anything fails — an input that is missing, not a store, written by a newer ConvLab, a checkpoint file missing or changed — every row of OUT is left as it was, and so it is if the merge is killed. A new OUT is built in a folder .OUT.merging-<random> beside it and moved into place when complete (its checkpoint files first, then the store): on failure, or if killed, there is no OUT. The next merge into the same OUT removes the folder a killed merge left (a running merge's folder stays: it holds a lock on it); checkpoint files a killed merge had already moved into OUT.artifacts/ are referenced by nothing, and the next merge writes over them. An input whose pages are damaged (bytes overwritten, the file cut short) is refused before anything is written. An input that a runner exec is writing meanwhile is read as it was at one moment (one read transaction); merge again when the run is done. Inputs are only read. OUT may not be one of the inputs (also through a symlink or a hard link), and no input may be given twice. Stores written before store schema 3 (runs without UUIDs) are refused; --upgrade-inputs upgrades them in place first (it gives their runs UUIDs, once).

        Never let two machines write one SQLite file over NFS: its locking is not reliable there. Give each machine (each Slurm task) a store of its own, and merge them.

        Examples:
          runner merge all.sqlite shard-0.sqlite shard-1.sqlite shard-2.sqlite
          runner merge all.sqlite laptop.sqlite          # again later: adds only what is new or more complete
          runner report --store all.sqlite --group-by model.pooling
        """)

    @Argument(help: ArgumentHelp("The store to merge into (created if missing).", valueName: "out.sqlite"))
    var output: String

    @Argument(help: ArgumentHelp("The stores to merge from; only read.", valueName: "in.sqlite"))
    var inputs: [String] = []

    @Flag(name: .long, help: "Upgrade inputs from before store schema 3 (runs without UUIDs) in place before merging them.")
    var upgradeInputs = false

    @Flag(name: .shortAndLong, help: "Print only the summary.")
    var quiet = false

    func validate() throws {
        guard !inputs.isEmpty else {
            throw ValidationError("name one or more stores to merge into \(output): runner merge OUT.sqlite IN.sqlite…")
        }
    }

    func run() throws {
        let clock = ContinuousClock()
        let started = clock.now
        let quiet = quiet
        let summary: MergeSummary
        do {
            summary = try RunStore.merge(into: output, from: inputs, upgradeOlderInputs: upgradeInputs) { message in
                if !quiet { Console.error(message) }
            }
        } catch {
            Console.error("error: \(error)")
            throw ExitCode(2)
        }
        let elapsed = clock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        print("merged \(inputs.count) store\(inputs.count == 1 ? "" : "s") into \(output.terminalSafe) in \(String(format: "%.1f", seconds)) s: "
              + "\(summary.runsAdded) run\(summary.runsAdded == 1 ? "" : "s") added, \(summary.runsReplaced) replaced by a more complete copy, "
              + "\(summary.runsKept) already there; \(summary.experimentsAdded) experiment\(summary.experimentsAdded == 1 ? "" : "s") added; "
              + "\(summary.rowsCopied) rows and \(summary.checkpointFilesCopied) checkpoint file\(summary.checkpointFilesCopied == 1 ? "" : "s") copied")
        for name in summary.twins {
            Console.error("note: experiment \"\(name)\" was added beside another experiment of the same spec whose run indices it shares "
                          + "(a store of the whole sweep merged with shard stores, or a --fresh run): their runs are distinct runs, and "
                          + "`runner report --group-by` counts both; `runner runs rm` removes the ones you do not want")
        }
        print("see `runner report --store \(output.terminalSafe)`")
    }
}
