import Foundation
import TextKit

/// A JSON object written field by field, numbers as `runner report --format json` writes them.
struct JSONObject {
    private var fields: [String] = []

    mutating func add(_ key: String, _ value: String?) {
        fields.append(JSONWriter.quote(key) + ": " + (value.map(JSONWriter.quote) ?? "null"))
    }

    mutating func add(_ key: String, _ value: Double?) {
        fields.append(JSONWriter.quote(key) + ": " + (value.flatMap { $0.isFinite ? JSONWriter.number($0) : nil } ?? "null"))
    }

    mutating func add(_ key: String, _ value: Bool) {
        fields.append(JSONWriter.quote(key) + ": " + (value ? "true" : "false"))
    }

    /// A value that is JSON already (an array the report rendered).
    mutating func add(_ key: String, json: String) {
        fields.append(JSONWriter.quote(key) + ": " + json.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    var text: String { "{\n" + fields.map { "  " + $0 }.joined(separator: ",\n") + "\n}\n" }
}
