import Foundation
import RunStore
#if canImport(Glibc)
import Glibc
#endif

/// A progress reporter around another that measures what each run trained in this process cost
/// — wall time, CPU user and system time, peak resident memory, the load average at its start
/// and end, images/s — and keeps the lines it printed (notes, messages, how it ended), then
/// stores both when the run ends (`RunStore.recordCost`). Everything else goes on to `inner`.
public final class RunCostRecorder: ProgressReporter {
    let inner: any ProgressReporter
    let store: RunStore
    let host: String
    /// Called when the cost cannot be stored; the run's own records are not affected.
    let onFailure: (StoreError) -> Void

    private struct Start {
        var runID: Int64, wall: Double, user: Double, system: Double, load: Double?, peakScope: String
    }
    private var started: Start?
    private var lines: [RunLogLine] = []

    public init(wrapping inner: any ProgressReporter, store: RunStore, host: String = RunStore.claimant,
                onFailure: @escaping (StoreError) -> Void = { _ in }) {
        self.inner = inner; self.store = store; self.host = host; self.onFailure = onFailure
    }

    public func runStarted(_ run: RunPlan, of total: Int, runID: Int64) {
        let usage = ProcessProbe.cpuSeconds()
        started = Start(runID: runID, wall: ProcessProbe.monotonicSeconds(), user: usage.user, system: usage.system,
                        load: ProcessProbe.loadAverage(), peakScope: ProcessProbe.resetPeakResidentMemory() ? "run" : "process")
        lines = [RunLogLine(time: Date().timeIntervalSince1970, level: .info,
                            line: (run.variant.trial.map { "trial \($0)/\(total) (run \(run.index), id \(runID))" } ?? "run \(run.index)/\(total) (id \(runID))")
                                + "\(run.variant.label.isEmpty ? "" : ": \(run.variant.label)"), by \(host)")]
        inner.runStarted(run, of: total, runID: runID)
    }

    public func step(_ update: ProgressUpdate) { inner.step(update) }

    public func epochFinished(_ update: ProgressUpdate, metrics: [(name: String, value: Double)]) {
        inner.epochFinished(update, metrics: metrics)
    }

    public func runFinished(_ outcome: RunOutcome) {
        inner.runFinished(outcome)
        guard let start = started, start.runID == outcome.runID else { return }
        log(outcome.status == .completed || outcome.status == .pruned ? .info : .error,
            "\(outcome.status.rawValue) after \(outcome.epochsDone) epochs" + (outcome.error.map { ": \($0)" } ?? ""))
        started = nil
        // A run another process took over is that process's to record.
        if case .takenOver = outcome.disposition { return }
        let usage = ProcessProbe.cpuSeconds()
        let peak = ProcessProbe.peakResidentBytes(scope: start.peakScope)
        let cost = RunCost(wallSeconds: ProcessProbe.monotonicSeconds() - start.wall, cpuUserSeconds: usage.user - start.user,
                           cpuSystemSeconds: usage.system - start.system, peakRSSBytes: peak.bytes, peakRSSScope: peak.scope,
                           loadAverageStart: start.load, loadAverageEnd: ProcessProbe.loadAverage(),
                           imagesPerSecond: outcome.imagesPerSecond, host: host)
        do { try store.recordCost(run: outcome.runID, cost, log: lines) } catch { onFailure(error) }
        lines = []
    }

    public func note(_ message: String) {
        log(message.lowercased().hasPrefix("warning") ? .warning : .info, message)
        inner.note(message)
    }

    public func sweepMessage(_ message: String) {
        log(message.lowercased().hasPrefix("error") ? .error : .warning, message)
        inner.sweepMessage(message)
    }

    private func log(_ level: RunLogLine.Level, _ line: String) {
        guard started != nil else { return }
        lines.append(RunLogLine(time: Date().timeIntervalSince1970, level: level, line: line))
    }
}

/// What the operating system says about this process and machine.
public enum ProcessProbe {
    public static func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    /// User and system CPU seconds of the whole process (every thread) so far: getrusage(2).
    public static func cpuSeconds() -> (user: Double, system: Double) {
        var usage = rusage()
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return (.nan, .nan) }
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return (seconds(usage.ru_utime), seconds(usage.ru_stime))
    }

    /// The 1-minute load average: getloadavg(3).
    public static func loadAverage() -> Double? {
        var load = [0.0]
        return getloadavg(&load, 1) == 1 ? load[0] : nil
    }

    /// Resets the process's peak resident memory (Linux: "5" to /proc/self/clear_refs), so that
    /// VmHWM then measures one run. False where the system does not allow it.
    public static func resetPeakResidentMemory() -> Bool {
        guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? handle.close() }
        do { try handle.write(contentsOf: Data("5".utf8)) } catch { return false }
        return true
    }

    /// The peak resident memory: VmHWM of /proc/self/status (since the reset, scope "run"),
    /// or getrusage's ru_maxrss (since the process started, scope "process").
    public static func peakResidentBytes(scope: String) -> (bytes: Int64?, scope: String?) {
        if scope == "run", let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
           let kilobytes = Int64(line.dropFirst(6).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "") {
            return (kilobytes * 1024, "run")
        }
        var usage = rusage()
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return (nil, nil) }
        return (Int64(usage.ru_maxrss) * 1024, "process")
    }
}
