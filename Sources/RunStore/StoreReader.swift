import Foundation
import Dispatch
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

/// How much one query may return and how long it may run (`runner report --max-rows`, `--timeout`):
/// a query that never ends (a recursive CTE without a stop) is stopped with a clear error.
public struct QueryLimits: Sendable, Equatable {
    public var maxRows: Int
    public var seconds: Double
    public init(maxRows: Int = 100_000, seconds: Double = 30) { self.maxRows = maxRows; self.seconds = seconds }
}

/// Read-only access to a store: what `runner report` uses. The file is opened with SQLite's
/// read-only flag, so no statement can change it.
public final class StoreReader: @unchecked Sendable {
    public let path: String
    /// meta.schema_version: a store older than this build is read as it is (opened read-only, it
    /// is not upgraded), so views check for what older schemas lack.
    public let schemaVersion: Int
    let queue: DatabaseQueue

    public init(path: String) throws(StoreError) {
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreError(.missing, path: path, "no store here; run `runner exec Experiments/smoke.json` to create one, or pass --store PATH")
        }
        guard let version = try RunStore.inspect(path: path) else {
            throw StoreError(.notAStore, path: path, "is an empty SQLite file, not a ConvLab store; run `runner exec` to create one")
        }
        schemaVersion = version
        do {
            var configuration = Configuration()
            configuration.readonly = true
            configuration.busyMode = .timeout(10)
            configuration.prepareDatabase { db in Self.replaceTokenizerFunction(db) }
            queue = try DatabaseQueue(path: path, configuration: configuration)
        } catch {
            throw RunStore.translate(error, path: path)
        }
    }

    /// Runs one read-only statement. A statement that would write is refused before it runs, and so
    /// are several statements at once and ATTACH/DETACH (which would reach other files). With
    /// `limits`, a query that returns too many rows or runs too long is stopped (sqlite3_interrupt).
    public func query(_ sql: String, arguments: [SQLValue] = [], limits: QueryLimits? = nil) throws(StoreError) -> QueryResult {
        let text = SQLText(sql)
        if text.statements.count > 1 {
            throw StoreError(.badQuery, path: path, "one statement at a time: this text holds \(text.statements.count) statements separated by ';'; run them one by one")
        }
        if let keyword = text.firstKeyword, keyword == "ATTACH" || keyword == "DETACH" {
            throw StoreError(.readOnlyViolation, path: path, "\(keyword) is refused: report --sql reads this store and no other file")
        }
        var timer: DispatchWorkItem?
        if let limits, limits.seconds > 0, limits.seconds.isFinite {
            let work = DispatchWorkItem { [queue] in queue.interrupt() }
            DispatchQueue.global().asyncAfter(deadline: .now() + min(limits.seconds, 1e6), execute: work)
            timer = work
        }
        defer { timer?.cancel() }
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
                    if let limits, rows.count >= limits.maxRows {
                        throw StoreError(.queryLimit, path: path,
                                         "the query returned more than \(limits.maxRows) rows and was stopped; add a LIMIT or raise --max-rows")
                    }
                    rows.append((0..<columns.count).map { SQLValue(row[$0] as DatabaseValue) })
                }
                return QueryResult(columns: columns, rows: rows)
            }
        } catch let error as StoreError {
            throw error
        } catch let error as DatabaseError {
            if error.resultCode == .SQLITE_INTERRUPT, let limits {
                throw StoreError(.queryLimit, path: path,
                                 "the query ran longer than \(Self.seconds(limits.seconds)) and was stopped; narrow it (WHERE, LIMIT) or raise --timeout")
            }
            if error.resultCode == .SQLITE_READONLY { throw RunStore.translate(error, path: path) }
            if error.message == Self.tokenizerRefusal {
                throw StoreError(.readOnlyViolation, path: path, Self.tokenizerRefusal)
            }
            if error.message == "not authorized", sql.range(of: "load_extension", options: .caseInsensitive) != nil {
                throw StoreError(.readOnlyViolation, path: path, "load_extension is refused: report --sql reads this store and loads no code")
            }
            throw StoreError(.badQuery, path: path, "SQL error: \(error.message ?? "\(error)")")
        } catch {
            throw RunStore.translate(error, path: path)
        }
    }

    static let tokenizerRefusal = "fts3_tokenizer is refused: report --sql reads this store and neither reads nor sets the addresses of code"

    /// FTS3's fts3_tokenizer(name) returns the address of a tokenizer's code and
    /// fts3_tokenizer(name, pointer) installs one from any address — Debian's SQLite is built with
    /// SQLITE_ENABLE_FTS3_TOKENIZER, so a query could read and redirect this process's memory. Its
    /// switch, sqlite3_db_config(SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER), is a variadic C function
    /// Swift cannot call; a function of the same name and arity, registered on the connection,
    /// takes its place in SQL (FTS3 itself does not call the SQL function).
    static func replaceTokenizerFunction(_ db: Database) {
        for count in [1, 2] {
            db.add(function: DatabaseFunction("fts3_tokenizer", argumentCount: count, pure: false) { _ in
                throw DatabaseError(message: tokenizerRefusal)
            })
        }
    }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() && value < 1e9 ? "\(Int(value)) s" : "\(value) s"
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
