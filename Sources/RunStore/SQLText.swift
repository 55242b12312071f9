/// What a piece of SQL text holds, read the way SQLite's tokenizer reads it: `-- …` and
/// `/* … */` are comments, and quotes ('…', "…", `…`, […]) hide semicolons and comment marks.
public struct SQLText: Sendable, Equatable {
    /// Each statement's text, comments kept, without its closing `;`; blank statements are dropped.
    public var statements: [String]

    public init(_ text: String) {
        var statements: [String] = []
        var current = String.UnicodeScalarView()
        var blank = true
        let scalars = Array(text.unicodeScalars)
        var i = 0
        func take(_ count: Int) {
            current.append(contentsOf: scalars[i..<min(i + count, scalars.count)])
            i += count
        }
        while i < scalars.count {
            let c = scalars[i]
            let next: Unicode.Scalar? = i + 1 < scalars.count ? scalars[i + 1] : nil
            switch c {
            case "-" where next == "-":
                while i < scalars.count && scalars[i] != "\n" { take(1) }
            case "/" where next == "*":
                take(2)
                while i < scalars.count && !(scalars[i] == "*" && i + 1 < scalars.count && scalars[i + 1] == "/") { take(1) }
                take(2)
            case "'", "\"", "`", "[":
                let close: Unicode.Scalar = c == "[" ? "]" : c
                blank = false
                take(1)
                while i < scalars.count {
                    if scalars[i] == close {
                        // A doubled quote is an escaped quote, not the end.
                        if close != "]", i + 1 < scalars.count, scalars[i + 1] == close { take(2); continue }
                        take(1)
                        break
                    }
                    take(1)
                }
            case ";":
                if !blank { statements.append(String(current)) }
                current = String.UnicodeScalarView()
                blank = true
                i += 1
            default:
                if !c.properties.isWhitespace { blank = false }
                take(1)
            }
        }
        if !blank { statements.append(String(current)) }
        self.statements = statements
    }

    /// True when the text has nothing but whitespace, comments and semicolons.
    public var isBlank: Bool { statements.isEmpty }

    /// The first word of the first statement, upper-cased (`SELECT`, `ATTACH`, …), comments skipped.
    public var firstKeyword: String? {
        guard let first = statements.first else { return nil }
        return SQLText.words(first).first
    }

    /// The words outside comments and quotes, upper-cased.
    static func words(_ statement: String) -> [String] {
        var words: [String] = []
        var word = ""
        let scalars = Array(statement.unicodeScalars)
        var i = 0
        func endWord() { if !word.isEmpty { words.append(word.uppercased()); word = "" } }
        while i < scalars.count {
            let c = scalars[i]
            let next: Unicode.Scalar? = i + 1 < scalars.count ? scalars[i + 1] : nil
            if c == "-" && next == "-" {
                endWord()
                while i < scalars.count && scalars[i] != "\n" { i += 1 }
            } else if c == "/" && next == "*" {
                endWord()
                i += 2
                while i < scalars.count && !(scalars[i] == "*" && i + 1 < scalars.count && scalars[i + 1] == "/") { i += 1 }
                i += 2
            } else if c.properties.isAlphabetic || c == "_" || (c.properties.numericType != nil && !word.isEmpty) {
                word.unicodeScalars.append(c)
                i += 1
            } else {
                endWord()
                if c == "'" || c == "\"" || c == "`" || c == "[" {
                    let close: Unicode.Scalar = c == "[" ? "]" : c
                    i += 1
                    while i < scalars.count && scalars[i] != close { i += 1 }
                }
                i += 1
            }
        }
        endWord()
        return words
    }
}
