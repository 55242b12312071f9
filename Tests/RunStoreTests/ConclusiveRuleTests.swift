import ConvLabKit
import Foundation
import GRDB
import RunStore
import Testing
import TestSupport

/// The store's `grad_check_summary` view spells the engine's rule for a conclusive gradient check
/// in SQL (a view cannot call Swift); this holds the two equal.
@Suite("grad_check_summary judges a check conclusive exactly as GradientCheckSummary does")
struct ConclusiveRuleTests {
    @Test("every mix of up to three passed, failed, skipped and trivial entries")
    func viewAgreesWithEngine() throws {
        let path = temporaryStorePath()
        try RunStore(path: path).close()
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        try queue.write { db in
            try db.execute(sql: "INSERT INTO experiments(id, name, spec_json, created_at) VALUES (1, 'e', '{}', 0)")
            try db.execute(sql: """
                INSERT INTO runs(id, uuid, experiment_id, run_index, variant, variant_label, spec_json, spec_hash, seed, status, epochs_planned)
                VALUES (1, '00000000-0000-4000-8000-000000000001', 1, 1, '{}', '', '{}', 'h', 0, 'completed', 1)
                """)
        }
        let outcomes = GradientCheckRecord.Outcome.allCases
        // One transaction for all mixes: the view reads the rows the transaction wrote.
        let disagreements: [String] = try queue.write { db in
            var disagreements: [String] = []
            for mix in 0..<256 {
                let counts = outcomes.indices.map { (mix >> (2 * $0)) & 3 }
                let records = zip(outcomes, counts).flatMap { outcome, count in
                    Array(repeating: GradientCheckRecord(layerIndex: 0, layerKind: "dense", tensor: "weight", index: 0, analytic: 1, numeric: 1,
                                                         absoluteError: 0, relativeError: 0, outcome: outcome), count: count)
                }
                try db.execute(sql: "DELETE FROM grad_checks")
                for (entry, record) in records.enumerated() {
                    try db.execute(sql: """
                        INSERT INTO grad_checks(run_id, step, layer, layer_kind, tensor, entry, analytic, numeric, abs_error, rel_error, outcome)
                        VALUES (1, 0, 0, 'dense', 'weight', ?, 1, 1, 0, 0, ?)
                        """, arguments: [entry, record.outcome.rawValue])
                }
                // No row for a run without checks; the engine calls an empty check inconclusive.
                let view = try Bool.fetchOne(db, sql: "SELECT conclusive FROM grad_check_summary WHERE run_id = 1") ?? false
                if view != GradientCheckSummary(records).isConclusive { disagreements.append("\(Array(zip(outcomes.map(\.rawValue), counts)))") }
            }
            return disagreements
        }
        #expect(disagreements.isEmpty, "\(disagreements)")
    }
}
