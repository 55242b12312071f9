/// A strict JSON parser (RFC 8259) that records the line and column of every value, so that a
/// spec error can say where it is. Foundation's parser gives neither positions nor key order.
///
/// Hostile input ends in a `SyntaxError`, never a trap: nesting is limited (`maximumDepth`),
/// numbers must be finite doubles, strings must be valid UTF-8 without raw control characters,
/// and `\u` escapes must pair their surrogates. A leading byte order mark is skipped, as
/// RFC 8259 §8.1 allows. Columns count characters (Unicode scalars), not bytes.
public struct JSONParser {
    public struct SyntaxError: Error, Equatable, Sendable {
        public var line: Int
        public var column: Int
        public var message: String
    }

    /// Arrays and objects inside each other; a spec needs fewer than ten, and the limit keeps
    /// the recursion far from the end of a thread's stack.
    public static let maximumDepth = 256

    private let bytes: [UInt8]
    private var index = 0
    private var line = 1
    private var lineStart = 0
    private var depth = 0
    /// The column of the last position asked for, so that columns along a long line cost O(1) each.
    private var columnMark = (position: 0, column: 1)

    public static func parse(_ text: String) throws(SyntaxError) -> JSONNode {
        try parse(bytes: Array(text.utf8))
    }

    public static func parse(bytes: [UInt8]) throws(SyntaxError) -> JSONNode {
        var parser = JSONParser(bytes: bytes)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { parser.index = 3; parser.lineStart = 3; parser.columnMark = (3, 1) }
        parser.skipWhitespace()
        let node = try parser.parseValue()
        parser.skipWhitespace()
        guard parser.index == parser.bytes.count else { throw parser.error("unexpected text after the end of the JSON value") }
        return node
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    /// Characters from the start of the line: every byte but UTF-8 continuation bytes.
    private func column(at position: Int) -> Int {
        var count = 1
        var i = lineStart
        while i < position {
            if bytes[i] & 0xC0 != 0x80 { count += 1 }
            i += 1
        }
        return count
    }

    /// The column at `index`, counted on from the last one asked for (the parser only moves forward).
    private mutating func currentColumn() -> Int {
        if columnMark.position < lineStart || columnMark.position > index { columnMark = (lineStart, 1) }
        var (i, count) = columnMark
        while i < index {
            if bytes[i] & 0xC0 != 0x80 { count += 1 }
            i += 1
        }
        columnMark = (index, count)
        return count
    }

    private func error(_ message: String) -> SyntaxError { SyntaxError(line: line, column: column(at: index), message: message) }
    private func error(_ message: String, at position: Int) -> SyntaxError {
        SyntaxError(line: line, column: column(at: position), message: message)
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0D: index += 1
            case 0x0A: index += 1; line += 1; lineStart = index
            default: return
            }
        }
    }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func parseValue() throws(SyntaxError) -> JSONNode {
        let (startLine, startColumn) = (line, currentColumn())
        func node(_ value: JSONValue) -> JSONNode { JSONNode(value, line: startLine, column: startColumn) }
        guard let byte = current else { throw error("unexpected end of file: a value is missing") }
        switch byte {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            guard depth < Self.maximumDepth else { throw error("nesting deeper than \(Self.maximumDepth) levels of arrays and objects") }
            depth += 1
            defer { depth -= 1 }
            return node(byte == UInt8(ascii: "{") ? try parseObject() : try parseArray())
        case UInt8(ascii: "\""): return node(.string(try parseString()))
        case UInt8(ascii: "t"): try expectWord("true"); return node(.bool(true))
        case UInt8(ascii: "f"): try expectWord("false"); return node(.bool(false))
        case UInt8(ascii: "n"): try expectWord("null"); return node(.null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return node(.number(try parseNumber()))
        default:
            throw error("unexpected character \(try describeCharacter()): expected a value (object, array, string, number, true, false or null)")
        }
    }

    /// The character at `index` as a message shows it: 'x' when printable ASCII, U+XXXX otherwise.
    private func describeCharacter() throws(SyntaxError) -> String {
        guard let byte = current else { return "end of file" }
        if byte >= 0x20 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        let scalar = byte < 0x80 ? UInt32(byte) : try decodeUTF8(at: index).scalar
        return "U+" + hex(scalar)
    }

    private func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// The scalar of the UTF-8 sequence at `position` and its length; an error names the first
    /// byte of a sequence that is malformed, overlong, a surrogate or beyond U+10FFFF.
    private func decodeUTF8(at position: Int) throws(SyntaxError) -> (scalar: UInt32, length: Int) {
        let first = bytes[position]
        let invalid = error("invalid UTF-8 (byte 0x\(String(first, radix: 16, uppercase: true))); save the file as UTF-8", at: position)
        let length: Int, minimum: UInt32
        var scalar: UInt32
        switch first {
        case 0xC2...0xDF: (length, minimum, scalar) = (2, 0x80, UInt32(first & 0x1F))
        case 0xE0...0xEF: (length, minimum, scalar) = (3, 0x800, UInt32(first & 0x0F))
        case 0xF0...0xF4: (length, minimum, scalar) = (4, 0x10000, UInt32(first & 0x07))
        default: throw invalid
        }
        guard position + length <= bytes.count else { throw invalid }
        for k in 1..<length {
            let next = bytes[position + k]
            guard next & 0xC0 == 0x80 else { throw invalid }
            scalar = scalar << 6 | UInt32(next & 0x3F)
        }
        guard scalar >= minimum, scalar <= 0x10FFFF, !(0xD800...0xDFFF).contains(scalar) else { throw invalid }
        return (scalar, length)
    }

    private mutating func expectWord(_ word: String) throws(SyntaxError) {
        let utf8 = Array(word.utf8)
        guard index + utf8.count <= bytes.count, bytes[index..<(index + utf8.count)].elementsEqual(utf8) else {
            throw error("invalid literal: expected '\(word)' (strings need double quotes)")
        }
        index += utf8.count
    }

    private mutating func parseObject() throws(SyntaxError) -> JSONValue {
        index += 1
        var members: [(key: String, node: JSONNode)] = []
        var keys: Set<String> = []
        skipWhitespace()
        if current == UInt8(ascii: "}") { index += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else {
                throw error(current == UInt8(ascii: "}") ? "trailing comma before '}'" : "expected a key in double quotes")
            }
            let (keyLine, keyColumn) = (line, currentColumn())
            let key = try parseString()
            guard keys.insert(key).inserted else {
                throw SyntaxError(line: keyLine, column: keyColumn, message: "duplicate key \"\(key)\"")
            }
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw error("expected ':' after the key \"\(key)\"") }
            index += 1
            skipWhitespace()
            members.append((key, try parseValue()))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"): index += 1; return .object(members)
            case nil: throw error("unexpected end of file: an object is not closed with '}'")
            default: throw error("expected ',' or '}' after a value in an object")
            }
        }
    }

    private mutating func parseArray() throws(SyntaxError) -> JSONValue {
        index += 1
        var elements: [JSONNode] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") { index += 1; return .array(elements) }
        while true {
            skipWhitespace()
            if current == UInt8(ascii: "]") { throw error("trailing comma before ']'") }
            elements.append(try parseValue())
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"): index += 1; return .array(elements)
            case nil: throw error("unexpected end of file: an array is not closed with ']'")
            default: throw error("expected ',' or ']' after a value in an array")
            }
        }
    }

    private mutating func parseString() throws(SyntaxError) -> String {
        index += 1
        var scalars = String.UnicodeScalarView()
        while true {
            guard let byte = current else { throw error("unexpected end of file inside a string") }
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return String(scalars)
            case UInt8(ascii: "\\"):
                scalars.append(try parseEscape())
            case 0x0A:
                throw error("a string cannot span lines (close it with '\"')")
            case 0x00..<0x20:
                let named: [UInt8: String] = [0x08: "\\b", 0x09: "\\t", 0x0C: "\\f", 0x0D: "\\r"]
                throw error("raw control character U+\(hex(UInt32(byte))) in a string; write it as \(named[byte] ?? "\\u" + hex(UInt32(byte)))")
            case 0x00..<0x80:
                scalars.append(Unicode.Scalar(byte))
                index += 1
            default:
                let (value, length) = try decodeUTF8(at: index)
                guard let scalar = Unicode.Scalar(value) else { throw error("invalid UTF-8") }
                scalars.append(scalar)
                index += length
            }
        }
    }

    /// One escape, from its backslash; errors point at the backslash.
    private mutating func parseEscape() throws(SyntaxError) -> Unicode.Scalar {
        let start = index
        index += 1
        guard let escaped = current else { throw error("unexpected end of file inside a string") }
        index += 1
        switch escaped {
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "/"): return "/"
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"):
            let code = try parseHex4(escapeStart: start)
            switch code {
            case 0xD800..<0xDC00:
                // A high surrogate must be followed at once by \u and a low surrogate (RFC 8259 §7).
                let unpaired = error("\\u\(hex(code)) is a high surrogate not followed by a low surrogate (\\uDC00…\\uDFFF)", at: start)
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else { throw unpaired }
                let lowStart = index
                index += 2
                let low = try parseHex4(escapeStart: lowStart)
                guard (0xDC00..<0xE000).contains(low) else { throw unpaired }
                return Unicode.Scalar(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)) ?? "\u{FFFD}"
            case 0xDC00..<0xE000:
                throw error("\\u\(hex(code)) is a low surrogate without a high surrogate before it", at: start)
            default:
                return Unicode.Scalar(code) ?? "\u{FFFD}"     // every other value below 0x10000 is a scalar
            }
        default:
            throw error("invalid escape '\\\(try describeEscaped(escaped))' in a string", at: start)
        }
    }

    private func describeEscaped(_ byte: UInt8) throws(SyntaxError) -> String {
        byte >= 0x20 && byte < 0x7F ? String(Character(Unicode.Scalar(byte))) : "U+" + hex(UInt32(byte))
    }

    /// Four hex digits after `\u` (and only hex digits: no sign, no space).
    private mutating func parseHex4(escapeStart: Int) throws(SyntaxError) -> UInt32 {
        var value: UInt32 = 0
        for k in 0..<4 {
            let digit: UInt32
            switch index + k < bytes.count ? bytes[index + k] : 0 {
            case let c where (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c): digit = UInt32(c - UInt8(ascii: "0"))
            case let c where (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(c): digit = UInt32(c - UInt8(ascii: "a") + 10)
            case let c where (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(c): digit = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw error("\\u must be followed by four hex digits", at: escapeStart)
            }
            value = value << 4 | digit
        }
        index += 4
        return value
    }

    private mutating func parseNumber() throws(SyntaxError) -> Double {
        let start = index
        func digits() { while let c = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) { index += 1 } }
        if current == UInt8(ascii: "-") { index += 1 }
        guard let first = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { throw error("invalid number") }
        if first == UInt8(ascii: "0") { index += 1 } else { digits() }
        if current == UInt8(ascii: ".") {
            index += 1
            guard let c = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) else { throw error("invalid number: digits must follow '.'") }
            digits()
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            guard let c = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) else { throw error("invalid number: digits must follow the exponent") }
            digits()
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        guard let value = Double(text) else { throw error("invalid number", at: start) }
        guard value.isFinite else {
            let shown = text.count > 40 ? text.prefix(40) + "…" : Substring(text)
            throw error("number \(shown) is out of range (beyond ±1.8e308)", at: start)
        }
        return value
    }
}
