import ConvLabKit
import TextKit

/// Where each path of a resolved document stood in the file, for errors found after validation.
struct Positions {
    var table: [String: (Int, Int)] = [:]

    init(_ root: JSONNode) { visit(root, "") }

    private mutating func visit(_ node: JSONNode, _ path: String) {
        table[path] = (node.line, node.column)
        switch node.value {
        case .object(let members): for m in members { visit(m.node, path.isEmpty ? m.key : "\(path).\(m.key)") }
        case .array(let items): for (i, item) in items.enumerated() { visit(item, "\(path)[\(i)]") }
        default: break
        }
    }

    func issue(_ path: String, _ message: String) -> SpecIssue {
        var probe = path
        while table[probe] == nil, let cut = probe.lastIndex(where: { $0 == "." || $0 == "[" }) { probe = String(probe[..<cut]) }
        let (line, column) = table[probe] ?? (0, 0)
        return SpecIssue(path: path, line: line, column: column, message: message)
    }
}
