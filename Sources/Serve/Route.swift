import Foundation

/// The pages and API endpoints, matched from a request's path. Nothing here names a file: static
/// assets come from a fixed table compiled into the runner, so no path — `..`, `%2e%2e%2f`, a
/// doubled slash — can reach the file system.
enum Route: Equatable, Sendable {
    case runsPage
    case runPage(String)
    case comparePage
    /// A search's trials: `/searches/{experiment id or name}`.
    case searchPage(String)
    case apiStore
    case apiRuns
    case apiRun(String)
    case apiMetrics(String)
    case apiGradNorms(String)
    case apiCompare
    case apiGroups
    case apiSearch(String)
    case apiSearchChanges(String)
    case asset(StaticAssets.Asset)

    /// Longest path accepted, in bytes: a run reference is short, a longer path is no page.
    static let maxPathBytes = 512

    /// The route for a raw request path (without its query). Segments are percent-decoded; one
    /// that does not decode is a bad request, and any path that is not a page is 404.
    static func match(path rawPath: String) throws(HTTPProblem) -> Route {
        guard rawPath.utf8.count <= maxPathBytes else {
            throw HTTPProblem(.notFound, "no page at a path of \(rawPath.utf8.count) bytes; the pages are /, /runs/ID, /compare, /searches/ID and /api/…")
        }
        var segments: [String] = []
        for raw in rawPath.split(separator: "/", omittingEmptySubsequences: true) {
            guard let segment = raw.removingPercentEncoding else {
                throw HTTPProblem(.badRequest, "the path segment \"\(raw.prefix(60))\" is not valid percent-encoded UTF-8")
            }
            // A segment that decodes to a path of its own ("..", "a/b", "a\\b") or holds control
            // characters names nothing here.
            if segment == "." || segment == ".." || segment.contains("/") || segment.contains("\\")
                || segment.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                throw HTTPProblem.notFound(Self.shown(rawPath))
            }
            segments.append(segment)
        }
        switch segments.count {
        case 0: return .runsPage
        case 1 where segments[0] == "compare": return .comparePage
        case 2 where segments[0] == "runs": return .runPage(segments[1])
        case 2 where segments[0] == "searches": return .searchPage(segments[1])
        case 2 where segments[0] == "static":
            if let asset = StaticAssets.Asset(rawValue: segments[1]) { return .asset(asset) }
        case 2 where segments[0] == "api":
            switch segments[1] {
            case "store": return .apiStore
            case "runs": return .apiRuns
            case "compare": return .apiCompare
            case "groups": return .apiGroups
            default: break
            }
        case 3 where segments[0] == "api" && segments[1] == "runs": return .apiRun(segments[2])
        case 3 where segments[0] == "api" && segments[1] == "searches": return .apiSearch(segments[2])
        case 4 where segments[0] == "api" && segments[1] == "searches" && segments[3] == "changes": return .apiSearchChanges(segments[2])
        case 4 where segments[0] == "api" && segments[1] == "runs" && segments[3] == "metrics": return .apiMetrics(segments[2])
        case 4 where segments[0] == "api" && segments[1] == "runs" && segments[3] == "grad_norms": return .apiGradNorms(segments[2])
        default: break
        }
        throw HTTPProblem.notFound(Self.shown(rawPath))
    }

    /// A path as a message shows it: at most 120 characters.
    static func shown(_ path: String) -> String { path.count > 120 ? String(path.prefix(120)) + "…" : path }

    var isAPI: Bool {
        switch self {
        case .apiStore, .apiRuns, .apiRun, .apiMetrics, .apiGradNorms, .apiCompare, .apiGroups, .apiSearch, .apiSearchChanges: true
        case .runsPage, .runPage, .comparePage, .searchPage, .asset: false
        }
    }
}
