import Foundation
import RunStore
import Testing
@testable import RunnerKit
import TestSupport

@Suite("What each run cost, and the lines it printed, kept in the store")
struct RunCostRecorderTests {
    @Test("a completed and a diverged run each get their wall time, CPU time, peak memory, load and images/s, and their log lines")
    func recordsCostAndLog() throws {
        let path = temporaryPath("store.sqlite")
        let plan = try SpecLoader.plan(text: smokeSpec { spec in
            spec["matrix"] = ["optimizer.learning_rate": [0.1, 1e30]]
        }, file: "t.json")
        let inner = RecordingReporter()
        let store = try RunStore(path: path)
        var failures: [StoreError] = []
        let recorder = RunCostRecorder(wrapping: inner, store: store, host: "test:1", onFailure: { failures.append($0) })
        let outcomes = try ExperimentRunner(store: store, reporter: recorder, stop: StopSignal()).execute(plan)
        #expect(outcomes.map(\.status.rawValue) == ["completed", "diverged"])
        #expect(inner.started == [1, 2] && inner.outcomes.count == 2 && failures.isEmpty)    // everything reaches the wrapped reporter
        let reader = try StoreReader(path: path)
        let costs = try reader.query("""
            SELECT run_id, wall_seconds, cpu_user_seconds, cpu_system_seconds, peak_rss_bytes, peak_rss_scope,
                   load_average_start, load_average_end, images_per_second, host FROM run_costs ORDER BY run_id
            """).rows
        #expect(costs.count == 2)
        for (row, outcome) in zip(costs, outcomes) {
            #expect(row[0].double.map { Int64($0) } == outcome.runID)
            #expect((row[1].double ?? 0) > 0 && (row[2].double ?? -1) >= 0 && (row[3].double ?? -1) >= 0)
            // The process holds at least a megabyte; the peak is this run's where Linux allows the reset.
            #expect((row[4].double ?? 0) > 1e6 && [SQLValue.text("run"), .text("process")].contains(row[5]))
            #expect(row[6].double != nil && row[7].double != nil && row[9] == .text("test:1"))
        }
        #expect(costs[0][8].double == outcomes[0].imagesPerSecond && outcomes[0].imagesPerSecond != nil)
        let log = try reader.query("SELECT run_id, level, line FROM run_log ORDER BY run_id, time, rowid").rows
        let lines = { (run: Int64) in log.filter { $0[0].double.map { Int64($0) } == run }.map { ($0[1].string ?? "", $0[2].string ?? "") } }
        let first = lines(outcomes[0].runID), second = lines(outcomes[1].runID)
        #expect(first.first?.1.hasPrefix("run 1/2 (id \(outcomes[0].runID)): optimizer.learning_rate=0.1") == true)
        #expect(first.contains { $0.1.hasPrefix("loading synthetic data set") })
        #expect(first.last?.0 == "info" && first.last?.1 == "completed after 2 epochs")
        #expect(second.last?.0 == "error" && second.last?.1.hasPrefix("diverged after 0 epochs: ") == true
                && second.last?.1.contains("lower optimizer.learning_rate") == true, "\(second)")
    }

    @Test("the peak resident memory is reset at a run's start, so a later, smaller run does not inherit an earlier peak")
    func peakIsPerRun() throws {
        guard ProcessProbe.resetPeakResidentMemory() else { return }     // not Linux, or not allowed: the scope says "process"
        /// 200 MB touched, then freed (an allocation that large is its own mapping, given back at once).
        func bigPeak() -> Int64? {
            let big = [UInt8](repeating: 1, count: 200_000_000)
            return withExtendedLifetime(big) { ProcessProbe.peakResidentBytes(scope: "run").bytes }
        }
        let before = try #require(bigPeak())
        #expect(before > 200_000_000)
        #expect(ProcessProbe.resetPeakResidentMemory())
        let after = try #require(ProcessProbe.peakResidentBytes(scope: "run").bytes)
        #expect(after < before)
    }
}
