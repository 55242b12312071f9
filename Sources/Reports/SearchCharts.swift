import Foundation

/// A search's charts as SVG, for the HTML report and `runner serve`'s search page alike: the
/// objective of each trial against its number (completed trials filled, pruned ones hollow,
/// the rest grey, the best completed so far as a line), and per sampled key its value against
/// the objective (a log axis for log_uniform, one column per choice for choice). Every axis has
/// round ticks (`NiceScale`). Only presentation attributes, no `style`: the serve pages'
/// Content-Security-Policy forbids inline style.
public enum SearchCharts {
    static let width = 480.0, height = 280.0
    static let margin = (left: 60.0, right: 14.0, top: 30.0, bottom: 44.0)
    static let colors = (completed: "#1f77b4", pruned: "#d62728", other: "#9a9a9a", best: "#2ca02c")

    struct Point {
        var trial: Int, x: Double, y: Double, status: String
    }

    /// An x axis: numbers on a round scale, or one slot per category.
    enum Axis {
        case numeric(NiceScale)
        case categories([String])

        func position(_ x: Double) -> Double {
            switch self {
            case .numeric(let scale): scale.position(x)
            case .categories(let names): (x + 0.5) / Double(max(names.count, 1))
            }
        }

        var ticks: [(position: Double, label: String)] {
            switch self {
            case .numeric(let scale):
                scale.ticks.map { (position: ($0 - scale.low) / max(scale.high - scale.low, 1e-300), label: scale.label($0)) }
            case .categories(let names):
                names.enumerated().map { index, name in
                    (position: (Double(index) + 0.5) / Double(names.count), label: name.count > 14 ? String(name.prefix(13)) + "…" : name)
                }
            }
        }
    }

    /// The objective of every trial that has one, against the trial's number, with the best
    /// completed trial so far as a line.
    public static func objectiveOverTrials(_ search: SearchTrials) -> String {
        let points = search.trials.compactMap { t in t.objective.map { Point(trial: t.number, x: Double(t.number), y: $0, status: t.status) } }
        var best: [(x: Double, y: Double)] = []
        var current: Double?
        for trial in search.trials.sorted(by: { $0.number < $1.number }) where trial.status == RunStatusName.completed {
            guard let value = trial.objective else { continue }
            if current.map({ search.direction.prefers(value, over: $0) }) ?? true { current = value }
            if let current { best.append((Double(trial.number), current)) }
        }
        let last = max(search.trials.map(\.number).max() ?? 1, search.budget ?? 1, 2)
        return chart(title: "\(search.metric) over trials", xLabel: "trial", attributes: " data-chart=\"objective\"",
                     x: .numeric(NiceScale(minimum: 1, maximum: Double(last), count: 6, integral: true)), points: points, best: best)
    }

    /// One key's sampled value against the objective.
    public static func valueAgainstObjective(_ search: SearchTrials, _ dimension: SearchTrials.Dimension) -> String {
        var categories = dimension.categories
        var points: [Point] = []
        for trial in search.trials {
            guard let objective = trial.objective, let value = trial.values[dimension.key] else { continue }
            if dimension.domain == "choice" || !categories.isEmpty {
                let label = SearchTrials.label(value)
                if !categories.contains(label) { categories.append(label) }
                points.append(Point(trial: trial.number, x: Double(categories.firstIndex(of: label) ?? 0), y: objective, status: trial.status))
            } else if case .number(let x) = value, dimension.domain != "log_uniform" || x > 0 {
                points.append(Point(trial: trial.number, x: x, y: objective, status: trial.status))
            }
        }
        let axis: Axis
        if dimension.domain == "choice" || !categories.isEmpty {
            axis = .categories(categories)
        } else {
            let xs = points.map(\.x)
            axis = .numeric(NiceScale(minimum: xs.min() ?? 0, maximum: xs.max() ?? 1, count: 5, logarithmic: dimension.domain == "log_uniform",
                                      integral: dimension.domain == "int"))
        }
        let scale = dimension.domain == "log_uniform" ? "log" : dimension.domain == "choice" ? "categories" : "linear"
        return chart(title: "\(search.metric) against \(dimension.key)", xLabel: dimension.key + (scale == "log" ? " (log scale)" : ""),
                     attributes: " data-chart=\"key\" data-key=\"\(escape(dimension.key))\" data-scale=\"\(scale)\"", x: axis, points: points, best: [])
    }

