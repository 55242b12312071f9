import Foundation
import GRDB
import Testing
@testable import Reports
@testable import RunStore
import TestSupport
@testable import Serve

@Suite("A search's page and API")
struct SearchPageTests {
    func searchStore() throws -> String {
        let path = temporaryStorePath()
        try SearchFixture.write(path: path)
        return path
    }

    /// The trial numbers of the page's table, in order.
    func trialRows(_ html: String) -> [String] {
        html.components(separatedBy: "<tr data-trial=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
    }

    /// The `<figure>` of a chart, by an attribute it has.
    func figure(_ html: String, _ attribute: String) -> String {
        html.components(separatedBy: "<figure").first { $0.contains(attribute) } ?? ""
    }

    @Test("/searches/ID: the ranked trials, the best trial, the objective over trials and each key's chart, the markup of a choice shown as text")
    func page() async throws {
        try await withServer(store: try searchStore()) { server in
            let reply = try await server.get("/searches/2")
            #expect(reply.status == 200)
            let page = reply.body
            #expect(trialRows(page) == ["3", "1", "6", "2", "4", "5", "7"])
            #expect(page.contains("<tr data-trial=\"2\" class=\"pruned\">") && page.contains("<tr data-trial=\"4\" class=\"live\">"))
            #expect(page.contains("<span class=\"status pruned\">pruned</span>") && page.contains("stopped at epoch 1"))
            #expect(page.contains("<a href=\"/runs/6\">3</a>"))       // trial 3's first run
            #expect(page.contains("Best: trial 3, test_accuracy 0.9100"))
            #expect(page.contains("data-live=\"true\""))                 // trials 4 and 7 may still change
            let objective = figure(page, "data-chart=\"objective\"")
            #expect(objective.components(separatedBy: "<circle class=\"point").count - 1 == 5)
            #expect(objective.contains("<polyline class=\"best\""))
            #expect(figure(page, "data-key=\"optimizer.learning_rate\"").contains("data-scale=\"log\""))
            #expect(figure(page, "data-key=\"model.activation\"").contains("data-scale=\"categories\""))
            #expect(!page.contains("<script>") && !page.contains("<b>demo"))
            #expect(page.contains("&lt;/td&gt;&lt;script&gt;alert(&quot;choice&quot;)&lt;/script&gt;"))
            let scripts = page.components(separatedBy: "<script").dropFirst()
            #expect(scripts.allSatisfy { $0.hasPrefix(" src=\"/static/app.js\" defer></script>") })
            // The runs page links the search, and filters by the new status.
            let runs = try await server.get("/").body
            #expect(runs.contains("<a href=\"/searches/2\">search &lt;b&gt;demo&lt;/b&gt;</a>"))
            #expect(runs.contains("<option>pruned</option>"))
            #expect(try await server.get("/?status=pruned").body.components(separatedBy: "<tr data-run=\"").count - 1 == 4)
            // A trial's run links back to its search.
            #expect(try await server.get("/runs/6").body.contains("trial 3 of <a href=\"/searches/2\">its search</a>"))
            #expect(!(try await server.get("/runs/1").body.contains("its search")))
        }
    }

    @Test("/api/searches/ID is report --trials --format json; not a search, or none, is 404 with the searches named")
    func api() async throws {
        let path = try searchStore()
        var reporter = Reporter(reader: try StoreReader(path: path))
        reporter.staleAfter = testStaleAfter
        try await withServer(store: path) { server in
            let reply = try await server.get("/api/searches/2")
            #expect(reply.status == 200 && reply.headers["content-type"] == "application/json; charset=utf-8")
            #expect(try reply.body == reporter.trials(experiment: "2").render(.json, width: 200))
            let matrix = try await server.get("/api/searches/1")
            #expect(matrix.status == 404 && matrix.body.contains("is not a search") && matrix.body.contains("the searches here"))
            #expect(try await server.get("/searches/99").status == 404)
            #expect(try await server.get("/api/searches/2?x=1").status == 400)
            #expect(try await server.get("/api/runs?status=pruned").body.components(separatedBy: "\"status\": \"pruned\"").count - 1 == 4)
        }
        try await withServer(store: try fixtureStore()) { server in
            let none = try await server.get("/api/searches/1")
            #expect(none.status == 404 && none.body.contains("this store has no search"))
        }
    }

    @Test("the changes endpoint answers as soon as a trial changes (long polling); the page's signature follows")
    func changes() async throws {
        let path = try searchStore()
        try await withServer(store: path) { server in
            let first = try #require(try JSONSerialization.jsonObject(with: Data(try await server.get("/api/searches/2/changes").body.utf8)) as? [String: Any])
            let signature = try #require(first["signature"] as? String)
            #expect(first["live"] as? Bool == true)
            #expect(try await server.get("/searches/2").body.contains("data-signature=\"\(signature)\""))
            async let reply = server.get("/api/searches/2/changes?signature=\(signature)&wait=30")
            // Trial 4 completes while the request waits: without long polling the answer would be the old signature.
            try await Task.sleep(for: .milliseconds(600))
            let queue = try DatabaseQueue(path: path)
            try await queue.write { db in
                try db.execute(sql: "UPDATE runs SET status = 'completed', epochs_done = 3 WHERE trial = 4")
                try db.execute(sql: """
                    INSERT INTO metrics(run_id, name, step, epoch, value, wall_time)
                    SELECT id, 'test_accuracy', e * 10, e, 0.8, e FROM runs, (SELECT 2 AS e UNION SELECT 3) WHERE trial = 4
                    """)
            }
            try queue.close()
            let answer = try #require(try JSONSerialization.jsonObject(with: Data(try await reply.body.utf8)) as? [String: Any])
            #expect(answer["signature"] as? String != signature)
            let page = try await server.get("/searches/2").body
            #expect(page.contains("data-signature=\"\(answer["signature"] as? String ?? "")\""))
            #expect(figure(page, "data-chart=\"objective\"").components(separatedBy: "<circle class=\"point completed\"").count - 1 == 3)
        }
    }
}
