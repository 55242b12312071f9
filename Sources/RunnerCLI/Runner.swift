import ConvLabKit
import ArgumentParser
import ConvCore
import Foundation
import Reports

public struct RunnerCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "runner",
        abstract: "ConvLab: train convolutional networks from JSON experiment specs and query the results.",
        discussion: """
        Typical session:
          runner exec Experiments/lenet.json       train LeNet-5, max vs avg pooling
          runner report                            one row per run
          runner report --group-by model.pooling   compare the two groups
          runner report --run 1                    one run in detail
          runner serve                             watch runs train and compare them in a browser (127.0.0.1:8080)
          runner runs tag 1 baseline               tag, annotate (note) or delete (rm) runs
          runner export 1                          the run's weights as safetensors (PyTorch: safetensors.torch.load_file)
          runner slurm lenet --tasks 2 --submit    the sweep as a Slurm job array, its stores merged at the end (runner merge)

        Every run is recorded in one SQLite file: --store PATH, or $CONVLAB_STORE, or ./convlab.sqlite.

        Exit codes: 0 success, 1 a run failed or diverged, 2 bad input, 130/143 stopped by Ctrl-C/SIGTERM.
        """,
        version: "0.1.0",
        subcommands: [Exec.self, Validate.self, Report.self, ServeCommand.self, Runs.self, Export.self, Merge.self, Slurm.self, Plugins.self, Schema.self, Bench.self]
    )

    public init() {}

    /// Runs the command line with these plugins added to the built-in ones: a runner of your own
    /// is a package whose `main.swift` is this one line with its plugins.
    public static func main(plugins: [Plugin]) {
        LinkedPlugins.set(plugins)
        if BLASRuntime.cpuLacksBuildTarget {
            Console.error("error: this build of ConvLab uses AVX2/FMA, which this CPU lacks; rebuild with `CONVLAB_PORTABLE=1 swift build -c release`")
            Foundation.exit(2)
        }
        if let wanted = ProcessInfo.processInfo.environment["CONVLAB_KERNELS"],
           !KernelISA.allCases.contains(where: { $0.variableValue == wanted }) {
            Console.error("error: CONVLAB_KERNELS=\(wanted) is not an instruction set; use avx512, avx2 or generic (or unset it for the CPU's best)")
            Foundation.exit(2)
        }
        BLASBootstrap.restartWithFastKernelsIfNeeded()
        do {
            var command = try parseAsRoot(normalizedArguments(Array(CommandLine.arguments.dropFirst())))
            try command.run()
        } catch {
            // A command line that does not parse is bad input like any other: exit code 2.
            if exitCode(for: error) == .validationFailure {
                Console.error(fullMessage(for: error))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}

/// OpenBLAS reads its settings once, when it is loaded, so the process restarts itself once
/// with them set:
/// - OPENBLAS_NUM_THREADS=1: the engine runs one replica per core itself; OpenBLAS's own thread
///   pool would only spin beside it (it cost a report a third of its time).
/// - OPENBLAS_CORETYPE=Haswell where OpenBLAS 0.3.21 does not recognise a newer Xeon and falls
///   back to its SSE3 kernels, a third of the speed, on a CPU with AVX2 and FMA.
/// A value the user set is never changed.
enum BLASBootstrap {
    static func restartWithFastKernelsIfNeeded() {
        let environment = ProcessInfo.processInfo.environment
        guard environment["CONVLAB_BLAS_RESTARTED"] == nil else { return }
        var changed = false
        if environment["OPENBLAS_NUM_THREADS"] == nil {
            setenv("OPENBLAS_NUM_THREADS", "1", 1)
            changed = true
        }
        if environment["OPENBLAS_CORETYPE"] == nil, let coreType = BLASRuntime.suggestedCoreType {
            setenv("OPENBLAS_CORETYPE", coreType, 1)
            changed = true
        }
        guard changed else { return }
        setenv("CONVLAB_BLAS_RESTARTED", "1", 1)
        let arguments = CommandLine.arguments.map { strdup($0) } + [nil]
        execv("/proc/self/exe", arguments)
        // execv returns only on failure: carry on with OpenBLAS as it is.
    }
}

/// The store option shared by exec and report.
struct StoreOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("SQLite file the runs are recorded in (default: $CONVLAB_STORE, else ./convlab.sqlite).",
                                            valueName: "path"))
    var store: String?

    var path: String { store ?? ProcessInfo.processInfo.environment["CONVLAB_STORE"] ?? "convlab.sqlite" }
}

enum Console {
    /// One message on standard error, control characters escaped (names and messages come from
    /// specs and stores, and must not drive the terminal).
    static func error(_ message: String) {
        let safe = TerminalText.escaped(message, keepingNewlines: true)
        FileHandle.standardError.write(Data((safe.hasSuffix("\n") ? safe : safe + "\n").utf8))
    }

    static func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }

    /// The terminal's width (or $COLUMNS, or 120, when the terminal does not say); no limit when
    /// output is not a terminal, so a piped table keeps every cell whole.
    static var width: Int {
        guard isatty(STDOUT_FILENO) == 1 else { return Int.max }
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        if let columns = ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init), columns > 20 { return columns }
        return 120
    }
}
