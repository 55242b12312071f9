import Foundation
import RunStore

/// One part of a sweep, for running a sweep on several machines (`runner exec --shard I/N`):
/// the runs at 0-based positions p of the plan with p mod N = I. The N shards of a plan partition
/// its runs, whatever N is, and each shard's runs keep their run index, so the stores of the
/// shards merge back into one experiment.
public struct SweepShard: Sendable, Equatable, CustomStringConvertible {
    /// I: 0 ≤ index < count.
    public let index: Int
    /// N ≥ 1.
    public let count: Int

    /// Why a shard text or pair is not one.
    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    public init(index: Int, count: Int) throws(Invalid) {
        guard count >= 1, count <= Self.maximumCount else {
            throw Invalid(description: "the number of shards N must be from 1 to \(Self.maximumCount), not \(count)")
        }
        guard index >= 0, index < count else {
            throw Invalid(description: "shard \(index)/\(count): I must be from 0 to N − 1 = \(count - 1) (shards are counted from 0, as Slurm's array task ids are)")
        }
        self.index = index
        self.count = count
    }

    /// Slurm's own limit on array sizes is far lower; this only keeps the numbers sane.
    public static let maximumCount = 1_000_000

    /// Parses "I/N" (decimal digits only: no sign, no spaces).
    public init(parsing text: String) throws(Invalid) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.count <= 7 && $0.allSatisfy { $0.isASCII && $0.isNumber } }),
              let index = Int(parts[0]), let count = Int(parts[1]) else {
            throw Invalid(description: "--shard must be I/N, two whole numbers with 0 ≤ I < N (e.g. 0/4, 1/4, 2/4, 3/4), not \"\(text)\"")
        }
        try self.init(index: index, count: count)
    }

    public var description: String { "\(index)/\(count)" }

    /// Whether the run at 0-based `position` of the plan belongs to this shard.
    public func contains(position: Int) -> Bool { position % count == index }

    /// This shard's runs of the plan, in plan order. A search is divided by trials (trial t, from
    /// 1, belongs to the shard with (t − 1) mod N = I), so all the seeds of a trial train in one
    /// store, whose sampler draws them once.
    public func runs(of plan: ExperimentPlan) -> [RunPlan] {
        if let search = plan.search { return plan.runs.filter { contains(position: search.trial(ofRun: $0.index) - 1) } }
        return plan.runs.enumerated().filter { contains(position: $0.offset) }.map(\.element)
    }

    /// The UUID a shard gives the run of `runIndex` in the sweep of `sweepHash`: the same in every
    /// store, so that a shard run twice (into two stores, or with another N) is one run to
    /// `runner merge`, which keeps its more complete copy. Made from SHA-256 as an RFC 9562
    /// version-8 UUID, lower-case like every run UUID.
    public static func runUUID(sweepHash: String, runIndex: Int) -> String {
        var hex = Array(DataFileHash.sha256(Data("convlab shard run\n\(sweepHash)\n\(runIndex)".utf8)).prefix(32))
        hex[12] = "8"
        let variant = Array("89ab")
        hex[16] = variant[(Int(String(hex[16]), radix: 16) ?? 0) % 4]
        let text = String(hex)
        let cuts = [8, 12, 16, 20]
        var parts: [Substring] = []
        var start = text.startIndex
        for cut in cuts + [32] {
            let end = text.index(text.startIndex, offsetBy: cut)
            parts.append(text[start..<end])
            start = end
        }
        return parts.joined(separator: "-")
    }
}
