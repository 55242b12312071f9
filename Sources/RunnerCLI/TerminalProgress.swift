import ConvLabKit
import Foundation
import Reports
import RunnerKit

/// Progress on standard error: a live line redrawn in place on a terminal; plain lines every
/// ten seconds (and at every epoch) when the output is a log file or a pipe.
final class TerminalProgress: ProgressReporter {
    let quiet: Bool
    let live = Console.isTerminal(STDERR_FILENO)
    private var lastPlainLine = Date.distantPast
    private var lineShown = false

    init(quiet: Bool) { self.quiet = quiet }

    private func write(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }

    private func clearLine() {
        if live && lineShown { write("\r\u{1B}[2K"); lineShown = false }
    }

    func runStarted(_ run: RunPlan, of total: Int, runID: Int64) {
        guard !quiet else { return }
        clearLine()
        if let trial = run.variant.trial {
            let values = run.variant.label.drop { $0 != ":" }.dropFirst(2)
            write("trial \(trial)/\(total) (run \(run.index), id \(runID))\(values.isEmpty ? "" : ": \(String(values).terminalSafe)")\n")
        } else {
            write("run \(run.index)/\(total) (id \(runID))\(run.variant.label.isEmpty ? "" : ": \(run.variant.label.terminalSafe)")\n")
        }
    }

    func step(_ u: ProgressUpdate) {
        guard !quiet else { return }
        let text = String(format: "\(u.trial == nil ? "run" : "trial") %d/%d  epoch %d/%d  step %d/%d  loss %.4f  %.0f img/s  ETA %@",
                          u.runIndex, u.runCount, u.epoch, u.epochs, u.stepInEpoch, u.stepsPerEpoch, u.recentLoss,
                          u.imagesPerSecond, Numbers.duration(u.remaining))
        if live {
            write("\r\u{1B}[2K" + text)
            lineShown = true
        } else if Date().timeIntervalSince(lastPlainLine) >= 10 {
            write(text + "\n")
            lastPlainLine = Date()
        }
    }

    func epochFinished(_ u: ProgressUpdate, metrics: [(name: String, value: Double)]) {
        guard !quiet else { return }
        clearLine()
        let shown = metrics.map { "\($0.name.replacingOccurrences(of: "_epoch", with: "").terminalSafe) \($0.name == MetricName.imagesPerSecond.rawValue ? Numbers.integer($0.value) : Numbers.fixed($0.value))" }
        write("  epoch \(u.epoch)/\(u.epochs): " + shown.joined(separator: "  ") + "\n")
    }

    func runFinished(_ outcome: RunOutcome) {
        guard !quiet else { return }
        clearLine()
        write("  \(outcome.status.rawValue) in \(Numbers.duration(outcome.seconds))" + (outcome.error.map { ": \($0.terminalSafe)" } ?? "") + "\n")
    }

    func note(_ message: String) {
        guard !quiet else { return }
        clearLine()
        write("  \(message.terminalSafe)\n")
    }
}
