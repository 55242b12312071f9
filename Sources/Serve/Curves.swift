import RunStore

/// A run's series as the charts draw them, read with the store's (run_id, name, step) index and
/// thinned in SQL to about `points` per series (every k-th step), so a run of a hundred thousand
/// steps draws as fast as a short one.
struct Curves: Sendable {
    /// Metric name → (x, value); x is the step for per-step metrics, the epoch for per-epoch ones.
    var metrics: [String: [(x: Double, y: Double)]] = [:]
    /// "layer.kind.tensor" → (step, L2 norm), in layer order.
    var gradNorms: [(name: String, layer: Int, points: [(x: Double, y: Double)])] = []

    /// Whether a metric is recorded once per epoch (its x is the epoch) or every few steps.
    static func isPerEpoch(_ name: String) -> Bool {
        name.hasSuffix("_epoch") || name.hasPrefix("test_") || name.hasPrefix("validation_") || name == "images_per_second"
    }

    /// The name a chart's legend gives a metric.
    static func legend(_ name: String) -> String {
        name.hasSuffix("_epoch") ? String(name.dropLast("_epoch".count)) : name
    }

    static func load(_ reader: StoreReader, run id: Int64, points: Int = 1000, gradNorms: Bool = true) throws(StoreError) -> Curves {
        var curves = Curves()
        let steps = try reader.query("SELECT steps_done FROM runs WHERE id = ?", arguments: [.integer(id)]).rows.first?.first?.double ?? 0
        func stride(_ key: String) throws(StoreError) -> Int64 {
            let every = max(1, try reader.query("SELECT value_real FROM params WHERE run_id = ? AND key = ?",
                                                arguments: [.integer(id), .text(key)]).rows.first?.first?.double ?? 1)
            return Int64(every) * Int64(max(1, (steps / every / Double(points)).rounded(.up)))
        }
        let rows = try reader.query("""
            SELECT name, step, epoch, value FROM metrics WHERE run_id = ? AND name IN ('train_loss', 'learning_rate') AND step % ? = 0
            UNION ALL
            SELECT name, step, epoch, value FROM metrics WHERE run_id = ? AND name NOT IN ('train_loss', 'learning_rate')
            ORDER BY step
            """, arguments: [.integer(id), .integer(try stride("probes.loss.every")), .integer(id)])
        for row in rows.rows {
            guard let name = row[0].string, let step = row[1].double, let epoch = row[2].double, let value = row[3].double else { continue }
            curves.metrics[name, default: []].append((isPerEpoch(name) ? epoch : step, value))
        }
        guard gradNorms else { return curves }
        let norms = try reader.query("""
            SELECT layer, layer_kind, tensor, step, l2 FROM grad_norms WHERE run_id = ? AND step % ? = 0 ORDER BY layer, tensor DESC, step
            """, arguments: [.integer(id), .integer(try stride("probes.grad_norms.every"))])
        for row in norms.rows {
            guard let step = row[3].double, let l2 = row[4].double else { continue }
            let layer = Int(row[0].double ?? -1)
            let name = "\(row[0].description) \(row[1].string ?? "").\(row[2].string ?? "")"
            if curves.gradNorms.last?.name != name { curves.gradNorms.append((name, layer, [])) }
            curves.gradNorms[curves.gradNorms.count - 1].points.append((step, l2))
        }
        return curves
    }
}
