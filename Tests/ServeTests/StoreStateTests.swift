import Foundation
import Testing
@testable import RunStore
import TestSupport
@testable import Serve

@Suite("A store that is missing, not a store, newer, or replaced")
struct StoreStateTests {
    func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("convlab-serve-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test("a missing store is 503 with what to do, and is served once runner exec creates it")
    func missingThenCreated() async throws {
        let path = try folder() + "/later.sqlite"
        try await withServer(store: path) { server in
            let page = try await server.get("/")
            #expect(page.status == 503 && page.body.contains("no store here; run `runner exec Experiments/smoke.json` to create one"))
            let api = try await server.get("/api/runs")
            #expect(api.status == 503 && api.body.contains("\"error\": ") && api.body.contains("no store here"))
            #expect(try await server.get("/static/app.js").status == 200)
            try FileManager.default.copyItem(atPath: try fixtureStore(), toPath: path)
            #expect(try await server.get("/").status == 200)
        }
    }

    @Test("a file that is not a store, a SQLite file without ConvLab's tables, a store from a newer ConvLab: 503 and why")
    func notAStore() async throws {
        let dir = try folder()
        let text = dir + "/notes.sqlite"
        try Data("just some text, not SQLite at all\n".utf8).write(to: URL(fileURLWithPath: text))
        try await withServer(store: text) { server in
            let reply = try await server.get("/api/runs")
            #expect(reply.status == 503 && reply.body.contains("is not a SQLite database"), "\(reply.body)")
        }
        let newer = dir + "/newer.sqlite"
        let store = try RunStore(path: newer)
        _ = try store.write { db in try db.execute(sql: "UPDATE meta SET value = '99' WHERE key = 'schema_version'") }
        try store.checkpointAndClose()
        let before = FileManager.default.contents(atPath: newer)
        try await withServer(store: newer) { server in
            let reply = try await server.get("/")
            #expect(reply.status == 503 && reply.body.contains("was written by a newer ConvLab (store schema 99"), "\(reply.body)")
            #expect(try await server.get("/runs/1").status == 503)
        }
        #expect(FileManager.default.contents(atPath: newer) == before)
    }

    @Test("a store whose schema changes while served (runner exec upgrading it, or a newer ConvLab) is opened anew")
    func upgradedWhileServed() async throws {
        let path = try fixtureStore()
        try await withServer(store: path) { server in
            #expect(try await server.get("/api/runs").status == 200)
            let store = try RunStore(path: path)
            _ = try store.write { db in try db.execute(sql: "UPDATE meta SET value = '99' WHERE key = 'schema_version'") }
            try store.checkpointAndClose()
            let reply = try await server.get("/api/runs")
            #expect(reply.status == 503 && reply.body.contains("was written by a newer ConvLab (store schema 99"), "\(reply.body)")
        }
    }

    @Test("a store replaced by another file (as runner merge moves one into place) is read anew")
    func replaced() async throws {
        let dir = try folder()
        let path = dir + "/store.sqlite"
        try FileManager.default.copyItem(atPath: try fixtureStore(), toPath: path)
        try await withServer(store: path) { server in
            #expect(try await server.get("/api/runs").body.components(separatedBy: "\"run\": ").count == 4)
            // A store of one run, renamed over the served one.
            let other = dir + "/other.sqlite"
            let store = try RunStore(path: other)
            let experiment = try store.createExperiment(name: "replacement", specPath: nil, specJSON: "{}")
            _ = try store.createRun(NewRun(experimentID: experiment, runIndex: 1, variant: "{}", variantLabel: "", specJSON: "{}", specHash: "h",
                                           seed: 1, epochsPlanned: 1, provenance: RunProvenance(host: "h", os: "o", convlabVersion: "v", swiftVersion: "s", blas: "b"),
                                           params: []))
            try store.checkpointAndClose()
            #expect(rename(other, path) == 0)
            let body = try await server.get("/api/runs").body
            #expect(body.contains("replacement") && body.components(separatedBy: "\"run\": ").count == 2, "\(body)")
        }
    }
}
