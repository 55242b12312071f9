import Foundation
import GRDB

/// What one run cost the process that trained it (schema 5): `run_costs`.
public struct RunCost: Sendable, Equatable {
    public var wallSeconds: Double
    public var cpuUserSeconds: Double?
    public var cpuSystemSeconds: Double?
    public var peakRSSBytes: Int64?
    /// "run" when the peak was reset at the run's start, "process" when it covers the whole process.
    public var peakRSSScope: String?
    public var loadAverageStart: Double?
    public var loadAverageEnd: Double?
    public var imagesPerSecond: Double?
    /// host:pid of the measuring process.
    public var host: String?

    public init(wallSeconds: Double, cpuUserSeconds: Double? = nil, cpuSystemSeconds: Double? = nil, peakRSSBytes: Int64? = nil,
                peakRSSScope: String? = nil, loadAverageStart: Double? = nil, loadAverageEnd: Double? = nil,
                imagesPerSecond: Double? = nil, host: String? = nil) {
        self.wallSeconds = wallSeconds; self.cpuUserSeconds = cpuUserSeconds; self.cpuSystemSeconds = cpuSystemSeconds
        self.peakRSSBytes = peakRSSBytes; self.peakRSSScope = peakRSSScope; self.loadAverageStart = loadAverageStart
        self.loadAverageEnd = loadAverageEnd; self.imagesPerSecond = imagesPerSecond; self.host = host
    }
}

/// One line a run printed (`run_log`).
public struct RunLogLine: Sendable, Equatable {
    public enum Level: String, Sendable { case info, warning, error }
    public var time: Double
    public var level: Level
    public var line: String
    public init(time: Double, level: Level, line: String) { self.time = time; self.level = level; self.line = line }
}

extension RunStore {
    /// Records a run's cost (replacing an earlier attempt's) and appends the lines it printed.
    /// Measurements that are not finite numbers are stored as NULL, never as a number.
    public func recordCost(run id: Int64, _ cost: RunCost, log: [RunLogLine]) throws(StoreError) {
        func finite(_ value: Double?) -> Double? { value.flatMap { $0.isFinite ? $0 : nil } }
        try write { db in
            try db.execute(sql: """
                INSERT OR REPLACE INTO run_costs(run_id, wall_seconds, cpu_user_seconds, cpu_system_seconds, peak_rss_bytes, peak_rss_scope,
                                                 load_average_start, load_average_end, images_per_second, host)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [id, finite(cost.wallSeconds) ?? 0, finite(cost.cpuUserSeconds), finite(cost.cpuSystemSeconds), cost.peakRSSBytes,
                                 cost.peakRSSScope, finite(cost.loadAverageStart), finite(cost.loadAverageEnd), finite(cost.imagesPerSecond), cost.host])
            let insert = try db.makeStatement(sql: "INSERT INTO run_log(run_id, time, level, line) VALUES (?, ?, ?, ?)")
            for entry in log {
                try insert.execute(arguments: [id, finite(entry.time) ?? Date().timeIntervalSince1970, entry.level.rawValue, entry.line])
            }
        }
    }
}
