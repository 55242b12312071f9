import ConvLabKit
import ArgumentParser
import Foundation
import Reports
import RunStore

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Query, compare and chart the runs in the store (read-only).",
        discussion: """
        Views:
          runner report                          one row per run
          runner report --group-by model.pooling compare groups of runs (mean, sd, 95 % interval)
          runner report --group-by model.pooling --baseline max   each group's difference from max, with its tests
          runner report --run 3                  one run: spec, curves, checks, provenance (--run 3f2a: a UUID prefix)
          runner report --compare 3 5            spec keys that differ, final metrics side by side
          runner report --trials                 a search's trials ranked by its objective, and the best (--experiment NAME: which search)
          runner report --tag baseline           only runs tagged so (see `runner runs tag`)
          runner report --history --format csv   every metric row
          runner report --sql "SELECT * FROM run_final_metrics"
          runner report --sql                    tables, views and columns
          echo "SELECT ..." | runner report --sql -
          runner report --html report.html       one file with SVG charts

        --sql runs one statement on the store opened read-only: statements that would write, several statements at once, and ATTACH/DETACH are refused. A query that returns more than --max-rows rows (default 100000) or runs longer than --timeout seconds (default 30) is stopped with an error: a recursive query without an end cannot run away. Text that holds only comments is no query: the tables are listed.

        --html (like `runner schema --output`) never overwrites a SQLite file or the store itself, and writes through a temporary file, so a failed write leaves no half-written file.

        Filters combine, and numbers compare as numbers:
          runner report --experiment lenet --status completed
          runner report --where "optimizer.learning_rate<0.1" --where model.pooling=max

        Spec keys are the dotted paths of the resolved spec; runner report --sql "SELECT DISTINCT key FROM params" lists them. The store is opened read-only: nothing here changes it.
        """)

    @OptionGroup var store: StoreOption

    @Option(name: .customLong("run"), help: ArgumentHelp("Show this run in detail (given once), or only these runs (repeated): an id or at least 4 hex digits of its UUID.", valueName: "run"))
    var runs: [String] = []

    @Option(name: .customLong("tag"), help: ArgumentHelp("Only runs with this tag (repeat: runs with any of them).", valueName: "tag"))
    var tags: [String] = []

    @Option(name: .customLong("compare"), parsing: .upToNextOption,
            help: ArgumentHelp("Compare two runs: the spec keys that differ and the final metrics side by side (with --html, their curves overlaid).", valueName: "run"))
    var compare: [String] = []

    @Option(help: ArgumentHelp("Only runs of this experiment (name or id).", valueName: "name"))
    var experiment: String?

    @Option(help: ArgumentHelp("Only runs with this status: \(RunStatus.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "status"))
    var status: [String] = []

    @Option(name: .customLong("where"), help: ArgumentHelp("Only runs whose spec key compares so: key=value, key<0.1, key>=3, key!=relu.", valueName: "expr"))
    var wheres: [String] = []

    @Option(name: .customLong("group-by"), help: ArgumentHelp("Compare groups of runs by this spec key (repeat for several).", valueName: "key"))
    var groupBy: [String] = []

    @Option(help: ArgumentHelp("With --group-by: the group the others are compared with (its value, e.g. max; several keys: max,relu): difference of final test accuracy with its 95 % interval, Welch and paired t-tests, sign-flip test, Hedges' g.", valueName: "value"))
    var baseline: String?

    @Option(help: ArgumentHelp("Accuracy whose first epoch the group view reports.", valueName: "fraction"))
    var targetAccuracy: Double = 0.85

    @Option(help: ArgumentHelp("Run one read-only SQL statement (\"-\": read it from standard input; no value: list tables and columns).", valueName: "query"))
    var sql: String?

    @Option(name: .customLong("max-rows"), help: ArgumentHelp("--sql: stop with an error when the query returns more rows than this.", valueName: "rows"))
    var maxRows: Int = 100_000

    @Option(help: ArgumentHelp("--sql: stop with an error when the query runs longer than this.", valueName: "seconds"))
    var timeout: Double = 30

    @Flag(help: "Every metric row of the selected runs (long format: run_id, name, step, epoch, value, wall_time).")
    var history = false

    @Flag(help: "A search's trials ranked by its objective (completed, then pruned, then the rest), with the sampled values and the best trial; --experiment names the search (default: the newest).")
    var trials = false

    @Option(help: "Output format: table, csv, json or markdown.")
    var format: String = "table"

    @Option(help: ArgumentHelp("Write a self-contained HTML report (charts for the selected runs and groups) to this file.", valueName: "file"))
    var html: String?

    @Option(help: ArgumentHelp("Fit tables to this many columns, cutting the widest cells with …  (default: the terminal's width; no limit when output is not a terminal).", valueName: "columns"))
    var width: Int?

    /// `--width`, or the terminal's.
    var outputWidth: Int { width ?? Console.width }

    @Option(help: ArgumentHelp("A running run silent for longer than this shows as stale.", valueName: "seconds"))
    var staleAfter: Double = 60

    func validate() throws {
        guard OutputFormat(rawValue: format) != nil else { throw ValidationError("--format must be table, csv, json or markdown, not \"\(format)\"") }
        let known = RunStatus.allCases.map(\.rawValue)
        for s in status where !known.contains(s) { throw ValidationError("--status \"\(s)\" is not one of \(known.joined(separator: ", "))") }
        guard (0...1).contains(targetAccuracy) else { throw ValidationError("--target-accuracy must be between 0 and 1") }
        if let width, width < 20 { throw ValidationError("--width must be at least 20 columns, not \(width)") }
        guard maxRows > 0 else { throw ValidationError("--max-rows must be a positive number of rows") }
        guard timeout > 0, timeout.isFinite else { throw ValidationError("--timeout must be a positive number of seconds") }
        guard staleAfter.isFinite, (0...31_536_000).contains(staleAfter) else {
            throw ValidationError("--stale-after must be a number of seconds from 0 to 31536000 (a year), not \(staleAfter)")
        }
    }

    func run() throws {
        let format = OutputFormat(rawValue: format) ?? .table
        guard compare.isEmpty || compare.count == 2 else {
            Console.error("error: --compare takes two runs (ids or UUID prefixes), got \(compare.count): \(compare.joined(separator: " ")); e.g. --compare 3 5")
            throw ExitCode(2)
        }
        if baseline != nil, groupBy.isEmpty {
            Console.error("error: --baseline compares groups, so it needs --group-by; e.g. --group-by model.pooling --baseline max")
            throw ExitCode(2)
        }
        if trials, history || sql != nil || !compare.isEmpty || !runs.isEmpty || !groupBy.isEmpty || !status.isEmpty || !wheres.isEmpty || !tags.isEmpty {
            Console.error("error: --trials lists one search's trials and takes only --experiment (which search), --format, --html and --width; e.g. runner report --trials --experiment lenet-search")
            throw ExitCode(2)
        }
        for tag in tags where tag.isEmpty {
            Console.error("error: --tag may not be empty; give the tag, e.g. --tag baseline")
            throw ExitCode(2)
        }
        do {
            let reader = try StoreReader(path: store.path)
            var reporter = Reporter(reader: reader)
            reporter.staleAfter = staleAfter
            let runIDs = try runs.map { reference throws(StoreError) in try reader.resolveRun(reference) }
            var filter = RunFilter(experiment: experiment, runIDs: runIDs, statuses: status, tags: tags)
            filter.wheres = try wheres.map { text throws(ReportError) in try WhereClause.parse(text) }

            if let sql {
                try runSQL(sql, reader: reader, format: format)
                return
            }
            let compared = try compare.map { reference throws(StoreError) in try reader.resolveRun(reference) }
            if compared.count == 2 {
                let pair = (compared[0], compared[1])
                let document = try reporter.compare(pair.0, pair.1)
                if let html {
                    try OutputFile.check(html, protecting: [store.path])
                    let text = try reporter.html(filter: RunFilter(runIDs: compared), groupBy: [], targetAccuracy: targetAccuracy, comparing: pair)
                    try OutputFile.write(text, to: html, protecting: [store.path])
                    print("wrote \(html.terminalSafe)")
                } else {
                    emit(document.render(format, width: outputWidth), format)
                }
                return
            }
            if trials {
                try reportTrials(reporter, format: format)
                return
            }
            if try reader.query("SELECT COUNT(*) FROM runs").rows.first?.first?.double ?? 0 == 0 {
                print("no runs yet — try `runner exec Experiments/smoke.json --store \(store.path)`")
                return
            }
            if let html {
                // Refused before the report is built: the store must never be the output.
                try OutputFile.check(html, protecting: [store.path])
                let text = try reporter.html(filter: filter, groupBy: groupBy, targetAccuracy: targetAccuracy, baseline: baseline)
                try OutputFile.write(text, to: html, protecting: [store.path])
                print("wrote \(html.terminalSafe)")
                return
            }
            let document: ReportDocument
            if history {
                document = try reporter.history(filter)
            } else if !groupBy.isEmpty {
                document = try reporter.groups(by: groupBy, filter: filter, targetAccuracy: targetAccuracy, baseline: baseline)
            } else if runIDs.count == 1, experiment == nil, status.isEmpty, wheres.isEmpty, tags.isEmpty {
                document = try reporter.run(runIDs[0], chartWidth: max(30, min(100, outputWidth - 14)))
            } else {
                document = try reporter.runs(filter)
            }
            if document.sections.allSatisfy({ ($0.table?.rows.isEmpty ?? true) && $0.text == nil }) {
                Console.error("no runs match the filters")
                throw ExitCode(1)
            }
            emit(document.render(format, width: outputWidth), format)
        } catch let error as StoreError {
            Console.error("error: \(error)")
            throw ExitCode(2)
        } catch let error as ReportError {
            Console.error("error: \(error)")
            throw ExitCode(2)
        }
    }

    /// `--trials`: the search's ranked trials, or with `--html` its page (table and charts).
    func reportTrials(_ reporter: Reporter, format: OutputFormat) throws {
        let search = try reporter.searchTrials(experiment: experiment)
        if let html {
            try OutputFile.check(html, protecting: [store.path])
            let text = try reporter.html(filter: RunFilter(experiment: String(search.experimentID)), groupBy: [], targetAccuracy: targetAccuracy)
            try OutputFile.write(text, to: html, protecting: [store.path])
            print("wrote \(html.terminalSafe)")
            return
        }
        emit(search.document.render(format, width: outputWidth), format)
    }

    /// Prints a rendered view. CSV keeps the text exactly for the programs that read it, but when
    /// it goes to a terminal its control characters are escaped like every other view's.
    func emit(_ text: String, _ format: OutputFormat) {
        guard format == .csv, Console.isTerminal(STDOUT_FILENO) else { return print(text, terminator: "") }
        print(text.components(separatedBy: "\r\n").map { TerminalText.escaped($0, keepingNewlines: true) }.joined(separator: "\n"), terminator: "")
    }

    /// The value `--sql` gets when it is given without one.
    static let listTables = "\u{1}tables"

    func runSQL(_ sql: String, reader: StoreReader, format: OutputFormat) throws {
        var query = sql == Self.listTables ? "" : sql
        if sql == "-" {
            guard let text = String(data: FileHandle.standardInput.readDataToEndOfFile(), encoding: .utf8) else {
                Console.error("error: --sql -: standard input is not UTF-8 text")
                throw ExitCode(2)
            }
            query = text
        }
        query = query.trimmingCharacters(in: .whitespacesAndNewlines)
        // Only comments, whitespace and semicolons: no query, so list the tables.
        if SQLText(query).isBlank {
            let catalog = try reader.catalog()
            let table = Table(columns: ["name", "type", "columns"], rows: catalog.map { [$0.name, $0.type, $0.columns.joined(separator: ", ")] })
            emit(format.render(table, width: outputWidth), format)
            if format == .table { print("\nThe views are documented in Schemas/store.sql. Example: runner report --sql \"SELECT * FROM run_final_metrics\"") }
            return
        }
        let result = try reader.query(query, limits: QueryLimits(maxRows: maxRows, seconds: timeout))
        emit(format.render(Table(query: result), width: outputWidth), format)
    }
}

extension RunnerCommand {
    /// `--sql` with no value (last, or followed by another option) means "list the tables":
    /// ArgumentParser options always take a value, so it gets a marker value here.
    static func normalizedArguments(_ arguments: [String]) -> [String] {
        var result: [String] = []
        for (i, argument) in arguments.enumerated() {
            if argument == "--sql", i == arguments.count - 1 || looksLikeOption(arguments[i + 1]) {
                result.append("--sql=" + Report.listTables)
            } else if i > 0, arguments[i - 1] == "--sql", argument.hasPrefix("-"), argument != "-", !looksLikeOption(argument) {
                // SQL that starts with a comment ("-- note…"): ArgumentParser would take it for an
                // option, so it is attached to --sql.
                result.removeLast()
                result.append("--sql=" + argument)
            } else {
                result.append(argument)
            }
        }
        return result
    }

    /// `--name` or `--name=value`: an option. SQL that starts with a comment (`-- note\nSELECT 1`)
    /// has a space or a line break after the dashes, or is only a comment.
    static func looksLikeOption(_ argument: String) -> Bool {
        guard argument.hasPrefix("--"), argument.count > 2 else { return false }
        let name = argument.dropFirst(2).prefix { $0 != "=" }
        return !name.isEmpty && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
    }
}
