import Foundation
import Testing
import GRDB
@testable import RunStore
import TestSupport

/// A process that keeps running until the test kills it (and reaps it).
func sleepingProcess() throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sleep")
    process.arguments = ["600"]
    try process.run()
    return process
}

/// Whether a run claimed `now` with this claimant and identity is claimable by another process:
/// asked of StoredRun.isClaimable and of the store's SQL (by claiming), at `now + 1` and, once
/// the heartbeat is stale, at `now + 61`. The two must always agree.
func claimability(claimant: String, identity: ClaimantIdentity?) throws -> (atOnce: Bool, onceStale: Bool) {
    let (path, _, ids) = try queuedStore(runs: 2)
    let store = try RunStore(path: path)
    let now = Date().timeIntervalSince1970
    for id in ids { #expect(try store.claimRun(id, staleAfter: 60, claimant: claimant, identity: identity, now: now)) }
    let stored = try #require(try store.storedRun(ids[0]))
    #expect(stored.claimedBy == claimant && stored.claimantIdentity == identity)
    let atOnce = stored.isClaimable(now: now + 1, staleAfter: 60)
    #expect(try store.claimRun(ids[0], staleAfter: 60, claimant: "next", now: now + 1) == atOnce, "the SQL and isClaimable disagree")
    let onceStale = stored.isClaimable(now: now + 61, staleAfter: 60)
    #expect(try store.claimRun(ids[1], staleAfter: 60, claimant: "next", now: now + 61) == onceStale, "the SQL and isClaimable disagree")
    return (atOnce, onceStale)
}

@Suite("Who holds a claim: host name, boot id, pid namespace and start time, so a pid is judged only where it means something")
struct ClaimantIdentityTests {
    let host = RunStore.hostName

    @Test("this process's identity is read from /proc: a boot id, a pid namespace, and its start time as /proc/self/stat has it")
    func currentIdentity() throws {
        let identity = try #require(ClaimantIdentity.current)
        #expect(identity.bootID.count == 36 && identity.bootID.split(separator: "-").count == 5, "\(identity.bootID)")
        #expect(identity.pidNamespace.hasPrefix("pid:["), "\(identity.pidNamespace)")
        #expect(ClaimantIdentity.state(of: getpid()) == .started(ticks: identity.startTicks))
    }

    @Test("the start time is field 22 of a stat line, counted from the last ')' however odd the command name")
    func parsesStatLines() {
        let tail = "S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 987654 20 21 22\n"
        for comm in ["runner", "a b", "x) S 1 2 (y", "))", "(", ""] {
            #expect(ClaimantIdentity.startTicks(statLine: "4242 (\(comm)) " + tail) == 987_654, "\(comm)")
        }
        for bad in ["", "4242 runner S 1 2", "4242 (runner) S 1 2 3", "4242 (runner) " + tail.replacingOccurrences(of: "987654", with: "-5"),
                    "4242 (runner) " + tail.replacingOccurrences(of: "987654", with: "9x")] {
            #expect(ClaimantIdentity.startTicks(statLine: bad) == nil, "\(bad)")
        }
    }

    @Test("a claim by this process is live: not claimable until its heartbeat is stale")
    func ownClaimIsLive() throws {
        let identity = try #require(ClaimantIdentity.current)
        #expect(!RunStore.claimantIsGone(RunStore.claimant, identity: identity))
        #expect(try claimability(claimant: RunStore.claimant, identity: identity) == (atOnce: false, onceStale: true))
    }

    @Test("this host name, boot id and pid namespace, and a pid that does not exist: gone, claimable at once")
    func deadPidHereIsGone() throws {
        let identity = try #require(ClaimantIdentity.current)
        let claimant = "\(host):\(try deadPid())"
        #expect(RunStore.claimantIsGone(claimant, identity: identity))
        #expect(try claimability(claimant: claimant, identity: identity) == (atOnce: true, onceStale: true))
    }

    @Test("this host name but another boot id (another machine of the same name), a pid that does not exist here: only the heartbeat decides")
    func otherBootIsNotGone() throws {
        var identity = try #require(ClaimantIdentity.current)
        identity.bootID = "00000000-0000-4000-8000-000000000000"
        let claimant = "\(host):\(try deadPid())"
        #expect(!RunStore.claimantIsGone(claimant, identity: identity))
        #expect(try claimability(claimant: claimant, identity: identity) == (atOnce: false, onceStale: true))
    }

    @Test("this host name and boot id but another pid namespace (a container on this kernel), a pid that does not exist here: only the heartbeat decides")
    func otherPidNamespaceIsNotGone() throws {
        var identity = try #require(ClaimantIdentity.current)
        identity.pidNamespace = "pid:[1]"
        let claimant = "\(host):\(try deadPid())"
        #expect(!RunStore.claimantIsGone(claimant, identity: identity))
        #expect(try claimability(claimant: claimant, identity: identity) == (atOnce: false, onceStale: true))
    }

    @Test("the pid of a live process that started at another time (the pid was reused): gone, claimable at once; at its own start time: live")
    func reusedPidIsGone() throws {
        let here = try #require(ClaimantIdentity.current)
        let sleeper = try sleepingProcess()
        defer { kill(sleeper.processIdentifier, SIGKILL); sleeper.waitUntilExit() }     // SIGTERM may be ignored, inherited from the test runner
        guard case .started(let ticks) = ClaimantIdentity.state(of: sleeper.processIdentifier) else {
            Issue.record("the start time of a running sleep could not be read"); return
        }
        let claimant = "\(host):\(sleeper.processIdentifier)"
        let sleepers = ClaimantIdentity(bootID: here.bootID, pidNamespace: here.pidNamespace, startTicks: ticks)
        var reused = sleepers
        reused.startTicks = ticks + 1
        #expect(!RunStore.claimantIsGone(claimant, identity: sleepers))
        #expect(RunStore.claimantIsGone(claimant, identity: reused))
        #expect(try claimability(claimant: claimant, identity: sleepers) == (atOnce: false, onceStale: true))
        #expect(try claimability(claimant: claimant, identity: reused) == (atOnce: true, onceStale: true))
        // The same for this test process's own pid.
        var mine = here
        mine.startTicks = here.startTicks + 1
        #expect(RunStore.claimantIsGone(RunStore.claimant, identity: mine))
    }

    @Test("a claim with no identity (written by a ConvLab from before schema 4) is judged by its heartbeat alone, even of a dead local pid")
    func oldFormatClaimWaitsForTheHeartbeat() throws {
        let claimant = "\(host):\(try deadPid())"
        #expect(!RunStore.claimantIsGone(claimant, identity: nil))
        #expect(try claimability(claimant: claimant, identity: nil) == (atOnce: false, onceStale: true))
        // And so is every claim where this process cannot read its own identity (no /proc).
        #expect(!RunStore.claimantIsGone(claimant, identity: ClaimantIdentity.current, here: nil))
    }

    @Test("a claim records the claimant's identity beside claimed_by; a new claim replaces it, and releasing a claim puts back the one before")
    func identityRecordedAndRestored() throws {
        let (path, _, ids) = try queuedStore(runs: 1)
        let store = try RunStore(path: path)
        let first = ClaimantIdentity(bootID: "boot-a", pidNamespace: "pid:[7]", startTicks: 70)
        #expect(try store.claimRun(ids[0], staleAfter: 60, claimant: "a:1", identity: first, now: 100))
        let reader = try StoreReader(path: path)
        let columns = "claimed_by, \(ClaimantIdentity.columns(schemaVersion: reader.schemaVersion))"
        #expect(try reader.query("SELECT \(columns) FROM runs").rows == [[.text("a:1"), .text("boot-a"), .text("pid:[7]"), .integer(70)]])
        // "a:1" went silent; the next claimant's identity replaces it, and with none (NULLs) too.
        guard case .claimed(let before) = try store.claim(run: ids[0], staleAfter: 60, claimant: "b:2", identity: nil, now: 200) else {
            Issue.record("not claimed"); return
        }
        #expect(before.claimantIdentity == first)
        #expect(try reader.query("SELECT \(columns) FROM runs").rows == [[.text("b:2"), .null, .null, .null]])
        #expect(try store.releaseClaim(run: before, claimant: "b:2", identity: nil))
        #expect(try reader.query("SELECT \(columns) FROM runs").rows == [[.text("a:1"), .text("boot-a"), .text("pid:[7]"), .integer(70)]])
    }

    @Test("two processes with one host:pid (containers of one host name, each with its own pid 1): once the second took the run over, the first can write nothing")
    func sameNameOtherIdentityHoldsNothing() throws {
        let (path, _, ids) = try queuedStore(runs: 1)
        let store = try RunStore(path: path)
        let first = ClaimantIdentity(bootID: "boot", pidNamespace: "pid:[100]", startTicks: 5)
        let second = ClaimantIdentity(bootID: "boot", pidNamespace: "pid:[200]", startTicks: 5)
        #expect(try store.claimRun(ids[0], staleAfter: 60, claimant: "box:1", identity: first, now: 100))
        #expect(try store.beat(run: ids[0], claimant: "box:1", identity: first, now: 110))
        // The first went silent past the stale limit; the second, of the same name, takes the run over.
        #expect(try store.claimRun(ids[0], staleAfter: 60, claimant: "box:1", identity: second, now: 200))
        var batch = RecordBatch()
        batch.metrics = [.init(name: "train_loss", step: 1, epoch: 0.1, value: 1, wallTime: 1)]
        #expect(try !store.beat(run: ids[0], claimant: "box:1", identity: first, now: 201))
        #expect(try !store.append(batch, run: ids[0], epochsDone: 0, stepsDone: 1, claimant: "box:1", identity: first))
        #expect(try !store.recordProvenance(run: ids[0], provenance, claimant: "box:1", identity: first))
        #expect(try !store.discardRecords(run: ids[0], after: nil, claimant: "box:1", identity: first))
        #expect(try !store.finish(run: ids[0], status: .completed, claimant: "box:1", identity: first))
        let current = try #require(try store.storedRun(ids[0]))
        #expect(try !store.releaseClaim(run: current, claimant: "box:1", identity: first))
        #expect(try store.storedRun(ids[0]) == current)
        #expect(current.heartbeatAt == 200 && current.claimantIdentity == second && current.stepsDone == 0)
        // The second holds it.
        #expect(try store.beat(run: ids[0], claimant: "box:1", identity: second, now: 202))
        #expect(try store.append(batch, run: ids[0], epochsDone: 0, stepsDone: 1, claimant: "box:1", identity: second))
        #expect(try store.finish(run: ids[0], status: .completed, claimant: "box:1", identity: second))
    }

    @Test("runs rm refuses a fresh run of another boot's process with a pid that does not exist here, and deletes it once its own boot's")
    func deleteFollowsTheRule() throws {
        let (path, _, ids) = try queuedStore(runs: 1)
        let store = try RunStore(path: path)
        let here = try #require(ClaimantIdentity.current)
        let elsewhere = ClaimantIdentity(bootID: "another boot", pidNamespace: here.pidNamespace, startTicks: here.startTicks)
        let claimant = "\(host):\(try deadPid())"
        let now = Date().timeIntervalSince1970
        #expect(try store.claimRun(ids[0], staleAfter: 60, claimant: claimant, identity: elsewhere, now: now))
        #expect(throws: StoreError.self) { _ = try store.deleteRuns(ids, staleAfter: 60, now: now) }
        _ = try store.write { db in try db.execute(sql: "UPDATE runs SET claimant_boot_id = ?", arguments: [here.bootID]) }
        #expect(try store.deleteRuns(ids, staleAfter: 60, now: now).ids == ids)
    }
}
