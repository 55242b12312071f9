import enum ConvLabKit.RunStatus
import Foundation
import GRDB

/// One run of a search's trial as the store holds it: what the sampler's and the pruner's
/// history are built from (`runs.trial`, `runs.search_state`, the objective's metric rows).
public struct TrialRunRecord: Sendable, Equatable {
    public var runID: Int64
    public var runIndex: Int
    public var trial: Int
    public var status: RunStatus
    /// The sampled keys as a JSON object; "{}" until the trial is drawn.
    public var variant: String
    /// Whether the trial's values have been drawn (`search_state` is set).
    public var drawn: Bool
    /// The objective metric's value at the end of each epoch done, keyed by epoch (1-based).
    public var objective: [Int: Double]

    public init(runID: Int64, runIndex: Int, trial: Int, status: RunStatus, variant: String, drawn: Bool, objective: [Int: Double]) {
        self.runID = runID; self.runIndex = runIndex; self.trial = trial; self.status = status
        self.variant = variant; self.drawn = drawn; self.objective = objective
    }
}

/// What drawing a trial writes into one of its runs.
public struct TrialAssignment: Sendable {
    public var runID: Int64
    public var variant: String, variantLabel: String
    public var specJSON: String, specHash: String
    public var params: [(key: String, text: String, real: Double?)]
    public var searchState: String

    public init(runID: Int64, variant: String, variantLabel: String, specJSON: String, specHash: String,
                params: [(key: String, text: String, real: Double?)], searchState: String) {
        self.runID = runID; self.variant = variant; self.variantLabel = variantLabel; self.specJSON = specJSON
        self.specHash = specHash; self.params = params; self.searchState = searchState
    }
}

extension RunStore {
    /// How drawing a trial went.
    public enum TrialDrawOutcome: Sendable, Equatable {
        /// This call drew the trial and wrote its runs.
        case drawn
        /// Another run of the trial (another seed, or an earlier attempt) had drawn it: its variant.
        case alreadyDrawn(variant: String)
        /// The run is no longer held by this claimant, or it is not a trial.
        case notHeld
        /// `draw` gave up (its caller knows why); nothing was written.
        case abandoned
    }

    /// Every run of the experiment's search with its trial, status, variant and objective per
    /// epoch (`metric` rows at whole epochs), in run order.
    public func trialRuns(experiment id: Int64, metric: String) throws(StoreError) -> [TrialRunRecord] {
        try read { db in try Self.trialRuns(db, experiment: id, metric: metric) }
    }

    static func trialRuns(_ db: Database, experiment id: Int64, metric: String) throws -> [TrialRunRecord] {
        let rows = try Row.fetchAll(db, sql: """
            SELECT r.id, r.run_index, r.trial, r.status, r.variant, r.search_state IS NOT NULL AS drawn, m.epoch, m.value
            FROM runs r LEFT JOIN metrics m ON m.run_id = r.id AND m.name = ?
            WHERE r.experiment_id = ? AND r.trial IS NOT NULL
            ORDER BY r.run_index, r.id, m.epoch, m.step
            """, arguments: [metric, id])
        var records: [TrialRunRecord] = []
        for row in rows {
            let runID: Int64 = row["id"]
            if records.last?.runID != runID {
                records.append(TrialRunRecord(runID: runID, runIndex: row["run_index"], trial: row["trial"],
                                              status: RunStatus(rawValue: row["status"]) ?? .failed, variant: row["variant"],
                                              drawn: row["drawn"], objective: [:]))
            }
            if let epoch = row["epoch"] as Double?, let value = row["value"] as Double?, epoch == epoch.rounded(), epoch >= 1 {
                records[records.count - 1].objective[Int(epoch)] = value
            }
        }
        return records
    }

    /// Draws the values of the trial of run `id` under the store's write lock, so that two
    /// processes never draw one trial twice, nor draw with a history that changes meanwhile:
    /// in one IMMEDIATE transaction, if no run of the trial has been drawn, `draw` is given the
    /// trial's number, its runs in this store and every run of the search, and what it returns
    /// is written to those runs (variant, label, resolved spec and hash, params, search state).
    public func drawTrial(run id: Int64, metric: String, claimant: String, identity: ClaimantIdentity? = .current,
                          draw: (_ trial: Int, _ runs: [TrialRunRecord], _ history: [TrialRunRecord]) -> [TrialAssignment]?) throws(StoreError) -> TrialDrawOutcome {
        do {
            return try writer.writeWithoutTransaction { db in
                var outcome = TrialDrawOutcome.notHeld
                try db.inTransaction(.immediate) {
                    guard try Self.holds(db, run: id, claimant: claimant, identity: identity),
                          let row = try Row.fetchOne(db, sql: "SELECT experiment_id, trial FROM runs WHERE id = ?", arguments: [id]),
                          let trial = row["trial"] as Int? else { return .commit }
                    let experiment: Int64 = row["experiment_id"]
                    let history = try Self.trialRuns(db, experiment: experiment, metric: metric)
                    let ofTrial = history.filter { $0.trial == trial }
                    if let drawn = ofTrial.first(where: \.drawn) {
                        outcome = .alreadyDrawn(variant: drawn.variant)
                        return .commit
                    }
                    guard let assignments = draw(trial, ofTrial, history) else {
                        outcome = .abandoned
                        return .rollback
                    }
                    for a in assignments where ofTrial.contains(where: { $0.runID == a.runID }) {
                        try db.execute(sql: """
                            UPDATE runs SET variant = ?, variant_label = ?, spec_json = ?, spec_hash = ?, search_state = ? WHERE id = ?
                            """, arguments: [a.variant, a.variantLabel, a.specJSON, a.specHash, a.searchState, a.runID])
                        try db.execute(sql: "DELETE FROM params WHERE run_id = ?", arguments: [a.runID])
                        for param in a.params { try ParamRow(runID: a.runID, key: param.key, text: param.text, real: param.real).insert(db) }
                    }
                    outcome = .drawn
                    return .commit
                }
                return outcome
            }
        } catch {
            throw Self.translate(error, path: path)
        }
    }
}
