import TextKit

/// The type of a spec parameter: what validation accepts, what the JSON Schema says, what
/// `runner plugins` prints.
public indirect enum ParameterType: Sendable, Equatable {
    case integer(minimum: Int? = nil, maximum: Int? = nil)
    case number(minimum: Double? = nil, maximum: Double? = nil, exclusiveMaximum: Bool = false, exclusiveMinimum: Bool = false)
    case boolean
    case string
    case choice([String])
    /// An integer in minimum…maximumExtent, or `[height, width]` of such integers.
    case size(minimum: Int = 1)
    /// A non-negative integer, `[height, width]`, `"same"` or `"valid"`.
    case padding
    /// `[C, H, W]` or `[features]`, integers in 1…maximumExtent.
    case shape
    /// A plugin of the kind, by name (`"relu"`) or with parameters (`{"plugin": "leaky_relu", "slope": 0.2}`).
    case plugin(PluginKind)
    /// A list of non-negative integers (seeds).
    case integerList
    /// A list of strings (plugin library paths).
    case stringList
    /// A nested object with its own declared keys.
    case section([ParameterDeclaration])
    /// `model.layers`: a list of `{ "<layer plugin>": { parameters } }`.
    case layers
    /// `probes`: an object keyed by probe plugin names.
    case probes
    /// `matrix`: dotted spec keys to lists of values, plus `seeds`.
    case matrix

    /// The largest kernel, stride, padding or image side a spec may give: bounds memory, and
    /// keeps every value far inside Int.
    public static let maximumExtent = 4096

    public var summary: String {
        switch self {
        case let .integer(minimum, maximum): "integer" + Self.range(minimum.map(Double.init), maximum.map(Double.init))
        case let .number(minimum, maximum, exclusiveMaximum, exclusiveMinimum):
            "number" + Self.range(minimum, maximum, openLow: exclusiveMinimum, openHigh: exclusiveMaximum)
        case .boolean: "boolean"
        case .string: "string"
        case .choice(let options): options.map { "\"\($0)\"" }.joined(separator: " | ")
        case .size(let minimum): "integer in [\(minimum), \(Self.maximumExtent)] or [h, w]"
        case .padding: "integer ≥ 0, [h, w], \"same\" or \"valid\""
        case .shape: "[C, H, W] or [features]"
        case .plugin(let kind): "\(kind.rawValue) plugin"
        case .integerList: "[integer ≥ 0, ...]"
        case .stringList: "[string, ...]"
        case .section: "object"
        case .layers: "[{ layer: { ... } }, ...]"
        case .probes: "{ probe: { ... } }"
        case .matrix: "{ \"dotted.key\": [values], \"seeds\": [...] }"
        }
    }

    public static func range(_ low: Double?, _ high: Double?, openLow: Bool = false, openHigh: Bool = false) -> String {
        func f(_ x: Double) -> String { JSONWriter.number(x) }
        switch (low, high) {
        case (nil, nil): return ""
        case let (l?, nil): return " \(openLow ? ">" : "≥") \(f(l))"
        case let (nil, h?): return " \(openHigh ? "<" : "≤") \(f(h))"
        case let (l?, h?): return " in \(openLow ? "(" : "[")\(f(l)), \(f(h))\(openHigh ? ")" : "]")"
        }
    }
}

/// One parameter a plugin or a spec section accepts.
public struct ParameterDeclaration: Sendable, Equatable {
    public enum Default: Sendable, Equatable {
        /// Must be given.
        case required
        /// May be left out; then it is absent from the resolved spec.
        case optional
        case value(JSONValue)
        /// Taken from another key of the spec (e.g. a pool layer's mode from `model.pooling`).
        case inherited(String)
    }

    public var name: String
    public var type: ParameterType
    public var defaultValue: Default
    public var summary: String

    public init(_ name: String, _ type: ParameterType, default defaultValue: Default, _ summary: String) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.summary = summary
    }

    public var defaultDescription: String {
        switch defaultValue {
        case .required: "required"
        case .optional: "optional"
        case .value(let v): JSONWriter.write(v, pretty: false)
        case .inherited(let key): "from \(key)"
        }
    }
}

extension ParameterDeclaration.Default {
    public static func int(_ v: Int) -> Self { .value(.number(Double(v))) }
    public static func number(_ v: Double) -> Self { .value(.number(v)) }
    public static func bool(_ v: Bool) -> Self { .value(.bool(v)) }
    public static func string(_ v: String) -> Self { .value(.string(v)) }
}
