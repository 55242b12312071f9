import Dispatch
import Foundation
import RunStore
import Synchronization

/// The store as the server reads it: a few read-only connections (`StoreReader`, the guard
/// `runner report` uses), each lent to one request at a time, the reads run off the server's
/// threads. A store that is missing or unreadable is tried again on the next request, so the
/// server can start before `runner exec` creates it; a store replaced by another file (as
/// `runner merge` moves a new store into place) is reopened.
final class StoreAccess: Sendable {
    let path: String
    private let slots: AsyncSlots
    private let idle = Mutex<[(reader: StoreReader, file: FileIdentity)]>([])

    init(path: String, connections: Int) {
        self.path = path
        self.slots = AsyncSlots(connections)
    }

    static func schemaVersion(_ reader: StoreReader) -> Int? {
        (try? reader.query("SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'schema_version'"))?.rows.first?.first?.double.map { Int($0) }
    }

    /// Device and inode: what tells a store replaced by rename from the one that was opened.
    struct FileIdentity: Equatable, Sendable {
        var device: UInt64
        var inode: UInt64
        init?(path: String) {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
        }
    }

    /// Runs `body` with a connection to the store, on a thread that may block.
    func read<T: Sendable>(_ body: @escaping @Sendable (StoreReader) throws -> T) async throws -> T {
        await slots.acquire()
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<T, any Error>, Never>) in
            DispatchQueue.global().async {
                continuation.resume(returning: Result { try self.withConnection(body) })
            }
        }
        await slots.release()
        return try result.get()
    }

    private func withConnection<T>(_ body: (StoreReader) throws -> T) throws -> T {
        let current = FileIdentity(path: path)
        var lent = idle.withLock { idle -> (reader: StoreReader, file: FileIdentity)? in
            idle.removeAll { $0.file != current }
            return idle.popLast()
        }
        // A connection knows the schema the store had when it opened (one opened while
        // `runner exec` was still creating the store saw an early one): after an upgrade,
        // or an upgrade by a newer ConvLab, it is opened anew, which checks the store again.
        if let connection = lent, Self.schemaVersion(connection.reader) != connection.reader.schemaVersion {
            lent = nil
        }
        if lent == nil {
            let reader = try StoreReader(path: path)
            // The identity after opening: the file the connection has.
            guard let file = FileIdentity(path: path) else {
                throw StoreError(.missing, path: path, "no store here; run `runner exec Experiments/smoke.json` to create one, or pass --store PATH")
            }
            lent = (reader, file)
        }
        guard let connection = lent else { throw StoreError(.io, path: path, "no connection") }
        defer { idle.withLock { $0.append(connection) } }
        return try body(connection.reader)
    }
}

/// At most `count` holders at once; the others wait their turn in order.
actor AsyncSlots {
    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(_ count: Int) { free = max(1, count) }

    func acquire() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty {
            free += 1
        } else {
            waiting.removeFirst().resume()
        }
    }
}
