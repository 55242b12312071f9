import Foundation
import Testing
@testable import RunnerKit
import TextKit
import TestSupport

/// The smoke spec with `"<key>": <json>` added at the top level, as text (so values that
/// JSONSerialization cannot write, such as 1e999, stay verbatim).
func smokeSpec(adding key: String, json: String) -> String {
    let text = smokeSpec()
    guard let brace = text.firstIndex(of: "{") else { return text }
    return String(text[...brace]) + "\n  \"\(key)\" : \(json)," + String(text[text.index(after: brace)...])
}

/// (line, column) of the first occurrence of `needle` in `text`, 1-based, in characters.
func position(of needle: String, in text: String) -> (Int, Int)? {
    guard let range = text.range(of: needle) else { return nil }
    let before = text[..<range.lowerBound]
    let line = before.filter { $0 == "\n" }.count + 1
    let column = before.distance(from: before.lastIndex(of: "\n").map { before.index(after: $0) } ?? before.startIndex, to: before.endIndex) + 1
    return (line, column)
}

@Suite("Hostile specs: numbers, matrices and nesting are refused with their position")
struct HostileSpecTests {
    @Test("a number beyond Double is a syntax error at its position, never inf in spec_json", arguments: ["1e999", "-1e999", "1" + String(repeating: "0", count: 400)])
    func infiniteNumber(literal: String) throws {
        let text = smokeSpec().replacingOccurrences(of: "\"learning_rate\" : 0.1", with: "\"learning_rate\" : \(literal)")
        #expect(text.contains(literal))
        let issues = planIssues(text)
        let issue = try #require(issues.first)
        #expect(issue.message.hasPrefix("JSON syntax error: number \(literal.prefix(40))"), "\(issue.message)")
        #expect(issue.message.contains("is out of range (beyond ±1.8e308)"))
        let (line, column) = try #require(position(of: literal, in: text))
        #expect((issue.line, issue.column) == (line, column))
    }

    @Test("a matrix over 10,000 runs is refused at once, naming the count, the keys and the matrix's position")
    func matrixTooLarge() throws {
        let values = (1...1000).map(String.init).joined(separator: ", ")
        let text = smokeSpec(adding: "matrix", json: "{\"training.epochs\": [\(values)], \"training.batch_size\": [\(values)], \"seed\": [\(values)]}")
        let start = ContinuousClock.now
        let issues = planIssues(text)
        let elapsed = ContinuousClock.now - start
        let issue = try #require(issues.first)
        #expect(issues.count == 1)
        #expect(issue.path == "matrix")
        #expect(issue.message == "expands to 1000000000 runs (training.epochs: 1000 × training.batch_size: 1000 × seed: 1000), more than the limit of 10000; split the sweep into several specs or use fewer values", "\(issue.message)")
        let (line, column) = try #require(position(of: "{\"training.epochs", in: text))
        #expect((issue.line, issue.column) == (line, column))
        // A guard against the old blow-up (expanding first took minutes and 19 GB), not a speed
        // claim: counting takes milliseconds, and half a minute only fails if it expands again.
        #expect(elapsed < .seconds(30), "\(elapsed)")
    }

    @Test("seeds count in the product; a single huge list is refused too", arguments: [
        ("{\"optimizer.learning_rate\": [LIST100], \"seeds\": [LIST200]}", "expands to 20000 runs (optimizer.learning_rate: 100 × seeds: 200)"),
        ("{\"training.epochs\": [LIST20000]}", "expands to 20000 runs (training.epochs: 20000)"),
        ("{\"training.epochs\": [LIST10001]}", "expands to 10001 runs (training.epochs: 10001)"),
    ])
    func matrixCounts(json: String, fragment: String) throws {
        var json = json
        for n in [20000, 10001, 200, 100] { json = json.replacingOccurrences(of: "LIST\(n)", with: (1...n).map(String.init).joined(separator: ",")) }
        let issues = planIssues(smokeSpec(adding: "matrix", json: json))
        #expect(issues.count == 1 && issues.first?.message.hasPrefix(fragment) == true, "\(issues.first?.message.prefix(200) ?? "none")")
    }

