import ConvLabKit
import Foundation
import RunStore
import Testing
@testable import RunnerKit
import TestSupport

final class Box<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
}

/// Collects the sweep's messages.
final class SweepRecorder: ProgressReporter, @unchecked Sendable {
    let messages = Box<[String]>([])
    func runStarted(_ run: RunPlan, of total: Int, runID: Int64) {}
    func step(_ update: ProgressUpdate) {}
    func epochFinished(_ update: ProgressUpdate, metrics: [(name: String, value: Double)]) {}
    func runFinished(_ outcome: RunOutcome) {}
    func note(_ message: String) {}
    func sweepMessage(_ message: String) { messages.value.append(message) }
}

@Suite("The runner works a shared sweep")
struct SweepRunnerTests {
    @Test("a run taken over by another process (this one silent past the stale limit) stops without writing more, and the sweep waits for it")
    func takenOver() throws {
        let path = temporaryPath("store.sqlite")
        let plan = try SpecLoader.plan(text: smokeSpec { spec in
            spec["training"] = ["epochs": 1000, "batch_size": 16]
        }, file: "t.json")
        let reporter = SweepRecorder()
        let runner = ExperimentRunner(store: try RunStore(path: path), reporter: reporter, stop: StopSignal())
        runner.heartbeatInterval = 0.05
        runner.flushInterval = 0.05
        runner.pollInterval = 0.05
        let box = Box<ExperimentRunner?>(runner)
        let outcomes = Box<[RunOutcome]?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            outcomes.value = try? box.value?.execute(plan)
            // The thread lets go of the runner (and its store) before it signals, so nothing of
            // it is released by the thread's exit destructors.
            box.value = nil
            done.signal()
        }
        let reader = try StoreReader(path: path)
        func metrics() -> Double { (try? reader.query("SELECT COUNT(*) FROM metrics").rows.first?.first?.double) ?? -1 }
        var waited = 0
        while metrics() <= 0 && waited < 600 { Thread.sleep(forTimeInterval: 0.1); waited += 1 }
        #expect(metrics() > 0, "the run wrote nothing")
        // Another process claims it, as it would once this one's heartbeat is older than the limit.
        let intruder = try RunStore(path: path)
        #expect(try intruder.claimRun(1, staleAfter: 60, claimant: "other:1", now: Date().timeIntervalSince1970 + 1000))
        let atTakeover = metrics()
        waited = 0
        while !reporter.messages.value.contains(where: { $0.contains("taken over") }) && waited < 600 { Thread.sleep(forTimeInterval: 0.1); waited += 1 }
        #expect(reporter.messages.value.contains { $0.hasPrefix("run 1 was taken over by other:1 (this process was silent for longer than the stale limit of 60 s): stopped at step ") },
                "\(reporter.messages.value)")
        // Nothing was written after the claim: not a row, not the status.
        #expect(metrics() == atTakeover)
        #expect(try reader.query("SELECT status, claimed_by FROM runs").rows == [[.text("running"), .text("other:1")]])
        // The sweep's process waits for the run, and reports how it ended.
        #expect(try intruder.finish(run: 1, status: .completed, claimant: "other:1"))
        done.wait()
        let outcome = try #require(outcomes.value?.first)
        #expect(outcome.disposition == .takenOver(by: "other:1"))
        #expect(outcome.status == .completed)
        #expect(metrics() == atTakeover)
    }

    @Test("a run live in another process is skipped with a line saying so; the process trains the rest, waits for it, and reports how it ended")
    func liveElsewhere() throws {
        let path = temporaryPath("store.sqlite")
        let plan = try SpecLoader.plan(text: smokeSpec { $0["matrix"] = ["seeds": [1, 2]] }, file: "t.json")
        // A first exec stopped before anything started leaves both runs never started.
        let stopped = StopSignal()
        stopped.request(SIGINT)
        _ = try ExperimentRunner(store: try RunStore(path: path), reporter: RecordingReporter(), stop: stopped).execute(plan)
        let other = try RunStore(path: path)
        #expect(try other.claimRun(1, staleAfter: 60, claimant: "elsewhere:7"))
        let reporter = SweepRecorder()
        let runner = ExperimentRunner(store: try RunStore(path: path), reporter: reporter, stop: StopSignal())
        runner.pollInterval = 0.05
        let box = Box<ExperimentRunner?>(runner)
        let outcomes = Box<[RunOutcome]?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            outcomes.value = try? box.value?.execute(plan)
            // The thread lets go of the runner (and its store) before it signals, so nothing of
            // it is released by the thread's exit destructors.
            box.value = nil
            done.signal()
        }
        let reader = try StoreReader(path: path)
        var waited = 0
        while (try? reader.query("SELECT status FROM runs WHERE id = 2").rows.first?.first) != .text("completed") && waited < 600 {
            Thread.sleep(forTimeInterval: 0.1)
            waited += 1
        }
        #expect(reporter.messages.value.contains("run 1 (seed=1): live in elsewhere:7, skipped; this process waits for it to end (and takes it over if that process dies)"),
                "\(reporter.messages.value)")
        #expect(reporter.messages.value.first == "continuing experiment 1, which holds this spec: 1 running, 1 interrupted")
        #expect(try other.beat(run: 1, claimant: "elsewhere:7"))
        #expect(try other.finish(run: 1, status: .completed, claimant: "elsewhere:7"))
        done.wait()
        let result = try #require(outcomes.value)
        #expect(result.map(\.disposition) == [.skippedLive(claimant: "elsewhere:7"), .started])
        #expect(result.map(\.status) == [.completed, .completed])
        #expect(try reader.query("SELECT claimed_by FROM runs ORDER BY id").rows == [[.text("elsewhere:7")], [.text(RunStore.claimant)]])
    }

    @Test("the experiment hash is that of the resolved runs: equal for a reformatted spec, different for a changed value or matrix")
    func sweepHash() throws {
        let base = try SpecLoader.plan(text: smokeSpec(), file: "t.json")
        let reformatted = try SpecLoader.plan(text: smokeSpec().replacingOccurrences(of: "\n", with: "\n\n  "), file: "other.json")
        #expect(base.sweepHash == reformatted.sweepHash)
        #expect(base.sweepHash.count == 64)
        let changed = try SpecLoader.plan(text: smokeSpec { $0["optimizer"] = ["plugin": "sgd", "learning_rate": 0.2] }, file: "t.json")
        let matrix = try SpecLoader.plan(text: smokeSpec { $0["matrix"] = ["seeds": [3]] }, file: "t.json")
        let wider = try SpecLoader.plan(text: smokeSpec { $0["matrix"] = ["seeds": [3, 4]] }, file: "t.json")
        #expect(Set([base.sweepHash, changed.sweepHash, wider.sweepHash]).count == 3)
        #expect(matrix.sweepHash != wider.sweepHash)
    }

    @Test("which runs are started, resumed and skipped: every status, with and without a fresh heartbeat")
    func actions() {
        let now = 10_000.0
        func run(_ status: RunStatus, kind: FailureKind? = nil, started: Bool = true, heartbeat: Double? = nil, claimedBy: String? = "elsewhere:1") -> StoredRun {
            StoredRun(id: 1, uuid: "u", experimentID: 1, runIndex: 1, variant: "{}", variantLabel: "", specHash: "h", status: status,
                      failureKind: kind, heartbeatAt: heartbeat, claimedBy: claimedBy, epochsPlanned: 1, startedAt: started ? 1 : nil)
        }
        #expect(SweepText.action(run(.queued, started: false), staleAfter: 60, now: now) == .start)
        #expect(SweepText.action(run(.interrupted, started: false), staleAfter: 60, now: now) == .start)
        #expect(SweepText.action(run(.interrupted), staleAfter: 60, now: now) == .resume(.interrupted))
        #expect(SweepText.action(run(.failed, kind: .crash), staleAfter: 60, now: now) == .resume(.failed))
        #expect(SweepText.action(run(.failed, kind: .spec), staleAfter: 60, now: now) == .skipFailedBySpec)
        #expect(SweepText.action(run(.completed), staleAfter: 60, now: now) == .skipCompleted)
        #expect(SweepText.action(run(.diverged), staleAfter: 60, now: now) == .skipDiverged)
        #expect(SweepText.action(run(.running, heartbeat: now - 10), staleAfter: 60, now: now) == .skipLive("elsewhere:1"))
        #expect(SweepText.action(run(.running, heartbeat: now - 61), staleAfter: 60, now: now) == .resume(.running))
    }
}
