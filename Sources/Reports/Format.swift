import Foundation

/// Output formats of every report view.
public enum OutputFormat: String, Sendable, CaseIterable {
    case table, csv, json, markdown

    public func render(_ table: Table, width: Int) -> String {
        switch self {
        case .table: table.renderText(width: width)
        case .csv: table.renderCSV()
        case .json: table.renderJSON()
        case .markdown: table.renderMarkdown()
        }
    }
}

/// Number formatting shared by the views.
public enum Numbers {
    public static func fixed(_ value: Double?, _ digits: Int = 4) -> String {
        guard let value, value.isFinite else { return value.map { $0.isNaN ? "NaN" : ($0 > 0 ? "inf" : "-inf") } ?? "–" }
        return String(format: "%.\(digits)f", value)
    }

    public static func scientific(_ value: Double?) -> String {
        guard let value else { return "–" }
        return String(format: "%.2e", value)
    }

    public static func duration(_ seconds: Double?) -> String {
        guard let seconds, seconds.isFinite, seconds >= 0 else { return "–" }
        if seconds < 60 { return String(format: "%.1fs", seconds) }
        if seconds < 3600 { return String(format: "%dm%02ds", Int(seconds) / 60, Int(seconds) % 60) }
        return String(format: "%dh%02dm", Int(seconds) / 3600, (Int(seconds) % 3600) / 60)
    }

    /// Up to six significant digits, for reals of any size.
    public static func compact(_ value: Double) -> String {
        guard value.isFinite else { return value.isNaN ? "NaN" : (value > 0 ? "inf" : "-inf") }
        return String(format: "%.6g", value)
    }

    public static func integer(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "–" }
        return String(Int(value.rounded()))
    }
}
