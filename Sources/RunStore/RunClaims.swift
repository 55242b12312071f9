import enum ConvLabKit.RunStatus
import Foundation
import GRDB

/// Claiming runs, so that several `runner exec` processes can work one sweep: a claim is one
/// UPDATE … RETURNING, which SQLite runs under its write lock, so of two processes claiming the
/// same run exactly one gets it.
extension RunStore {
    /// This machine's name, read once with gethostname(2). Foundation's `ProcessInfo.hostName`
    /// resolves through a shared `Host` object that is not safe to use from several threads at
    /// once (the test process's heap was corrupted by exactly that), and claims ask for the name
    /// on every connection and every staleness check.
    public static let hostName: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()

    /// "host:pid" of this process: what `runs.claimed_by` records (its `ClaimantIdentity` is
    /// recorded beside it, in the claimant_* columns).
    public static var claimant: String { "\(hostName):\(getpid())" }

    /// The runs a claim may take: never started or interrupted, failed by a crash (not by its
    /// spec), or running with a heartbeat older than the stale limit or claimed by a process
    /// known to be gone (see `claimantIsGone`: after `kill -9`, no need to wait).
    static let claimableCondition = """
        (status IN ('queued', 'interrupted')
         OR (status = 'failed' AND failure_kind = 'crash')
         OR (status = 'running' AND (heartbeat_at IS NULL OR heartbeat_at < :now - :staleAfter
                                     OR convlab_claimant_gone(claimed_by, claimant_boot_id, claimant_pid_namespace, claimant_start_ticks))))
        """

    /// Whether the process that claimed a run is known to be gone: `claimedBy` ("host:pid") names
    /// this host, `identity` this boot of this kernel and this pid namespace, and the pid either
    /// no longer exists or belongs to a process started at another time (the pid was reused).
    /// Anything else — another host, boot or pid namespace (a container with the same host name),
    /// no identity (a claim by a ConvLab from before schema 4), text that cannot be parsed — is
    /// never called gone: only the heartbeat can tell.
    public static func claimantIsGone(_ claimedBy: String?, identity: ClaimantIdentity?, host: String = RunStore.hostName,
                                      here: ClaimantIdentity? = .current) -> Bool {
        guard let claimedBy, let identity, let here, identity.bootID == here.bootID, identity.pidNamespace == here.pidNamespace,
              let colon = claimedBy.lastIndex(of: ":"), claimedBy[..<colon] == host,
              let pid = Int32(claimedBy[claimedBy.index(after: colon)...]), pid > 0 else { return false }
        switch ClaimantIdentity.state(of: pid) {
        case .absent: return true
        case .started(let ticks): return ticks != identity.startTicks
        case .unknown: return false
        }
    }

    /// Registers `convlab_claimant_gone(claimed_by, claimant_boot_id, claimant_pid_namespace,
    /// claimant_start_ticks)` on a connection, for `claimableCondition`.
    static func addClaimFunctions(_ db: Database) {
        let host = hostName
        db.add(function: DatabaseFunction("convlab_claimant_gone", argumentCount: 4, pure: false) { values in
            let identity = ClaimantIdentity.stored(bootID: String.fromDatabaseValue(values[1]), pidNamespace: String.fromDatabaseValue(values[2]),
                                                   startTicks: Int64.fromDatabaseValue(values[3]))
            return claimantIsGone(String.fromDatabaseValue(values[0]), identity: identity, host: host)
        })
    }

    static let claimAssignments = """
        status = 'running', heartbeat_at = :now, claimed_by = :claimant, claimant_boot_id = :bootID,
        claimant_pid_namespace = :pidNamespace, claimant_start_ticks = :startTicks, started_at = COALESCE(started_at, :now),
        finished_at = NULL, error = NULL, failure_kind = NULL
        """

    /// The arguments of `claimAssignments` and `claimableCondition`.
    static func claimArguments(claimant: String, identity: ClaimantIdentity?, now: Double, staleAfter: TimeInterval) -> StatementArguments {
        ["now": now, "staleAfter": staleAfter, "claimant": claimant, "bootID": identity?.bootID,
         "pidNamespace": identity?.pidNamespace, "startTicks": identity?.startTicks]
    }

    /// Claims run `id` for this process if it is claimable (see `StoredRun.isClaimable`): it is
    /// then `running` with a fresh heartbeat. False when it is not claimable, or another
    /// process claimed it first. (`claim(run:)`, which `runner exec` calls, with a yes or no.)
    public func claimRun(_ id: Int64, staleAfter: TimeInterval, claimant: String = RunStore.claimant,
                         identity: ClaimantIdentity? = .current, now: Double = Date().timeIntervalSince1970) throws(StoreError) -> Bool {
        if case .claimed = try claim(run: id, staleAfter: staleAfter, claimant: claimant, identity: identity, now: now) { return true }
        return false
    }

