import ConvLabKit
import Foundation
import RunStore
import TextKit

/// What `runner exec` would do with, or says about, each run of a sweep.
public enum SweepText {
    /// The action for a run as stored, before this process claims it.
    public enum Action: Equatable, Sendable {
        case start, resume(RunStatus), skipCompleted, skipLive(String), skipFailedBySpec, skipDiverged, skipPruned
    }

    /// Whether the run is claimed is `StoredRun.isClaimable`'s rule (the claim's SQL, held equal
    /// by a test); this only names why a run that is not claimable is skipped.
    public static func action(_ run: StoredRun, staleAfter: Double, now: Double = Date().timeIntervalSince1970) -> Action {
        if run.isClaimable(now: now, staleAfter: staleAfter) { return run.startedAt == nil ? .start : .resume(run.status) }
        switch run.status {
        case .completed: return .skipCompleted
        case .diverged: return .skipDiverged
        case .pruned: return .skipPruned
        case .failed: return .skipFailedBySpec
        case .queued, .interrupted, .running: return .skipLive(run.claimedBy ?? "another process")
        }
    }

    public static func describe(_ action: Action, _ run: StoredRun?) -> String {
        switch action {
        case .start: return "start"
        case .resume(let status):
            let was = status == .running ? "running in a process that is gone" : status.rawValue
            if let checkpoint = run?.latestCheckpoint {
                return "resume from epoch \(checkpoint.epoch) (step \(checkpoint.step); was \(was) at step \(run?.stepsDone ?? 0))"
            }
            return "resume (was \(was) at step \(run?.stepsDone ?? 0)): trains again from step 0"
        case .skipCompleted: return "skip: completed"
        case .skipLive(let claimant): return "skip: live in \(claimant)"
        case .skipFailedBySpec: return "skip: failed by its spec or data, not retried" + (run?.error.map { " (\($0))" } ?? "")
        case .skipDiverged: return "skip: diverged, not retried"
        case .skipPruned: return "skip: pruned by the search, not retried"
        }
    }

    static func name(_ run: RunPlan) -> String {
        "run \(run.index)" + (run.variant.label.isEmpty ? "" : " (\(run.variant.label))")
    }

    /// Why an earlier experiment of the same spec is not continued.
    public static func previous(_ id: Int64, untracked: Bool) -> String {
        untracked ? "was run as experiment \(id) by an older ConvLab, which did not track sweeps, so that experiment is not continued (its runs stay as they were)"
                  : "changed since experiment \(id) (its runs stay as they were)"
    }

    /// One line on which experiment this exec works on.
    static func opening(_ sweep: RunStore.Sweep, plan: ExperimentPlan, shard: SweepShard? = nil) -> String {
        let line = opening(sweep, plan: plan)
        guard let shard else { return line }
        return line + " (shard \(shard): runs \(sweep.runs.map { String($0.runIndex) }.joined(separator: ", ")) of \(plan.runs.count))"
    }

    static func opening(_ sweep: RunStore.Sweep, plan: ExperimentPlan) -> String {
        let file = plan.file
        if let old = sweep.freshBeside {
            return "--fresh: starting experiment \(sweep.experimentID); experiment \(old) of the same spec stays as it was"
        }
        if let old = sweep.changedFrom {
            return "\(file) " + previous(old, untracked: sweep.changedFromUntracked) + ": starting experiment \(sweep.experimentID)"
        }
        if sweep.created { return "starting experiment \(sweep.experimentID)" }
        var counts: [String: Int] = [:]
        for run in sweep.runs { counts[run.status.rawValue, default: 0] += 1 }
        let summary = RunStatus.allCases.compactMap { status in counts[status.rawValue].map { "\($0) \(status.rawValue)" } }.joined(separator: ", ")
        return "continuing experiment \(sweep.experimentID), which holds this spec: \(summary)"
    }

    static func resuming(_ run: RunPlan, _ before: StoredRun, staleAfter: Double) -> String {
        "\(name(run)): " + describe(.resume(before.status), before).replacingOccurrences(of: "resume", with: "resumed", options: .anchored)
    }

    static func skipping(_ run: RunPlan, _ current: StoredRun) -> String {
        let action = action(current, staleAfter: .infinity)
        if case .skipLive(let claimant) = action {
            return "\(name(run)): live in \(claimant), skipped; this process waits for it to end (and takes it over if that process dies)"
        }
        if action == .skipFailedBySpec {
            return "\(name(run)): failed because of its spec or data, not retried" + (current.error.map { ": \($0)" } ?? "")
                + " (fix the spec: an edited spec is a new experiment)"
        }
        return "\(name(run)): " + describe(action, current)
    }
}
