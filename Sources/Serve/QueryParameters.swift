import Foundation

/// A request's query string, decoded (`+` is a space, `%XX` a byte of UTF-8), with limits so that
/// a huge or malformed query is refused in one line (400) before anything reads the store.
struct QueryParameters: Sendable, Equatable {
    static let maxQueryBytes = 8192
    static let maxValueBytes = 2048
    static let maxParameters = 100

    private(set) var pairs: [(name: String, value: String)] = []

    static func == (a: QueryParameters, b: QueryParameters) -> Bool {
        a.pairs.map(\.name) == b.pairs.map(\.name) && a.pairs.map(\.value) == b.pairs.map(\.value)
    }

    init(_ query: String?) throws(HTTPProblem) {
        guard let query, !query.isEmpty else { return }
        guard query.utf8.count <= Self.maxQueryBytes else {
            throw HTTPProblem(.badRequest, "the query string is \(query.utf8.count) bytes; at most \(Self.maxQueryBytes) are accepted")
        }
        let parts = query.split(separator: "&", omittingEmptySubsequences: true)
        guard parts.count <= Self.maxParameters else {
            throw HTTPProblem(.badRequest, "the query has \(parts.count) parameters; at most \(Self.maxParameters) are accepted")
        }
        for part in parts {
            let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = try Self.decode(pieces[0], what: "a parameter name")
            let value = pieces.count > 1 ? try Self.decode(pieces[1], what: "the value of \"\(name)\"") : ""
            guard value.utf8.count <= Self.maxValueBytes else {
                throw HTTPProblem.badParameter(name, "its value is \(value.utf8.count) bytes; at most \(Self.maxValueBytes) are accepted")
            }
            pairs.append((name, value))
        }
    }

    static func decode(_ text: Substring, what: String) throws(HTTPProblem) -> String {
        let plus = text.replacingOccurrences(of: "+", with: " ")
        guard let decoded = plus.removingPercentEncoding else {
            throw HTTPProblem(.badRequest, "\(what) is not valid percent-encoded UTF-8: \(String(text.prefix(80)))")
        }
        // NUL and other controls have no business in a filter, and NUL would cut SQLite's text.
        if let bad = decoded.unicodeScalars.first(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw HTTPProblem(.badRequest, "\(what) holds the control character U+\(String(format: "%04X", bad.value)); remove it")
        }
        return decoded
    }

    /// Every value of `name`; a value holding commas counts as several (`runs=1,2` is `runs=1&runs=2`)
    /// when `splittingCommas`.
    func values(_ name: String, splittingCommas: Bool = false) -> [String] {
        let raw = pairs.filter { $0.name == name }.map(\.value)
        guard splittingCommas else { return raw.filter { !$0.isEmpty } }
        return raw.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }.filter { !$0.isEmpty }
    }

    /// The one value of `name`, or nil; given twice with different values it is an error.
    func value(_ name: String) throws(HTTPProblem) -> String? {
        let all = values(name)
        guard Set(all).count <= 1 else { throw HTTPProblem.badParameter(name, "given \(all.count) times with different values; give it once") }
        return all.first
    }

    /// An integer parameter within `range`.
    func integer(_ name: String, in range: ClosedRange<Int64>) throws(HTTPProblem) -> Int64? {
        guard let text = try value(name) else { return nil }
        guard let number = Int64(text), range.contains(number) else {
            throw HTTPProblem.badParameter(name, "\"\(text.prefix(40))\" is not a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    /// Names this route does not know: refused, so that a typo does not silently show everything.
    func rejectUnknown(allowed: Set<String>) throws(HTTPProblem) {
        if let unknown = pairs.first(where: { !allowed.contains($0.name) }) {
            throw HTTPProblem.badParameter(String(unknown.name.prefix(60)), "not known here; known: \(allowed.sorted().joined(separator: ", "))")
        }
    }
}
