/// One problem in a spec, where it is.
public struct SpecIssue: Sendable, Equatable, CustomStringConvertible {
    /// JSON path: `model.layers[3].conv.kernel` ("" for the whole document).
    public var path: String
    public var line: Int
    public var column: Int
    public var message: String

    public init(path: String, line: Int, column: Int, message: String) {
        self.path = path
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String { (path.isEmpty ? "" : "\(path): ") + message }
}

/// A spec that cannot run, with every problem found in it.
public struct SpecError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var issues: [SpecIssue]
    /// The matrix variant the issues were found in, when they depend on it.
    public var variant: String?

    public init(file: String, issues: [SpecIssue], variant: String? = nil) {
        self.file = file
        self.issues = issues
        self.variant = variant
    }

    public var description: String {
        issues.map { issue in
            let place = issue.line > 0 ? "\(file):\(issue.line):\(issue.column)" : file
            return "\(place): \(issue)" + (variant.map { " (in matrix run \($0))" } ?? "")
        }.joined(separator: "\n")
    }
}

/// "Did you mean …?" for a misspelt name: the closest candidate within a few edits.
func suggestion(for word: String, among candidates: [String]) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        var previous = Array(0...b.count)
        for (i, ca) in a.enumerated() {
            var current = [i + 1]
            for (j, cb) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (ca == cb ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }
    // A name that one candidate begins (or that begins it) is most likely that candidate: conv/convolution.
    if let prefixed = candidates.first(where: { word.count >= 3 && ($0.lowercased().hasPrefix(word.lowercased()) || word.lowercased().hasPrefix($0.lowercased())) }) {
        return prefixed
    }
    let lowered = Array(word.lowercased())
    let scored = candidates.map { ($0, distance(lowered, Array($0.lowercased()))) }.min { $0.1 < $1.1 }
    guard let (best, score) = scored, score <= max(2, word.count / 3) else { return nil }
    return best
}
