import RunStore
import TextKit

extension Reporter {
    /// The experiments of the store that are searches (their runs have trial numbers), oldest first.
    public func searches() throws(StoreError) -> [(id: Int64, name: String)] {
        guard reader.schemaVersion >= 6 else { return [] }
        return try reader.query("""
            SELECT e.id, e.name FROM experiments e WHERE EXISTS (SELECT 1 FROM runs r WHERE r.experiment_id = e.id AND r.trial IS NOT NULL)
            ORDER BY e.id
            """).rows.compactMap { row in row[0].double.map { (Int64($0), row[1].string ?? "") } }
    }

    /// The search `reference` names (an experiment's name or id; the newest of that name), or the
    /// newest search of the store when nil. A store or experiment without a search is a
    /// `ReportError` that says which searches there are.
    public func searchTrials(experiment reference: String?) throws -> SearchTrials {
        let search = try search(named: reference)
        return try searchTrials(id: search.id, name: search.name)
    }

    /// The experiment id and name of the search `reference` names (see `searchTrials(experiment:)`).
    public func search(named reference: String?) throws -> (id: Int64, name: String) {
        let all = try searches()
        let listed = all.map { "\"\($0.name)\" (\($0.id))" }.joined(separator: ", ")
        guard let reference else {
            guard let newest = all.last else {
                throw ReportError("this store has no search: its experiments are matrices (a spec with a \"search\" section makes one)")
            }
            return newest
        }
        if let match = all.last(where: { $0.name == reference }) ?? all.first(where: { String($0.id) == reference }) {
            return match
        }
        let experiments = try reader.query("SELECT id, name FROM experiments WHERE name = ? OR CAST(id AS TEXT) = ?", arguments: [.text(reference), .text(reference)])
        let others = all.isEmpty ? "this store has no search" : "the searches here: \(listed)"
        if experiments.rows.isEmpty {
            throw ReportError("no experiment \"\(reference)\" in this store; \(others)")
        }
        throw ReportError("experiment \"\(reference)\" is not a search (its runs come from a matrix); \(others)")
    }

    /// The objective metric of the search `id`.
    public func searchObjective(id: Int64, name: String) throws(StoreError) -> String { try searchSection(id: id, name: name).metric }

    /// The objective and space from a drawn trial's resolved spec (the contract puts the whole
    /// search section there), else any trial's, else the experiment's own text.
    func searchSection(id: Int64, name: String) throws(StoreError) -> SearchSection {
        let runSpec = try reader.query("""
            SELECT spec_json FROM runs WHERE experiment_id = ? AND trial IS NOT NULL ORDER BY search_state IS NULL, id LIMIT 1
            """, arguments: [.integer(id)])
        let experimentSpec = try reader.query("SELECT spec_json FROM experiments WHERE id = ?", arguments: [.integer(id)])
        let specs = (runSpec.rows + experimentSpec.rows).compactMap { $0[0].string }
        // A spec that cannot be read does not hide the trials: they are ranked by the default objective, and the header says so.
        return specs.lazy.compactMap(SearchSection.init(specJSON:)).first ?? .assumedDefault
    }

    /// The search of experiment `id`, its trials ranked.
    public func searchTrials(id: Int64, name: String) throws(StoreError) -> SearchTrials {
        let section = try searchSection(id: id, name: name)
        let runs = try reader.query("""
            SELECT id, trial, seed, variant, epochs_done, epochs_planned, error FROM runs WHERE experiment_id = ? AND trial IS NOT NULL ORDER BY trial, run_index
            """, arguments: [.integer(id)])
        let ids = runs.rows.compactMap { $0[0].double.map { Int64($0) } }
        var shown: [Int64: String] = [:]
        // By experiment rather than by a list of ids, which a search of thousands of runs would
        // make longer than SQLite takes; the filter may match another experiment named like the id.
        let trialRuns = Set(ids)
        for row in try runRows(RunFilter(experiment: String(id))) where trialRuns.contains(row.id) { shown[row.id] = displayStatus(row) }

        // The objective metric of every run, the last row of each epoch.
        var perRun: [Int64: [Int: Double]] = [:]
        var notes: [Int64: String] = [:]
        if !ids.isEmpty {
            let list = "SELECT id FROM runs WHERE experiment_id = ? AND trial IS NOT NULL"
            let metrics = try reader.query("SELECT run_id, epoch, value FROM metrics WHERE run_id IN (\(list)) AND name = ? ORDER BY run_id, step",
                                           arguments: [.integer(id), .text(section.metric)])
            for row in metrics.rows {
                guard let run = row[0].double, let epoch = row[1].double, let value = row[2].double else { continue }
                perRun[Int64(run), default: [:]][Int(epoch.rounded())] = value
            }
            let events = try reader.query("SELECT run_id, message FROM events WHERE kind = 'pruned' AND run_id IN (\(list)) ORDER BY time",
                                          arguments: [.integer(id)])
            for row in events.rows { if let run = row[0].double, let message = row[1].string { notes[Int64(run)] = message } }
        }

        var trials: [SearchTrials.Trial] = []
        for row in runs.rows {
            guard let run = row[0].double.map({ Int64($0) }), let number = row[1].double.map({ Int($0) }) else { continue }
            if trials.last?.number != number {
                trials.append(.init(number: number, status: "", runs: [], seeds: [], epochsDone: Int.max, epochsPlanned: 0, values: [:],
                                    intermediate: [], note: nil, rank: nil))
            }
            var trial = trials[trials.count - 1]
            trial.runs.append(run)
            trial.seeds.append(Int64(row[2].double ?? 0))
            if trial.values.isEmpty, case .object(let members)? = try? JSONParser.parse(row[3].string ?? "{}").value {
                for member in members { trial.values[member.key] = member.node.value }
            }
            trial.epochsDone = min(trial.epochsDone, Int(row[4].double ?? 0))
            trial.epochsPlanned = max(trial.epochsPlanned, Int(row[5].double ?? 0))
            if let note = notes[run] ?? row[6].string, trial.note == nil { trial.note = note }
            trials[trials.count - 1] = trial
        }
        for i in trials.indices {
            trials[i].status = SearchTrials.status(of: trials[i].runs.map { shown[$0] ?? "queued" })
            // The epochs every run of the trial has a value for, each the mean over the runs.
            let series = trials[i].runs.map { perRun[$0] ?? [:] }
            var shared = Set(series.first.map { Array($0.keys) } ?? [])
            for values in series.dropFirst() { shared.formIntersection(values.keys) }
            trials[i].intermediate = shared.sorted().map { epoch in
                (epoch, series.map { $0[epoch] ?? 0 }.reduce(0, +) / Double(series.count))
            }
        }
        return SearchTrials(experimentID: id, experimentName: name, metric: section.metric, direction: section.direction,
                            sampler: section.sampler, pruner: section.pruner, budget: section.budget,
                            dimensions: section.dimensions.isEmpty ? Self.dimensions(of: trials) : section.dimensions,
                            objectiveAssumed: section.assumed, trials: SearchTrials.ranked(trials, direction: section.direction))
    }

    /// The sampled keys in first-seen order, when the spec does not list its space.
    static func dimensions(of trials: [SearchTrials.Trial]) -> [SearchTrials.Dimension] {
        var keys: [String] = []
        for trial in trials.sorted(by: { $0.number < $1.number }) {
            for key in trial.values.keys.sorted() where !keys.contains(key) { keys.append(key) }
        }
        return keys.map { .init(key: $0, domain: "unknown", categories: []) }
    }
}
