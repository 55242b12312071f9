import Foundation
import Testing
@testable import Serve

@Suite("Hostile requests: one status and one line each, and the server keeps serving")
struct HostileRequestTests {
    @Test("methods other than GET and HEAD are 405 with Allow; HEAD is GET without the body")
    func methods() async throws {
        try await withServer(store: try fixtureStore()) { server in
            for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"] {
                for path in ["/", "/api/runs", "/static/app.js"] {
                    let reply = try await server.get(path, method: method, headers: method == "CONNECT" ? [] : ["Content-Length: 0"])
                    #expect(reply.status == 405, "\(method) \(path)")
                    #expect(reply.headers["allow"] == "GET, HEAD", "\(method) \(path)")
                }
            }
            let get = try await server.get("/api/runs"), head = try await server.get("/api/runs", method: "HEAD")
            #expect(head.status == 200 && head.body.isEmpty && head.headers["content-length"] == String(get.body.utf8.count))
        }
    }

    @Test("path traversal in raw and encoded forms is 404 and reads no file")
    func traversal() async throws {
        try await withServer(store: try fixtureStore()) { server in
            for path in ["/static/../../etc/passwd", "/static/..%2f..%2f..%2fetc%2fpasswd", "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
                         "/static/%252e%252e%252fetc%252fpasswd", "/../../../../etc/passwd", "/static/....//....//etc/passwd",
                         "/static/app.js/../../../etc/passwd", "/runs/..%2f..%2fetc%2fpasswd"] {
                let reply = try await server.get(path)
                #expect([400, 404].contains(reply.status), "\(path): \(reply.status)")
                #expect(!reply.body.contains("root:"), "\(path)")
            }
        }
    }

    @Test("unknown routes, missing runs and bad parameters: 404 or 400 with a message (JSON under /api)")
    func badRequests() async throws {
        try await withServer(store: try fixtureStore()) { server in
            let cases: [(String, Int, String)] = [
                ("/nope", 404, "no page at /nope"),
                ("/api/nope", 404, "no page at /api/nope"),
                ("/runs/99", 404, "no run with id 99"),
                ("/api/runs/99", 404, "no run with id 99"),
                ("/api/runs/99/metrics", 404, "no run with id 99"),
                ("/api/runs/zz", 400, "is not a run"),
                ("/api/runs/1/metrics?since_step=abc", 400, "since_step"),
                ("/api/runs/1/metrics?since_step=99999999999999999999999", 400, "since_step"),
                ("/api/runs/1/metrics?names=%3Cscript%3E", 400, "is not a metric name"),
                ("/api/runs/1/metrics?wait=3600", 400, "wait"),
                ("/api/runs?status=zzz", 400, "is not one of"),
                ("/api/runs?where=nonsense", 400, "is not key=value"),
                ("/api/runs?typo=1", 400, "not known here"),
                ("/api/runs?x=%zz", 400, "not valid percent-encoded"),
                ("/api/runs?" + String(repeating: "a=1&", count: 3000), 400, "at most 8192"),
                ("/api/compare?runs=1", 400, "give two runs"),
                ("/api/groups", 400, "group_by"),
                ("/api/groups?group_by=modle.pooling", 400, "did you mean \\\"model.pooling\\\""),
                ("/?sort=nope", 400, "is not a column"),
                ("/compare?runs=" + (1...41).map(String.init).joined(separator: ","), 400, "at most 40"),
            ]
            for (path, status, message) in cases {
                let reply = try await server.get(path)
                #expect(reply.status == status, "\(path.prefix(80)): \(reply.status) \(reply.body.prefix(300))")
                #expect(reply.body.contains(message), "\(path.prefix(80)): \(reply.body.prefix(300))")
                if path.hasPrefix("/api/") {
                    #expect(reply.headers["content-type"] == "application/json; charset=utf-8", "\(path.prefix(80))")
                    #expect(reply.body.contains("\"error\": ") && reply.body.contains("\"status\": \(status)"))
                }
            }
            #expect(try await server.get("/").status == 200)
        }
    }

    @Test("a huge request line or header, and garbage, get an error or a closed connection; the server goes on")
    func garbage() async throws {
        try await withServer(store: try fixtureStore()) { server in
            let huge = try? await server.get("/?" + String(repeating: "x", count: 200_000))
            #expect(huge.map { $0.status >= 400 } ?? true)
            let header = try? await server.get("/", headers: ["X-Big: " + String(repeating: "y", count: 200_000)])
            #expect(header.map { $0.status >= 400 } ?? true)
            _ = try? await send("\u{0}\u{1}GARBAGE\r\n\r\n", port: server.port)
            _ = try? await send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\n\r\n", port: server.port)
            let after = try await server.get("/")
            #expect(after.status == 200)
        }
    }

    @Test("bound to loopback, a request addressed to another host name is refused (DNS rebinding)")
    func foreignHost() async throws {
        try await withServer(store: try fixtureStore()) { server in
            let reply = try await send("GET /api/runs HTTP/1.1\r\nHost: attacker.example:\(server.port)\r\nConnection: close\r\n\r\n", port: server.port)
            #expect(reply.status == 403 && reply.body.contains("127.0.0.1 or localhost only"))
            for host in ["localhost:\(server.port)", "127.0.0.1", "[::1]:\(server.port)"] {
                let ok = try await send("GET /api/store HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n", port: server.port)
                #expect(ok.status == 200, "\(host)")
            }
        }
    }

    @Test("serving never changes the store, byte for byte")
    func readOnly() async throws {
        let path = try fixtureStore()
        let before = [FileManager.default.contents(atPath: path), FileManager.default.contents(atPath: path + "-wal").flatMap { $0.isEmpty ? nil : $0 }]
        try await withServer(store: path) { server in
            for page in ["/", "/runs/1", "/runs/3", "/compare?runs=1,2", "/compare?group_by=model.pooling", "/api/runs", "/api/runs/1/metrics",
                         "/api/runs/1/grad_norms", "/api/store"] {
                let reply = try await server.get(page)
                #expect(reply.status == 200, "\(page)")
            }
        }
        let after = [FileManager.default.contents(atPath: path), FileManager.default.contents(atPath: path + "-wal").flatMap { $0.isEmpty ? nil : $0 }]
        #expect(before == after)
    }
}
