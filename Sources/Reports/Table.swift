import Foundation
import TextKit

/// A table of text cells that renders as an aligned terminal table, CSV, JSON or Markdown.
public struct Table: Sendable, Equatable {
    public enum Alignment: Sendable { case left, right }

    public var columns: [String]
    public var rows: [[String]]
    /// Per column; numbers read better right-aligned.
    public var alignments: [Alignment]
    /// Typed values for JSON output (nil cells are JSON null); same shape as `rows` when set.
    public var values: [[JSONCell]]?

    public init(columns: [String], rows: [[String]], alignments: [Alignment]? = nil, values: [[JSONCell]]? = nil) {
        self.columns = columns
        self.rows = rows
        self.alignments = alignments ?? columns.map { _ in .left }
        self.values = values
    }

    /// A cell as JSON.
    public enum JSONCell: Sendable, Equatable {
        case null, number(Double), text(String), bool(Bool)
        /// JSON already written (an array of seeds, a plugin object); CSV gets the same text.
        case json(String)
    }

    // MARK: terminal

    /// Columns padded to their widest cell; when wider than `width`, the widest columns are cut
    /// with "…" until it fits.
    public func renderText(width: Int = 200) -> String {
        guard !columns.isEmpty else { return "" }
        let columns = columns.map(\.terminalSafe)
        let rows = rows.map { $0.map(\.terminalSafe) }
        var widths = columns.indices.map { c in ([columns[c]] + rows.map { $0[c] }).map(\.displayWidth).max() ?? 0 }
        let separators = 2 * (columns.count - 1)
        while widths.reduce(0, +) + separators > width, let widest = widths.indices.max(by: { widths[$0] < widths[$1] }), widths[widest] > 8 {
            widths[widest] -= 1
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { c, cell in
                let fitted = cell.truncated(to: widths[c])
                let pad = String(repeating: " ", count: max(0, widths[c] - fitted.displayWidth))
                return alignments[c] == .right ? pad + fitted : fitted + pad
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }
        let rule = widths.map { String(repeating: "─", count: $0) }.joined(separator: "  ")
        return ([line(columns), rule] + rows.map(line)).joined(separator: "\n") + "\n"
    }

    // MARK: CSV (RFC 4180)

    public func renderCSV() -> String {
        func field(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        // Typed values keep full precision; the display text may be rounded.
        let cells: [[String]] = values.map { values in
            values.map { row in
                row.map { cell in
                    switch cell {
                    case .null: ""
                    case .bool(let b): b ? "true" : "false"
                    case .number(let n): JSONWriter.number(n)
                    case .text(let s): s
                    case .json(let j): j
                    }
                }
            }
        } ?? rows
        return ([columns] + cells).map { $0.map(field).joined(separator: ",") }.joined(separator: "\r\n") + "\r\n"
    }

    // MARK: Markdown

    public func renderMarkdown() -> String {
        func escape(_ s: String) -> String {
            TerminalText.escaped(s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " "))
        }
        let header = "| " + columns.map(escape).joined(separator: " | ") + " |"
        let rule = "|" + alignments.map { $0 == .right ? " ---: |" : " --- |" }.joined()
        return ([header, rule] + rows.map { "| " + $0.map(escape).joined(separator: " | ") + " |" }).joined(separator: "\n") + "\n"
    }

    // MARK: JSON

    /// An array of objects, one per row, with typed values when known.
    public func renderJSON() -> String {
        let body = rows.indices.map { "  " + jsonObject(row: $0) }
        return "[\n" + body.joined(separator: ",\n") + (body.isEmpty ? "]\n" : "\n]\n")
    }

    /// Row `r` as one JSON object.
    public func jsonObject(row r: Int) -> String {
        let fields = columns.indices.map { c -> String in
            let value: String
            if let values {
                switch values[r][c] {
                case .null: value = "null"
                case .bool(let b): value = b ? "true" : "false"
                case .number(let n): value = n.isFinite ? JSONWriter.number(n) : "null"
                case .text(let s): value = Self.jsonQuote(s)
                case .json(let j): value = j
                }
            } else {
                value = Self.jsonQuote(rows[r][c])
            }
            return "\(Self.jsonQuote(columns[c])): \(value)"
        }
        return "{" + fields.joined(separator: ", ") + "}"
    }
}

extension Table {
    /// A JSON string literal in which, beyond what JSON requires, every scalar a terminal would act
    /// on (DEL, C1 controls, bidi overrides) is a \uXXXX escape: still the same string to a parser.
    static func jsonQuote(_ s: String) -> String {
        let quoted = JSONWriter.quote(s)
        guard quoted.unicodeScalars.contains(where: TerminalText.isUnsafe) else { return quoted }
        var out = ""
        for scalar in quoted.unicodeScalars {
            if TerminalText.isUnsafe(scalar) {
                out += String(format: "\\u%04x", scalar.value)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

extension String {
    /// Terminal columns (one per scalar; good enough for the text this tool prints).
    var displayWidth: Int { unicodeScalars.count }

    func truncated(to width: Int) -> String {
        guard displayWidth > width else { return self }
        guard width > 1 else { return String(unicodeScalars.prefix(width).map(Character.init)) }
        return String(String.UnicodeScalarView(unicodeScalars.prefix(width - 1))) + "…"
    }

    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
