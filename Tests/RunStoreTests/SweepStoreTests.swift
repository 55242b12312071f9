import Foundation
import Testing
import GRDB
@testable import RunStore
import TestSupport

/// A process that has exited and been reaped: its pid no longer exists.
func deadPid() throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/true")
    try process.run()
    process.waitUntilExit()
    return process.processIdentifier
}

func sweepRuns(_ count: Int, hash: String = "h") -> [NewRun] {
    (1...count).map { index in
        NewRun(experimentID: 0, runIndex: index, variant: "{\"seed\":\(index)}", variantLabel: "seed=\(index)", specJSON: "{}",
               specHash: "\(hash)\(index)", seed: UInt64(index), epochsPlanned: 2, provenance: provenance, params: [("seed", "\(index)", Double(index))])
    }
}

@Suite("Sweeps in the store: one experiment per spec, claims of dead processes, writes only by the claimant")
struct SweepStoreTests {
    @Test("a run claimed by a process of this host that no longer exists is claimable at once; a live one, or another host's, is not")
    func deadLocalClaimant() throws {
        let (path, _, ids) = try queuedStore(runs: 3)
        let store = try RunStore(path: path)
        let host = RunStore.hostName
        let now = Date().timeIntervalSince1970
        let dead = try deadPid()
        let identity = try #require(ClaimantIdentity.current)
        #expect(RunStore.claimantIsGone("\(host):\(dead)", identity: identity))
        #expect(!RunStore.claimantIsGone("\(host):\(getpid())", identity: identity))
        #expect(!RunStore.claimantIsGone("elsewhere:\(dead)", identity: identity))
        for malformed in ["", host, "\(host):", "\(host):0", "\(host):-1", "\(host):abc", "\(host):99999999999"] {
            #expect(!RunStore.claimantIsGone(malformed, identity: identity), "\(malformed)")
        }
        // Three runs claimed a moment ago (fresh heartbeats): by a dead local process, by this
        // (live) process, by a process of another host.
        for (id, claimant) in zip(ids, ["\(host):\(dead)", "\(host):\(getpid())", "elsewhere:\(dead)"]) {
            #expect(try store.claimRun(id, staleAfter: 60, claimant: claimant, now: now))
        }
        let runs = try ids.map { try #require(try store.storedRun($0)) }
        #expect(runs.map { $0.isLive(now: now + 1, staleAfter: 60) } == [false, true, true])
        #expect(runs.map { $0.isClaimable(now: now + 1, staleAfter: 60) } == [true, false, false])
        #expect(try ids.map { try store.claimRun($0, staleAfter: 60, claimant: "next", now: now + 1) } == [true, false, false])
        #expect(try store.storedRun(ids[0])?.claimedBy == "next")
    }

    @Test("threads each with their own store opening the same sweep at once end up on ONE experiment, its runs created once")
    func openSweepIsAtomic() throws {
        let path = temporaryStorePath()
        try RunStore(path: path).close()
        let found = Locked<[(Int64, Bool)]>([])
        let errors = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 6) { _ in
            do {
                let store = try RunStore(path: path)
                let sweep = try store.openSweep(name: "s", specPath: "s.json", specJSON: "{}", specHash: "abc", runs: sweepRuns(4), fresh: false)
                found.mutate { $0.append((sweep.experimentID, sweep.created)) }
            } catch {
                errors.mutate { $0.append("\(error)") }
            }
        }
        #expect(errors.value == [])
        #expect(Set(found.value.map(\.0)).count == 1)
        #expect(found.value.filter(\.1).count == 1)
        let reader = try StoreReader(path: path)
        #expect(try reader.query("SELECT COUNT(*) FROM experiments").rows[0][0] == .integer(1))
        #expect(try reader.query("SELECT COUNT(*) FROM runs").rows[0][0] == .integer(4))
        #expect(try reader.query("SELECT COUNT(*) FROM params").rows[0][0] == .integer(4))
    }

