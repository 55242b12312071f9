import Foundation
import Testing
import RunStore
@testable import RunnerKit

/// A plan of `runs` runs (a matrix of seeds) on the small synthetic spec.
func seedPlan(runs: Int) throws -> ExperimentPlan {
    let text = smokeSpec { $0["matrix"] = ["seeds": Array(1...runs)] }
    return try SpecLoader.plan(text: text, file: "spec.json")
}

@Suite("Sweep shards (runner exec --shard I/N) and the Slurm script")
struct SweepShardTests {
    @Test("for random plan sizes and shard counts, the N shards partition the positions: each in exactly one, p mod N = I, sizes within one")
    func shardsPartitionPositions() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            let size = Int.random(in: 0...500, using: &generator)
            let count = Int.random(in: 1...(size + 10), using: &generator)
            let shards = try (0..<count).map { try SweepShard(index: $0, count: count) }
            var owners = Array(repeating: 0, count: size)
            var sizes = Array(repeating: 0, count: count)
            for position in 0..<size {
                let owning = shards.filter { $0.contains(position: position) }
                #expect(owning.count == 1, "position \(position) of \(size), N \(count)")
                owners[position] = owning.first?.index ?? -1
                sizes[owners[position]] += 1
            }
            #expect(owners.enumerated().allSatisfy { $0.element == $0.offset % count })
            #expect((sizes.max() ?? 0) - (sizes.min() ?? 0) <= 1, "size \(size), N \(count): \(sizes)")
        }
    }

    @Test("on real plans, the shards' runs are the plan's runs, each once, in plan order")
    func shardsPartitionPlans() throws {
        for size in [1, 3, 7, 12] {
            let plan = try seedPlan(runs: size)
            #expect(plan.runs.count == size)
            for count in 1...(size + 2) {
                let parts = try (0..<count).map { try SweepShard(index: $0, count: count).runs(of: plan).map(\.index) }
                #expect(parts.flatMap { $0 }.sorted() == plan.runs.map(\.index), "size \(size), N \(count)")
                for (i, part) in parts.enumerated() {
                    #expect(part == part.sorted() && part.allSatisfy { ($0 - 1) % count == i }, "size \(size), shard \(i)/\(count): \(part)")
                }
            }
        }
    }

    @Test("--shard parses I/N with 0 ≤ I < N and refuses everything else, saying what it expects")
    func parsing() throws {
        #expect(try SweepShard(parsing: "0/1") == SweepShard(index: 0, count: 1))
        #expect(try SweepShard(parsing: "3/4") == SweepShard(index: 3, count: 4))
        #expect(try SweepShard(parsing: "07/10").index == 7)
        let bad: [(String, String)] = [
            ("4/4", "from 0 to N − 1 = 3"), ("0/0", "from 1 to"), ("-1/3", "must be I/N"), ("1/-3", "must be I/N"), ("a/b", "must be I/N"),
            ("1/2/3", "must be I/N"), (" 1/2", "must be I/N"), ("+1/2", "must be I/N"), ("1", "must be I/N"), ("", "must be I/N"),
            ("1/", "must be I/N"), ("/2", "must be I/N"), ("1.0/2", "must be I/N"), ("99999999999999999999/2", "must be I/N"), ("١/٢", "must be I/N"),
        ]
        for (text, message) in bad {
            #expect { try SweepShard(parsing: text) } throws: { error in
                "\(error)".contains(message)
            }
        }
    }

    @Test("a shard run's UUID is a valid run UUID, the same every time, and differs between runs and between sweeps")
    func runUUIDs() {
        let a = SweepShard.runUUID(sweepHash: "h1", runIndex: 1)
        #expect(RunStore.isRunUUID(a))
        #expect(a == SweepShard.runUUID(sweepHash: "h1", runIndex: 1))
        let all = Set((1...200).map { SweepShard.runUUID(sweepHash: "h1", runIndex: $0) } + (1...200).map { SweepShard.runUUID(sweepHash: "h2", runIndex: $0) })
        #expect(all.count == 400)
        #expect(all.allSatisfy { RunStore.isRunUUID($0) && $0.split(separator: "-")[2].first == "8" && "89ab".contains($0.split(separator: "-")[3].first ?? "x") })
    }

    func script(tasks: Int = 3, runs: Int = 4, store: String = "/scratch/sweep", partition: String? = "cpu", time: String? = "1:30:00") throws(SlurmScript.Invalid) -> SlurmScript {
        try SlurmScript(name: "lenet", runner: "/opt/convlab/runner", spec: "/home/me/lenet.json", storeDirectory: store, tasks: tasks,
                        runCount: runs, cpusPerTask: 2, partition: partition, time: time)
    }

    @Test("the script: an array of N tasks, each exec --shard $SLURM_ARRAY_TASK_ID/N into its own store; the merge job after it")
    func scriptText() throws {
        let s = try script()
        let lines = s.text.split(separator: "\n").map(String.init)
        #expect(lines.first == "#!/bin/bash")
        for directive in ["#SBATCH --array=0-2", "#SBATCH --cpus-per-task=2", "#SBATCH --partition=cpu", "#SBATCH --time=1:30:00",
                          "#SBATCH --job-name=lenet", "#SBATCH --output=/scratch/sweep/shard-%a.out"] {
            #expect(lines.contains(directive), "\(directive)")
        }
        #expect(lines.contains(#"exec /opt/convlab/runner exec /home/me/lenet.json --shard "${SLURM_ARRAY_TASK_ID}/3" --store "/scratch/sweep/shard-${SLURM_ARRAY_TASK_ID}.sqlite""#))
        // sbatch reads #SBATCH lines only before the first command: every line before them is a comment.
        let firstCommand = lines.firstIndex { !$0.isEmpty && !$0.hasPrefix("#") } ?? lines.count
        #expect(lines.lastIndex { $0.hasPrefix("#SBATCH") } ?? .max < firstCommand)
        #expect(s.mergeCommand == "/opt/convlab/runner merge /scratch/sweep/lenet.sqlite /scratch/sweep/shard-0.sqlite /scratch/sweep/shard-1.sqlite /scratch/sweep/shard-2.sqlite")
        let merge = s.mergeSubmission(after: "123")
        #expect(merge.contains("--dependency=afterok:123") && merge.contains("--parsable") && merge.contains("--partition=cpu") && merge.contains("--time=1:30:00"))
        #expect(merge.last == "--wrap=exec " + s.mergeCommand)
        #expect(s.text.contains("jobid=$(sbatch --parsable /scratch/sweep/lenet.sbatch)"))
        let plain = try script(tasks: 1, runs: 1, store: "/s/", partition: nil, time: nil)
        #expect(plain.text.contains("#SBATCH --array=0-0") && !plain.text.contains("--partition") && !plain.text.contains("--time"))
        #expect(plain.storeDirectory == "/s")
    }

    @Test("refused: no tasks, more tasks than runs, relative or unquotable paths, a malformed time or partition")
    func scriptRefusals() {
        let cases: [(() throws(SlurmScript.Invalid) -> SlurmScript, String)] = [
            ({ () throws(SlurmScript.Invalid) in try self.script(tasks: 0) }, "at least 1"),
            ({ () throws(SlurmScript.Invalid) in try self.script(tasks: 5, runs: 4) }, "use --tasks 4 or fewer"),
            ({ () throws(SlurmScript.Invalid) in try self.script(store: "relative/dir") }, "absolute path"),
            ({ () throws(SlurmScript.Invalid) in try self.script(store: "/my sweeps") }, "a space"),
            ({ () throws(SlurmScript.Invalid) in try self.script(store: "/sweeps/100%") }, "\"%\""),
            ({ () throws(SlurmScript.Invalid) in try self.script(store: "/a/$HOME") }, "\"$\""),
            ({ () throws(SlurmScript.Invalid) in try self.script(store: "/a\nb") }, "a control character"),
            ({ () throws(SlurmScript.Invalid) in try self.script(partition: "cpu gpu") }, "--partition"),
            ({ () throws(SlurmScript.Invalid) in try self.script(partition: "") }, "--partition"),
            ({ () throws(SlurmScript.Invalid) in try self.script(time: "1h") }, "--time"),
            ({ () throws(SlurmScript.Invalid) in try self.script(time: "1:60:00") }, "--time"),
            ({ () throws(SlurmScript.Invalid) in try self.script(time: "0") }, "more than zero"),
        ]
        for (make, message) in cases {
            #expect { try make() } throws: { error in "\(error)".contains(message) }
        }
        for time in ["90", "5:30", "1:30:00", "2-0", "2-12:30", "1-00:00:01", "UNLIMITED", "infinite"] {
            #expect(SlurmScript.timeProblem(time) == nil, "\(time)")
        }
        for time in ["", "1:2:3:4", "1-", "-1", "1-24", "1-2:60", "a", "1:", ":5", "1-1-1", "1.5"] {
            #expect(SlurmScript.timeProblem(time) != nil, "\(time)")
        }
        for partition in ["cpu", "cpu,gpu", "short-q", "a_b.c"] { #expect(SlurmScript.partitionProblem(partition) == nil) }
        for partition in ["cpu,", ",cpu", "cpu;rm", "c p u", "cpu\n"] { #expect(SlurmScript.partitionProblem(partition) != nil) }
    }
}
