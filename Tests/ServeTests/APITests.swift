import Foundation
import Testing
@testable import Reports
@testable import RunStore
import TestSupport
@testable import Serve

@Suite("The JSON API gives the numbers runner report gives")
struct APITests {
    @Test("/api/runs, /api/runs/ID, /api/compare and /api/groups are report's JSON, filters included")
    func sameAsReport() async throws {
        let path = try fixtureStore()
        var reporter = Reporter(reader: try StoreReader(path: path))
        reporter.staleAfter = testStaleAfter
        try await withServer(store: path) { server in
            let all = try await server.get("/api/runs")
            #expect(all.status == 200 && all.headers["content-type"] == "application/json; charset=utf-8")
            #expect(try all.body == reporter.runs(RunFilter()).render(.json, width: 200))
            let filtered = try await server.get("/api/runs?status=completed&where=model.pooling%3Dmax")
            let filter = RunFilter(statuses: ["completed"], wheres: [WhereClause(key: "model.pooling", op: .equal, value: "max")])
            #expect(try filtered.body == reporter.runs(filter).render(.json, width: 200))
            #expect(filtered.body.contains("\"run\": 1") && !filtered.body.contains("\"run\": 2"))
            #expect(try await server.get("/api/runs/1").body == reporter.run(1).render(.json, width: 200))
            #expect(try await server.get("/api/compare?runs=1,2").body == reporter.compare(1, 2).render(.json, width: 200))
            #expect(try await server.get("/api/groups?group_by=model.pooling&baseline=max").body
                    == reporter.groups(by: ["model.pooling"], filter: RunFilter(), targetAccuracy: 0.85, baseline: "max").render(.json, width: 200))
        }
    }

    @Test("metrics after a step: only later rows, the run's state, names filtered")
    func metricsSinceStep() async throws {
        let path = try fixtureStore()
        try await withServer(store: path) { server in
            let reply = try await server.get("/api/runs/1/metrics?since_step=60")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any])
            let rows = try #require(object["rows"] as? [[String: Any]])
            #expect(rows.count == 5)     // train_loss at 70, 80, 90; test_accuracy and test_loss at 90
            #expect(rows.allSatisfy { ($0["step"] as? Int ?? 0) > 60 })
            #expect(object["last_step"] as? Int == 90 && object["live"] as? Bool == false && object["status"] as? String == "completed")
            let named = try await server.get("/api/runs/1/metrics?names=test_accuracy")
            #expect(named.body.components(separatedBy: "\"name\": \"test_accuracy\"").count == 4)
            #expect(!named.body.contains("train_loss"))
            let live = try await server.get("/api/runs/3/metrics?since_step=1000")
            #expect(live.body.contains("\"live\": true") && live.body.contains("\"status\": \"running\""))
            let norms = try await server.get("/api/runs/2/grad_norms?since_step=30")
            #expect(norms.body.components(separatedBy: "\"l2\"").count == 3)
        }
    }

    @Test("wait=S answers as soon as the live run records more (long polling)")
    func longPolling() async throws {
        let path = try fixtureStore()
        try await withServer(store: path) { server in
            async let reply = server.get("/api/runs/3/metrics?since_step=30&wait=30")
            // Written while the request waits; without long polling the answer would hold no rows.
            try await Task.sleep(for: .milliseconds(600))
            let store = try RunStore(path: path)
            var batch = RecordBatch()
            batch.metrics.append(.init(name: "train_loss", step: 40, epoch: 2, value: 0.5, wallTime: 40))
            try store.append(batch, run: 3, epochsDone: 1, stepsDone: 40)
            try store.close()
            let answer = try await reply
            #expect(answer.status == 200)
            #expect(answer.body.contains("\"step\": 40") && answer.body.contains("\"last_step\": 40"), "\(answer.body)")
        }
    }
}
