import ConvLabKit
import TextKit

/// Checks a spec document against the declarations (sections and plugins) and resolves it:
/// every default filled in, every plugin reference in canonical form, every problem collected
/// with its JSON path and position rather than stopping at the first.
///
/// Canonical plugin references: `"relu"` for a plugin without parameters, otherwise
/// `{"plugin": "sgd", "learning_rate": 0.05, ...}` with all its parameters.
struct SpecValidator {
    let registry: PluginRegistry
    let defaultName: String
    private(set) var issues: [SpecIssue] = []
    /// Resolved values other keys inherit from ("model.pooling").
    private var inheritable: [String: JSONNode] = [:]

    init(registry: PluginRegistry, defaultName: String) {
        self.registry = registry
        self.defaultName = defaultName
    }

    mutating func report(_ path: String, _ node: JSONNode, _ message: String) {
        issues.append(SpecIssue(path: path, line: node.line, column: node.column, message: message))
    }

    /// Resolves the whole document, or returns nil with `issues` filled.
    mutating func resolve(_ root: JSONNode) -> JSONNode? {
        guard case .object = root.value else {
            report("", root, "a spec must be a JSON object, got \(root.value.typeName)")
            return nil
        }
        let resolved = resolveSection(root, SpecSections.topLevel, path: "")
        return issues.isEmpty ? resolved : nil
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    mutating func resolveSection(_ node: JSONNode, _ declarations: [ParameterDeclaration], path: String) -> JSONNode {
        guard case .object(let members) = node.value else {
            report(path, node, "must be an object, got \(node.value.typeName)")
            return node
        }
        let known = declarations.map(\.name)
        for member in members where !known.contains(member.key) {
            let hint = closestMatch(to: member.key, among: known).map { "; did you mean \"\($0)\"?" } ?? ""
            report(Self.join(path, member.key), member.node,
                   "unknown key \"\(member.key)\"\(hint) (\(path.isEmpty ? "the spec" : path) accepts: \(known.joined(separator: ", ")))")
        }
        var resolved: [(key: String, node: JSONNode)] = []
        for declaration in declarations {
            let keyPath = Self.join(path, declaration.name)
            let value: JSONNode
            if let given = members.first(where: { $0.key == declaration.name })?.node {
                value = resolveValue(given, declaration.type, path: keyPath)
            } else {
                switch declaration.defaultValue {
                case .required:
                    report(keyPath, node, "is required (\(declaration.summary))")
                    continue
                case .optional:
                    continue
                case .value(let v):
                    value = resolveValue(JSONNode(v, line: node.line, column: node.column), declaration.type, path: keyPath)
                case .inherited(let key):
                    if let inherited = inheritable[key] {
                        value = inherited
                    } else if declaration.name == "name" {
                        value = JSONNode(.string(defaultName), line: node.line, column: node.column)
                    } else {
                        continue
                    }
                }
            }
            resolved.append((declaration.name, value))
            inheritable[keyPath] = value
        }
        return JSONNode(.object(resolved), line: node.line, column: node.column)
    }

    mutating func resolveValue(_ node: JSONNode, _ type: ParameterType, path: String) -> JSONNode {
        func fail(_ expectation: String) -> JSONNode {
            report(path, node, "must be \(expectation), got \(describe(node.value))")
            return node
        }
        switch type {
        case let .integer(minimum, maximum):
            guard case .number(let n) = node.value, n == n.rounded(), abs(n) < 9e15 else { return fail("an integer" + ParameterType.range(minimum.map(Double.init), maximum.map(Double.init))) }
            if let minimum, n < Double(minimum) { return fail("an integer ≥ \(minimum)") }
            if let maximum, n > Double(maximum) { return fail("an integer ≤ \(maximum)") }
            return node
        case let .number(minimum, maximum, exclusiveMaximum, exclusiveMinimum):
            let expectation = "a number" + ParameterType.range(minimum, maximum, openLow: exclusiveMinimum, openHigh: exclusiveMaximum)
            guard case .number(let n) = node.value else { return fail(expectation) }
            if let minimum, exclusiveMinimum ? n <= minimum : n < minimum { return fail(expectation) }
            if let maximum, exclusiveMaximum ? n >= maximum : n > maximum { return fail(expectation) }
            return node
        case .boolean:
            guard case .bool = node.value else { return fail("true or false") }
            return node
        case .string:
            guard case .string = node.value else { return fail("a string") }
            return node
        case .choice(let options):
            guard case .string(let s) = node.value, options.contains(s) else {
                if case .string(let s) = node.value, let close = closestMatch(to: s, among: options) {
                    return fail("one of \(options.map { "\"\($0)\"" }.joined(separator: ", ")) (did you mean \"\(close)\"?)")
                }
                return fail("one of \(options.map { "\"\($0)\"" }.joined(separator: ", "))")
            }
            return node
        case .size(let minimum):
            let maximum = Double(ParameterType.maximumExtent)
            func fits(_ node: JSONNode) -> Bool {
                if case .number(let n) = node.value { n == n.rounded() && n >= Double(minimum) && n <= maximum } else { false }
            }
            if fits(node) { return node }
            if case .array(let items) = node.value, items.count == 2, items.allSatisfy(fits) { return node }
            return fail("an integer in [\(minimum), \(ParameterType.maximumExtent)] or [height, width] of such integers")
        case .padding:
            if case .string(let s) = node.value, s == "same" || s == "valid" { return node }
            return resolveValue(node, .size(minimum: 0), path: path)
        case .shape:
            guard case .array(let items) = node.value, items.count == 1 || items.count == 3,
                  items.allSatisfy({ if case .number(let n) = $0.value { n == n.rounded() && n >= 1 && n <= Double(ParameterType.maximumExtent) } else { false } }) else {
                return fail("[channels, height, width] or [features] of integers in [1, \(ParameterType.maximumExtent)]")
            }
            return node
        case .integerList:
            guard case .array(let items) = node.value, !items.isEmpty,
                  items.allSatisfy({ if case .number(let n) = $0.value { n == n.rounded() && n >= 0 && n < 9e15 } else { false } }) else {
                return fail("a non-empty list of integers ≥ 0")
            }
            return node
        case .stringList:
            guard case .array(let items) = node.value, items.allSatisfy({ if case .string = $0.value { true } else { false } }) else {
                return fail("a list of strings")
            }
            return node
        case .plugin(let kind):
            return resolvePlugin(node, kind: kind, path: path)
        case .section(let declarations):
            return resolveSection(node, declarations, path: path)
        case .layers:
            return resolveLayers(node, path: path)
        case .probes:
            return resolveProbes(node, path: path)
        case .matrix:
            return node     // expanded and checked before validation (MatrixExpansion)
        }
    }

    func describe(_ value: JSONValue) -> String {
        switch value {
        case .string(let s): "\"\(s)\""
        case .number(let n): JSONWriter.number(n)
        case .bool(let b): String(b)
        case .null: "null"
        default: value.typeName
        }
    }

    /// `"name"` or `{"plugin": "name", ...parameters}` → canonical form.
    mutating func resolvePlugin(_ node: JSONNode, kind: PluginKind, path: String) -> JSONNode {
        let known = registry.names(kind)
        let name: String
        let given: [(key: String, node: JSONNode)]
        switch node.value {
        case .string(let s):
            name = s
            given = []
        case .object(let members):
            guard let nameNode = members.first(where: { $0.key == "plugin" })?.node, case .string(let s) = nameNode.value else {
                report(path, node, "names no plugin: add \"plugin\": one of \(known.joined(separator: ", "))")
                return node
            }
            name = s
            given = members.filter { $0.key != "plugin" }
        default:
            report(path, node, "must be a \(kind.rawValue) name (\(known.joined(separator: ", "))) or {\"plugin\": name, ...parameters}, got \(describe(node.value))")
            return node
        }
        guard let plugin = registry.plugin(kind, name) else {
            let hint = closestMatch(to: name, among: known).map { "did you mean \"\($0)\"? " } ?? ""
            report(path, node, "unknown \(kind.rawValue) \"\(name)\"; \(hint)known: \(known.joined(separator: ", "))")
            return node
        }
        if plugin.parameters.isEmpty && given.isEmpty { return JSONNode(.string(name), line: node.line, column: node.column) }
        let parameters = resolveSection(JSONNode(.object(given), line: node.line, column: node.column), plugin.parameters, path: path)
        guard case .object(let resolved) = parameters.value else { return node }
        return JSONNode(.object([(key: "plugin", node: JSONNode(.string(name), line: node.line, column: node.column))] + resolved),
                        line: node.line, column: node.column)
    }

    mutating func resolveLayers(_ node: JSONNode, path: String) -> JSONNode {
        guard case .array(let items) = node.value, !items.isEmpty else {
            report(path, node, "must be a non-empty list of layers, e.g. [{\"conv\": {\"filters\": 6, \"kernel\": 5}}, {\"flatten\": {}}, {\"dense\": {\"units\": 10}}]")
            return node
        }
        let known = registry.names(.layer)
        var resolved: [JSONNode] = []
        for (index, item) in items.enumerated() {
            let itemPath = "\(path)[\(index)]"
            guard case .object(let members) = item.value, members.count == 1, let member = members.first else {
                report(itemPath, item, "a layer is an object with exactly one key, its kind (\(known.joined(separator: ", "))), e.g. {\"conv\": {\"filters\": 6, \"kernel\": 5}}")
                continue
            }
            guard let plugin = registry.plugin(.layer, member.key) else {
                let hint = closestMatch(to: member.key, among: known).map { "did you mean \"\($0)\"? " } ?? ""
                report(itemPath, item, "unknown layer \"\(member.key)\"; \(hint)known: \(known.joined(separator: ", "))")
                continue
            }
            var body = member.node
            if case .null = body.value { body = JSONNode(.object([]), line: body.line, column: body.column) }
            let parameters = resolveSection(body, plugin.parameters, path: Self.join(itemPath, member.key))
            resolved.append(JSONNode(.object([(key: member.key, node: parameters)]), line: item.line, column: item.column))
        }
        return JSONNode(.array(resolved), line: node.line, column: node.column)
    }

    mutating func resolveProbes(_ node: JSONNode, path: String) -> JSONNode {
        guard case .object(let members) = node.value else {
            report(path, node, "must be an object keyed by probe name (\(registry.names(.probe).joined(separator: ", ")))")
            return node
        }
        let known = registry.names(.probe)
        for member in members where !known.contains(member.key) {
            let hint = closestMatch(to: member.key, among: known).map { "did you mean \"\($0)\"? " } ?? ""
            report(Self.join(path, member.key), member.node, "unknown probe \"\(member.key)\"; \(hint)known: \(known.joined(separator: ", "))")
        }
        // The built-in probes run in every run, with their defaults unless the spec sets them; a
        // plugin's probe runs where the spec names it (so loading a plugin changes no spec).
        let builtIn = Set(PluginRegistry.builtIn.names(.probe))
        var resolved: [(key: String, node: JSONNode)] = []
        for probe in registry.plugins(.probe) where builtIn.contains(probe.name) || members.contains(where: { $0.key == probe.name }) {
            let given = members.first { $0.key == probe.name }?.node ?? JSONNode(.object([]), line: node.line, column: node.column)
            resolved.append((probe.name, resolveSection(given, probe.parameters, path: Self.join(path, probe.name))))
        }
        return JSONNode(.object(resolved), line: node.line, column: node.column)
    }
}
