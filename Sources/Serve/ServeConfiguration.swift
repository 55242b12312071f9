/// What `runner serve` serves and where.
public struct ServeConfiguration: Sendable {
    /// The store, opened read-only; it may not exist yet (pages say so until it does).
    public var storePath: String
    public var host: String
    /// 0: any free port (the address is printed once the server listens).
    public var port: Int
    /// A running run silent for longer than this (seconds) shows as stale, as in `runner report`.
    public var staleAfter: Double
    /// Store connections, each used by one request at a time: reads of the store run in parallel
    /// up to this many.
    public var readers: Int

    public init(storePath: String, host: String = "127.0.0.1", port: Int = 8080, staleAfter: Double = 60, readers: Int = 2) {
        self.storePath = storePath
        self.host = host
        self.port = port
        self.staleAfter = staleAfter
        self.readers = max(1, readers)
    }

    /// Whether `host` is reachable only from this machine: anything else exposes the store's
    /// names, paths and command lines to the network.
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }
}
