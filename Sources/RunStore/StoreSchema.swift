/// The store's DDL, one entry per schema version. `Schemas/store.sql` is this text, written out
/// with its documentation; a test holds the two equal.
public enum StoreSchema {
    /// The newest schema this build reads and writes.
    public static let currentVersion = 1

    /// migrations[v - 1] upgrades a store from version v − 1 to v.
    public static let migrations: [String] = [version1]

    static let version1 = """
    -- Key/value facts about the store itself; schema_version is what migrations check.
    CREATE TABLE IF NOT EXISTS meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );

    -- One row per `runner exec` of a spec file.
    CREATE TABLE IF NOT EXISTS experiments (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL,
        spec_path   TEXT,                    -- the file as given on the command line
        spec_json   TEXT NOT NULL,           -- the file's text, before matrix expansion
        created_at  REAL NOT NULL            -- Unix time, seconds
    );

    -- One row per training run (one point of the matrix, one seed).
    CREATE TABLE IF NOT EXISTS runs (
        id              INTEGER PRIMARY KEY,
        experiment_id   INTEGER NOT NULL REFERENCES experiments(id),
        run_index       INTEGER NOT NULL,    -- 1-based position in the experiment's matrix
        variant         TEXT NOT NULL,       -- JSON object of the matrix keys set for this run
        variant_label   TEXT NOT NULL,       -- the same as "key=value, ..." ('' for a single run)
        spec_json       TEXT NOT NULL,       -- the resolved spec: every default filled in
        spec_hash       TEXT NOT NULL,       -- SHA-256 of spec_json
        seed            INTEGER NOT NULL,
        status          TEXT NOT NULL CHECK (status IN
                        ('queued', 'running', 'completed', 'failed', 'interrupted', 'diverged')),
        started_at      REAL,
        finished_at     REAL,
        heartbeat_at    REAL,                -- refreshed while running; old means the process died
        epochs_planned  INTEGER NOT NULL,
        epochs_done     INTEGER NOT NULL DEFAULT 0,
        steps_done      INTEGER NOT NULL DEFAULT 0,
        host            TEXT,
        os              TEXT,
        convlab_version TEXT,
        swift_version   TEXT,
        blas            TEXT,                -- BLAS library and the kernel it picked
        error           TEXT                 -- why a run failed or diverged
    );
    CREATE INDEX IF NOT EXISTS runs_by_experiment ON runs(experiment_id);

    -- The resolved spec, flattened: one row per leaf ("optimizer.learning_rate").
    -- value_real is set when the value is a number or a boolean, so SQL compares numbers as numbers.
    CREATE TABLE IF NOT EXISTS params (
        run_id      INTEGER NOT NULL REFERENCES runs(id),
        key         TEXT NOT NULL,
        value_text  TEXT NOT NULL,
        value_real  REAL,
        PRIMARY KEY (run_id, key)
    );
    CREATE INDEX IF NOT EXISTS params_by_key ON params(key, value_real);

    -- Scalar series. name is one of: train_loss (every probes.loss.every steps), learning_rate,
    -- train_loss_epoch, train_accuracy_epoch, test_loss, test_accuracy, validation_loss,
    -- validation_accuracy, images_per_second (per epoch).
    CREATE TABLE IF NOT EXISTS metrics (
        run_id      INTEGER NOT NULL REFERENCES runs(id),
        name        TEXT NOT NULL,
        step        INTEGER NOT NULL,        -- optimisation steps done when measured
        epoch       REAL NOT NULL,           -- fractional for step-level series
        value       REAL NOT NULL,
        wall_time   REAL NOT NULL            -- seconds since the run started
    );
    CREATE INDEX IF NOT EXISTS metrics_by_run ON metrics(run_id, name, step);

    -- Gradient norms per layer and tensor, every probes.grad_norms.every steps.
    CREATE TABLE IF NOT EXISTS grad_norms (
        run_id      INTEGER NOT NULL REFERENCES runs(id),
        step        INTEGER NOT NULL,
        layer       INTEGER NOT NULL,        -- index in model.layers
        layer_kind  TEXT NOT NULL,           -- conv, dense, ...
        tensor      TEXT NOT NULL,           -- weight or bias
        l2          REAL NOT NULL,
        max_abs     REAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS grad_norms_by_run ON grad_norms(run_id, layer, step);

    -- Gradient-check records: analytic against central finite differences, in Float64.
    CREATE TABLE IF NOT EXISTS grad_checks (
        run_id      INTEGER NOT NULL REFERENCES runs(id),
        step        INTEGER NOT NULL,
        layer       INTEGER,                 -- NULL for the network input
        layer_kind  TEXT NOT NULL,
        tensor      TEXT NOT NULL,           -- weight, bias or input
        entry       INTEGER NOT NULL,        -- flat index into the tensor
        analytic    REAL NOT NULL,
        numeric     REAL NOT NULL,
        abs_error   REAL NOT NULL,
        rel_error   REAL NOT NULL,
        outcome     TEXT NOT NULL CHECK (outcome IN ('passed', 'failed', 'skipped'))
    );
    CREATE INDEX IF NOT EXISTS grad_checks_by_run ON grad_checks(run_id, step);

    -- What happened to a run, in words: started, interrupted, diverged at step n, ...
    CREATE TABLE IF NOT EXISTS events (
        run_id      INTEGER NOT NULL REFERENCES runs(id),
        time        REAL NOT NULL,
        kind        TEXT NOT NULL,
        message     TEXT NOT NULL
    );

    -- Views for the common questions.

    -- One row per run: last and best values of the epoch metrics.
    CREATE VIEW IF NOT EXISTS run_final_metrics AS
    SELECT r.id AS run_id,
           r.epochs_done,
           (SELECT value FROM metrics m WHERE m.run_id = r.id AND m.name = 'train_loss' ORDER BY step DESC LIMIT 1) AS final_train_loss,
           (SELECT value FROM metrics m WHERE m.run_id = r.id AND m.name = 'test_loss' ORDER BY step DESC LIMIT 1) AS final_test_loss,
           (SELECT value FROM metrics m WHERE m.run_id = r.id AND m.name = 'test_accuracy' ORDER BY step DESC LIMIT 1) AS final_test_accuracy,
           (SELECT MAX(value) FROM metrics m WHERE m.run_id = r.id AND m.name = 'test_accuracy') AS best_test_accuracy,
           (SELECT AVG(value) FROM metrics m WHERE m.run_id = r.id AND m.name = 'images_per_second') AS images_per_second
    FROM runs r;

    -- Per run, layer and tensor: how large the gradients were.
    CREATE VIEW IF NOT EXISTS grad_norm_summary AS
    SELECT run_id, layer, layer_kind, tensor,
           COUNT(*) AS samples, AVG(l2) AS mean_l2, MAX(l2) AS max_l2, MIN(l2) AS min_l2, MAX(max_abs) AS max_abs
    FROM grad_norms
    GROUP BY run_id, layer, layer_kind, tensor;

    -- Per run: how the gradient checks went. worst_rel_error ignores skipped entries.
    CREATE VIEW IF NOT EXISTS grad_check_summary AS
    SELECT run_id,
           COUNT(*) AS checked,
           SUM(outcome = 'passed') AS passed,
           SUM(outcome = 'failed') AS failed,
           SUM(outcome = 'skipped') AS skipped,
           MAX(CASE WHEN outcome != 'skipped' THEN rel_error END) AS worst_rel_error
    FROM grad_checks
    GROUP BY run_id;
    """
}
