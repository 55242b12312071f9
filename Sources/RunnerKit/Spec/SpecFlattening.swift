import ConvLabKit
import TextKit

extension JSONValue {
    var members: [(key: String, node: JSONNode)] { if case .object(let m) = self { m } else { [] } }
    var elements: [JSONNode] { if case .array(let a) = self { a } else { [] } }
    mutating func removeMember(_ key: String) {
        if case .object(let m) = self { self = .object(m.filter { $0.key != key }) }
    }
}

/// The resolved spec as (dotted key, text, number) rows. A plugin with parameters also gets a
/// row of its own under its key, so `model.activation` is "leaky_relu" whether or not it has a slope.
func flatten(_ value: JSONValue, prefix: String = "") -> [(key: String, text: String, real: Double?)] {
    switch value {
    case .null: return [(prefix, "null", nil)]
    case .bool(let b): return [(prefix, b ? "true" : "false", b ? 1 : 0)]
    case .number(let n): return [(prefix, JSONWriter.number(n), n)]
    case .string(let s): return [(prefix, s, nil)]
    case .array(let items):
        return items.enumerated().flatMap { flatten($1.value, prefix: "\(prefix)[\($0)]") }
    case .object(let members):
        var rows: [(key: String, text: String, real: Double?)] = []
        for member in members {
            let key = prefix.isEmpty ? member.key : "\(prefix).\(member.key)"
            if member.key == "plugin", case .string(let name) = member.node.value, !prefix.isEmpty {
                rows.append((prefix, name, nil))
            }
            rows += flatten(member.node.value, prefix: key)
        }
        return rows
    }
}
