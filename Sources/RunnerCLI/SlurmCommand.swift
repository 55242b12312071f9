import ArgumentParser
import ConvLabKit
import Foundation
import Reports
import RunnerKit
import RunStore

struct Slurm: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write (and with --submit, submit) the Slurm job array that runs a sweep on a cluster.",
        discussion: """
        Prints an sbatch script for a job array of N tasks. Task i runs

          runner exec SPEC --shard i/N --store DIR/shard-i.sqlite

        which trains the runs at positions p (from 0, in the spec's matrix order) with p mod N = i, so the N tasks split the sweep with nothing left out or done twice, each into a store of its own. A second job, submitted with --dependency=afterok on the array, then runs

          runner merge DIR/NAME.sqlite DIR/shard-0.sqlite … DIR/shard-(N-1).sqlite

        and the merged store holds the whole sweep as one experiment: `runner report --store DIR/NAME.sqlite --group-by …`. The script is commented with the commands to submit, watch, rerun a task and merge by hand.

        SQLite must not be shared over NFS: its locking is unreliable there. That is why each task writes a store of its own and nothing else; only the merge job writes the merged store. DIR may be on a shared file system (each file has one writer), as long as every node sees it at the same path.

        The spec is validated here, before anything is submitted. The paths of the runner, the spec and DIR are written into the script as absolute paths, so every node must see them (build ConvLab on a shared file system, or install it at the same path on every node). Each task gets --cpus-per-task CPUs (default: the spec's training.replicas, which ConvLab trains on one thread each).

        With --submit, the script is written to DIR/NAME.sbatch, `sbatch --parsable` submits it and then the merge job, and the two job ids are printed.

        Examples:
          runner slurm lenet --tasks 2                                  # print the script
          runner slurm Experiments/activations.json --tasks 8 --partition cpu --time 2:00:00 --submit
          runner slurm lenet --tasks 2 > lenet.sbatch && sbatch lenet.sbatch   # the array alone; merge by hand
        """)

    @Argument(help: ArgumentHelp("Experiment spec file or name.", valueName: "spec"))
    var spec: String

    /// Only to say that plugins belong in the spec: the tasks run `runner exec SPEC` alone.
    @OptionGroup var plugins: PluginOptions

    @Option(help: ArgumentHelp("Array tasks (shards of the sweep); at most the number of runs.", valueName: "N"))
    var tasks: Int

    @Option(help: ArgumentHelp("Slurm partition(s) to submit to (default: the cluster's).", valueName: "P"))
    var partition: String?

    @Option(help: ArgumentHelp("Time limit per task and for the merge, in Slurm's form: minutes, H:M:S or D-H:M:S.", valueName: "T"))
    var time: String?

    @Option(help: ArgumentHelp("CPUs per task (default: the spec's largest training.replicas).", valueName: "C"))
    var cpusPerTask: Int?

    @Option(help: ArgumentHelp("Folder of the shard stores, the merged store, the script and the logs (default: ./slurm-NAME).", valueName: "DIR"))
    var storeDir: String?

    @Flag(help: "Submit the array and the merge job with sbatch, and print their job ids.")
    var submit = false

    func validate() throws {
        guard tasks >= 1 else { throw ValidationError("--tasks must be at least 1, not \(tasks)") }
        if let cpusPerTask, !(1...4096).contains(cpusPerTask) { throw ValidationError("--cpus-per-task must be from 1 to 4096, not \(cpusPerTask)") }
        if let partition, let problem = SlurmScript.partitionProblem(partition) { throw ValidationError(problem) }
        if let time, let problem = SlurmScript.timeProblem(time) { throw ValidationError(problem) }
        if !plugins.paths.isEmpty {
            throw ValidationError("--plugin is not passed on to the tasks; list the plugin libraries in the spec's \"plugins\" (relative to the spec file) so every task loads them")
        }
    }

    func run() throws {
        guard let plan = try loadPlans([spec], registry: plugins.registry()).first else { throw ExitCode(2) }
        let cwd = FileManager.default.currentDirectoryPath
        func absolute(_ path: String) -> String {
            URL(fileURLWithPath: path.hasPrefix("/") ? path : (cwd as NSString).appendingPathComponent(path)).standardizedFileURL.path
        }
        // A search is divided by trials: a task with no trial would have nothing to do.
        if let search = plan.search, tasks > search.trials {
            throw ValidationError("--tasks \(tasks) is more than the \(search.trials) trials of \(plan.file): each task takes the trials t with (t − 1) mod \(tasks) = its id, so tasks \(search.trials) to \(tasks - 1) would have nothing to do; use --tasks \(search.trials) or fewer")
        }
        let script: SlurmScript
        do {
            script = try SlurmScript(name: plan.name, runner: Self.executablePath(), spec: absolute(plan.file),
                                     storeDirectory: absolute(storeDir ?? "slurm-\(plan.name)"), tasks: tasks, runCount: plan.runs.count,
                                     cpusPerTask: cpusPerTask ?? plan.runs.map(\.training.replicas).max() ?? 1, partition: partition, time: time)
        } catch {
            throw ValidationError(error.description)
        }
        guard submit else {
            print(script.text, terminator: "")
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: script.storeDirectory, withIntermediateDirectories: true)
            try OutputFile.write(script.text, to: script.scriptFile)
        } catch {
            Console.error("error: \(script.storeDirectory): cannot write the job script: \(error)")
            throw ExitCode(2)
        }
        let array = try Self.sbatch(["--parsable", script.scriptFile])
        print("submitted the array job \(array) (\(tasks) task\(tasks == 1 ? "" : "s"), script \(script.scriptFile))")
        let merge = try Self.sbatch(script.mergeSubmission(after: array))
        print("submitted the merge job \(merge): starts when every task of \(array) succeeded, and writes \(script.mergedStore)")
        print("watch: squeue -j \(array),\(merge)   then: runner report --store \(script.mergedStore)")
    }

    /// This executable's absolute path, as the script must name it on every node.
    static func executablePath() -> String {
        if let resolved = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return resolved }
        return URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.resolvingSymlinksInPath().path
    }

    /// Runs `sbatch` with the arguments; returns the job id it printed (`--parsable`: "id" or "id;cluster").
    static func sbatch(_ arguments: [String]) throws -> String {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .map { "\($0)/sbatch" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let path else {
            Console.error("error: sbatch is not on PATH: --submit needs Slurm's client commands (on a login node of the cluster); without --submit, runner slurm prints the script")
            throw ExitCode(1)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            Console.error("error: \(path) could not be started: \(error.localizedDescription)")
            throw ExitCode(1)
        }
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let id = output.split(whereSeparator: \.isNewline).last.map { String($0.split(separator: ";").first ?? "") } ?? ""
        guard process.terminationStatus == 0, !id.isEmpty, id.allSatisfy(\.isNumber) else {
            Console.error("error: sbatch \(arguments.joined(separator: " ")) failed (exit \(process.terminationStatus)): "
                          + (errors + output).trimmingCharacters(in: .whitespacesAndNewlines))
            throw ExitCode(1)
        }
        return id
    }
}