    /// Claims the first claimable run of an experiment (lowest run index), or returns nil when
    /// none is left: what a worker of a shared sweep calls in a loop.
    public func claimNextRun(experiment experimentID: Int64, staleAfter: TimeInterval, claimant: String = RunStore.claimant,
                             identity: ClaimantIdentity? = .current, now: Double = Date().timeIntervalSince1970) throws(StoreError) -> Int64? {
        try write { db in
            try Int64.fetchOne(db, sql: """
                UPDATE runs SET \(Self.claimAssignments)
                WHERE id = (SELECT id FROM runs WHERE experiment_id = :experiment AND \(Self.claimableCondition) ORDER BY run_index, id LIMIT 1)
                  AND \(Self.claimableCondition)
                RETURNING id
                """, arguments: ["experiment": experimentID] + Self.claimArguments(claimant: claimant, identity: identity, now: now, staleAfter: staleAfter))
        }
    }

    /// The condition that a run is still held by `claimant` with `identity`: two processes may
    /// carry one "host:pid" (containers with one host name, each its own pid 1), so the identity
    /// is compared too (with IS: a claim made without identity is held by a claimant without one).
    static func heldBy(_ claimant: String, identity: ClaimantIdentity?) -> (sql: String, arguments: StatementArguments) {
        ("claimed_by = ? AND claimant_boot_id IS ? AND claimant_pid_namespace IS ? AND claimant_start_ticks IS ?",
         [claimant, identity?.bootID, identity?.pidNamespace, identity?.startTicks])
    }

    /// Refreshes the heartbeat of a run this process claimed. False when another process has
    /// claimed it since (this one was silent past the stale limit, e.g. stopped with SIGSTOP):
    /// the run is no longer this process's to train, and it should stop writing to it.
    public func beat(run id: Int64, claimant: String, identity: ClaimantIdentity? = .current,
                     now: Double = Date().timeIntervalSince1970) throws(StoreError) -> Bool {
        let held = Self.heldBy(claimant, identity: identity)
        return try write { db in
            try db.execute(sql: "UPDATE runs SET heartbeat_at = ? WHERE id = ? AND status = 'running' AND \(held.sql)",
                           arguments: [now, id] + held.arguments)
            return db.changesCount == 1
        }
    }

    /// Gives back a run this process claimed but will not train (its checkpoint or data cannot
    /// be resumed from): it is put back exactly as `before` was, so the refusal changes nothing.
    /// False when `claimant` no longer holds it.
    @discardableResult
    public func releaseClaim(run before: StoredRun, claimant: String, identity: ClaimantIdentity? = .current) throws(StoreError) -> Bool {
        let held = Self.heldBy(claimant, identity: identity)
        return try write { db in
            try db.execute(sql: """
                UPDATE runs SET status = ?, heartbeat_at = ?, claimed_by = ?, claimant_boot_id = ?, claimant_pid_namespace = ?,
                                claimant_start_ticks = ?, started_at = ?, finished_at = ?, error = ?, failure_kind = ?
                WHERE id = ? AND status = 'running' AND \(held.sql)
                """, arguments: [before.status.rawValue, before.heartbeatAt, before.claimedBy, before.claimantIdentity?.bootID,
                                 before.claimantIdentity?.pidNamespace, before.claimantIdentity?.startTicks, before.startedAt,
                                 before.finishedAt, before.error, before.failureKind?.rawValue, before.id] + held.arguments)
            return db.changesCount == 1
        }
    }

    /// The newest experiment recorded with this spec hash, with its runs in matrix order (each
    /// with its status and latest checkpoint), or nil when the store has never run that spec.
    public func findResumable(experimentSpecHash: String) throws(StoreError) -> (experimentID: Int64, runs: [StoredRun])? {
        try read { db in
            guard let experiment = try Int64.fetchOne(db, sql: "SELECT id FROM experiments WHERE spec_hash = ? ORDER BY id DESC LIMIT 1",
                                                      arguments: [experimentSpecHash]) else { return nil }
            return (experiment, try Self.storedRuns(db, where: "r.experiment_id = ?", arguments: [experiment]))
        }
    }

    /// One run as stored, or nil when there is no run with this id.
    public func storedRun(_ id: Int64) throws(StoreError) -> StoredRun? {
        try read { db in try Self.storedRuns(db, where: "r.id = ?", arguments: [id]).first }
    }

    static func storedRuns(_ db: Database, where condition: String, arguments: StatementArguments) throws -> [StoredRun] {
        try StoredRun.fetchAll(db, sql: "\(StoredRun.selection) WHERE \(condition) ORDER BY r.run_index, r.id", arguments: arguments)
    }
}