    static func chart(title: String, xLabel: String, attributes: String, x: Axis, points: [Point], best: [(x: Double, y: Double)]) -> String {
        let (w, h, m) = (width, height, margin)
        var svg = "<figure class=\"chart search\"\(attributes) data-points=\"\(points.count)\">\n"
        svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" width=\"\(Int(w))\" height=\"\(Int(h))\" role=\"img\" aria-label=\"\(escape(title))\">\n"
        svg += "<text class=\"title\" x=\"\(Int(m.left))\" y=\"18\" font-size=\"12\" font-weight=\"bold\">\(escape(title))</text>\n"
        guard let low = points.map(\.y).min(), let high = points.map(\.y).max() else {
            return svg + "<text class=\"empty\" x=\"\(Int(w / 2))\" y=\"\(Int(h / 2))\" text-anchor=\"middle\" font-size=\"10\">no trial has a value yet</text>\n</svg>\n</figure>\n"
        }
        let y = NiceScale(minimum: low, maximum: high, count: 5)
        let plotWidth = w - m.left - m.right, plotHeight = h - m.top - m.bottom
        func px(_ value: Double) -> Double { m.left + x.position(value) * plotWidth }
        func py(_ value: Double) -> Double { h - m.bottom - y.position(value) * plotHeight }
        svg += "<g class=\"axis y\">\n"
        for tick in y.ticks {
            let ty = py(tick)
            svg += "<line x1=\"\(Int(m.left))\" x2=\"\(Int(w - m.right))\" y1=\"\(coordinate(ty))\" y2=\"\(coordinate(ty))\" stroke=\"#e6e6ea\"/>"
            svg += "<text x=\"\(Int(m.left - 5))\" y=\"\(coordinate(ty + 4))\" text-anchor=\"end\" font-size=\"10\" fill=\"#555\">\(y.label(tick))</text>\n"
        }
        svg += "</g>\n<g class=\"axis x\">\n"
        for tick in x.ticks {
            let tx = m.left + tick.position * plotWidth
            svg += "<line x1=\"\(coordinate(tx))\" x2=\"\(coordinate(tx))\" y1=\"\(Int(m.top))\" y2=\"\(Int(h - m.bottom))\" stroke=\"#e6e6ea\"/>"
            svg += "<text x=\"\(coordinate(tx))\" y=\"\(Int(h - m.bottom + 15))\" text-anchor=\"middle\" font-size=\"10\" fill=\"#555\">\(escape(tick.label))</text>\n"
        }
        svg += "<text class=\"label\" x=\"\(Int(m.left + plotWidth / 2))\" y=\"\(Int(h - 6))\" text-anchor=\"middle\" font-size=\"10\" fill=\"#555\">\(escape(xLabel))</text>\n</g>\n"
        if !best.isEmpty {
            // A step line: the best stays until a better trial completes.
            var steps: [(Double, Double)] = []
            for (i, point) in best.enumerated() {
                if i > 0 { steps.append((point.x, best[i - 1].y)) }
                steps.append((point.x, point.y))
            }
            svg += "<polyline class=\"best\" data-series=\"best so far\" points=\"\(steps.map { coordinate(px($0.0)) + "," + coordinate(py($0.1)) }.joined(separator: " "))\" "
                + "fill=\"none\" stroke=\"\(colors.best)\" stroke-width=\"1.5\"/>\n"
        }
        for point in points {
            let kind = point.status == RunStatusName.completed ? "completed" : point.status == RunStatusName.pruned ? "pruned" : "other"
            let paint = kind == "completed" ? "fill=\"\(colors.completed)\"" : kind == "pruned" ? "fill=\"none\" stroke=\"\(colors.pruned)\" stroke-width=\"1.5\""
                : "fill=\"\(colors.other)\""
            svg += "<circle class=\"point \(kind)\" data-trial=\"\(point.trial)\" cx=\"\(coordinate(px(point.x)))\" cy=\"\(coordinate(py(point.y)))\" r=\"\(kind == "other" ? 3 : 4)\" \(paint)>"
                + "<title>trial \(point.trial) (\(escape(point.status))): \(Numbers.fixed(point.y))</title></circle>\n"
        }
        svg += "</svg>\n<figcaption>" + legend(best: !best.isEmpty) + "</figcaption>\n</figure>\n"
        return svg
    }

    static func legend(best: Bool) -> String {
        func key(_ mark: String, _ text: String) -> String {
            "<span class=\"key\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\">\(mark)</svg> \(text)</span>"
        }
        var keys = [key("<circle cx=\"5\" cy=\"5\" r=\"4\" fill=\"\(colors.completed)\"/>", "completed"),
                    key("<circle cx=\"5\" cy=\"5\" r=\"3.5\" fill=\"none\" stroke=\"\(colors.pruned)\" stroke-width=\"1.5\"/>", "pruned (its last value)"),
                    key("<circle cx=\"5\" cy=\"5\" r=\"3\" fill=\"\(colors.other)\"/>", "running or stopped (so far)")]
        if best { keys.append(key("<line x1=\"0\" y1=\"5\" x2=\"10\" y2=\"5\" stroke=\"\(colors.best)\" stroke-width=\"2\"/>", "best completed so far")) }
        return keys.joined(separator: " ")
    }
}
