/// A JSON value that keeps object keys in order (so generated files are stable) and, when it
/// was parsed from text, where each value stood (so errors can name a line and column).
public indirect enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONNode])
    case object([(key: String, node: JSONNode)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case let (.bool(x), .bool(y)): x == y
        case let (.number(x), .number(y)): x == y
        case let (.string(x), .string(y)): x == y
        case let (.array(x), .array(y)): x.map(\.value) == y.map(\.value)
        case let (.object(x), .object(y)): x.map(\.key) == y.map(\.key) && x.map(\.node.value) == y.map(\.node.value)
        default: false
        }
    }

    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number(let n): n == n.rounded() ? "an integer" : "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    public subscript(key: String) -> JSONNode? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.node
    }

    // Builders for generated JSON.
    public static func obj(_ members: [(String, JSONValue)]) -> JSONValue {
        .object(members.map { (key: $0.0, node: JSONNode($0.1)) })
    }
    public static func arr(_ values: [JSONValue]) -> JSONValue { .array(values.map { JSONNode($0) }) }
    public static func int(_ value: Int) -> JSONValue { .number(Double(value)) }
}

/// A value with the place it was read from (line and column are 1-based; 0 when generated).
public struct JSONNode: Equatable, Sendable {
    public var value: JSONValue
    public var line: Int
    public var column: Int

    public init(_ value: JSONValue, line: Int = 0, column: Int = 0) {
        self.value = value
        self.line = line
        self.column = column
    }

    public static func == (a: JSONNode, b: JSONNode) -> Bool { a.value == b.value }
}
