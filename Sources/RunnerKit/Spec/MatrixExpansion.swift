/// `matrix` turns one spec into several runs: the Cartesian product of its axes (dotted keys,
/// first key varying slowest), times its `seeds`. Each run's document is the spec with those
/// keys set, validated on its own; values set by the matrix keep the matrix's line numbers.
public struct MatrixVariant: Sendable {
    /// The keys this run sets, in matrix order, and their values.
    public var assignments: [(key: String, value: JSONValue)]
    public var seed: UInt64?
    public var document: JSONNode
    /// The search trial this run belongs to (1-based); nil for a matrix run.
    public var trial: Int?

    public init(assignments: [(key: String, value: JSONValue)], seed: UInt64?, document: JSONNode, trial: Int? = nil) {
        self.assignments = assignments
        self.seed = seed
        self.document = document
        self.trial = trial
    }

    /// "model.pooling=max, model.activation=leaky_relu(slope=0.1), seed=2" ("" without a matrix).
    /// A trial: "trial 3: optimizer.learning_rate=0.0123, training.batch_size=64" ("trial 3" until drawn).
    public var label: String {
        let parts = (assignments.map { "\($0.key)=\(Self.describe($0.value, short: trial != nil))" } + (seed.map { ["seed=\($0)"] } ?? []))
            .joined(separator: ", ")
        guard let trial else { return parts }
        if assignments.isEmpty { return (["trial \(trial)"] + (seed.map { ["seed=\($0)"] } ?? [])).joined(separator: ", ") }
        return "trial \(trial): \(parts)"
    }

    /// A value as a label shows it: strings bare, a plugin with parameters as name(key=value, ...).
    static func describe(_ value: JSONValue, short: Bool = false) -> String {
        switch value {
        case .string(let s):
            return s
        case .number(let n) where short && n != n.rounded():
            return String(format: "%.3g", n)
        case .object(let members):
            guard case .string(let name)? = members.first(where: { $0.key == "plugin" })?.node.value else { break }
            let parameters = members.filter { $0.key != "plugin" }.map { "\($0.key)=\(describe($0.node.value, short: short))" }
            return parameters.isEmpty ? name : "\(name)(\(parameters.joined(separator: ", ")))"
        default:
            break
        }
        return JSONWriter.write(value, pretty: false)
    }

    /// The assignments as a JSON object, for the store.
    public var json: JSONValue {
        .object(assignments.map { (key: $0.key, node: JSONNode($0.value)) } + (seed.map { [(key: "seed", node: JSONNode(.number(Double($0))))] } ?? []))
    }
}

struct MatrixProblem: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

struct SpecIssues: Error {
    var issues: [SpecIssue]
    init(_ issues: [SpecIssue]) { self.issues = issues }
}

enum MatrixExpansion {
    /// Top-level keys a matrix may not set, and why.
    static let unsettable: [String: String] = [
        "name": "the runs of a spec share its name",
        "matrix": "a matrix cannot expand itself",
        "search": "a spec has a matrix or a search, not both",
        "checkpoint": "how often a run saves its state does not change what it computes; set it once, outside the matrix",
        "plugins": "plugin libraries are loaded once, for every run of the spec; list them all outside the matrix",
    ]
    static let settable = SpecSections.topLevel.map(\.name).filter { $0 != "$schema" && !unsettable.keys.contains($0) }

    enum Segment: Equatable { case key(String), index(Int) }

    /// Runs one spec may expand to: more is almost always a mistake, and each run is validated
    /// and held in memory before the first one starts.
    static let maximumRuns = 10_000
    /// Parts of a dotted key ("model.layers[0].conv.filters" has 5); `set` recurses once per part.
    static let maximumKeyParts = 64

