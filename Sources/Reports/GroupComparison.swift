import RunStore
import TextKit

/// `report --group-by KEY --baseline VALUE`: each other group's final test accuracy against the
/// baseline group's, with the evidence for the difference (the formulas are in `Statistics`).
/// The test that decides is the paired t-test when every run of both groups has a partner of
/// the same seed in the other (same initial weights and batch order: the seed's share of the
/// noise cancels), Welch's t-test otherwise; with several groups its p-values are Holm-adjusted.
extension Reporter {
    static let comparisonLevel = 0.05

    func comparison(of groups: [(label: [String], runs: [RunRow])], keys: [String], baseline: String) throws(StoreError) -> ReportDocument.Section {
        func name(_ label: [String]) -> String { label.joined(separator: ", ") }
        let wanted = baseline.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let base = groups.first(where: { $0.label == wanted }) else {
            throw StoreError(.invalidValue, path: reader.path,
                             "--baseline \"\(baseline)\" is not a group of \(keys.joined(separator: ", ")); the groups are: \(groups.map { name($0.label) }.joined(separator: "; "))")
        }
        let ids = groups.flatMap { $0.runs.map(\.id) }
        var seedOf: [Int64: Int64] = [:]
        if !ids.isEmpty {
            let seeds = try reader.query("SELECT id, seed FROM runs WHERE id IN (\(ids.map { _ in "?" }.joined(separator: ", ")))",
                                         arguments: ids.map { .integer($0) })
            for row in seeds.rows { if let id = row[0].double, let seed = row[1].double { seedOf[Int64(id)] = Int64(seed) } }
        }

        struct Result {
            var label: [String], n: Int, baselineN: Int, difference: Double?
            var welch: Statistics.TTest?, pairs: Int, fullyPaired: Bool, paired: Statistics.TTest?, pairedDifference: Double?, signFlip: Double?
            var hedges: Double?
            var decidingTest: String? { fullyPaired && paired != nil ? "paired t-test" : welch != nil ? "Welch's t-test" : nil }
            var p: Double? { fullyPaired && paired != nil ? paired?.p : welch?.p }
        }
        let baseValues = base.runs.compactMap(\.finalTestAccuracy)
        /// Seed → value, for the seeds that occur once in a group.
        func bySeed(_ runs: [RunRow]) -> [Int64: Double] {
            var values: [Int64: [Double]] = [:]
            for run in runs { if let seed = seedOf[run.id], let value = run.finalTestAccuracy { values[seed, default: []].append(value) } }
            return values.compactMapValues { $0.count == 1 ? $0[0] : nil }
        }
        let baseBySeed = bySeed(base.runs)
        let results = groups.filter { $0.label != base.label }.map { group -> Result in
            let values = group.runs.compactMap(\.finalTestAccuracy)
            let mine = bySeed(group.runs)
            let shared = mine.keys.filter { baseBySeed[$0] != nil }.sorted()
            let differences = shared.compactMap { seed in mine[seed].flatMap { x in baseBySeed[seed].map { x - $0 } } }
            return Result(label: group.label, n: values.count, baselineN: baseValues.count,
                          difference: values.isEmpty || baseValues.isEmpty ? nil : Statistics.mean(values) - Statistics.mean(baseValues),
                          welch: Statistics.welch(values, minus: baseValues), pairs: differences.count,
                          fullyPaired: differences.count == values.count && differences.count == baseValues.count,
                          paired: Statistics.pairedT(differences), pairedDifference: differences.isEmpty ? nil : Statistics.mean(differences),
                          signFlip: Statistics.signFlipP(differences), hedges: Statistics.hedgesG(values, minus: baseValues))
        }
        let tested = results.indices.filter { results[$0].p != nil }
        let adjusted = Statistics.holm(tested.compactMap { results[$0].p })
        var holmOf: [Int: Double] = [:]
        for (k, index) in tested.enumerated() { holmOf[index] = adjusted[k] }
        let corrected = tested.count > 1

        let baseName = name(base.label)
        let heads = results.map { "\(name($0.label)) − \(baseName)" }
        func interval(_ i: Statistics.Interval?) -> String { i.map { signed($0.low) + " … " + signed($0.high) } ?? "–" }
        func test(_ t: Statistics.TTest?) -> String {
            t.map { "t = \(Numbers.fixed($0.t, 2)), df = \(Numbers.fixed($0.degreesOfFreedom, 1)), p = \(pValue($0.p))" } ?? "–"
        }
        var rows: [[String]] = [
            ["runs (group / baseline)"] + results.map { "\($0.n) / \($0.baselineN)" },
            ["difference of means"] + results.map { $0.difference.map(signed) ?? "–" },
            ["95 % CI (Welch)"] + results.map { interval($0.welch?.interval) },
            ["Welch t-test"] + results.map { test($0.welch) },
            ["paired by seed"] + results.map { r in
                r.pairs == 0 ? "no shared seed" : "\(r.pairs) seed\(r.pairs == 1 ? "" : "s"): " + (r.pairedDifference.map(signed) ?? "–")
                    + (r.paired.map { ", CI " + interval($0.interval) } ?? "")
            },
            ["paired t-test"] + results.map { test($0.paired) },
            ["sign-flip test (exact)"] + results.map { r in r.signFlip.map { "p = \(pValue($0))" } ?? "–" },
            ["Hedges' g"] + results.map { $0.hedges.map { Numbers.fixed($0, 2) } ?? "–" },
        ]
        if corrected { rows.append(["p, Holm-adjusted (\(tested.count) tests)"] + results.indices.map { holmOf[$0].map(pValue) ?? "–" }) }
        rows.append(["at the 5 % level"] + results.indices.map { i in
            guard let p = holmOf[i] else { return "not testable" }
            return p < Self.comparisonLevel ? "different" : "cannot tell apart"
        })
        let table = Table(columns: ["final test accuracy"] + heads, rows: rows, alignments: [.left] + heads.map { _ in .right })

        var sentences: [String] = []
        for (i, r) in results.enumerated() {
            let group = name(r.label)
            guard let p = holmOf[i], let test = r.decidingTest else {
                sentences.append("\(group) against \(baseName): not testable, since a t-test needs at least two runs with different accuracies in each group (\(r.n) and \(r.baselineN) here). One seed cannot tell groups apart: add seeds to the matrix (\"seeds\": [1, 2, 3]).")
                continue
            }
            let evidence = "\(test), \(corrected ? "Holm-adjusted " : "")p = \(pValue(p))"
            let difference = r.fullyPaired && r.paired != nil ? r.pairedDifference : r.difference
            var sentence = p < Self.comparisonLevel
                ? "The data tell \(group) from \(baseName) apart at the 5 % level (\(evidence)): \(group) is \((difference ?? 0) > 0 ? "higher" : "lower") by \(Numbers.fixed(abs(difference ?? 0), 4))."
                : "The data cannot tell \(group) from \(baseName) apart at the 5 % level (\(evidence))."
            if r.fullyPaired, r.signFlip != nil, r.pairs <= 5 {
                sentence += " With \(r.pairs) paired seeds the exact sign-flip test cannot give p below \(pValue(2 / Double(1 << r.pairs)))."
            }
            sentences.append(sentence)
        }
        let method = "Differences are group − \(baseName) in final test accuracy over completed runs; intervals 95 %; Hedges' g is the difference over the pooled sd with the small-sample correction. "
            + "The deciding test is the paired t-test when every run has a partner of the same seed in the other group, Welch's t-test otherwise"
            + (corrected ? "; its p-values are Holm-adjusted over the \(tested.count) comparisons." : ".")
        let machine = Table(
            columns: ["group", "baseline", "n", "baseline_n", "difference", "ci95_low", "ci95_high", "welch_t", "welch_df", "welch_p",
                      "paired_n", "paired_difference", "paired_ci95_low", "paired_ci95_high", "paired_t", "paired_df", "paired_p",
                      "sign_flip_p", "hedges_g", "deciding_test", "p", "p_holm", "different_at_5_percent"],
            rows: results.map { [name($0.label)] },
            values: results.enumerated().map { i, r in
                [.text(name(r.label)), .text(baseName), .number(Double(r.n)), .number(Double(r.baselineN)), num(r.difference),
                 num(r.welch?.interval.low), num(r.welch?.interval.high), num(r.welch?.t), num(r.welch?.degreesOfFreedom), num(r.welch?.p),
                 .number(Double(r.pairs)), num(r.pairedDifference), num(r.paired?.interval.low), num(r.paired?.interval.high),
                 num(r.paired?.t), num(r.paired?.degreesOfFreedom), num(r.paired?.p), num(r.signFlip), num(r.hedges),
                 r.decidingTest.map { .text($0) } ?? .null, num(r.p), num(holmOf[i]), holmOf[i].map { .bool($0 < Self.comparisonLevel) } ?? .null]
            })
        return .init(title: "Difference from \(keys.joined(separator: ", ")) = \(baseName)", table: table,
                     text: "\n" + (sentences + [method]).joined(separator: "\n") + "\n", machineTable: machine.withTextRows())
    }
}

/// A signed fixed-point number: "+0.0042", "-0.0013".
private func signed(_ value: Double) -> String { (value > 0 ? "+" : "") + Numbers.fixed(value, 4) }

/// A p-value: three decimals, or scientific below 0.001.
func pValue(_ p: Double) -> String { p < 0.001 ? Numbers.scientific(p) : Numbers.fixed(p, 3) }

extension Table {
    /// The text cells of a table built from typed values (CSV and JSON use the values).
    func withTextRows() -> Table {
        guard let values else { return self }
        var copy = self
        copy.rows = values.map { row in
            row.map { cell in
                switch cell {
                case .null: ""
                case .bool(let b): b ? "true" : "false"
                case .number(let n): JSONWriter.number(n)
                case .text(let s): s
                case .json(let j): j
                }
            }
        }
        return copy
    }
}
