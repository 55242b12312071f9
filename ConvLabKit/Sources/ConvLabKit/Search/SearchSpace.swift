import TextKit

/// The values a search may give one spec key (`search.space` in a spec): a dotted key, as in
/// the matrix, and the domain its values are drawn from.
public struct SearchDimension: Sendable, Equatable {
    public enum Domain: Sendable, Equatable {
        /// A number drawn uniformly from [low, high].
        case uniform(low: Double, high: Double)
        /// A positive number whose logarithm is drawn uniformly from [log low, log high].
        case logUniform(low: Double, high: Double)
        /// An integer drawn uniformly from low…high, both included.
        case integer(low: Int, high: Int)
        /// One of the listed values (numbers, strings, booleans, plugin objects), each as likely.
        case choice([JSONValue])
    }

    /// A dotted spec key, e.g. `optimizer.learning_rate`.
    public var key: String
    public var domain: Domain

    public init(key: String, domain: Domain) {
        self.key = key
        self.domain = domain
    }
}

/// The keys a search varies, in the spec's order: a trial's values are listed in this order.
public struct SearchSpace: Sendable, Equatable {
    public var dimensions: [SearchDimension]

    public init(_ dimensions: [SearchDimension]) { self.dimensions = dimensions }
}

/// Whether a larger or a smaller objective is better.
public enum ObjectiveDirection: String, Sendable, CaseIterable {
    case maximize, minimize

    /// Whether `a` is strictly better than `b`.
    public func prefers(_ a: Double, over b: Double) -> Bool { self == .maximize ? a > b : a < b }
}
