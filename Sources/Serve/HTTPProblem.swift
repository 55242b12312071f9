import Hummingbird
import RunStore

/// Why a request gets no page: the HTTP status and one line saying what is wrong and what to do.
/// Pages show it as an HTML page, the API as `{"error": …, "status": …}`.
struct HTTPProblem: Error, Equatable, Sendable, CustomStringConvertible {
    var status: HTTPResponse.Status
    var message: String

    init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }

    var description: String { "\(status.code) \(status.reasonPhrase): \(message)" }

    static func notFound(_ path: String) -> HTTPProblem {
        HTTPProblem(.notFound, "no page at \(path); the pages are /, /runs/ID, /compare and the API under /api (see README, \"Watching runs\")")
    }

    static func badParameter(_ name: String, _ why: String) -> HTTPProblem {
        HTTPProblem(.badRequest, "query parameter \"\(name)\": \(why)")
    }

    /// A store that cannot be read is the server's state, not the request's fault (503: try again
    /// once `runner exec` has created it, or with another --store); a run that is not there is 404;
    /// a reference or a filter that cannot be understood is 400.
    init(_ error: StoreError) {
        switch error.kind {
        case .unknownRun: self.init(.notFound, error.description)
        case .invalidValue, .ambiguousRun, .badQuery: self.init(.badRequest, error.description)
        case .missing, .notAStore, .newerSchema, .io, .busy, .queryLimit, .readOnlyViolation, .nonFiniteValue,
             .liveRun, .cannotResume:
            self.init(.serviceUnavailable, error.description)
        }
    }
}
