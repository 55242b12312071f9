import ConvLabKit
import TextKit

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

