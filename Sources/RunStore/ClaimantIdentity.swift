import Foundation

/// What names the process holding a claim beyond its "host:pid": a pid means something only
/// in one pid namespace of one boot of one kernel. Another machine, or a container, may carry
/// the same host name; containers on one kernel share its boot id but each has pid namespaces
/// of its own; and a pid is given to a new process once its own is gone, which the start time
/// tells apart. Recorded beside `runs.claimed_by` (schema 4 on).
public struct ClaimantIdentity: Sendable, Equatable {
    /// /proc/sys/kernel/random/boot_id: new at every boot of the kernel.
    public var bootID: String
    /// The target of /proc/self/ns/pid, e.g. "pid:[4026531836]".
    public var pidNamespace: String
    /// Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot.
    public var startTicks: Int64

    public init(bootID: String, pidNamespace: String, startTicks: Int64) {
        self.bootID = bootID; self.pidNamespace = pidNamespace; self.startTicks = startTicks
    }

    /// The identity as stored, or nil when any part is missing (a claim by a ConvLab from
    /// before schema 4, or by a process that could not read /proc).
    public static func stored(bootID: String?, pidNamespace: String?, startTicks: Int64?) -> ClaimantIdentity? {
        guard let bootID, let pidNamespace, let startTicks else { return nil }
        return ClaimantIdentity(bootID: bootID, pidNamespace: pidNamespace, startTicks: startTicks)
    }

    /// The claimant_* columns of `runs` for a query through `StoreReader` (`table` is a prefix such
    /// as "r."), or NULLs in a store from before schema 4, which readers take as it is.
    public static func columns(schemaVersion: Int, table: String = "") -> String {
        schemaVersion >= 4 ? ["claimant_boot_id", "claimant_pid_namespace", "claimant_start_ticks"].map { table + $0 }.joined(separator: ", ")
                           : "NULL, NULL, NULL"
    }

    /// The identity from the three values `columns` selects, or nil.
    public init?(_ values: ArraySlice<SQLValue>) {
        guard values.count == 3, case .text(let bootID) = values[values.startIndex], case .text(let pidNamespace) = values[values.startIndex + 1],
              case .integer(let startTicks) = values[values.startIndex + 2] else { return nil }
        self.init(bootID: bootID, pidNamespace: pidNamespace, startTicks: startTicks)
    }

    /// This process's, or nil where /proc does not tell (not Linux): its claims are then judged
    /// by their heartbeat alone.
    public static let current: ClaimantIdentity? = {
        guard let bootID = readSmallFile("/proc/sys/kernel/random/boot_id")?.trimmingCharacters(in: .whitespacesAndNewlines),
              !bootID.isEmpty, let pidNamespace = pidNamespace(of: "self"),
              let stat = readSmallFile("/proc/self/stat"), let ticks = startTicks(statLine: stat) else { return nil }
        return ClaimantIdentity(bootID: bootID, pidNamespace: pidNamespace, startTicks: ticks)
    }()

    /// The start time (field 22) of a /proc/<pid>/stat line. The second field is the command name
    /// in parentheses, which may itself hold spaces and ')': the fields that follow are counted
    /// from the last ')'.
    static func startTicks(statLine: String) -> Int64? {
        guard let close = statLine.lastIndex(of: ")") else { return nil }
        let fields = statLine[statLine.index(after: close)...].split(whereSeparator: { $0 == " " || $0 == "\n" })
        // fields[0] is field 3 (the state), so field 22 is fields[19].
        guard fields.count > 19, let ticks = Int64(fields[19]), ticks >= 0 else { return nil }
        return ticks
    }

    /// What is known here of the process with a pid.
    enum ProcessState: Equatable {
        case absent
        case started(ticks: Int64)
        /// It exists, but its start time cannot be read (it may belong to another user on a
        /// /proc mounted with hidepid, or have just exited).
        case unknown
    }

    /// kill(pid, 0) says whether the pid exists (even where /proc hides other users' processes);
    /// /proc/<pid>/stat says when its process started.
    static func state(of pid: Int32) -> ProcessState {
        if kill(pid, 0) == -1 && errno == ESRCH { return .absent }
        guard let stat = readSmallFile("/proc/\(pid)/stat"), let ticks = startTicks(statLine: stat) else { return .unknown }
        return .started(ticks: ticks)
    }

    static func pidNamespace(of process: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        let count = readlink("/proc/\(process)/ns/pid", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A /proc file's text (their size reads as 0, so they are read until the end), or nil.
    static func readSmallFile(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1024)
        while bytes.count < 65_536 {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes.append(contentsOf: chunk.prefix(count))
        }
        return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
    }
}
