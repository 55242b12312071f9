import ConvLabKit
import ArgumentParser
import Foundation
import Reports
import RunStore

/// `runner runs …`: tag, annotate and delete runs. RUN is an id or at least 4 hex digits of the
/// run's UUID. Every reference is resolved on the store opened read-only first, so a mistyped run
/// leaves the store exactly as it was.
struct Runs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tag, annotate, list and delete runs.",
        discussion: """
        RUN is a run's id (3) or at least 4 hex digits of its UUID (3f2a9c), as `runner report` shows them.

        Examples:
          runner runs tag 3 4 baseline          runner report --tag baseline
          runner runs untag 3 baseline
          runner runs note 3 "lr too high: the loss spikes at epoch 2"
          runner runs rm 5 6 --yes              deletes the runs' rows and their artifacts folders
        """,
        subcommands: [Tag.self, Untag.self, Note.self, Remove.self, List.self])

    /// Resolves the references on the store opened read-only; errors exit with 2.
    static func resolve(_ references: [String], store path: String) throws -> [Int64] {
        do {
            let reader = try StoreReader(path: path)
            var ids: [Int64] = []
            for reference in references {
                let id = try reader.resolveRun(reference)
                if !ids.contains(id) { ids.append(id) }
            }
            return ids
        } catch {
            Console.error("error: \(error)")
            throw ExitCode(2)
        }
    }

    /// Opens the store for writing and runs `body`; store errors exit with 2.
    static func withStore<T>(_ path: String, _ body: (RunStore) throws(StoreError) -> T) throws -> T {
        do {
            let store = try RunStore(path: path)
            defer { try? store.close() }
            return try body(store)
        } catch {
            Console.error("error: \(error)")
            throw ExitCode(2)
        }
    }

    /// A bad tag is one line and exit 2, before the store is opened.
    static func check(tag: String) throws {
        if let problem = RunLabels.tagProblem(tag) {
            Console.error("error: tag \"\(tag)\": \(problem); nothing was changed")
            throw ExitCode(2)
        }
    }

    static func list(_ ids: [Int64]) -> String {
        (ids.count == 1 ? "run " : "runs ") + ids.map(String.init).joined(separator: ", ")
    }

    struct Tag: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Tag runs: runner runs tag RUN... TAG")

        @OptionGroup var store: StoreOption

        @Argument(help: ArgumentHelp("The runs, then the tag.", valueName: "run... tag"))
        var arguments: [String]

        func validate() throws {
            guard arguments.count >= 2 else { throw ValidationError("runs tag needs at least one run and a tag: runner runs tag RUN... TAG") }
        }

        func run() throws {
            let tag = arguments[arguments.count - 1]
            try Runs.check(tag: tag)
            let ids = try Runs.resolve(Array(arguments.dropLast()), store: store.path)
            let added = try Runs.withStore(store.path) { store throws(StoreError) in try store.tag(runs: ids, with: tag) }
            print("tagged \(Runs.list(ids)) \"\(tag.terminalSafe)\"" + (added < ids.count ? " (\(ids.count - added) had it already)" : ""))
        }
    }

    struct Untag: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a tag from runs: runner runs untag RUN... TAG")

        @OptionGroup var store: StoreOption

        @Argument(help: ArgumentHelp("The runs, then the tag.", valueName: "run... tag"))
        var arguments: [String]

        func validate() throws {
            guard arguments.count >= 2 else { throw ValidationError("runs untag needs at least one run and a tag: runner runs untag RUN... TAG") }
        }

        func run() throws {
            let tag = arguments[arguments.count - 1]
            try Runs.check(tag: tag)
            let ids = try Runs.resolve(Array(arguments.dropLast()), store: store.path)
            let removed = try Runs.withStore(store.path) { store throws(StoreError) in try store.untag(runs: ids, tag: tag) }
            print(removed == 0 ? "\(Runs.list(ids)) did not have the tag \"\(tag.terminalSafe)\"; nothing was changed" : "removed \"\(tag.terminalSafe)\" from \(removed) run\(removed == 1 ? "" : "s")")
        }
    }

    struct Note: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a note on a run: runner runs note RUN \"text\"")

        @OptionGroup var store: StoreOption

        @Argument(help: ArgumentHelp("The run.", valueName: "run"))
        var reference: String

        @Argument(help: ArgumentHelp("The note (quote it).", valueName: "text"))
        var text: String

        func run() throws {
            if let problem = RunLabels.noteProblem(text) {
                Console.error("error: \(problem); nothing was changed")
                throw ExitCode(2)
            }
            let ids = try Runs.resolve([reference], store: store.path)
            try Runs.withStore(store.path) { store throws(StoreError) in try store.addNote(run: ids[0], text: text) }
            print("noted on run \(ids[0])")
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rm",
            abstract: "Delete runs: their rows in every table (one transaction), then their artifacts folders.",
            discussion: "Asks for confirmation on a terminal; without one (a script, a pipe), --yes is required. A run that is running with a fresh heartbeat is refused.")

        @OptionGroup var store: StoreOption

        @Argument(help: ArgumentHelp("The runs to delete.", valueName: "run"))
        var references: [String]

        @Flag(name: .shortAndLong, help: "Delete without asking.")
        var yes = false

        @Option(help: ArgumentHelp("A running run silent for longer than this is dead and may be deleted.", valueName: "seconds"))
        var staleAfter: Double = 60

        func validate() throws {
            guard !references.isEmpty else { throw ValidationError("runs rm needs at least one run: runner runs rm RUN... [--yes]") }
            guard staleAfter.isFinite, staleAfter >= 0 else { throw ValidationError("--stale-after must be a number of seconds ≥ 0") }
        }

        func run() throws {
            let ids = try Runs.resolve(references, store: store.path)
            try refuseLiveRuns(ids)
            if !yes {
                guard Console.isTerminal(STDIN_FILENO) else {
                    Console.error("error: runs rm asks before deleting, and standard input is not a terminal; add --yes to delete \(Runs.list(ids)) — nothing was deleted")
                    throw ExitCode(2)
                }
                FileHandle.standardError.write(Data("delete \(Runs.list(ids)) with all \(ids.count == 1 ? "its" : "their") rows and artifacts? [y/N] ".utf8))
                let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
                guard answer == "y" || answer == "yes" else {
                    print("nothing was deleted")
                    return
                }
            }
            let deletion = try Runs.withStore(store.path) { store throws(StoreError) in try store.deleteRuns(ids, staleAfter: staleAfter) }
            print("deleted \(Runs.list(deletion.ids))" + (deletion.removedFolders.isEmpty ? "" : " and \(deletion.removedFolders.count) artifacts folder\(deletion.removedFolders.count == 1 ? "" : "s")"))
            for failure in deletion.failures { Console.error("warning: could not remove \(failure)") }
        }

        /// A live run is refused on the store opened read-only, before anything could change it
        /// (deleteRuns checks again, in its transaction).
        func refuseLiveRuns(_ ids: [Int64]) throws {
            do {
                let reader = try StoreReader(path: store.path)
                let now = Date().timeIntervalSince1970
                for id in ids {
                    let row = try reader.query("""
                        SELECT status, heartbeat_at, \(reader.schemaVersion >= 3 ? "uuid, claimed_by" : "'', NULL"),
                               \(ClaimantIdentity.columns(schemaVersion: reader.schemaVersion)) FROM runs WHERE id = ?
                        """, arguments: [.integer(id)]).rows.first
                    guard let row, row[0].string == RunStatus.running.rawValue, let heartbeat = row[1].double, heartbeat >= now - staleAfter,
                          !RunStore.claimantIsGone(row[3].string, identity: ClaimantIdentity(row[4...6])) else { continue }
                    let name = (row[2].string ?? "").isEmpty ? "" : " (\((row[2].string ?? "").prefix(8)))"
                    Console.error("error: run \(id)\(name) is running: its heartbeat is \(Int(max(0, now - heartbeat))) s old; stop its `runner exec` first, or wait until it is older than \(Int(staleAfter)) s — nothing was deleted")
                    throw ExitCode(2)
                }
            } catch let error as StoreError {
                Console.error("error: \(error)")
                throw ExitCode(2)
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The runs table of `runner report` (with --tag, --status).")

        @OptionGroup var store: StoreOption

        @Option(name: .customLong("tag"), help: ArgumentHelp("Only runs with this tag (repeat: any of them).", valueName: "tag"))
        var tags: [String] = []

        @Option(help: ArgumentHelp("Only runs with this status.", valueName: "status"))
        var status: [String] = []

        @Option(help: "Output format: table, csv, json or markdown.")
        var format: String = "table"

        func validate() throws {
            guard OutputFormat(rawValue: format) != nil else { throw ValidationError("--format must be table, csv, json or markdown, not \"\(format)\"") }
            let known = RunStatus.allCases.map(\.rawValue)
            for s in status where !known.contains(s) { throw ValidationError("--status \"\(s)\" is not one of \(known.joined(separator: ", "))") }
        }

        func run() throws {
            do {
                let reader = try StoreReader(path: store.path)
                let document = try Reporter(reader: reader).runs(RunFilter(statuses: status, tags: tags))
                print(document.render(OutputFormat(rawValue: format) ?? .table, width: Console.width), terminator: "")
            } catch {
                Console.error("error: \(error)")
                throw ExitCode(2)
            }
        }
    }
}