    @Test("a product that overflows Int is counted safely")
    func matrixOverflow() throws {
        // 64 axes of 2 values: 2^64 runs, which overflows Int.
        let axes = (0..<64).map { "\"training.epochs\(String(repeating: "x", count: $0))\": [1, 2]" }.joined(separator: ", ")
        let root = try JSONParser.parse("{\"matrix\": {\(axes)}}")
        guard case .failure(let problems) = MatrixExpansion.expand(root) else { Issue.record("expanded 2^64 runs"); return }
        #expect(problems.issues.count == 1)
        #expect(problems.issues[0].message.hasPrefix("expands to more than 9223372036854775807 runs (training.epochs: 2 × "), "\(problems.issues[0].message.prefix(120))")
    }

    @Test("exactly the limit expands; one more is refused")
    func matrixAtLimit() throws {
        #expect(MatrixExpansion.maximumRuns == 10_000)
        let list = { (n: Int) in (1...n).map(String.init).joined(separator: ",") }
        let at = try JSONParser.parse("{\"matrix\": {\"training.epochs\": [\(list(100))], \"seeds\": [\(list(100))]}}")
        guard case .success(let variants) = MatrixExpansion.expand(at) else { Issue.record("refused 10,000 runs"); return }
        #expect(variants.count == 10_000)
        let over = try JSONParser.parse("{\"matrix\": {\"training.epochs\": [\(list(100))], \"training.batch_size\": [1, 2], \"seeds\": [\(list(51))]}}")
        guard case .failure(let problems) = MatrixExpansion.expand(over) else { Issue.record("expanded 10,200 runs"); return }
        #expect(problems.issues.map(\.message).first?.hasPrefix("expands to 10200 runs") == true)
    }

    @Test("an empty list or an empty seeds list in the matrix is an error at that list", arguments: ["model.pooling", "seeds"])
    func emptyMatrixList(key: String) throws {
        let text = smokeSpec(adding: "matrix", json: "{\"\(key)\": [ ]}")
        let issue = try #require(planIssues(text).first)
        #expect(issue.path == "matrix.\(key)")
        #expect(issue.message == "must be a non-empty list of values")
        let (line, column) = try #require(position(of: "[ ]", in: text))
        #expect((issue.line, issue.column) == (line, column))
    }

    @Test("a matrix key of 100,000 parts is refused, not a stack overflow")
    func deepMatrixKey() throws {
        let key = "model" + String(repeating: ".a", count: 100_000)
        let issue = try #require(planIssues(smokeSpec(adding: "matrix", json: "{\"\(key)\": [1]}")).first)
        #expect(issue.message == "has 100001 parts; a matrix key has at most 64")
    }

    @Test("a spec nested 100,000 levels deep is a syntax error with its position")
    func deepSpec() throws {
        let text = "{\"description\": " + String(repeating: "[", count: 100_000)
        let issue = try #require(planIssues(text).first)
        #expect(issue.message == "JSON syntax error: nesting deeper than 256 levels of arrays and objects")
        #expect((issue.line, issue.column) == (1, 17 + 255))
    }

    @Test("a high surrogate without its low half in a name is a syntax error, not a trap")
    func loneSurrogateName() throws {
        let issue = try #require(planIssues(#"{"name": "\uD800\u0041"}"#).first)
        #expect(issue.message == #"JSON syntax error: \uD800 is a high surrogate not followed by a low surrogate (\uDC00…\uDFFF)"#)
        #expect((issue.line, issue.column) == (1, 11))
    }

    @Test("a raw control character in a name is refused")
    func controlCharacterName() throws {
        let issue = try #require(planIssues("{\"name\": \"x\u{01}y\"}").first)
        #expect(issue.message == #"JSON syntax error: raw control character U+0001 in a string; write it as \u0001"#)
        #expect((issue.line, issue.column) == (1, 12))
    }

    @Test("a spec file that starts with a byte order mark loads, and its columns are unaffected")
    func byteOrderMark() throws {
        let path = temporaryPath("bom.json")
        _ = FileManager.default.createFile(atPath: path, contents: Data([0xEF, 0xBB, 0xBF] + Array(smokeSpec().utf8)))
        #expect(try SpecLoader.load(file: path).runs.count == 1)
        _ = FileManager.default.createFile(atPath: path, contents: Data([0xEF, 0xBB, 0xBF] + Array(#"{"seed": -1}"#.utf8)))
        #expect {
            _ = try SpecLoader.load(file: path)
        } throws: { error in
            "\(error)".contains("\(path):1:10: seed: must be an integer ≥ 0, got -1")
        }
    }
}
