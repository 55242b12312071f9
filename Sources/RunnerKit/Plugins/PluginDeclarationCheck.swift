import ConvLabKit
import TextKit

/// What a plugin's declaration must be for the spec checker, `runner plugins` and the schema to
/// treat it like a built-in one: a name a spec can write, a factory of its kind, unique
/// parameter names of value types, satisfiable ranges, and defaults of the declared type.
enum PluginDeclarationCheck {
    static func problem(in plugin: Plugin) -> String? {
        guard isIdentifier(plugin.name) else {
            return "its name must be letters, digits and _ (starting with a letter, at most 64), as a spec writes it"
        }
        if let made = madeKind(plugin.factory), made != plugin.kind {
            return "it is declared as a \(plugin.kind.rawValue) but its factory makes a \(made.rawValue)"
        }
        var seen: Set<String> = []
        for parameter in plugin.parameters {
            let at = "parameter \"\(parameter.name)\""
            guard isIdentifier(parameter.name) else { return "\(at): a name must be letters, digits and _" }
            guard seen.insert(parameter.name).inserted else { return "\(at) is declared twice" }
            if parameter.name == "plugin" { return "\(at) is reserved (it names the plugin in {\"plugin\": ...} objects)" }
            if let problem = typeProblem(parameter.type) { return "\(at): \(problem)" }
            switch parameter.defaultValue {
            case .value(let value):
                if let expected = mismatch(value, parameter.type) {
                    return "\(at): its default \(JSONWriter.write(value, pretty: false)) is not \(expected)"
                }
            case .inherited(let key):
                return "\(at): a default taken from \"\(key)\" is for the spec's own keys; give a value, or make it required or optional"
            case .required, .optional:
                break
            }
        }
        if plugin.kind == .optimizer, let problem = learningRateProblem(plugin.parameters) { return problem }
        return nil
    }

    /// The runner scales an optimizer's `learning_rate` by the schedule at every step, so every
    /// optimizer declares one, a number with a default: the declaration is its only default.
    private static func learningRateProblem(_ parameters: [ParameterDeclaration]) -> String? {
        let name = FunctionPlugins.learningRate.name
        guard let declared = parameters.first(where: { $0.name == name }),
              case .number = declared.type, case .value = declared.defaultValue else {
            return "an optimizer must declare \"\(name)\", a number with a default value (the step size the schedule scales)"
        }
        return nil
    }

    /// The kind the factory makes.
    private static func madeKind(_ factory: Plugin.Factory) -> PluginKind? {
        switch factory {
        case .layer: .layer
        case .activation: .activation
        case .pooling: .pooling
        case .initializer: .initializer
        case .loss: .loss
        case .optimizer: .optimizer
        case .schedule: .schedule
        case .dataset: .dataset
        case .probe: .probe
        case .sampler: .sampler
        case .pruner: .pruner
        }
    }

    /// Only value types, with bounds a value can meet.
    private static func typeProblem(_ type: ParameterType) -> String? {
        switch type {
        case let .integer(minimum, maximum):
            if let minimum, let maximum, minimum > maximum { return "its range is empty (minimum \(minimum) > maximum \(maximum))" }
        case let .number(minimum, maximum, exclusiveMaximum, exclusiveMinimum):
            if minimum.map({ !$0.isFinite }) == true || maximum.map({ !$0.isFinite }) == true { return "its bounds must be finite numbers" }
            if let minimum, let maximum, minimum > maximum || (minimum == maximum && (exclusiveMinimum || exclusiveMaximum)) {
                return "its range is empty"
            }
        case .choice(let options):
            if options.isEmpty { return "a choice needs at least one option" }
            if Set(options).count != options.count { return "a choice lists an option twice" }
        case .size(let minimum):
            if minimum < 0 || minimum > ParameterType.maximumExtent { return "a size's minimum must be from 0 to \(ParameterType.maximumExtent)" }
        case .plugin(let kind):
            if kind == .probe || kind == .dataset { return "a parameter may name a layer's building blocks (activation, pooling, initializer, loss, optimizer, schedule), not a \(kind.rawValue)" }
        case .section, .layers, .probes, .matrix:
            return "\(type.summary) is a type for the spec's own keys, not a plugin's"
        case .boolean, .string, .padding, .shape, .integerList, .stringList:
            break
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
