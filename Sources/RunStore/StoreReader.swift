import Foundation
import GRDB

/// A value read from the store.
public enum SQLValue: Sendable, Equatable, CustomStringConvertible {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)

    public var double: Double? {
        switch self {
        case .integer(let v): Double(v)
        case .real(let v): v
        case .text(let s): Double(s)
        case .null: nil
        }
    }

    public var string: String? {
        switch self {
        case .null: nil
        case .text(let s): s
        default: description
        }
    }

    public var description: String {
        switch self {
        case .null: "NULL"
        case .integer(let v): String(v)
        case .real(let v): v == v.rounded() && abs(v) < 1e15 ? String(format: "%.1f", v) : String(v)
        case .text(let s): s
        }
    }

    init(_ value: DatabaseValue) {
        switch value.storage {
        case .null: self = .null
        case .int64(let v): self = .integer(v)
        case .double(let v): self = .real(v)
        case .string(let s): self = .text(s)
        case .blob(let data): self = .text("<\(data.count) bytes>")
        }
    }
}

/// Rows with their column names.
public struct QueryResult: Sendable, Equatable {
    public var columns: [String]
    public var rows: [[SQLValue]]
    public init(columns: [String], rows: [[SQLValue]]) { self.columns = columns; self.rows = rows }

    public func column(_ name: String) -> [SQLValue] {
        guard let index = columns.firstIndex(of: name) else { return [] }
        return rows.map { $0[index] }
    }
}

/// Read-only access to a store: what `runner report` uses. The file is opened with SQLite's
/// read-only flag, so no statement can change it.
public final class StoreReader: @unchecked Sendable {
    public let path: String
    let queue: DatabaseQueue

    public init(path: String) throws(StoreError) {
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreError(.missing, path: path, "no store here; run `runner exec Experiments/smoke.json` to create one, or pass --store PATH")
        }
        guard try RunStore.inspect(path: path) != nil else {
            throw StoreError(.notAStore, path: path, "is an empty SQLite file, not a ConvLab store; run `runner exec` to create one")
        }
        do {
            var configuration = Configuration()
            configuration.readonly = true
            configuration.busyMode = .timeout(10)
            queue = try DatabaseQueue(path: path, configuration: configuration)
        } catch {
            throw RunStore.translate(error, path: path)
        }
    }

    /// Runs one read-only statement. A statement that would write is refused before it runs.
    public func query(_ sql: String, arguments: [SQLValue] = []) throws(StoreError) -> QueryResult {
        do {
            return try queue.read { db in
                let statement: Statement
                do {
                    statement = try db.makeStatement(sql: sql)
                } catch let error as DatabaseError {
                    throw StoreError(.badQuery, path: path, "SQL error: \(error.message ?? "\(error)")")
                }
                guard statement.isReadonly else {
                    throw StoreError(.readOnlyViolation, path: path, "the store is opened read-only: this statement would change it, and was refused")
                }
                statement.arguments = StatementArguments(arguments.map { value -> (any DatabaseValueConvertible)? in
                    switch value {
                    case .null: nil
                    case .integer(let v): v
                    case .real(let v): v
                    case .text(let s): s
                    }
                })
                let columns = statement.columnNames
                var rows: [[SQLValue]] = []
                let cursor = try Row.fetchCursor(statement)
                while let row = try cursor.next() {
                    rows.append((0..<columns.count).map { SQLValue(row[$0] as DatabaseValue) })
                }
                return QueryResult(columns: columns, rows: rows)
            }
        } catch let error as StoreError {
            throw error
        } catch let error as DatabaseError {
            if error.resultCode == .SQLITE_READONLY { throw RunStore.translate(error, path: path) }
            throw StoreError(.badQuery, path: path, "SQL error: \(error.message ?? "\(error)")")
        } catch {
            throw RunStore.translate(error, path: path)
        }
    }

    /// Tables and views with their columns, for `report --sql` without a query.
    public func catalog() throws(StoreError) -> [(name: String, type: String, columns: [String])] {
        let objects = try query("SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY type, name")
        var result: [(String, String, [String])] = []
        for row in objects.rows {
            guard let name = row[0].string, let type = row[1].string else { continue }
            let columns = try query("SELECT name FROM pragma_table_info(?)", arguments: [.text(name)]).rows.compactMap { $0[0].string }
            result.append((name, type, columns))
        }
        return result
    }
}
