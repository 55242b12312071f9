import ConvLabKit
import Foundation
import GRDB
import RunStore

/// A search as `runner exec` records one (issue 19's contract), written in SQL for the tests of
/// what reads it: 7 trials × `seeds` runs created at once, `run_index = (trial − 1) · seeds +
/// seed position + 1`, each drawn trial's sampled keys in `variant`, `params` and its resolved
/// `spec_json` (whose `search` section names the objective), its `search_state`; trial 7 not
/// drawn yet (`variant` `{}`, label "trial 7"). The objective is test_accuracy, maximized; the
/// choice key's second value and the experiment's name hold markup.
///
/// | trial | status    | learning_rate | momentum | activation | test_accuracy per epoch, per seed     | objective        |
/// |-------|-----------|---------------|----------|------------|---------------------------------------|------------------|
/// | 1     | completed | 0.01          | 0.9      | relu       | .70 .80 .85 / .72 .82 .87             | 0.86 (epoch 3)   |
/// | 2     | pruned    | 0.0002        | 0.1      | markup     | .30 / .34                             | 0.32 (epoch 1)   |
/// | 3     | completed | 0.1           | 0.5      | markup     | .75 .85 .90 / .77 .87 .92             | 0.91 (epoch 3)   |
/// | 4     | running   | 0.05          | 0.8      | relu       | .60 .70 / .62 (second seed behind)    | 0.61 (epoch 1)   |
/// | 5     | failed    | 0.9           | 0.95     | relu       | .10 / none                            | none             |
/// | 6     | pruned    | 0.003         | 0.3      | relu       | .50 .60 / .52 .62                     | 0.61 (epoch 2)   |
/// | 7     | queued    | –             | –        | –          | –                                     | none             |
///
/// With one seed, each trial has only the first seed's values (trial 4's objective is then 0.70 at epoch 2).
public enum SearchFixture {
    public static let markup = #"</td><script>alert("choice")</script>"#
    public static let experimentName = "search <b>demo</b>"
    public static let space = #"""
        {"optimizer.learning_rate": {"log_uniform": [0.0001, 1]}, "optimizer.momentum": {"uniform": [0, 0.99]}, \#
        "model.activation": {"choice": ["relu", \#(JSONWriter.quote(markup))]}}
        """#

    struct Trial {
        var values: (rate: Double, momentum: Double, activation: String)?
        var status: [RunStatus]
        var accuracies: [[Double]]
        var note: String?
    }

    static let trials: [Trial] = [
        Trial(values: (0.01, 0.9, "relu"), status: [.completed, .completed], accuracies: [[0.70, 0.80, 0.85], [0.72, 0.82, 0.87]]),
        Trial(values: (0.0002, 0.1, markup), status: [.pruned, .pruned], accuracies: [[0.30], [0.34]],
              note: "test_accuracy 0.32 at epoch 1 is below the median 0.78 of completed trials"),
        Trial(values: (0.1, 0.5, markup), status: [.completed, .completed], accuracies: [[0.75, 0.85, 0.90], [0.77, 0.87, 0.92]]),
        Trial(values: (0.05, 0.8, "relu"), status: [.running, .running], accuracies: [[0.60, 0.70], [0.62]]),
        Trial(values: (0.9, 0.95, "relu"), status: [.failed, .failed], accuracies: [[0.10], []], note: nil),
        Trial(values: (0.003, 0.3, "relu"), status: [.pruned, .pruned], accuracies: [[0.50, 0.60], [0.52, 0.62]],
              note: "test_accuracy 0.61 at epoch 2 is below the median 0.83 of completed trials"),
        Trial(values: nil, status: [.queued, .queued], accuracies: [[], []]),
    ]

    /// Writes the search into a new store at `path` (with one matrix experiment beside it, so
    /// readers must tell them apart) and returns the search's experiment id.
    @discardableResult
    public static func write(path: String, seeds: [UInt64] = [1, 2]) throws -> Int64 {
        let store = try RunStore(path: path)
        try store.close()
        var configuration = Configuration()
        configuration.busyMode = .timeout(60)
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        defer { try? queue.close() }
        return try queue.write { db in
            let now = Date().timeIntervalSince1970
            try db.execute(sql: "INSERT INTO experiments(name, spec_path, spec_json, created_at, spec_hash) VALUES ('matrix', NULL, '{}', ?, 'm')", arguments: [now])
            let matrix = db.lastInsertedRowID
            try db.execute(sql: """
                INSERT INTO runs(uuid, experiment_id, run_index, variant, variant_label, spec_json, spec_hash, seed, status, epochs_planned, epochs_done)
                VALUES (?, ?, 1, '{}', '', '{}', 'm1', 1, 'completed', 1, 1)
                """, arguments: [UUID().uuidString.lowercased(), matrix])
            let search = "\"search\": {\"space\": \(space), \"sampler\": {\"plugin\": \"random\"}, \"pruner\": \"median\", "
                + "\"objective\": {\"metric\": \"test_accuracy\", \"direction\": \"maximize\"}, \"trials\": \(trials.count), \"seed\": 0}"
            try db.execute(sql: "INSERT INTO experiments(name, spec_path, spec_json, created_at, spec_hash) VALUES (?, 'search.json', ?, ?, 's')",
                           arguments: [experimentName, "{\"name\": \(JSONWriter.quote(experimentName)), \(search)}", now])
            let experiment = db.lastInsertedRowID
            for (t, trial) in trials.enumerated() {
                let number = t + 1
                for (s, seed) in seeds.enumerated() {
                    let index = t * seeds.count + s + 1
                    var variant = "{}", label = "trial \(number)", state: String? = nil
                    var spec = "{\"name\": \(JSONWriter.quote(experimentName)), \"seed\": \(seed), \"training\": {\"epochs\": 3}, \(search)}"
                    if let v = trial.values {
                        variant = "{\"optimizer.learning_rate\": \(v.rate), \"optimizer.momentum\": \(v.momentum), \"model.activation\": \(JSONWriter.quote(v.activation))}"
                        label = "trial \(number): optimizer.learning_rate=\(v.rate), optimizer.momentum=\(v.momentum), model.activation=\(v.activation)"
                        state = "{\"sampler\": \"random\", \"seed\": 0, \"trial\": \(number), \"seen\": [\((1..<number).map(String.init).joined(separator: ", "))]}"
                        spec = "{\"name\": \(JSONWriter.quote(experimentName)), \"seed\": \(seed), \"optimizer\": {\"plugin\": \"sgd\", \"learning_rate\": \(v.rate), "
                            + "\"momentum\": \(v.momentum)}, \"model\": {\"activation\": \(JSONWriter.quote(v.activation))}, \"training\": {\"epochs\": 3}, \(search)}"
                    }
                    let status = trial.status[s % trial.status.count]
                    let accuracies = trial.accuracies[s % trial.accuracies.count]
                    let started: Double? = status == .queued ? nil : now - 100
                    let finished: Double? = [.completed, .pruned, .failed].contains(status) ? now - 10 : nil
                    try db.execute(sql: """
                        INSERT INTO runs(uuid, experiment_id, run_index, variant, variant_label, spec_json, spec_hash, seed, status, epochs_planned,
                                         epochs_done, steps_done, started_at, finished_at, heartbeat_at, error, failure_kind, trial, search_state)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 3, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """, arguments: [UUID().uuidString.lowercased(), experiment, index, variant, label, spec, "s\(index)", Int64(seed), status.rawValue,
                                         accuracies.count, accuracies.count * 10, started, finished, started.map { _ in now },
                                         status == .failed ? "the data loader crashed" : nil, status == .failed ? "crash" : nil,
                                         number, state])
                    let run = db.lastInsertedRowID
                    if let v = trial.values {
                        for (key, text, real) in [("optimizer.learning_rate", "\(v.rate)", v.rate as Double?), ("optimizer.momentum", "\(v.momentum)", v.momentum),
                                                  ("model.activation", v.activation, nil)] {
                            try db.execute(sql: "INSERT INTO params(run_id, key, value_text, value_real) VALUES (?, ?, ?, ?)", arguments: [run, key, text, real])
                        }
                    }
                    for (e, accuracy) in accuracies.enumerated() {
                        try db.execute(sql: "INSERT INTO metrics(run_id, name, step, epoch, value, wall_time) VALUES (?, 'train_loss', ?, ?, ?, ?)",
                                       arguments: [run, (e + 1) * 10, Double(e + 1), 1.5 - accuracy, Double(e)])
                        try db.execute(sql: "INSERT INTO metrics(run_id, name, step, epoch, value, wall_time) VALUES (?, 'test_accuracy', ?, ?, ?, ?)",
                                       arguments: [run, (e + 1) * 10, Double(e + 1), accuracy, Double(e)])
                    }
                    if status == .pruned, let note = trial.note {
                        try db.execute(sql: "INSERT INTO events(run_id, time, kind, message) VALUES (?, ?, 'pruned', ?)", arguments: [run, now - 10, note])
                    }
                }
            }
            return experiment
        }
    }
}