    /// "model.layers[2].conv.filters" → [model, layers, 2, conv, filters]; nil when malformed.
    static func parse(_ path: String) -> [Segment]? {
        var segments: [Segment] = []
        for part in path.split(separator: ".", omittingEmptySubsequences: false) {
            var rest = Substring(part)
            guard let bracket = rest.firstIndex(of: "[") ?? Optional(rest.endIndex) else { return nil }
            let key = rest[..<bracket]
            guard !key.isEmpty else { return nil }
            segments.append(.key(String(key)))
            rest = rest[bracket...]
            while !rest.isEmpty {
                guard rest.first == "[", let close = rest.firstIndex(of: "]"),
                      let index = Int(rest[rest.index(after: rest.startIndex)..<close]), index >= 0 else { return nil }
                segments.append(.index(index))
                rest = rest[rest.index(after: close)...]
            }
        }
        return segments.isEmpty ? nil : segments
    }

    /// `root` with `value` at `segments`; objects along the way are created, and a plugin given
    /// by name ("sgd") becomes {"plugin": "sgd"} so that its parameters can be set.
    static func set(_ root: JSONNode, _ segments: ArraySlice<Segment>, _ value: JSONNode) -> Result<JSONNode, MatrixProblem> {
        guard let first = segments.first else { return .success(value) }
        let rest = segments.dropFirst()
        switch first {
        case .key(let key):
            var members: [(key: String, node: JSONNode)]
            switch root.value {
            case .object(let m): members = m
            case .string(let name): members = [(key: "plugin", node: JSONNode(.string(name), line: root.line, column: root.column))]
            case .null: members = []
            default: return .failure(MatrixProblem("\"\(key)\" cannot be set inside \(root.value.typeName)"))
            }
            let existing = members.firstIndex { $0.key == key }
            let child = existing.map { members[$0].node } ?? JSONNode(.null, line: value.line, column: value.column)
            switch set(child, rest, value) {
            case .success(let updated):
                if let existing { members[existing].node = updated } else { members.append((key, updated)) }
                return .success(JSONNode(.object(members), line: root.line, column: root.column))
            case .failure(let problem):
                return .failure(problem)
            }
        case .index(let index):
            guard case .array(var items) = root.value else { return .failure(MatrixProblem("[\(index)] needs a list, found \(root.value.typeName)")) }
            guard index < items.count else { return .failure(MatrixProblem("index [\(index)] is past the end of a list of \(items.count)")) }
            switch set(items[index], rest, value) {
            case .success(let updated):
                items[index] = updated
                return .success(JSONNode(.array(items), line: root.line, column: root.column))
            case .failure(let problem):
                return .failure(problem)
            }
        }
    }

