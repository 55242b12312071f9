import Foundation

/// The Slurm job array of a sweep (`runner slurm`): task i of N runs `runner exec SPEC --shard i/N`
/// into a store of its own, and a merge job, submitted to start after the whole array succeeded,
/// merges the N stores into one. Paths are absolute and limited to characters that need no
/// quoting in a shell or in an #SBATCH line, where Slurm also reads % as a pattern.
public struct SlurmScript: Sendable, Equatable {
    public var name: String
    /// The `runner` executable, absolute.
    public var runner: String
    /// The spec file, absolute.
    public var spec: String
    /// Where the shard stores, the merged store, the script and the logs go, absolute.
    public var storeDirectory: String
    public var tasks: Int
    public var runCount: Int
    public var cpusPerTask: Int
    public var partition: String?
    public var time: String?

    /// Why a value cannot go into the script.
    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    public init(name: String, runner: String, spec: String, storeDirectory: String, tasks: Int, runCount: Int,
                cpusPerTask: Int, partition: String? = nil, time: String? = nil) throws(Invalid) {
        for (label, path) in [("the runner executable", runner), ("the spec", spec), ("--store-dir", storeDirectory)] {
            guard path.hasPrefix("/") else { throw Invalid(description: "\(label) must be an absolute path, not \(path)") }
            if let bad = path.unicodeScalars.first(where: { !Self.isPlain($0) }) {
                throw Invalid(description: "\(label) \(path.debugDescription) holds \(Self.describe(bad)), which a job script would have to quote (Slurm reads % in #SBATCH paths as a pattern); "
                              + "use a path of letters, digits and / . _ - + , : @ = ~ (a symlink will do)")
            }
        }
        guard tasks >= 1 else { throw Invalid(description: "--tasks must be at least 1, not \(tasks)") }
        guard tasks <= runCount else {
            throw Invalid(description: "--tasks \(tasks) is more than the \(runCount) run\(runCount == 1 ? "" : "s") of \(spec): tasks \(runCount) to \(tasks - 1) would have nothing to do; use --tasks \(runCount) or fewer")
        }
        guard (1...4096).contains(cpusPerTask) else { throw Invalid(description: "--cpus-per-task must be from 1 to 4096, not \(cpusPerTask)") }
        if let partition, let problem = Self.partitionProblem(partition) { throw Invalid(description: problem) }
        if let time, let problem = Self.timeProblem(time) { throw Invalid(description: problem) }
        self.name = Self.jobName(name)
        self.runner = runner
        self.spec = spec
        self.storeDirectory = storeDirectory.count > 1 && storeDirectory.hasSuffix("/") ? String(storeDirectory.dropLast()) : storeDirectory
        self.tasks = tasks
        self.runCount = runCount
        self.cpusPerTask = cpusPerTask
        self.partition = partition
        self.time = time
    }

