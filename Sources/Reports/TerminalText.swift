/// Text from specs and stores (experiment names, descriptions, variant labels, error messages,
/// SQL results) made safe to show: every control character — C0 and C1 controls, DEL, the line
/// and paragraph separators, and the bidirectional overrides that reorder what a line shows — is
/// written out as a Swift-style escape, `\u{1B}`, so no escape sequence reaches the terminal and
/// nothing is hidden. Used for every table, Markdown, message and progress line; CSV and JSON keep
/// the text itself (JSON as \uXXXX escapes), so they stay faithful.
public enum TerminalText {
    /// `text` with every unsafe scalar escaped; with `keepingNewlines`, "\n" stays a line break
    /// (for multi-line text such as charts and error lists).
    public static func escaped(_ text: String, keepingNewlines: Bool = false) -> String {
        guard text.unicodeScalars.contains(where: { isUnsafe($0) }) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if isUnsafe(scalar) && !(keepingNewlines && scalar == "\n") {
                out.append(contentsOf: escape(scalar).unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// `\u{1B}` for U+001B.
    static func escape(_ scalar: Unicode.Scalar) -> String { "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}" }

    /// Controls (Cc: U+0000–U+001F, U+007F–U+009F), line/paragraph separators, and bidi controls.
    public static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: true
        case 0x2028, 0x2029: true
        case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }
}

extension String {
    /// This text with control characters escaped for a terminal (see `TerminalText`).
    public var terminalSafe: String { TerminalText.escaped(self) }
}
