import ConvLabKit
import TextKit

/// What a plugin's declaration must be for the spec checker, `runner plugins` and the schema to
/// treat it like a built-in one: a name a spec can write, unique parameter names, and defaults
/// of the declared type.
enum PluginDeclarationCheck {
    static func problem(in plugin: Plugin) -> String? {
        guard isIdentifier(plugin.name) else {
            return "its name must be letters, digits and _ (starting with a letter), as a spec writes it"
        }
        var seen: Set<String> = []
        for parameter in plugin.parameters {
            guard isIdentifier(parameter.name) else { return "parameter \"\(parameter.name)\": a name must be letters, digits and _" }
            guard seen.insert(parameter.name).inserted else { return "parameter \"\(parameter.name)\" is declared twice" }
            if plugin.kind == .layer || plugin.kind == .pooling || plugin.kind == .activation, parameter.name == "plugin" {
                return "parameter \"plugin\" is reserved (it names the plugin in {\"plugin\": ...} objects)"
            }
            if case .value(let value) = parameter.defaultValue, let problem = mismatch(value, parameter.type) {
                return "parameter \"\(parameter.name)\": its default \(JSONWriter.write(value, pretty: false)) is not \(problem)"
            }
            if case .section = parameter.type { return "parameter \"\(parameter.name)\": sections are for the spec's own keys" }
        }
        return nil
    }

    private static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.properties.isAlphabetic, first.isASCII else { return false }
        return name.count <= 64 && name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_") }
    }

    /// What the default should have been, or nil when it fits.
    private static func mismatch(_ value: JSONValue, _ type: ParameterType) -> String? {
        switch (type, value) {
        case let (.integer(minimum, maximum), .number(n)):
            guard n == n.rounded(), n >= Double(minimum ?? Int.min), n <= Double(maximum ?? Int.max) else { return type.summary }
            return nil
        case let (.number(minimum, maximum, exclusiveMaximum, exclusiveMinimum), .number(n)):
            guard n.isFinite else { return type.summary }
            if let minimum, exclusiveMinimum ? n <= minimum : n < minimum { return type.summary }
            if let maximum, exclusiveMaximum ? n >= maximum : n > maximum { return type.summary }
            return nil
        case (.boolean, .bool), (.string, .string), (.size, .number), (.size, .array), (.padding, _), (.plugin, _), (.stringList, .array),
             (.integerList, .array), (.shape, .array):
            return nil
        case let (.choice(options), .string(s)):
            return options.contains(s) ? nil : type.summary
        default:
            return type.summary
        }
    }
}
