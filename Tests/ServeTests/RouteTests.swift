import Testing
@testable import Serve

@Suite("Routes, query parameters and escaping")
struct RouteTests {
    @Test("pages and endpoints match their paths")
    func routes() throws {
        #expect(try Route.match(path: "/") == .runsPage)
        #expect(try Route.match(path: "/runs/3f2a") == .runPage("3f2a"))
        #expect(try Route.match(path: "/runs/3/") == .runPage("3"))
        #expect(try Route.match(path: "/compare") == .comparePage)
        #expect(try Route.match(path: "/api/runs/3/metrics") == .apiMetrics("3"))
        #expect(try Route.match(path: "/api/runs/3/grad_norms") == .apiGradNorms("3"))
        #expect(try Route.match(path: "/static/app.js") == .asset(.script))
    }

    @Test("path traversal in every spelling, and unknown paths, are 404; a path that does not decode is 400",
          arguments: ["/static/../../etc/passwd", "/static/..%2f..%2fetc%2fpasswd", "/static/%2e%2e/%2e%2e/etc/passwd",
                      "/static/%2E%2E%5C%2E%2E%5Cwin.ini", "/static/app.js%00.png", "/static/..", "/static/", "/static/style.css/..",
                      "/runs/%2e%2e", "/runs/a%2fb", "/api/runs/1/../../etc", "/etc/passwd", "/api", "/api/nope",
                      "/" + String(repeating: "a", count: 600)])
    func notFound(_ path: String) {
        #expect(throws: HTTPProblem.self) { try Route.match(path: path) }
        do { _ = try Route.match(path: path) } catch { #expect(error.status == .notFound, "\(path)") }
    }

    @Test("a path segment that is not UTF-8 is a bad request")
    func undecodable() {
        do { _ = try Route.match(path: "/runs/%ff"); Issue.record("matched") } catch { #expect(error.status == .badRequest) }
    }

    @Test("query parameters decode + and %XX, split commas where asked, and refuse what is huge or malformed")
    func query() throws {
        let query = try QueryParameters("runs=1,2&runs=5&where=model.pooling%3Dmax&group_by=a+b")
        #expect(query.values("runs", splittingCommas: true) == ["1", "2", "5"])
        #expect(try query.value("where") == "model.pooling=max")
        #expect(try query.value("group_by") == "a b")
        for bad in [String(repeating: "a", count: 9000), (0..<101).map { "p\($0)=1" }.joined(separator: "&"), "x=%zz", "x=%00",
                    "x=" + String(repeating: "b", count: 3000), "since_step=1&since_step=2"] {
            #expect(throws: HTTPProblem.self, "\(bad.prefix(40))") {
                let parsed = try QueryParameters(bad)
                _ = try parsed.value("since_step")
            }
        }
        #expect(throws: HTTPProblem.self) { try QueryParameters("since_step=1e99").integer("since_step", in: -1...100) }
        #expect(throws: HTTPProblem.self) { try QueryParameters("typo=1").rejectUnknown(allowed: ["runs"]) }
    }

    @Test("HTML escaping leaves no markup and shows control characters as escapes")
    func escaping() {
        #expect(HTML.escape(#"<script>alert("x")</script> & 'y'"#) == "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;")
        #expect(HTML.escape("a\u{1B}[2Jb") == "a\\u{1B}[2Jb")
        #expect(HTML.query([("where", "a<b&c")]) == "?where=a%3Cb%26c")
        #expect(HTML.preformatted("{\n  \"a\": \"<b>\"\n}\n", class: "spec") == "<pre class=\"spec\">{\n  &quot;a&quot;: &quot;&lt;b&gt;&quot;\n}</pre>\n")
    }
}
