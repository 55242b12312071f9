import RunStore

/// What tells a watcher that a search changed, without ranking it again: a hash over each trial
/// run's status, epochs done, sampled values and number of objective rows (cheap: one indexed
/// count per run), and whether any run may still change (not completed, pruned, failed or diverged).
public struct SearchSignature: Sendable, Equatable {
    public var text: String
    public var live: Bool
}

extension Reporter {
    public func searchSignature(id: Int64, metric: String) throws(StoreError) -> SearchSignature {
        let rows = try reader.query("""
            SELECT r.trial, r.status, r.epochs_done, r.variant, (SELECT COUNT(*) FROM metrics m WHERE m.run_id = r.id AND m.name = ?)
            FROM runs r WHERE r.experiment_id = ? AND r.trial IS NOT NULL ORDER BY r.id
            """, arguments: [.text(metric), .integer(id)]).rows
        // FNV-1a, 64 bits.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        var live = false
        for row in rows {
            let status = row[1].string ?? ""
            if !["completed", "pruned", "failed", "diverged"].contains(status) { live = true }
            for byte in row.map(\.description).joined(separator: "\u{1F}").utf8 + [0x1E] {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01b3
            }
        }
        return SearchSignature(text: String(hash, radix: 16), live: live)
    }
}
