import ConvLabKit
import TextKit

/// Generates `Schemas/experiment.schema.json` (JSON Schema 2020-12) from the same declarations
/// that validate specs, so the schema editors use and the validator never disagree.
public enum SchemaGenerator {
    public static func schema(registry: PluginRegistry = .builtIn) -> JSONValue {
        var definitions: [(String, JSONValue)] = []
        for kind in PluginKind.allCases where kind != .layer && kind != .probe {
            definitions.append((kind.rawValue, pluginSchema(kind, registry)))
        }
        var root = objectSchema(SpecSections.topLevel, registry: registry, description: nil)
        if case .object(let members) = root {
            root = .object([
                (key: "$schema", node: JSONNode(.string("https://json-schema.org/draft/2020-12/schema"))),
                (key: "$id", node: JSONNode(.string("https://convlab.invalid/experiment.schema.json"))),
                (key: "title", node: JSONNode(.string("ConvLab experiment spec"))),
            ] + members + [(key: "$defs", node: JSONNode(.obj(definitions)))])
        }
        return root
    }

    public static func text(registry: PluginRegistry = .builtIn) -> String {
        JSONWriter.write(schema(registry: registry)) + "\n"
    }

    static func objectSchema(_ declarations: [ParameterDeclaration], registry: PluginRegistry, description: String?,
                             extra: [(String, JSONValue)] = []) -> JSONValue {
        var properties: [(String, JSONValue)] = extra
        for declaration in declarations {
            var schema = declaration == SearchSection.declarations[0] ? searchSpaceSchema() : typeSchema(declaration.type, registry: registry)
            var additions: [(String, JSONValue)] = [("description", .string(declaration.summary))]
            if case .value(let value) = declaration.defaultValue { additions.append(("default", value)) }
            if case .object(let members) = schema {
                schema = .object(members + additions.map { (key: $0.0, node: JSONNode($0.1)) })
            }
            properties.append((declaration.name, schema))
        }
        let required = declarations.filter { if case .required = $0.defaultValue { true } else { false } }.map { JSONValue.string($0.name) }
        var members: [(String, JSONValue)] = [("type", .string("object"))]
        if let description { members.append(("description", .string(description))) }
        members.append(("properties", .obj(properties)))
        if !required.isEmpty { members.append(("required", .arr(required))) }
        members.append(("additionalProperties", .bool(false)))
        return .obj(members)
    }

    static func integer(minimum: Int?, maximum: Int? = nil) -> JSONValue {
        .obj([("type", .string("integer"))] + (minimum.map { [("minimum", .int($0))] } ?? []) + (maximum.map { [("maximum", .int($0))] } ?? []))
    }

    static func typeSchema(_ type: ParameterType, registry: PluginRegistry) -> JSONValue {
        switch type {
        case let .integer(minimum, maximum):
            return integer(minimum: minimum, maximum: maximum)
        case let .number(minimum, maximum, exclusiveMaximum, exclusiveMinimum):
            var members: [(String, JSONValue)] = [("type", .string("number"))]
            if let minimum { members.append((exclusiveMinimum ? "exclusiveMinimum" : "minimum", .number(minimum))) }
            if let maximum { members.append((exclusiveMaximum ? "exclusiveMaximum" : "maximum", .number(maximum))) }
            return .obj(members)
        case .boolean:
            return .obj([("type", .string("boolean"))])
        case .string:
            return .obj([("type", .string("string"))])
        case .choice(let options):
            return .obj([("enum", .arr(options.map(JSONValue.string)))])
        case .size(let minimum):
            let extent = integer(minimum: minimum, maximum: ParameterType.maximumExtent)
            return .obj([("oneOf", .arr([
                extent,
                .obj([("type", .string("array")), ("items", extent), ("minItems", .int(2)), ("maxItems", .int(2))]),
            ]))])
        case .padding:
            let extent = integer(minimum: 0, maximum: ParameterType.maximumExtent)
            return .obj([("oneOf", .arr([
                extent,
                .obj([("type", .string("array")), ("items", extent), ("minItems", .int(2)), ("maxItems", .int(2))]),
                .obj([("enum", .arr([.string("same"), .string("valid")]))]),
            ]))])
        case .shape:
            return .obj([("type", .string("array")), ("items", integer(minimum: 1, maximum: ParameterType.maximumExtent)),
                         ("minItems", .int(1)), ("maxItems", .int(3))])
        case .integerList:
            return .obj([("type", .string("array")), ("items", integer(minimum: 0)), ("minItems", .int(1))])
        case .stringList:
            return .obj([("type", .string("array")), ("items", .obj([("type", .string("string"))]))])
        case .plugin(let kind):
            return .obj([("$ref", .string("#/$defs/\(kind.rawValue)"))])
        case .section(let declarations):
            return objectSchema(declarations, registry: registry, description: nil)
        case .layers:
            let alternatives = registry.plugins(.layer).map { plugin in
                JSONValue.obj([
                    ("type", .string("object")),
                    ("description", .string(plugin.summary)),
                    ("properties", .obj([(plugin.name, objectSchema(plugin.parameters, registry: registry, description: nil))])),
                    ("required", .arr([.string(plugin.name)])),
                    ("additionalProperties", .bool(false)),
                ])
            }
            return .obj([("type", .string("array")), ("minItems", .int(1)), ("items", .obj([("oneOf", .arr(alternatives))]))])
        case .probes:
            let properties = registry.plugins(.probe).map { ($0.name, objectSchema($0.parameters, registry: registry, description: $0.summary)) }
            return .obj([("type", .string("object")), ("properties", .obj(properties)), ("additionalProperties", .bool(false))])
        case .matrix:
            return .obj([
                ("type", .string("object")),
                ("properties", .obj([("seeds", typeSchema(.integerList, registry: registry))])),
                ("additionalProperties", .obj([("type", .string("array")), ("minItems", .int(1))])),
            ])
        }
    }

    /// `search.space`: dotted keys to one domain each.
    static func searchSpaceSchema() -> JSONValue {
        let pair = JSONValue.obj([("type", .string("array")), ("items", .obj([("type", .string("number"))])), ("minItems", .int(2)), ("maxItems", .int(2))])
        let domains: [JSONValue] = SearchSection.domains.map { name in
            let values = name == "choice" ? JSONValue.obj([("type", .string("array")), ("minItems", .int(1))]) : pair
            return .obj([("type", .string("object")), ("properties", .obj([(name, values)])), ("required", .arr([.string(name)])),
                         ("additionalProperties", .bool(false))])
        }
        return .obj([("type", .string("object")), ("minProperties", .int(1)), ("additionalProperties", .obj([("oneOf", .arr(domains))]))])
    }

    /// A plugin of a kind: its name alone, or an object naming it with its parameters.
    static func pluginSchema(_ kind: PluginKind, _ registry: PluginRegistry) -> JSONValue {
        let plugins = registry.plugins(kind)
        let byName = JSONValue.obj([("enum", .arr(plugins.map { .string($0.name) }))])
        let objects = plugins.map { plugin in
            objectSchema(plugin.parameters, registry: registry, description: plugin.summary,
                         extra: [("plugin", .obj([("const", .string(plugin.name))]))])
        }.map { schema -> JSONValue in
            guard case .object(let members) = schema else { return schema }
            // "plugin" is required in the object form.
            let required = JSONValue.arr([.string("plugin")] + (schema["required"]?.value.elements.map(\.value) ?? []))
            return .object(members.filter { $0.key != "required" } + [(key: "required", node: JSONNode(required))])
        }
        return .obj([("oneOf", .arr([byName] + objects))])
    }
}
