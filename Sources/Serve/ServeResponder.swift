import Foundation
import HTTPTypes
import Hummingbird
import Reports
import RunStore

/// Answers every request: GET and HEAD only (the server never changes anything: 405 otherwise),
/// the route from the path, the query decoded within limits, the store read through
/// `StoreAccess`. Whatever goes wrong — a bad path or parameter, a run that is not there, a store
/// that is missing, not a store or from a newer ConvLab — becomes one status and one line (an
/// HTML page, or `{"error": …}` under /api), and the server goes on serving.
struct ServeResponder: HTTPResponder {
    typealias Context = BasicRequestContext

    let configuration: ServeConfiguration
    let store: StoreAccess

    init(configuration: ServeConfiguration) {
        self.configuration = configuration
        self.store = StoreAccess(path: configuration.storePath, connections: configuration.readers)
    }

    /// No inline script or style, nothing from elsewhere, no framing: the pages' own assets only.
    static let contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        + "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

    func respond(to request: Request, context: Context) async throws -> Response {
        let path = request.uri.path
        let isAPI = path.hasPrefix("/api/") || path == "/api"
        var response: Response
        do {
            guard request.method == .get || request.method == .head else {
                throw HTTPProblem(.methodNotAllowed, "\(request.method.rawValue.prefix(20)) is not allowed: this server only reads the store (GET and HEAD)")
            }
            try checkHost(request)
            let route = try Route.match(path: path)
            let query = try QueryParameters(request.uri.query)
            response = try await answer(route, query)
        } catch {
            response = problemResponse(Self.problem(error), api: isAPI)
        }
        response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        response.headers[.xContentTypeOptions] = "nosniff"
        if let referrerPolicy = HTTPField.Name("Referrer-Policy") { response.headers[referrerPolicy] = "no-referrer" }
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
        if response.status == .methodNotAllowed { response.headers[.allow] = "GET, HEAD" }
        return request.method == .head ? response.createHeadResponse() : response
    }

    /// Bound to loopback, the server answers only requests addressed to loopback: a web page
    /// elsewhere cannot read the store by pointing a name of its own at 127.0.0.1 (DNS rebinding).
    func checkHost(_ request: Request) throws(HTTPProblem) {
        guard ServeConfiguration.isLoopback(configuration.host) else { return }
        guard let authority = request.head.authority else { return }
        var host = authority
        if host.hasPrefix("["), let end = host.firstIndex(of: "]") {
            host = String(host[host.index(after: host.startIndex)..<end])
        } else if let colon = host.lastIndex(of: ":") {
            host = String(host[..<colon])
        }
        guard ServeConfiguration.isLoopback(host.lowercased()) else {
            throw HTTPProblem(.forbidden, "this server answers requests to 127.0.0.1 or localhost only, not to \"\(authority.prefix(80))\"; open http://127.0.0.1:PORT/")
        }
    }

    func answer(_ route: Route, _ query: QueryParameters) async throws -> Response {
        if case .asset(let asset) = route {
            try query.rejectUnknown(allowed: ["v"])
            return Self.response(.ok, contentType: asset.contentType, body: asset.body, cache: "no-cache")
        }
        let staleAfter = configuration.staleAfter
        switch route {
        case .apiMetrics(let reference):
            return try await waitingForRows(try API.wait(query)) { reader in try API.metrics(API.reporter(reader, staleAfter: staleAfter), reference, query) }
        case .apiGradNorms(let reference):
            return try await waitingForRows(try API.wait(query)) { reader in try API.gradNorms(API.reporter(reader, staleAfter: staleAfter), reference, query) }
        case .apiSearchChanges(let reference):
            return try await waitingForRows(try API.wait(query)) { reader in try API.searchChanges(API.reporter(reader, staleAfter: staleAfter), reference, query) }
        default: break
        }
        let (text, json) = try await store.read { reader -> (String, Bool) in
            let reporter = API.reporter(reader, staleAfter: staleAfter)
            switch route {
            case .runsPage: return (try RunsPage.render(reporter, query), false)
            case .runPage(let reference): return (try RunPage.render(reporter, reference, query), false)
            case .comparePage: return (try ComparePage.render(reporter, query), false)
            case .searchPage(let reference): return (try SearchPage.render(reporter, reference, query), false)
            case .apiSearch(let reference): return (try API.search(reporter, reference, query), true)
            case .apiStore: return (try API.store(reader, query), true)
            case .apiRuns: return (try API.runs(reporter, query), true)
            case .apiRun(let reference): return (try API.run(reporter, reference, query), true)
            case .apiMetrics, .apiGradNorms, .apiSearchChanges: return ("", true)     // answered above
            case .apiCompare: return (try API.compare(reporter, query), true)
            case .apiGroups: return (try API.groups(reporter, query), true)
            case .asset: return ("", false)
            }
        }
        return Self.response(.ok, contentType: json ? "application/json; charset=utf-8" : "text/html; charset=utf-8", body: text)
    }

    /// Long polling: asks again every quarter second, up to `seconds`, while the run is live and
    /// has no rows after the step asked for; the store is read only while asking, never held.
    func waitingForRows(_ seconds: Double, _ ask: @escaping @Sendable (StoreReader) throws -> API.Increment) async throws -> Response {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while true {
            let answer = try await store.read(ask)
            if answer.rows > 0 || !answer.live || ContinuousClock.now >= deadline {
                return Self.response(.ok, contentType: "application/json; charset=utf-8", body: answer.text)
            }
            try await Task.sleep(for: .milliseconds(250))
        }
    }

    static func problem(_ error: any Error) -> HTTPProblem {
        switch error {
        case let problem as HTTPProblem: problem
        case let error as StoreError: HTTPProblem(error)
        case let error as ReportError: HTTPProblem(.badRequest, error.message)
        default: HTTPProblem(.internalServerError, "unexpected error: \(error)")
        }
    }

    func problemResponse(_ problem: HTTPProblem, api: Bool) -> Response {
        if api {
            var object = JSONObject()
            object.add("error", problem.message)
            object.add("status", Double(problem.status.code))
            return Self.response(problem.status, contentType: "application/json; charset=utf-8", body: object.text)
        }
        return Self.response(problem.status, contentType: "text/html; charset=utf-8", body: PageLayout.errorPage(problem, storePath: configuration.storePath))
    }

    static func response(_ status: HTTPResponse.Status, contentType: String, body: String, cache: String? = nil) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        if let cache { headers[.cacheControl] = cache }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }
}
