import Foundation
import GRDB
import Testing
@testable import RunStore
import TestSupport
@testable import Serve

@Suite("Pages")
struct PageTests {
    /// Rows of the runs table, in order, by their data-run attribute.
    func rowIDs(_ html: String) -> [String] {
        html.components(separatedBy: "<tr data-run=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
    }

    @Test("the runs page: every run, live ones marked, filters and sorting")
    func runsPage() async throws {
        try await withServer(store: try fixtureStore()) { server in
            let page = try await server.get("/")
            #expect(page.status == 200 && page.headers["content-type"] == "text/html; charset=utf-8")
            #expect(rowIDs(page.body) == ["1", "2", "3"])
            #expect(page.body.contains("<tr data-run=\"3\" class=\"live\">") && page.body.contains("● running"))
            #expect(rowIDs(try await server.get("/?status=running").body) == ["3"])
            #expect(rowIDs(try await server.get("/?where=model.pooling%3Davg").body) == ["2"])
            #expect(rowIDs(try await server.get("/?tag=" + HTML.percent("tag \(hostile)")).body) == ["1"])
            #expect(rowIDs(try await server.get("/?sort=test%20acc&order=desc").body) == ["1", "2", "3"])
            #expect(rowIDs(try await server.get("/?sort=test%20acc&order=asc").body) == ["3", "2", "1"])
            #expect(rowIDs(try await server.get("/?sort=variant").body) == ["2", "1", "3"])
        }
    }

    @Test("a running run silent for longer than the stale limit shows as stale, not live")
    func staleRun() async throws {
        let path = try fixtureStore()
        let store = try RunStore(path: path)
        _ = try store.write { db in try db.execute(sql: "UPDATE runs SET heartbeat_at = heartbeat_at - 3600 WHERE id = 3") }
        try store.checkpointAndClose()
        // The silence grows while the test runs (minutes on a loaded machine), so the minutes may be past 00.
        let silentAboutAnHour = #/stale \(1h0\dm silent\)/#
        try await withServer(store: path) { server in
            let page = try await server.get("/")
            #expect(page.body.contains(#/<span class="status stale">stale \(1h0\dm silent\)</span>/#), "\(page.body)")
            #expect(!page.body.contains("class=\"live\""))
            let run = try await server.get("/runs/3")
            #expect(run.body.contains("data-live=\"false\"") && run.body.contains(silentAboutAnHour))
        }
    }

    @Test("a run's page: its charts have points, its sections are there")
    func runPage() async throws {
        try await withServer(store: try fixtureStore()) { server in
            let page = try await server.get("/runs/1")
            #expect(page.status == 200)
            #expect(page.body.contains("class=\"series\" data-series=\"train_loss\" data-points=\"9\""))
            #expect(page.body.contains("data-series=\"test_accuracy\" data-points=\"3\""))
            #expect(page.body.contains("data-series=\"0 conv.weight\""))
            for heading in ["Curves", "Gradient norms per layer", "Gradient checks", "Events", "Notes", "Resolved spec", "Checkpoints"] {
                #expect(page.body.contains("<h2>\(heading)</h2>"), "\(heading)")
            }
            #expect(page.body.contains("data-live=\"false\""))
            #expect(try await server.get("/runs/3").body.contains("data-live=\"true\""))
            // The same run by a UUID prefix.
            let uuid = try #require(try await server.get("/api/runs").body.components(separatedBy: "\"uuid\": \"").dropFirst().first?.prefix(8))
            #expect(try await server.get("/runs/\(uuid)").body.contains("<h1>Run 1 "))
        }
    }

    @Test("compare: picked runs overlaid with the keys that differ, or groups with their statistics")
    func comparePage() async throws {
        try await withServer(store: try fixtureStore()) { server in
            let pair = try await server.get("/compare?runs=1&runs=2")
            #expect(pair.status == 200 && pair.body.contains("Spec keys that differ") && pair.body.contains("data-series=\"run 1 pooling=max\""))
            #expect(pair.body.contains("data-series=\"run 2 pooling=avg\""))
            let three = try await server.get("/compare?runs=1,2,3")
            #expect(three.body.contains("Compare 3 runs") && three.body.contains("data-series=\"run 3"))
            let groups = try await server.get("/compare?group_by=model.pooling&baseline=max")
            #expect(groups.status == 200 && groups.body.contains("Difference from model.pooling = max"))
            #expect(groups.body.contains("data-series=\"pooling=max (mean of 2)\"") && groups.body.contains("data-series=\"pooling=avg\""))
            #expect(try await server.get("/compare").body.contains("Pick runs"))
        }
    }

    @Test("names, tags, notes and specs holding markup are shown as text on every page, and no page has inline script")
    func escaping() async throws {
        try await withServer(store: try fixtureStore()) { server in
            for path in ["/", "/runs/1", "/runs/3", "/compare?runs=1,2", "/compare?group_by=model.pooling", "/runs/99",
                         "/?where=" + HTML.percent(hostile), "/nope\(HTML.percent(hostile))"] {
                let page = try await server.get(path)
                #expect(!page.body.contains("<script>"), "\(path)")
                #expect(!page.body.contains("\\u{A}"), "\(path): a line break shown as an escape")
                let scripts = page.body.components(separatedBy: "<script").dropFirst()
                #expect(scripts.allSatisfy { $0.hasPrefix(" src=\"/static/app.js\" defer></script>") }, "\(path): inline script")
                #expect(page.headers["content-security-policy"]?.contains("script-src 'self'") == true)
            }
            let run = try await server.get("/runs/1").body
            #expect(run.contains("lenet &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"))
            #expect(run.contains("note &lt;script&gt;") && run.contains("tag &lt;script&gt;") && run.contains("&lt;/pre&gt;&lt;script&gt;"))
        }
    }

    @Test("the script, stylesheet and icon come from the runner itself")
    func assets() async throws {
        try await withServer(store: try fixtureStore()) { server in
            let script = try await server.get("/static/app.js")
            #expect(script.status == 200 && script.headers["content-type"] == "text/javascript; charset=utf-8" && script.body.contains("function drawChart"))
            #expect(try await server.get("/static/style.css").body.contains("figure.chart"))
            #expect(try await server.get("/static/icon.svg").headers["content-type"] == "image/svg+xml")
            for page in ["/", "/runs/1", "/compare?runs=1,2"] {
                let body = try await server.get(page).body
                #expect(!body.contains("http://") && !body.contains("https://") || body.contains("xmlns=\"http://www.w3.org/2000/svg\""))
                #expect(!body.contains("src=\"http") && !body.contains("href=\"http"), "\(page) loads something from elsewhere")
            }
        }
    }
}
