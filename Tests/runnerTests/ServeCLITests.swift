import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

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
