import Foundation
import Testing
@testable import RunnerKit
import TextKit
import TestSupport

/// The error a parse of `bytes` throws, or nil when it parses.
func syntaxError(_ bytes: [UInt8]) -> JSONParser.SyntaxError? {
    do { _ = try JSONParser.parse(bytes: bytes); return nil } catch { return error }
}

@Suite("Hostile JSON: every input ends in a value or one error with its position, never a trap")
struct HostileJSONTests {
    @Test("hostile texts are refused with the exact message fragment, line and column", arguments: [
        // Encodings: surrogates and escapes.
        (#"{"name": "\uD800\u0041"}"#, 1, 11, #"\uD800 is a high surrogate not followed by a low surrogate"#),
        (#"{"name": "\uD800"}"#, 1, 11, #"\uD800 is a high surrogate not followed by a low surrogate"#),
        (#"{"name": "\uDBFFx"}"#, 1, 11, "not followed by a low surrogate"),
        (#"{"name": "\uDC00"}"#, 1, 11, #"\uDC00 is a low surrogate without a high surrogate before it"#),
        (#"{"name": "ab\uD83D\uD83D"}"#, 1, 13, "not followed by a low surrogate"),
        (#"{"name": "\u12"}"#, 1, 11, #"\u must be followed by four hex digits"#),
        (#"{"name": "\u+041"}"#, 1, 11, #"\u must be followed by four hex digits"#),
        (#"{"name": "\u-041"}"#, 1, 11, #"\u must be followed by four hex digits"#),
        (#"{"name": "\u 041"}"#, 1, 11, #"\u must be followed by four hex digits"#),
        (#"{"name": "\uG041"}"#, 1, 11, #"\u must be followed by four hex digits"#),
        ("{\"name\": \"\\u00", 1, 11, #"\u must be followed by four hex digits"#),
        ("{\"name\": \"\\", 1, 12, "unexpected end of file inside a string"),
        (#"{"name": "\x41"}"#, 1, 11, #"invalid escape '\x'"#),
        // Raw control characters (RFC 8259 §7).
        ("{\"name\": \"a\u{01}b\"}", 1, 12, "raw control character U+0001 in a string; write it as \\u0001"),
        ("{\"name\": \"\u{00}\"}", 1, 11, "raw control character U+0000"),
        ("{\"name\": \"a\tb\"}", 1, 12, "raw control character U+0009 in a string; write it as \\t"),
        ("{\"name\": \"\u{1F}\"}", 1, 11, "raw control character U+001F"),
        ("[1,\n \u{01}]", 2, 2, "unexpected character U+0001"),
        // Numbers out of range.
        (#"{"lr": 1e999}"#, 1, 8, "number 1e999 is out of range"),
        (#"{"lr": -1e999}"#, 1, 8, "number -1e999 is out of range"),
        ("[\(String(repeating: "9", count: 400))]", 1, 2, "is out of range"),
        (#"{"lr": 1e}"#, 1, 10, "digits must follow the exponent"),
        (#"{"lr": 01}"#, 1, 9, "expected ',' or '}'"),
        (#"{"lr": .5}"#, 1, 8, "unexpected character '.'"),
        (#"{"lr": NaN}"#, 1, 8, "unexpected character 'N'"),
        (#"{"lr": Infinity}"#, 1, 8, "unexpected character 'I'"),
        // Empty, whitespace-only, truncated.
        ("", 1, 1, "unexpected end of file: a value is missing"),
        ("  \n\t \n ", 3, 2, "unexpected end of file: a value is missing"),
        ("{\"a\": [1, {\"b\": ", 1, 17, "unexpected end of file: a value is missing"),
        ("{\"a\"", 1, 5, "expected ':' after the key \"a\""),
        // Columns count characters, not bytes.
        ("{\"é\": 1,}", 1, 9, "trailing comma"),
        ("\u{FEFF}{\"a\": 1,}", 1, 9, "trailing comma"),
        ("\u{FEFF}\u{FEFF}{}", 1, 1, "unexpected character U+FEFF"),
    ])
    func refused(text: String, line: Int, column: Int, fragment: String) throws {
        let error = try #require(syntaxError(Array(text.utf8)), "parsed: \(text.debugDescription)")
        #expect(error.message.contains(fragment), "\(error.message)")
        #expect((error.line, error.column) == (line, column), "\(error)")
    }

    @Test("a valid surrogate pair, escapes of control characters and a leading BOM are accepted")
    func accepted() throws {
        let node = try JSONParser.parse(bytes: Array("\u{FEFF}{\"s\": \"\\uD83D\\uDE00\\u0001\\t\", \"n\": 1e-999, \"m\": -0}".utf8))
        #expect(node.value["s"]?.value == .string("😀\u{01}\t"))
        #expect(node.value["n"]?.value == .number(0))     // underflow to zero is a finite value, accepted
        #expect(node.value["m"]?.value == .number(0))
        let big = try JSONParser.parse("[1.7976931348623157e308, -1.7976931348623157e308]")
        #expect(big.value == .arr([.number(.greatestFiniteMagnitude), .number(-.greatestFiniteMagnitude)]))
    }

    @Test("invalid UTF-8 bytes are refused where they are", arguments: [
        ([0x7B, 0x22, 0x61, 0xFF, 0x22, 0x3A, 0x31, 0x7D] as [UInt8], 1, 4, "invalid UTF-8 (byte 0xFF)"),
        ([0x22, 0xC3] as [UInt8], 1, 2, "invalid UTF-8 (byte 0xC3)"),                       // truncated sequence
        ([0x22, 0xC0, 0xAF, 0x22] as [UInt8], 1, 2, "invalid UTF-8 (byte 0xC0)"),           // overlong '/'
        ([0x22, 0xED, 0xA0, 0x80, 0x22] as [UInt8], 1, 2, "invalid UTF-8 (byte 0xED)"),     // encoded surrogate
        ([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22] as [UInt8], 1, 2, "invalid UTF-8 (byte 0xF4)"), // beyond U+10FFFF
        ([0x22, 0x80, 0x22] as [UInt8], 1, 2, "invalid UTF-8 (byte 0x80)"),                 // lone continuation
        ([0x5B, 0xE9, 0x5D] as [UInt8], 1, 2, "invalid UTF-8 (byte 0xE9)"),                 // outside a string
    ])
    func invalidUTF8(bytes: [UInt8], line: Int, column: Int, fragment: String) throws {
        let error = try #require(syntaxError(bytes))
        #expect(error.message.contains(fragment), "\(error.message)")
        #expect((error.line, error.column) == (line, column), "\(error)")
    }

    @Test("nesting past the limit is an error at the bracket that goes too deep, not a stack overflow", arguments: ["[", "{\"a\":"])
    func deepNesting(opener: String) throws {
        let limit = JSONParser.maximumDepth
        #expect(limit == 256)
        let closer = opener == "[" ? "]" : "}"
        // At the limit: parses.
        _ = try JSONParser.parse(String(repeating: opener, count: limit) + "0" + String(repeating: closer, count: limit))
        // One deeper, and 100,000 deeper: refused at the first bracket past the limit.
        for depth in [limit + 1, 100_000] {
            let error = try #require(syntaxError(Array((String(repeating: opener, count: depth) + "0").utf8)))
            #expect(error.message == "nesting deeper than 256 levels of arrays and objects")
            #expect((error.line, error.column) == (1, limit * opener.utf8.count + 1))
        }
    }

    @Test("an object with many keys parses in linear time (duplicate keys are found with a set)")
    func manyKeys() throws {
        let count = 30_000
        let text = "{" + (0..<count).map { "\"k\($0)\": \($0)" }.joined(separator: ",") + "}"
        let start = ContinuousClock.now
        let node = try JSONParser.parse(text)
        #expect(node.value.members.count == count)
        // A guard against the quadratic duplicate search (it took minutes here), not a speed claim:
        // the linear one takes well under a second, so half a minute fails only on a regression.
        #expect(ContinuousClock.now - start < .seconds(30))
        let duplicate = try #require(syntaxError(Array((text.dropLast() + ",\"k\(count - 1)\": 0}").utf8)))
        #expect(duplicate.message == "duplicate key \"k\(count - 1)\"")
    }

    @Test("the writer never emits inf or nan: non-finite numbers are written as null, so its output always parses")
    func writerIsFinite() throws {
        for value in [Double.infinity, -.infinity, .nan, .signalingNaN] {
            #expect(JSONWriter.number(value) == "null")
            let text = JSONWriter.write(.obj([("x", .number(value)), ("l", .arr([.number(value)]))]))
            #expect(!text.contains("inf") && !text.contains("nan"))
            #expect(try JSONParser.parse(text).value["x"]?.value == .null)
        }
    }

    @Test("random finite numbers round-trip exactly through the writer and the parser")
    func numbersRoundTrip() throws {
        var rng = SplitMix(seed: 7)
        for _ in 0..<2000 {
            let value = Double(bitPattern: rng.next())
            guard value.isFinite else { continue }
            let parsed = try JSONParser.parse(JSONWriter.number(value)).value
            #expect(parsed == .number(value), "\(value)")
        }
    }
}

