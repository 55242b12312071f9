import Testing
@testable import RunnerKit
import TextKit

@Suite("JSON parser keeps positions and reports syntax errors where they are")
struct JSONParserTests {
    @Test("values carry their line and column")
    func positions() throws {
        let node = try JSONParser.parse("{\n  \"a\": [1,\n    {\"b\": true}]\n}")
        let a = try #require(node.value["a"])
        #expect((a.line, a.column) == (2, 8))
        guard case .array(let items) = a.value else { Issue.record("not an array"); return }
        #expect((items[1].line, items[1].column) == (3, 5))
        #expect(items[1].value["b"]?.value == .bool(true))
    }

    @Test("syntax errors name line and column", arguments: [
        ("{\"a\": 1,}", 1, 9, "trailing comma"),
        ("{\n  \"a\": tru\n}", 2, 8, "invalid literal"),
        ("{\"a\": 1 \"b\": 2}", 1, 9, "expected ',' or '}'"),
        ("[1, 2", 1, 6, "not closed"),
        ("{\"a\": 1, \"a\": 2}", 1, 10, "duplicate key"),
        ("{'a': 1}", 1, 2, "double quotes"),
    ])
    func syntaxErrors(text: String, line: Int, column: Int, fragment: String) {
        #expect {
            _ = try JSONParser.parse(text)
        } throws: { error in
            guard let error = error as? JSONParser.SyntaxError else { return false }
            return error.line == line && error.column == column && error.message.contains(fragment)
        }
    }

    @Test("strings, escapes and numbers round-trip through the writer")
    func roundTrip() throws {
        let text = #"{"s": "a\"b\\c\n\u00e9", "n": -1.5e3, "i": 42, "l": [true, false, null]}"#
        let node = try JSONParser.parse(text)
        #expect(node.value["s"]?.value == .string("a\"b\\c\né"))
        #expect(node.value["n"]?.value == .number(-1500))
        let again = try JSONParser.parse(JSONWriter.write(node.value))
        #expect(again.value == node.value)
    }
}
