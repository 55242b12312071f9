import ArgumentParser
import Dispatch
import Foundation
import Reports
import RunStore
import Serve

/// `runner serve`: the store as a read-only web view (runs, one run's live curves, comparisons,
/// and the JSON API they use), on Hummingbird 2, until Ctrl-C.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Watch and compare runs in a browser: a local, read-only web view of the store.",
        discussion: """
        Pages: / (the runs, filtered and sorted), /runs/ID (one run; its curves grow while it trains), /compare?runs=1,2 or /compare?group_by=model.pooling, /searches/ID (a search's trials ranked; it follows them as they finish).
        API: /api/runs, /api/runs/ID, /api/runs/ID/metrics?since_step=N, /api/runs/ID/grad_norms?since_step=N, /api/compare?runs=A,B, /api/groups?group_by=KEY, /api/searches/ID, /api/searches/ID/changes?signature=S&wait=W, /api/store.

        The store is opened read-only (as `runner report` opens it) and never written, so serve runs beside `runner exec`. It listens on 127.0.0.1 unless --host says otherwise; any other address lets other machines read the store, and a warning says so. Ctrl-C or SIGTERM stops it.
        """)

    @OptionGroup var store: StoreOption

    @Option(help: ArgumentHelp("Port to listen on (0: any free port; the address is printed).", valueName: "port"))
    var port: Int = 8080

    @Option(help: ArgumentHelp("Address to listen on. Anything but 127.0.0.1, localhost or ::1 exposes the store to other machines.", valueName: "address"))
    var host: String = "127.0.0.1"

    @Option(help: ArgumentHelp("A running run silent for longer than this shows as stale.", valueName: "seconds"))
    var staleAfter: Double = 60

    @Flag(help: "Open the runs page in a browser (xdg-open), where there is one.")
    var open = false

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be from 0 to 65535 (0: any free port), not \(port)") }
        guard !host.isEmpty, host.utf8.count <= 255, host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || ".:-[]".contains($0)) }) else {
            throw ValidationError("--host must be an address or a host name such as 127.0.0.1, not \"\(host.prefix(60))\"")
        }
        guard staleAfter.isFinite, (0...31_536_000).contains(staleAfter) else {
            throw ValidationError("--stale-after must be a number of seconds from 0 to 31536000 (a year), not \(staleAfter)")
        }
    }

    func run() throws {
        let bindHost = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if !ServeConfiguration.isLoopback(bindHost) {
            Console.error("warning: listening on \(host), not 127.0.0.1: anyone who can reach this machine on port \(port) can read the store (names, paths, command lines); there is no login")
        }
        let path = store.path
        // The server starts whatever the store's state: its pages say what is wrong until it is fixed.
        do {
            _ = try StoreReader(path: path)
        } catch {
            Console.error("note: \(error); serving anyway, the pages say so until the store can be read")
        }
        let configuration = ServeConfiguration(storePath: path, host: bindHost, port: port, staleAfter: staleAfter,
                                               readers: max(2, min(4, ProcessInfo.processInfo.activeProcessorCount)))
        let openBrowser = open
        let outcome = ServeOutcome()
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                try await WebServer.run(configuration) { listenHost, listenPort in
                    let shown = listenHost.contains(":") ? "[\(listenHost)]" : listenHost
                    let url = "http://\(shown):\(listenPort)/"
                    FileHandle.standardOutput.write(Data("serving \(path.terminalSafe) read-only at \(url) — Ctrl-C stops\n".utf8))
                    if openBrowser { Browser.open(url) }
                }
            } catch {
                outcome.error = error
            }
            done.signal()
        }
        done.wait()
        if let error = outcome.error {
            Console.error("error: cannot serve on \(host):\(port): \(error); choose another --port (0: any free port) or --host")
            throw ExitCode(2)
        }
        FileHandle.standardOutput.write(Data("stopped\n".utf8))
    }
}

/// How the server's task ended, read after it signalled.
final class ServeOutcome: @unchecked Sendable {
    var error: (any Error)?
}

/// `--open`: the default browser, where the desktop has one; nothing (and a note) where not.
enum Browser {
    static func open(_ url: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["xdg-open", url]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { Console.error("note: could not open a browser (\(error)); open \(url) yourself") }
    }
}
