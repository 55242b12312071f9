import ConvLabKit
import Foundation
import Testing
import GRDB
@testable import RunStore
import TestSupport

/// A store with one experiment (spec hash "spec") of `runs` queued runs.
func queuedStore(runs: Int, specHash: String = "spec") throws -> (path: String, experiment: Int64, ids: [Int64]) {
    let path = temporaryStorePath()
    let store = try RunStore(path: path)
    let experiment = try store.createExperiment(name: "sweep", specPath: "sweep.json", specJSON: "{}", specHash: specHash)
    var ids: [Int64] = []
    for index in 1...runs {
        ids.append(try store.createRun(NewRun(experimentID: experiment, runIndex: index, variant: "{}", variantLabel: "", specJSON: "{}",
                                              specHash: "run\(index)", seed: 1, epochsPlanned: 3, provenance: provenance, params: [])))
    }
    try store.close()
    return (path, experiment, ids)
}

@Suite("Claiming runs: one UPDATE … RETURNING, so no run is ever trained twice")
struct RunClaimTests {
    @Test("threads each with its own store on one file, all claiming every run: each run is claimed exactly once")
    func eachRunClaimedOnce() throws {
        let (path, _, ids) = try queuedStore(runs: 12)
        let claims = Locked<[Int64: [Int]]>([:])
        let errors = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            do {
                let store = try RunStore(path: path)
                // Each worker goes through the runs in its own order, to collide as much as possible.
                for id in worker % 2 == 0 ? ids : ids.reversed() where try store.claimRun(id, staleAfter: 60, claimant: "w\(worker)") {
                    claims.mutate { $0[id, default: []].append(worker) }
                }
            } catch {
                errors.mutate { $0.append("\(error)") }
            }
        }
        #expect(errors.value == [])
        #expect(Set(claims.value.keys) == Set(ids))
        #expect(claims.value.values.allSatisfy { $0.count == 1 }, "\(claims.value)")
        // The store says who has each run, and it is the worker that was told it had it.
        let reader = try StoreReader(path: path)
        for (id, workers) in claims.value {
            #expect(try reader.query("SELECT status, claimed_by FROM runs WHERE id = ?", arguments: [.integer(id)]).rows
                    == [[.text("running"), .text("w\(workers[0])")]])
        }
    }

    @Test("workers taking the next claimable run until none is left share the sweep without overlap")
    func claimNextShares() throws {
        let (path, experiment, ids) = try queuedStore(runs: 9)
        let taken = Locked<[Int64]>([])
        DispatchQueue.concurrentPerform(iterations: 3) { worker in
            guard let store = try? RunStore(path: path) else { return }
            while let id = try? store.claimNextRun(experiment: experiment, staleAfter: 60, claimant: "w\(worker)") {
                taken.mutate { $0.append(id) }
            }
        }
        #expect(taken.value.sorted() == ids)
    }

    @Test("a running run is claimed again only once its heartbeat is older than the stale limit")
    func staleRunsOnly() throws {
        let (path, _, ids) = try queuedStore(runs: 1)
        let store = try RunStore(path: path)
        let start = 1_000_000.0
        #expect(try store.claimRun(ids[0], staleAfter: 60, claimant: "first", now: start))
        // Fresh: 10 s and 60 s after the last heartbeat, nobody else gets it.
        #expect(try !store.claimRun(ids[0], staleAfter: 60, claimant: "second", now: start + 10))
        #expect(try !store.claimRun(ids[0], staleAfter: 60, claimant: "second", now: start + 60))
        // Stale: the process that had it died.
        #expect(try store.claimRun(ids[0], staleAfter: 60, claimant: "second", now: start + 61))
        #expect(try store.storedRun(ids[0])?.claimedBy == "second")
        #expect(try store.storedRun(ids[0])?.heartbeatAt == start + 61)
    }

    @Test("a process whose run was claimed by another after going silent learns it from its next beat, which changes nothing")
    func takenOver() throws {
        let (path, _, ids) = try queuedStore(runs: 1)
        let store = try RunStore(path: path)
        #expect(try store.claimRun(ids[0], staleAfter: 60, claimant: "a", now: 100))
        #expect(try store.beat(run: ids[0], claimant: "a", now: 150))
        #expect(try store.claimRun(ids[0], staleAfter: 60, claimant: "b", now: 211))
        #expect(try !store.beat(run: ids[0], claimant: "a", now: 212))
        #expect(try store.storedRun(ids[0])?.heartbeatAt == 211)
        #expect(try store.beat(run: ids[0], claimant: "b", now: 213))
        try store.finish(run: ids[0], status: .completed)
        #expect(try !store.beat(run: ids[0], claimant: "b", now: 300))
    }

    @Test("which runs can be claimed: the SQL and StoredRun.isClaimable agree, over random states")
    func claimRule() throws {
        var seeded = SplitMix(seed: 0xC1A1)
        let (path, _, ids) = try queuedStore(runs: 40)
        let store = try RunStore(path: path)
        let now = 5_000.0
        var expected: [Int64: Bool] = [:]
        for id in ids {
            let status = RunStatus.allCases[Int(seeded.next() % UInt64(RunStatus.allCases.count))]
            let kind: String? = status == .failed ? (seeded.next() % 2 == 0 ? "spec" : "crash") : nil
            let heartbeat: Double? = seeded.next() % 5 == 0 ? nil : now - Double(seeded.next() % 120)
            _ = try store.write { db in
                try db.execute(sql: "UPDATE runs SET status = ?, failure_kind = ?, heartbeat_at = ? WHERE id = ?",
                               arguments: [status.rawValue, kind, heartbeat, id])
            }
            let run = try #require(try store.storedRun(id))
            let rule = switch status {
            case .queued, .interrupted: true
            case .failed: kind == "crash"
            case .running: heartbeat.map { $0 < now - 60 } ?? true
            case .completed, .diverged, .pruned: false
            }
            #expect(run.isClaimable(now: now, staleAfter: 60) == rule, "\(status) \(kind ?? "-") \(heartbeat ?? -1)")
            expected[id] = rule
        }
        for id in ids {
            #expect(try store.claimRun(id, staleAfter: 60, now: now) == expected[id], "run \(id)")
        }
    }

    @Test("a claim clears the error of a crashed run; a failed run is a spec failure unless it crashed")
    func failureKinds() throws {
        let (path, _, ids) = try queuedStore(runs: 2)
        let store = try RunStore(path: path)
        try store.finish(run: ids[0], status: .failed, error: "the training set is empty")
        try store.finish(run: ids[1], status: .failed, error: "the node went away", failureKind: .crash)
        #expect(try store.storedRun(ids[0])?.failureKind == .spec)
        #expect(try !store.claimRun(ids[0], staleAfter: 60))
        #expect(try store.claimRun(ids[1], staleAfter: 60))
        let reader = try StoreReader(path: path)
        #expect(try reader.query("SELECT status, error, failure_kind, finished_at FROM runs WHERE id = ?", arguments: [.integer(ids[1])]).rows
                == [[.text("running"), .null, .null, .null]])
        try store.finish(run: ids[1], status: .completed)
        #expect(try store.storedRun(ids[1])?.failureKind == nil)
    }

    @Test("findResumable gives the newest experiment of a spec hash, its runs in matrix order with their latest checkpoints")
    func findResumable() throws {
        let (path, first, _) = try queuedStore(runs: 2, specHash: "abc")
        let store = try RunStore(path: path)
        let second = try store.createExperiment(name: "sweep", specPath: nil, specJSON: "{}", specHash: "abc")
        let other = try store.createExperiment(name: "other", specPath: nil, specJSON: "{}", specHash: "zzz")
        var made: [Int64] = []
        for index in [2, 1] {
            made.append(try store.createRun(NewRun(experimentID: second, runIndex: index, variant: "{\"k\":\(index)}", variantLabel: "k=\(index)",
                                                   specJSON: "{}", specHash: "r\(index)", seed: 1, epochsPlanned: 3, provenance: provenance, params: [])))
        }
        _ = try store.createRun(NewRun(experimentID: other, runIndex: 1, variant: "{}", variantLabel: "", specJSON: "{}", specHash: "o",
                                       seed: 1, epochsPlanned: 1, provenance: provenance, params: []))
        for epoch in [1, 2] {
            try store.addCheckpoint(CheckpointRecord(runID: made[0], epoch: epoch, step: epoch * 10, path: "epoch-000\(epoch).safetensors",
                                                     bytes: 100, sha256: String(repeating: "b", count: 64), createdAt: Double(epoch)))
        }
        let found = try #require(try store.findResumable(experimentSpecHash: "abc"))
        #expect(found.experimentID == second && found.experimentID != first)
        #expect(found.runs.map(\.runIndex) == [1, 2])
        #expect(found.runs.map(\.variantLabel) == ["k=1", "k=2"])
        #expect(found.runs[0].latestCheckpoint == nil)
        #expect(found.runs[1].latestCheckpoint?.epoch == 2 && found.runs[1].latestCheckpoint?.step == 20)
        #expect(found.runs.allSatisfy { isVersion4UUID($0.uuid) && $0.status == .queued })
        #expect(try store.findResumable(experimentSpecHash: "never") == nil)
    }
}

@Suite("Closing a store after reads")
struct CloseAfterReadsTests {
    @Test("reads through the store (claims, lookups) do not keep the WAL from being folded into the file on close")
    func walFoldedAfterReads() throws {
        let (path, experiment, ids) = try queuedStore(runs: 2)
        let store = try RunStore(path: path)
        _ = try store.findResumable(experimentSpecHash: "spec")
        _ = try store.storedRun(ids[0])
        _ = try store.claimNextRun(experiment: experiment, staleAfter: 60)
        _ = try store.resolveRun("1")
        try store.close()
        #expect((FileManager.default.contents(atPath: path + "-wal") ?? Data()).isEmpty)
    }
}
