/// The kind of a line in a run's event log (the store's `events.kind`). The runner's own kinds
/// are the static members; a probe may record any other.
public struct EventKind: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }
    public var description: String { rawValue }

    /// A process claimed the run and starts (or resumes) it.
    public static let started: EventKind = "started"
    /// A checkpoint was written.
    public static let checkpoint: EventKind = "checkpoint"
    /// The run ended: one of these, as its status says.
    public static let completed: EventKind = "completed"
    public static let diverged: EventKind = "diverged"
    public static let failed: EventKind = "failed"
    public static let interrupted: EventKind = "interrupted"
    /// A search's pruner stopped the trial (the message is its reason).
    public static let pruned: EventKind = "pruned"
}