    static func isPlain(_ scalar: Unicode.Scalar) -> Bool {
        scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "/._-+,:@=~".unicodeScalars.contains(scalar))
    }

    static func describe(_ scalar: Unicode.Scalar) -> String {
        scalar == " " ? "a space" : scalar.properties.generalCategory == .control ? "a control character" : "\"\(scalar)\""
    }

    /// A Slurm job name from the experiment's name: letters, digits, - _ . only.
    static func jobName(_ name: String) -> String {
        let kept = String(name.unicodeScalars.map { isPlain($0) && !"/,:@=~+".unicodeScalars.contains($0) ? Character($0) : "_" }.prefix(60))
        return kept.isEmpty ? "convlab" : kept
    }

    /// What is wrong with a --partition value (one or more names separated by commas), or nil.
    public static func partitionProblem(_ text: String) -> String? {
        let names = text.split(separator: ",", omittingEmptySubsequences: false)
        guard !text.isEmpty, text.count <= 200,
              names.allSatisfy({ !$0.isEmpty && $0.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "_-.".unicodeScalars.contains($0)) } }) else {
            return "--partition must be a partition name (letters, digits, _ - .) or several separated by commas, not \(text.debugDescription)"
        }
        return nil
    }

    /// What is wrong with a --time value, or nil. Slurm's forms: M, M:S, H:M:S, D-H, D-H:M,
    /// D-H:M:S (minutes and seconds below 60, hours below 24 after a day count), or UNLIMITED.
    public static func timeProblem(_ text: String) -> String? {
        let problem = "--time must be one of Slurm's forms — minutes (90), M:S, H:M:S (1:30:00), D-H (2-0), D-H:M, D-H:M:S — or UNLIMITED, not \(text.debugDescription)"
        if ["UNLIMITED", "INFINITE"].contains(text.uppercased()) { return nil }
        func number(_ part: Substring, below limit: Int?) -> Int? {
            guard !part.isEmpty, part.count <= 7, part.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(part) else { return nil }
            if let limit, value >= limit { return nil }
            return value
        }
        let dayParts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard dayParts.count <= 2 else { return problem }
        let clock = dayParts.last.map { $0.split(separator: ":", omittingEmptySubsequences: false) } ?? []
        var total = 0
        if dayParts.count == 2 {
            guard let days = number(dayParts[0], below: nil), (1...3).contains(clock.count),
                  let hours = number(clock[0], below: 24) else { return problem }
            let rest = clock.dropFirst().map { number($0, below: 60) }
            guard !rest.contains(where: { $0 == nil }) else { return problem }
            total = days * 86_400 + hours * 3600 + (rest.first.flatMap { $0 } ?? 0) * 60 + (rest.count > 1 ? (rest[1] ?? 0) : 0)
        } else {
            switch clock.count {
            case 1:
                guard let minutes = number(clock[0], below: nil) else { return problem }
                total = minutes * 60
            case 2:
                guard let minutes = number(clock[0], below: nil), let seconds = number(clock[1], below: 60) else { return problem }
                total = minutes * 60 + seconds
            case 3:
                guard let hours = number(clock[0], below: nil), let minutes = number(clock[1], below: 60),
                      let seconds = number(clock[2], below: 60) else { return problem }
                total = hours * 3600 + minutes * 60 + seconds
            default:
                return problem
            }
        }
        return total > 0 ? nil : "--time must be more than zero, not \(text.debugDescription)"
    }

    public var mergedStore: String { "\(storeDirectory)/\(name).sqlite" }
    public var scriptFile: String { "\(storeDirectory)/\(name).sbatch" }
    public func shardStore(_ index: Int) -> String { "\(storeDirectory)/shard-\(index).sqlite" }

    /// The merge job's command: every shard's store, named one by one, so that a store left in the
    /// folder by another sweep is never merged by accident, and a missing one stops the merge.
    public var mergeCommand: String {
        "\(runner) merge \(mergedStore) " + (0..<tasks).map(shardStore).joined(separator: " ")
    }

    /// `sbatch` arguments for the merge job, to start once the array `jobID` has succeeded.
    public func mergeSubmission(after jobID: String) -> [String] {
        ["--parsable", "--job-name=\(name)-merge", "--dependency=afterok:\(jobID)", "--kill-on-invalid-dep=yes",
         "--cpus-per-task=1", "--output=\(storeDirectory)/merge-%j.out"]
            + (partition.map { ["--partition=\($0)"] } ?? []) + (time.map { ["--time=\($0)"] } ?? [])
            + ["--wrap=exec \(mergeCommand)"]
    }

    /// The array job's script.
    public var text: String {
        let shards = tasks == 1 ? "one task" : "\(tasks) tasks"
        var lines = [
            "#!/bin/bash",
            "# ConvLab sweep \"\(name)\" on Slurm: the \(runCount) run\(runCount == 1 ? "" : "s") of",
            "#   \(spec)",
            "# in a job array of \(shards), then one job that merges their stores. Written by `runner slurm`.",
            "#",
            "# Submit it (this is what `runner slurm … --submit` does):",
            "#   mkdir -p \(storeDirectory)",
            "#   jobid=$(sbatch --parsable \(scriptFile))",
            "#   sbatch " + mergeSubmission(after: "$jobid").map { $0.hasPrefix("--wrap=") ? "--wrap=\"\($0.dropFirst(7))\"" : $0 }.joined(separator: " "),
            "# Watch it: squeue --me; sacct -j $jobid. Each task logs to \(storeDirectory)/shard-<task>.out.",
            "#",
            "# Task i trains the runs at positions p (counted from 0 in the spec's matrix order) with",
            "# p mod \(tasks) = i, into its own store \(storeDirectory)/shard-<i>.sqlite: no two tasks,",
            "# and no two machines, ever write one SQLite file (over NFS its locking is not reliable).",
            "# A task run again (sbatch --array=<i> \(scriptFile)) resumes its shard where it stopped.",
            "#",
            "# The merge job starts only when every task succeeded. A task that fails (exit 1: a run",
            "# failed or diverged, recorded in its store; 2: bad input) cancels it; merge what is there",
            "# by hand (merging again later adds only what is new or more complete):",
            "#   \(mergeCommand)",
            "# Then:",
            "#   \(runner) report --store \(mergedStore)",
            "#",
            "#SBATCH --job-name=\(name)",
            "#SBATCH --array=0-\(tasks - 1)",
            "#SBATCH --ntasks=1",
            "#SBATCH --cpus-per-task=\(cpusPerTask)",
        ]
        if let partition { lines.append("#SBATCH --partition=\(partition)") }
        if let time { lines.append("#SBATCH --time=\(time)") }
        lines += [
            "#SBATCH --output=\(storeDirectory)/shard-%a.out",
            "",
            "set -euo pipefail",
            "# One replica per CPU Slurm gave this task; OpenBLAS's own threads stay off (runner sets that).",
            "exec \(runner) exec \(spec) --shard \"${SLURM_ARRAY_TASK_ID}/\(tasks)\" --store \"\(storeDirectory)/shard-${SLURM_ARRAY_TASK_ID}.sqlite\"",
            "",
        ]
        return lines.joined(separator: "\n")
    }
}
