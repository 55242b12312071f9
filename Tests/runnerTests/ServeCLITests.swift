import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import TestSupport

/// `runner serve` started as a process: what it printed so far, and the port it listens on.
final class ServeProcess: @unchecked Sendable {
    let process: Process
    private let lock = NSLock()
    private var out = "", err = ""

    init(_ arguments: [String]) throws {
        let (process, outPipe, errPipe) = try launch(["serve"] + arguments)
        self.process = process
        outPipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let text = String(decoding: handle.availableData, as: UTF8.self)
            self?.lock.withLock { self?.out += text }
        }
        errPipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let text = String(decoding: handle.availableData, as: UTF8.self)
            self?.lock.withLock { self?.err += text }
        }
    }

    var stdout: String { lock.withLock { out } }
    var stderr: String { lock.withLock { err } }

    /// The port from "serving … at http://127.0.0.1:PORT/", once printed.
    func port() -> Int? {
        guard waitUntil(seconds: 60, { stdout.contains("Ctrl-C stops") || !process.isRunning }),
              let range = stdout.range(of: #"http://127\.0\.0\.1:\d+/"#, options: .regularExpression) else { return nil }
        return Int(stdout[range].dropFirst("http://127.0.0.1:".count).dropLast())
    }

    /// Sends `signal` and waits for the process to end.
    func stop(_ signal: Int32 = SIGINT) -> Int32 {
        kill(process.processIdentifier, signal)
        _ = waitUntil(seconds: 30) { !process.isRunning }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return process.terminationStatus
    }
}

func fetch(_ url: String) async throws -> (status: Int, body: String) {
    let (data, response) = try await URLSession.shared.data(from: URL(string: url) ?? URL(fileURLWithPath: "/"))
    return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
}

@Suite("runner serve as a process", .serialized)
struct ServeCLITests {
    static let store: String = {
        let folder = temporaryFolder()
        let store = folder + "/serve.sqlite"
        _ = try? runner("exec", writeSpec(folder, extra: #", "matrix": { "model.pooling": ["max", "avg"] }"#), "--store", store, "--quiet")
        return store
    }()

    @Test("it prints its address, answers with report's JSON, leaves the store unchanged, and Ctrl-C stops it (exit 0)")
    func serveAndStop() async throws {
        let before = try storeBytes(Self.store)
        let serve = try ServeProcess(["--store", Self.store, "--port", "0"])
        let port = try #require(serve.port(), "\(serve.stdout) \(serve.stderr)")
        let api = try await fetch("http://127.0.0.1:\(port)/api/runs")
        let report = try runner("report", "--store", Self.store, "--format", "json")
        #expect(api.status == 200 && api.body == report.stdout)
        let page = try await fetch("http://127.0.0.1:\(port)/runs/2")
        #expect(page.status == 200 && page.body.contains("data-points="))
        #expect(serve.stop(SIGINT) == 0)
        #expect(serve.stdout.hasSuffix("stopped\n"), "\(serve.stdout)")
        #expect(serve.stderr.isEmpty, "\(serve.stderr)")
        #expect(try storeBytes(Self.store) == before)
    }

    @Test("SIGTERM stops it cleanly too")
    func sigterm() throws {
        let serve = try ServeProcess(["--store", Self.store, "--port", "0"])
        #expect(serve.port() != nil)
        #expect(serve.stop(SIGTERM) == 0 && serve.stdout.hasSuffix("stopped\n"))
    }

    @Test("listening beyond loopback needs --host and says so in a warning")
    func otherHost() throws {
        let serve = try ServeProcess(["--store", Self.store, "--port", "0", "--host", "0.0.0.0"])
        _ = waitUntil(seconds: 60) { serve.stdout.contains("Ctrl-C stops") }
        #expect(serve.stderr.hasPrefix("warning: listening on 0.0.0.0, not 127.0.0.1: anyone who can reach this machine"), "\(serve.stderr)")
        #expect(serve.stop() == 0)
    }

    @Test("a port in use, a port out of range, a bad host: one line, exit 2")
    func badInput() throws {
        let first = try ServeProcess(["--store", Self.store, "--port", "0"])
        let port = try #require(first.port())
        let second = try runner("serve", "--store", Self.store, "--port", String(port))
        #expect(second.status == 2)
        #expect(second.stderr.hasPrefix("error: cannot serve on 127.0.0.1:\(port): ") && second.stderr.split(separator: "\n").count == 1, "\(second.stderr)")
        #expect(first.stop() == 0)
        let range = try runner("serve", "--store", Self.store, "--port", "70000")
        #expect(range.status == 2 && range.stderr.contains("--port must be from 0 to 65535"))
        let host = try runner("serve", "--store", Self.store, "--host", "a b<c>")
        #expect(host.status == 2 && host.stderr.contains("--host must be an address"))
    }

    @Test("a store written by three runner exec at once: every request answered, every run shown as it ends")
    func threeWriters() async throws {
        let folder = temporaryFolder()
        let store = folder + "/shared.sqlite"
        let spec = writeSpec(folder, name: "shared", epochs: 3, trainSize: 512, extra: #", "matrix": { "seed": [1, 2, 3] }"#)
        let serve = try ServeProcess(["--store", store, "--port", "0"])
        let port = try #require(serve.port())
        let execs = try (0..<3).map { _ in try launch(["exec", spec, "--store", store, "--quiet"]) }
        var statuses: [Int: Int] = [:]
        var pages = 0
        while execs.contains(where: { $0.0.isRunning }) && pages < 2000 {
            for path in ["/api/runs", "/", "/api/runs/1/metrics?since_step=0", "/runs/2"] {
                let reply = try await fetch("http://127.0.0.1:\(port)\(path)")
                // Before the first exec has made the store it is missing (503, with the reason), and
                // before it has made its runs, run 1 and 2 are not there (404, saying so).
                statuses[reply.status, default: 0] += 1
                #expect(reply.status == 200 || (reply.status == 503 && reply.body.contains("store"))
                        || (reply.status == 404 && reply.body.contains("no run with id")), "\(path): \(reply.status) \(reply.body.prefix(200))")
                pages += 1
            }
        }
        for exec in execs { #expect(finish(exec).status == 0) }
        let final = try await fetch("http://127.0.0.1:\(port)/api/runs")
        let report = try runner("report", "--store", store, "--format", "json")
        #expect(final.status == 200 && final.body == report.stdout, "\(final.body)\n\(report.stdout)")
        #expect(final.body.components(separatedBy: "\"status\": \"completed\"").count == 4, "\(final.body)")
        #expect((statuses[200] ?? 0) > 0, "\(statuses)")
        #expect(serve.stop() == 0)
    }

    @Test("a missing store: a note, and the server serves (503 until the store exists)")
    func missingStore() async throws {
        let path = temporaryFolder() + "/none.sqlite"
        let serve = try ServeProcess(["--store", path, "--port", "0"])
        let port = try #require(serve.port())
        #expect(serve.stderr.contains("note: \(path): no store here") && serve.stderr.contains("serving anyway"))
        let page = try await fetch("http://127.0.0.1:\(port)/")
        #expect(page.status == 503 && page.body.contains("no store here"))
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(serve.stop() == 0)
    }
}
