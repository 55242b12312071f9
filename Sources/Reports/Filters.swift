import RunStore

/// Why a report cannot be produced: one line, and a non-zero exit.
public struct ReportError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// `--where key=value`, `key<0.1`, `key>=3`, `key!=relu`: numbers compare as numbers.
public struct WhereClause: Sendable, Equatable {
    public enum Operator: String, Sendable, CaseIterable { case lessOrEqual = "<=", greaterOrEqual = ">=", notEqual = "!=", less = "<", greater = ">", equal = "=" }
    public var key: String
    public var op: Operator
    public var value: String

    public init(key: String, op: Operator, value: String) { self.key = key; self.op = op; self.value = value }

    /// Parses `key<op>value`; two-character operators are tried first.
    public static func parse(_ text: String) throws(ReportError) -> WhereClause {
        for op in Operator.allCases {
            if let range = text.range(of: op.rawValue) {
                let key = text[..<range.lowerBound].trimmingCharacters(in: .whitespaces)
                let value = text[range.upperBound...].trimmingCharacters(in: .whitespaces)
                guard !key.isEmpty, !value.isEmpty else { break }
                if (op == .less || op == .greater), value.hasPrefix("=") { continue }
                return WhereClause(key: key, op: op, value: value)
            }
        }
        throw ReportError("--where \"\(text)\" is not key=value (or key<value, key<=value, key>value, key>=value, key!=value), e.g. --where \"optimizer.learning_rate<0.1\"")
    }

    /// SQL that selects the run ids satisfying this clause, with its arguments.
    var sql: (String, [SQLValue]) {
        if let number = Double(value) {
            return ("SELECT run_id FROM params WHERE key = ? AND value_real \(op == .equal ? "=" : op.rawValue) ?", [.text(key), .real(number)])
        }
        guard op == .equal || op == .notEqual else {
            return ("SELECT run_id FROM params WHERE key = ? AND value_text \(op.rawValue) ?", [.text(key), .text(value)])
        }
        return ("SELECT run_id FROM params WHERE key = ? AND value_text \(op == .equal ? "=" : "!=") ?", [.text(key), .text(value)])
    }
}

/// Which runs a view covers.
public struct RunFilter: Sendable, Equatable {
    public var experiment: String?
    public var runIDs: [Int64] = []
    public var statuses: [String] = []
    public var wheres: [WhereClause] = []
    /// Runs with any of these tags (`--tag`, repeatable).
    public var tags: [String] = []

    public init(experiment: String? = nil, runIDs: [Int64] = [], statuses: [String] = [], wheres: [WhereClause] = [], tags: [String] = []) {
        self.experiment = experiment
        self.runIDs = runIDs
        self.statuses = statuses
        self.wheres = wheres
        self.tags = tags
    }

    /// A WHERE clause over `runs r` (joined with `experiments e`). A store older than schema 3
    /// has no tags, so no run of it matches a tag.
    func sql(schemaVersion: Int) -> (String, [SQLValue]) {
        var conditions: [String] = []
        var arguments: [SQLValue] = []
        if let experiment {
            if let id = Int64(experiment) {
                conditions.append("(e.name = ? OR e.id = ?)")
                arguments += [.text(experiment), .integer(id)]
            } else {
                conditions.append("e.name = ?")
                arguments.append(.text(experiment))
            }
        }
        if !runIDs.isEmpty {
            conditions.append("r.id IN (\(runIDs.map { _ in "?" }.joined(separator: ", ")))")
            arguments += runIDs.map { .integer($0) }
        }
        if !statuses.isEmpty {
            conditions.append("r.status IN (\(statuses.map { _ in "?" }.joined(separator: ", ")))")
            arguments += statuses.map { .text($0) }
        }
        if !tags.isEmpty {
            if schemaVersion >= 3 {
                conditions.append("r.id IN (SELECT run_id FROM run_tags WHERE tag IN (\(tags.map { _ in "?" }.joined(separator: ", "))))")
                arguments += tags.map { .text($0) }
            } else {
                conditions.append("0")
            }
        }
        for clause in wheres {
            let (sql, args) = clause.sql
            conditions.append("r.id IN (\(sql))")
            arguments += args
        }
        return (conditions.isEmpty ? "1" : conditions.joined(separator: " AND "), arguments)
    }
}

import Foundation
