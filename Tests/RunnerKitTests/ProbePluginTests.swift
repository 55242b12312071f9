import ConvLabKit
import Foundation
import RunStore
import Synchronization
import Testing
@testable import RunnerKit
import TestSupport

/// What the hooks of every `HookLog` probe saw, across the runs of a test (probes are made per run).
final class HookJournal: Sendable {
    let lines = Mutex<[String]>([])
    func add(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

/// A probe plugin as a user writes one: a lifecycle, a parameter, records through the recorder.
final class HookLog: Probe {
    let journal: HookJournal
    let scale: Double
    let failAtStep: Int?
    let nanAtStep: Int?
    private var steps: UInt64 = 0

    init(journal: HookJournal, scale: Double, failAtStep: Int?, nanAtStep: Int?) {
        self.journal = journal
        self.scale = scale
        self.failAtStep = failAtStep
        self.nanAtStep = nanAtStep
    }

    func runStarted(_ run: ProbeRun, recorder: ProbeRecorder) throws { journal.add("start \(run.totalSteps)") }
    func beforeStep(_ step: TrainingStep, recorder: ProbeRecorder) throws {
        journal.add("before \(step.step) \(step.loss == nil)")
        if step.step == failAtStep { throw ProbeError("boom at step \(step.step)") }
    }
    func afterStep(_ step: TrainingStep, recorder: ProbeRecorder) throws {
        steps += 1
        journal.add("after \(step.step)")
        recorder.metric("batch_loss_scaled", step.step == nanAtStep ? .nan : scale * (step.loss?.sum ?? 0) / Double(step.count))
    }
    func epochEnded(_ epoch: EpochSummary, recorder: ProbeRecorder) throws {
        journal.add("epoch \(epoch.epoch) \(epoch.metrics.contains { $0.name == "test_accuracy" })")
        recorder.event("hook_log", "epoch \(epoch.epoch) done")
    }
    func runEnded(_ run: ProbeRun, status: RunStatus, recorder: ProbeRecorder) throws { journal.add("end \(status.rawValue)") }
    func saveState() -> ProbeState { ProbeState(counters: ["hook_log_steps": steps]) }
}

@Suite("Probe plugins: the loop's hooks, strict parameters, records, failures")
struct ProbePluginTests {
    static func registry(_ journal: HookJournal) -> PluginRegistry {
        var registry = PluginRegistry.builtIn
        registry.register(Plugin(.probe, "hook_log", "logs every hook", parameters: [
            .init("scale", .number(minimum: 0, maximum: 10), default: .number(1), "factor on the batch loss"),
            .init("fail_at", .integer(minimum: 0), default: .optional, "throw before this step"),
            .init("nan_at", .integer(minimum: 0), default: .optional, "record NaN after this step"),
        ], factory: .probe { p in
            HookLog(journal: journal, scale: p.double("scale", default: 1), failAtStep: p.optionalInt("fail_at"), nanAtStep: p.optionalInt("nan_at"))
        }))
        return registry
    }

    func train(_ probe: [String: Any], journal: HookJournal, epochs: Int = 2) throws -> (RunOutcome, StoreReader) {
        let path = temporaryPath("store.sqlite")
        let plan = try SpecLoader.plan(text: smokeSpec { spec in
            spec["training"] = ["epochs": epochs, "batch_size": 32]      // 96 images: 3 steps an epoch
            var probes = spec["probes"] as? [String: Any] ?? [:]
            probes["hook_log"] = probe
            spec["probes"] = probes
        }, file: "t.json", registry: Self.registry(journal))
        let runner = ExperimentRunner(store: try RunStore(path: path), reporter: RecordingReporter(), stop: StopSignal())
        let outcome = try #require(try runner.execute(plan).first)
        return (outcome, try StoreReader(path: path))
    }

    @Test("the hooks run in lifecycle order, and what the probe records lands in the store at its steps")
    func lifecycle() throws {
        let journal = HookJournal()
        let (outcome, reader) = try train(["scale": 2], journal: journal)
        #expect(outcome.status == .completed)
        let epoch1 = ["before 0 true", "after 1", "before 1 true", "after 2", "before 2 true", "after 3", "epoch 1 true"]
        let epoch2 = ["before 3 true", "after 4", "before 4 true", "after 5", "before 5 true", "after 6", "epoch 2 true"]
        #expect(journal.all == ["start 6"] + epoch1 + epoch2 + ["end completed"])
        let rows = try reader.query("SELECT step, value FROM metrics WHERE name = 'batch_loss_scaled' ORDER BY step").rows
        #expect(rows.map { $0[0] } == (1...6).map { .integer(Int64($0)) })
        #expect(rows.allSatisfy { ($0[1].double ?? 0) > 0 })
        #expect(try reader.query("SELECT COUNT(*) FROM events WHERE kind = 'hook_log'").rows[0][0] == .integer(2))
        // The built-in loss probe (every 2 steps) beside it: each record is the mean over the
        // images of its own two steps (equal batches: the mean of the two batch means), to
        // rounding (1e-12 relative: one division and one addition apart).
        let batchMeans = rows.compactMap { $0[1].double }.map { $0 / 2 }
        let trainLoss = try reader.query("SELECT step, value FROM metrics WHERE name = 'train_loss' ORDER BY step").rows
        #expect(trainLoss.map { $0[0] } == [.integer(2), .integer(4), .integer(6)])
        for (k, row) in trainLoss.enumerated() {
            let expected = (batchMeans[2 * k] + batchMeans[2 * k + 1]) / 2
            #expect(abs((row[1].double ?? .nan) - expected) <= 1e-12 * expected, "train_loss at step \(2 * k + 2)")
        }
    }

    @Test("a probe plugin runs only where a spec names it, so registering one changes no spec")
    func onlyWhereNamed() throws {
        let journal = HookJournal()
        let withPlugin = try SpecLoader.plan(text: smokeSpec(), file: "t.json", registry: Self.registry(journal))
        let without = try SpecLoader.plan(text: smokeSpec(), file: "t.json")
        #expect(withPlugin.runs[0].specHash == without.runs[0].specHash)
        #expect(withPlugin.runs[0].probes.map(\.name) == ["loss", "grad_norms", "grad_check"])
    }

    @Test("a probe's parameters get the built-ins' strict checks: unknown keys with did-you-mean, types, ranges")
    func strictParameters() throws {
        let journal = HookJournal()
        func issues(_ probe: [String: Any]) -> [String] {
            let text = smokeSpec { spec in spec["probes"] = ["hook_log": probe] }
            do { _ = try SpecLoader.plan(text: text, file: "t.json", registry: Self.registry(journal)); return [] } catch {
                return error.issues.map { "\($0.path): \($0.message)" }
            }
        }
        #expect(issues(["scal": 2]).contains { $0.hasPrefix("probes.hook_log.scal") && $0.contains("did you mean \"scale\"") })
        #expect(issues(["scale": 11]).contains { $0.hasPrefix("probes.hook_log.scale") })
        #expect(issues(["scale": "big"]).contains { $0.hasPrefix("probes.hook_log.scale") })
        #expect(issues(["scale": 3]).isEmpty)
    }

    @Test("a probe that throws ends its run as failed, naming the probe, with what was recorded before kept")
    func throwingProbe() throws {
        let journal = HookJournal()
        let (outcome, reader) = try train(["fail_at": 4], journal: journal)
        #expect(outcome.status == .failed)
        #expect(outcome.error?.contains("the hook_log probe failed: boom at step 4") == true, "\(outcome.error ?? "")")
        #expect(journal.all.last == "end failed")
        #expect(try reader.query("SELECT COUNT(*) FROM metrics WHERE name = 'batch_loss_scaled'").rows[0][0] == .integer(4))
        #expect(try reader.query("SELECT status FROM runs").rows[0][0] == .text("failed"))
    }

    @Test("a NaN a probe records ends the run as diverged, naming the value; the finite values are kept")
    func nanRecord() throws {
        let journal = HookJournal()
        let (outcome, reader) = try train(["nan_at": 2], journal: journal)
        #expect(outcome.status == .diverged)
        #expect(outcome.error?.contains("batch_loss_scaled became NaN at step 2") == true, "\(outcome.error ?? "")")
        #expect(try reader.query("SELECT step FROM metrics WHERE name = 'batch_loss_scaled'").rows.map { $0[0] } == [.integer(1)])
        #expect(journal.all.last == "end diverged")
    }

    @Test("two probes that save a value under one name fail the run as it starts, with both named")
    func stateNameClash() throws {
        let journal = HookJournal()
        var registry = Self.registry(journal)
        registry.register(Plugin(.probe, "hook_log_twin", "saves the same name", factory: .probe { _ in
            HookLog(journal: journal, scale: 1, failAtStep: nil, nanAtStep: nil)
        }))
        let path = temporaryPath("store.sqlite")
        let plan = try SpecLoader.plan(text: smokeSpec { spec in
            spec["probes"] = ["hook_log": [:], "hook_log_twin": [:]]
        }, file: "t.json", registry: registry)
        let runner = ExperimentRunner(store: try RunStore(path: path), reporter: RecordingReporter(), stop: StopSignal())
        let outcome = try #require(try runner.execute(plan).first)
        #expect(outcome.status == .failed)
        #expect(outcome.error?.contains("hook_log") == true && outcome.error?.contains("\"hook_log_steps\"") == true, "\(outcome.error ?? "")")
        #expect(outcome.epochsDone == 0 && !journal.all.contains { $0.hasPrefix("after") }, "no step is trained first")
    }
}

/// A probe whose `runEnded` fails, journaling each call.
final class FailingEnd: Probe {
    let journal: HookJournal
    init(journal: HookJournal) { self.journal = journal }
    func runEnded(_ run: ProbeRun, status: RunStatus, recorder: ProbeRecorder) throws {
        journal.add("end \(status.rawValue)")
        throw ProbeError("cannot close")
    }
}

@Suite("runEnded is called once, however the run ends")
struct RunEndedOnceTests {
    @Test("a probe that fails in runEnded after the last epoch fails the run, and hears of the end once")
    func failingEndHeardOnce() throws {
        let journal = HookJournal()
        var registry = PluginRegistry.builtIn
        registry.register(Plugin(.probe, "failing_end", "throws in runEnded", factory: .probe { _ in FailingEnd(journal: journal) }))
        let plan = try SpecLoader.plan(text: smokeSpec { spec in spec["probes"] = ["failing_end": [String: Any]()] }, file: "t.json",
                                       registry: registry)
        let runner = ExperimentRunner(store: try RunStore(path: temporaryPath("store.sqlite")), reporter: RecordingReporter(), stop: StopSignal())
        let outcome = try #require(try runner.execute(plan).first)
        #expect(outcome.status == .failed)
        #expect(outcome.error == "the failing_end probe failed: cannot close", "\(outcome.error ?? "")")
        #expect(journal.all == ["end completed"])
    }
}