    static func expand(_ root: JSONNode) -> Result<[MatrixVariant], SpecIssues> {
        guard case .object(let members) = root.value, let matrix = members.first(where: { $0.key == "matrix" })?.node else {
            return .success([MatrixVariant(assignments: [], seed: nil, document: root)])
        }
        let base = JSONNode(.object(members.filter { $0.key != "matrix" }), line: root.line, column: root.column)
        guard case .object(let axes) = matrix.value else {
            return .failure(SpecIssues([SpecIssue(path: "matrix", line: matrix.line, column: matrix.column,
                                       message: "must be an object of dotted keys to lists, e.g. {\"model.pooling\": [\"max\", \"avg\"], \"seeds\": [1, 2]}")]))
        }
        var issues: [SpecIssue] = []
        var seeds: [UInt64]? = nil
        var parsedAxes: [(key: String, segments: [Segment], values: [JSONNode])] = []
        var lengths: [(key: String, count: Int)] = []
        for axis in axes {
            let path = "matrix.\(axis.key)"
            func issue(_ message: String) { issues.append(SpecIssue(path: path, line: axis.node.line, column: axis.node.column, message: message)) }
            guard case .array(let values) = axis.node.value, !values.isEmpty else {
                issue("must be a non-empty list of values")
                continue
            }
            if axis.key == "seeds" {
                let parsed = values.compactMap { node -> UInt64? in
                    if case .number(let n) = node.value, n >= 0, n == n.rounded(), n < 9e15 { return UInt64(n) }
                    return nil
                }
                guard parsed.count == values.count else { issue("seeds must be integers ≥ 0"); continue }
                seeds = parsed
                lengths.append((axis.key, parsed.count))
                continue
            }
            guard let segments = parse(axis.key) else {
                issue("\"\(axis.key)\" is not a dotted key such as \"model.pooling\" or \"model.layers[0].conv.filters\"")
                continue
            }
            guard segments.count <= maximumKeyParts else {
                issue("has \(segments.count) parts; a matrix key has at most \(maximumKeyParts)")
                continue
            }
            if case .key(let section) = segments[0], Self.unsettable.keys.contains(section) {
                issue("\"\(section)\" cannot be set by the matrix (\(Self.unsettable[section] ?? "")); sections it can set: \(Self.settable.joined(separator: ", "))")
                continue
            }
            guard case .key(let section) = segments[0], SpecSections.topLevel.contains(where: { $0.name == section }) else {
                let known = Self.settable
                let hint = { if case .key(let s) = segments[0], let close = closestMatch(to: s, among: known) { "did you mean \"\(close)\"? " } else { "" } }()
                issue("\"\(axis.key)\" does not start with a spec section; \(hint)sections: \(known.joined(separator: ", "))")
                continue
            }
            parsedAxes.append((axis.key, segments, values))
            lengths.append((axis.key, values.count))
        }
        guard issues.isEmpty else { return .failure(SpecIssues(issues)) }

        // Count before expanding: the product of the list lengths, refused past the limit.
        var runs = 1
        var overflow = false
        for length in lengths where !overflow {
            (runs, overflow) = runs.multipliedReportingOverflow(by: length.count)
        }
        if overflow || runs > maximumRuns {
            let count = overflow ? "more than \(Int.max)" : "\(runs)"
            let factors = lengths.map { "\($0.key): \($0.count)" }.joined(separator: " × ")
            return .failure(SpecIssues([SpecIssue(path: "matrix", line: matrix.line, column: matrix.column,
                                                  message: "expands to \(count) runs (\(factors)), more than the limit of \(maximumRuns); split the sweep into several specs or use fewer values")]))
        }

        var combinations: [[(key: String, segments: [Segment], value: JSONNode)]] = [[]]
        for axis in parsedAxes {
            combinations = combinations.flatMap { prefix in axis.values.map { prefix + [(axis.key, axis.segments, $0)] } }
        }
        var variants: [MatrixVariant] = []
        for combination in combinations {
            var document = base
            for assignment in combination {
                switch set(document, assignment.segments[...], assignment.value) {
                case .success(let updated): document = updated
                case .failure(let problem):
                    // A key that cannot be set fails the same way for every value: say it once.
                    if !issues.contains(where: { $0.path == "matrix.\(assignment.key)" && $0.message == problem.message }) {
                        issues.append(SpecIssue(path: "matrix.\(assignment.key)", line: assignment.value.line, column: assignment.value.column, message: problem.message))
                    }
                }
            }
            let assignments = combination.map { (key: $0.key, value: $0.value.value) }
            for seed in seeds.map({ $0.map(Optional.some) }) ?? [nil] {
                var seeded = document
                if let seed, case .object(var members) = seeded.value {
                    let node = JSONNode(.number(Double(seed)), line: matrix.line, column: matrix.column)
                    if let index = members.firstIndex(where: { $0.key == "seed" }) { members[index].node = node } else { members.append(("seed", node)) }
                    seeded = JSONNode(.object(members), line: seeded.line, column: seeded.column)
                }
                variants.append(MatrixVariant(assignments: assignments, seed: seed, document: seeded))
            }
        }
        guard issues.isEmpty else { return .failure(SpecIssues(issues)) }
        return .success(variants)
    }
}

import ConvLabKit
import TextKit
import Foundation
