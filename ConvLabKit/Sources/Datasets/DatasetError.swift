/// A data set that cannot be read, with the file it concerns and what to do about it.
public struct DatasetError: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var problem: String
    public var hint: String

    public init(file: String, problem: String, hint: String = "") {
        self.file = file
        self.problem = problem
        self.hint = hint
    }

    public var description: String { "\(file): \(problem)" + (hint.isEmpty ? "" : "; \(hint)") }
}
