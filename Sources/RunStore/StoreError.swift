/// Why a store cannot be opened, read or written: one line a person can act on.
public struct StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        case missing, notAStore, newerSchema, readOnlyViolation, badQuery, unknownRun, io
        /// A record held NaN or an infinity; nothing of its batch was written.
        case nonFiniteValue
        /// A query returned more rows, or ran longer, than it was allowed to.
        case queryLimit
        /// Another process held the file past the busy timeout (or while it switched to WAL).
        case locked
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
