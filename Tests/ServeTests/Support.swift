import Dispatch
import Foundation
@testable import RunStore
import TestSupport
@testable import Serve
#if canImport(Glibc)
import Glibc
#endif

/// Text that would run as script if a page did not escape it.
let hostile = #"<script>alert("x")</script>"#

/// A store of three runs whose names, tags, notes and specs hold markup: run 1 and 2 completed
/// (pooling max and avg, 3 epochs), run 3 running (max, its heartbeat fresh, 1 epoch of 3).
func fixtureStore() throws -> String {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("convlab-serve-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let path = folder + "/store.sqlite"
    let store = try RunStore(path: path)
    let experiment = try store.createExperiment(name: "lenet \(hostile)", specPath: "Experiments/lenet.json", specJSON: "{}")
    let provenance = RunProvenance(host: "h", os: "o", convlabVersion: "v", swiftVersion: "s", blas: "b")
    let runs: [(pooling: String, accuracies: [Double], done: Bool)] = [("max", [0.80, 0.86, 0.88], true), ("avg", [0.78, 0.84, 0.86], true),
                                                                       ("max", [0.70], false)]
    for (index, run) in runs.enumerated() {
        let id = try store.createRun(NewRun(
            experimentID: experiment, runIndex: index + 1, variant: #"{"model.pooling":"\#(run.pooling)"}"#,
            variantLabel: "model.pooling=\(run.pooling)", specJSON: #"{"name": "lenet </pre>\#(hostile)"}"#, specHash: "h\(index)",
            seed: UInt64(index + 1), epochsPlanned: 3, provenance: provenance,
            params: [("model.pooling", run.pooling, nil), ("probes.loss.every", "10", 10)]))
        try store.markStarted(run: id)
        var batch = RecordBatch()
        for (e, accuracy) in run.accuracies.enumerated() {
            for step in stride(from: e * 30 + 10, through: e * 30 + 30, by: 10) {
                batch.metrics.append(.init(name: "train_loss", step: step, epoch: Double(e + 1), value: 1.2 - accuracy + Double(step % 20) / 100, wallTime: Double(step)))
            }
            batch.metrics.append(.init(name: "test_accuracy", step: (e + 1) * 30, epoch: Double(e + 1), value: accuracy, wallTime: Double(e)))
            batch.metrics.append(.init(name: "test_loss", step: (e + 1) * 30, epoch: Double(e + 1), value: 1.1 - accuracy, wallTime: Double(e)))
            batch.gradientNorms.append(.init(step: (e + 1) * 30, layer: 0, layerKind: "conv", tensor: "weight", l2: 0.4 / Double(e + 1), maxAbs: 0.1))
        }
        batch.gradientChecks.append(.init(step: 0, layer: 0, layerKind: "conv", tensor: "weight", entry: 3, analytic: 1, numeric: 1.0001,
                                          absoluteError: 1e-4, relativeError: 1e-4, outcome: "passed"))
        try store.append(batch, run: id, epochsDone: run.accuracies.count, stepsDone: run.accuracies.count * 30)
        if run.done { try store.finish(run: id, status: .completed) }
    }
    _ = try store.tag(runs: [1], with: "tag \(hostile)")
    try store.addNote(run: 1, text: "note \(hostile)")
    try store.checkpointAndClose()
    return path
}

/// One HTTP answer, read whole.
struct HTTPReply: Sendable {
    var status: Int
    var headers: [String: String]
    var body: String
}

/// Bytes sent as they are, on a connection of their own: what a hostile client sends (`..`
/// unresolved, odd methods, huge queries), which no HTTP library would.
func send(_ raw: String, port: Int) async throws -> HTTPReply {
    try await withCheckedThrowingContinuation { continuation in
        // Blocking socket calls stay off the test's and the server's threads.
        DispatchQueue.global().async { continuation.resume(with: Result { try sendBlocking(raw, port: port) }) }
    }
}

struct SocketError: Error, CustomStringConvertible {
    var description: String
}

func sendBlocking(_ raw: String, port: Int) throws -> HTTPReply {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw SocketError(description: "socket: \(errno)") }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 30, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw SocketError(description: "connect: \(errno)") }
    let bytes = Array(raw.utf8)
    var sent = 0
    while sent < bytes.count {
        let n = bytes[sent...].withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { break }     // the server may close early on a request it refuses
        sent += n
    }
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fd, &buffer, buffer.count)
        if n <= 0 { break }
        received += buffer[0..<n]
    }
    let text = String(decoding: received, as: UTF8.self)
    guard let split = text.range(of: "\r\n\r\n") else { throw SocketError(description: "no HTTP answer: \(text.prefix(200))") }
    let head = text[..<split.lowerBound].components(separatedBy: "\r\n")
    let status = head.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
    var headers: [String: String] = [:]
    for line in head.dropFirst() {
        guard let colon = line.firstIndex(of: ":") else { continue }
        headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    return HTTPReply(status: status, headers: headers, body: String(text[split.upperBound...]))
}

/// The server of `runner serve`, in this process on a free port of 127.0.0.1, until `body` returns.
/// A run beats no more after its fixture is written, and the suite may take minutes on a busy
/// machine: runs count as stale only after `testStaleAfter` seconds of silence.
let testStaleAfter: Double = 1800

func withServer<T>(store: String, _ body: (TestServer) async throws -> T) async throws -> T {
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    let application = WebServer.application(ServeConfiguration(storePath: store, port: 0, staleAfter: testStaleAfter)) { _, port in continuation.yield(port) }
    let task = Task { try await application.run() }
    var iterator = ports.makeAsyncIterator()
    guard let port = await iterator.next() else { throw SocketError(description: "the server did not start") }
    let server = TestServer(port: port)
    do {
        let result = try await body(server)
        task.cancel()
        _ = await task.result
        return result
    } catch {
        task.cancel()
        _ = await task.result
        throw error
    }
}

struct TestServer: Sendable {
    let port: Int

    func get(_ path: String, method: String = "GET", headers: [String] = []) async throws -> HTTPReply {
        try await send("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n" + headers.map { $0 + "\r\n" }.joined()
                       + "Connection: close\r\n\r\n", port: port)
    }
}
