/// Why a store cannot be opened, read or written: one line a person can act on.
public struct StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        case missing, notAStore, newerSchema, readOnlyViolation, badQuery, unknownRun, io
        /// A record held NaN or an infinity; nothing of its batch was written.
        case nonFiniteValue
        /// A query returned more rows, or ran longer, than it was allowed to.
        case queryLimit
        /// A run reference (a UUID prefix) matches several runs.
        case ambiguousRun
        /// A run is running with a fresh heartbeat, so it may not be deleted.
        case liveRun
        /// A value given to the store (a tag, a note, a checkpoint path) is not acceptable.
        case invalidValue
        /// A run cannot be resumed from what the store recorded (its checkpoint is missing,
        /// damaged or another run's, or its data changed); the run was left as it was.
        case cannotResume
        /// Another connection held the store locked for longer than this one could wait.
        case busy
    }

    public var kind: Kind
    public var path: String
    public var message: String

    public init(_ kind: Kind, path: String, _ message: String) {
        self.kind = kind
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}
