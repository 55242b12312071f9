/// Writes JSON with keys in their given order: stable text for generated files and hashes.
public enum JSONWriter {
    public static func write(_ value: JSONValue, pretty: Bool = true) -> String {
        var out = ""
        emit(value, indent: 0, pretty: pretty, into: &out)
        return out
    }

    /// JSON has no infinity or NaN: they are written as `null` (as JavaScript's JSON.stringify
    /// does), so the output always parses. Spec values cannot be non-finite (the parser refuses them).
    public static func number(_ n: Double) -> String {
        guard n.isFinite else { return "null" }
        if n == n.rounded(), abs(n) < 1e15 { return String(Int64(n)) }
        return "\(n)"
    }

    public static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let c where c.value < 0x20: out += String(format: "\\u%04x", c.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    private static func emit(_ value: JSONValue, indent: Int, pretty: Bool, into out: inout String) {
        let pad = pretty ? String(repeating: "  ", count: indent + 1) : ""
        let closePad = pretty ? String(repeating: "  ", count: indent) : ""
        let newline = pretty ? "\n" : ""
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n): out += number(n)
        case .string(let s): out += quote(s)
        case .array(let elements):
            if elements.isEmpty { out += "[]"; return }
            // Short arrays of scalars stay on one line.
            if elements.allSatisfy({ if case .array = $0.value { false } else if case .object = $0.value { false } else { true } }) {
                out += "[" + elements.map { write($0.value, pretty: false) }.joined(separator: pretty ? ", " : ",") + "]"
                return
            }
            out += "[" + newline
            for (i, element) in elements.enumerated() {
                out += pad
                emit(element.value, indent: indent + 1, pretty: pretty, into: &out)
                out += (i < elements.count - 1 ? "," : "") + newline
            }
            out += closePad + "]"
        case .object(let members):
            if members.isEmpty { out += "{}"; return }
            out += "{" + newline
            for (i, member) in members.enumerated() {
                out += pad + quote(member.key) + (pretty ? ": " : ":")
                emit(member.node.value, indent: indent + 1, pretty: pretty, into: &out)
                out += (i < members.count - 1 ? "," : "") + newline
            }
            out += closePad + "}"
        }
    }
}

import Foundation
