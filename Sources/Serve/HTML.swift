import Foundation
import Reports

/// Text placed in HTML, in content or in a quoted attribute: `&`, `<`, `>`, `"` and `'` become
/// entities, so a spec name, description, tag or note holding `<script>` shows as text and runs
/// nothing. Control and bidi characters are written out as `\u{1B}`, as in every report.
enum HTML {
    static func escape(_ text: String, keepingNewlines: Bool = false) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in TerminalText.escaped(text, keepingNewlines: keepingNewlines) {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    /// A query string from name/value pairs, each percent-encoded (for links the pages make).
    static func query(_ pairs: [(String, String)]) -> String {
        guard !pairs.isEmpty else { return "" }
        return "?" + pairs.map { percent($0.0) + "=" + percent($0.1) }.joined(separator: "&")
    }

    static func percent(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }

    /// Multi-line text (a spec, a verdict), its line breaks kept, in a `<pre>`.
    static func preformatted(_ text: String, class name: String) -> String {
        "<pre class=\"\(name)\">" + escape(text.trimmingCharacters(in: .newlines), keepingNewlines: true) + "</pre>\n"
    }

    /// A table from the report views, every cell escaped; `cellClass` may mark cells (live, stale).
    static func table(_ table: Table, id: String? = nil, header: ((Int, String) -> String)? = nil,
                      cell: ((Int, Int, String) -> String)? = nil, rowAttributes: ((Int) -> String)? = nil) -> String {
        var html = "<table\(id.map { " id=\"\(escape($0))\"" } ?? "")>\n<thead><tr>"
        for (c, column) in table.columns.enumerated() {
            html += "<th>" + (header?(c, column) ?? escape(column)) + "</th>"
        }
        html += "</tr></thead>\n<tbody>\n"
        for (r, row) in table.rows.enumerated() {
            html += "<tr\(rowAttributes?(r) ?? "")>"
            for (c, text) in row.enumerated() {
                let right = c < table.alignments.count && table.alignments[c] == .right
                html += "<td\(right ? " class=\"num\"" : "")>" + (cell?(r, c, text) ?? escape(text)) + "</td>"
            }
            html += "</tr>\n"
        }
        return html + "</tbody>\n</table>\n"
    }
}

extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