    @Test("openSweep: the same hash continues, --fresh adds one beside it, a changed spec of the same path says which experiment it replaces")
    func openSweepRules() throws {
        let store = try RunStore(path: temporaryStorePath())
        let first = try store.openSweep(name: "s", specPath: "s.json", specJSON: "{}", specHash: "one", runs: sweepRuns(2), fresh: false)
        #expect(first.created && first.changedFrom == nil && first.freshBeside == nil)
        let again = try store.openSweep(name: "s", specPath: "s.json", specJSON: "{}", specHash: "one", runs: sweepRuns(2), fresh: false)
        #expect(!again.created && again.experimentID == first.experimentID && again.runs.map(\.id) == first.runs.map(\.id))
        // A run deleted since (runs rm) is queued again when the sweep is opened; the others stay.
        try store.finish(run: first.runs[0].id, status: .completed)
        _ = try store.deleteRuns([first.runs[1].id], staleAfter: 60)
        let refilled = try store.openSweep(name: "s", specPath: "s.json", specJSON: "{}", specHash: "one", runs: sweepRuns(2), fresh: false)
        #expect(refilled.runs.map(\.runIndex) == [1, 2] && refilled.runs.map(\.status) == [.completed, .queued])
        #expect(refilled.runs[0].id == first.runs[0].id && refilled.runs[1].uuid != first.runs[1].uuid)
        let fresh = try store.openSweep(name: "s", specPath: "s.json", specJSON: "{}", specHash: "one", runs: sweepRuns(2), fresh: true)
        #expect(fresh.created && fresh.freshBeside == first.experimentID)
        // Continuing now finds the newest experiment of the hash.
        #expect(try store.openSweep(name: "s", specPath: "s.json", specJSON: "{}", specHash: "one", runs: sweepRuns(2), fresh: false).experimentID
                == fresh.experimentID)
        #expect(try StoreReader(path: store.path).query("SELECT COUNT(*) FROM runs").rows[0][0] == .integer(4))
        let edited = try store.openSweep(name: "s", specPath: "s.json", specJSON: "{}", specHash: "two", runs: sweepRuns(3, hash: "x"), fresh: false)
        #expect(edited.created && edited.changedFrom == fresh.experimentID && edited.runs.count == 3)
        // An experiment recorded before schema 3 has no hash: it is not continued, and that is said.
        let untracked = try store.createExperiment(name: "u", specPath: "u.json", specJSON: "{}")
        let after = try store.openSweep(name: "u", specPath: "u.json", specJSON: "{}", specHash: "four", runs: sweepRuns(1), fresh: false)
        #expect(after.created && after.changedFrom == untracked && after.changedFromUntracked)
        // Another spec (other path and name) is just new.
        let other = try store.openSweep(name: "t", specPath: "t.json", specJSON: "{}", specHash: "three", runs: sweepRuns(1), fresh: false)
        #expect(other.created && other.changedFrom == nil)
    }

    @Test("once another process has claimed a run, its former claimant can neither append nor finish it, and nothing changes")
    func writesOnlyByClaimant() throws {
        let (path, _, ids) = try queuedStore(runs: 1)
        let store = try RunStore(path: path)
        #expect(try store.claimRun(ids[0], staleAfter: 60, claimant: "a", now: 100))
        var batch = RecordBatch()
        batch.metrics = [.init(name: "train_loss", step: 1, epoch: 0.1, value: 2, wallTime: 1)]
        #expect(try store.append(batch, run: ids[0], epochsDone: 0, stepsDone: 1, claimant: "a"))
        #expect(try store.claimRun(ids[0], staleAfter: 60, claimant: "b", now: Date().timeIntervalSince1970 + 1000))   // "a" went silent
        batch.metrics[0].step = 2
        #expect(try !store.append(batch, run: ids[0], epochsDone: 0, stepsDone: 2, claimant: "a"))
        #expect(try !store.finish(run: ids[0], status: .completed, claimant: "a"))
        let reader = try StoreReader(path: path)
        #expect(try reader.query("SELECT step FROM metrics").rows == [[.integer(1)]])
        #expect(try reader.query("SELECT status, claimed_by, steps_done FROM runs").rows == [[.text("running"), .text("b"), .integer(1)]])
        #expect(try store.finish(run: ids[0], status: .completed, claimant: "b"))
    }

    @Test("claim tells what the run was before; discardRecords keeps what a checkpoint at step S covers, or nothing without one")
    func claimAndDiscard() throws {
        let (path, _, ids) = try queuedStore(runs: 1)
        let store = try RunStore(path: path)
        guard case .claimed(let before) = try store.claim(run: ids[0], staleAfter: 60, claimant: "a") else { Issue.record("not claimed"); return }
        #expect(before.status == .queued && before.startedAt == nil)
        guard case .refused(let current) = try store.claim(run: ids[0], staleAfter: 60, claimant: "b") else { Issue.record("claimed twice"); return }
        #expect(current.claimedBy == "a" && current.startedAt != nil)
        #expect(try store.claim(run: 999, staleAfter: 60) == .unknownRun)
        var batch = RecordBatch()
        for step in [0, 5, 10, 15] {
            batch.metrics.append(.init(name: "train_loss", step: step, epoch: 0, value: 1, wallTime: 0))
            batch.gradientNorms.append(.init(step: step, layer: 0, layerKind: "conv", tensor: "weight", l2: 1, maxAbs: 1))
            batch.gradientChecks.append(.init(step: step, layer: 0, layerKind: "conv", tensor: "weight", entry: 0, analytic: 1, numeric: 1,
                                              absoluteError: 0, relativeError: 0, outcome: "passed"))
        }
        batch.events = [.init(time: 1, kind: "started", message: "m")]
        #expect(try store.append(batch, run: ids[0], epochsDone: 2, stepsDone: 15, claimant: "a"))
        let reader = try StoreReader(path: path)
        try store.discardRecords(run: ids[0], after: 10, epochsDone: 1, claimant: "a")
        #expect(try reader.query("SELECT step FROM metrics ORDER BY step").rows.map { $0[0] } == [.integer(0), .integer(5), .integer(10)])
        #expect(try reader.query("SELECT step FROM grad_norms ORDER BY step").rows.map { $0[0] } == [.integer(0), .integer(5), .integer(10)])
        #expect(try reader.query("SELECT step FROM grad_checks ORDER BY step").rows.map { $0[0] } == [.integer(0), .integer(5)])
        #expect(try reader.query("SELECT epochs_done, steps_done FROM runs").rows == [[.integer(1), .integer(10)]])
        try store.discardRecords(run: ids[0], after: nil, claimant: "a")
        for table in ["metrics", "grad_norms", "grad_checks"] {
            #expect(try reader.query("SELECT COUNT(*) FROM \(table)").rows[0][0] == .integer(0), "\(table)")
        }
        #expect(try reader.query("SELECT COUNT(*) FROM events").rows[0][0] == .integer(1))
        #expect(try reader.query("SELECT epochs_done, steps_done FROM runs").rows == [[.integer(0), .integer(0)]])
    }

    @Test("markNotStarted changes only a queued run; previewSweep reads without changing the store")
    func notStartedAndPreview() throws {
        let (path, _, ids) = try queuedStore(runs: 2, specHash: "p")
        let store = try RunStore(path: path)
        #expect(try store.claimRun(ids[0], staleAfter: 60, claimant: "a"))
        for id in ids { try store.markNotStarted(run: id, reason: "not started") }
        #expect(try store.storedRun(ids[0])?.status == .running)
        #expect(try store.storedRun(ids[1])?.status == .interrupted && store.storedRun(ids[1])?.startedAt == nil)
        try store.checkpointAndClose()
        let bytes = FileManager.default.contents(atPath: path)
        let preview = try RunStore.previewSweep(storePath: path, name: "sweep", specPath: "sweep.json", specHash: "p")
        #expect(preview.found?.1.map(\.status) == [.running, .interrupted])
        let changed = try RunStore.previewSweep(storePath: path, name: "sweep", specPath: "other.json", specHash: "q")
        #expect(changed.found == nil && changed.changedFrom?.id == 1 && changed.changedFrom?.untracked == false && changed.newest == 1)
        #expect(try RunStore.previewSweep(storePath: path + ".none", name: "x", specPath: "x", specHash: "p").newest == 0)
        #expect(!FileManager.default.fileExists(atPath: path + ".none"))
        #expect(FileManager.default.contents(atPath: path) == bytes)
    }
}
