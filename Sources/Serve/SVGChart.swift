import Foundation
import Reports

/// A line chart as inline SVG: round-number ticks on both axes (`NiceScale`), one polyline per
/// series, and for noisy series (training loss, gradient norms) an exponential moving average
/// drawn over the raw series, which stays visible faintly. `app.js` draws the same chart again
/// from JSON as a run records more (`drawChart`): keep the two in step.
struct SVGChart: Sendable {
    struct Series: Sendable {
        var name: String
        var points: [(x: Double, y: Double)]
    }

    var title: String
    var xLabel: String
    var series: [Series]
    var logarithmic = false
    /// Weight of the past in the moving average, 0 (none) to below 1.
    var smoothing = 0.0

    static let width = 480.0, height = 280.0
    static let margin = (left: 60.0, right: 14.0, top: 30.0, bottom: 42.0)
    /// Points drawn per series at most: a chart 400 pixels wide shows no more.
    static let maxPoints = 800
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]

    /// The exponential moving average of `values`, corrected for its start at zero (as
    /// TensorBoard's smoothing is), so the first points are not pulled down.
    static func smoothed(_ values: [Double], weight: Double) -> [Double] {
        guard weight > 0 else { return values }
        var average = 0.0, correction = 1.0
        return values.map { value in
            average = average * weight + (1 - weight) * value
            correction *= weight
            return average / (1 - correction)
        }
    }

    /// At most `limit` points, evenly spaced, always keeping the last.
    static func thinned(_ points: [(x: Double, y: Double)], limit: Int) -> [(x: Double, y: Double)] {
        guard points.count > limit, limit > 1 else { return points }
        let stride = Double(points.count - 1) / Double(limit - 1)
        return (0..<limit).map { points[Int((Double($0) * stride).rounded())] }
    }

    func usable(_ points: [(x: Double, y: Double)]) -> [(x: Double, y: Double)] {
        points.filter { $0.x.isFinite && $0.y.isFinite && (!logarithmic || $0.y > 0) }
    }

    /// The chart; `attributes` go on the `<figure>` (the data `app.js` needs to redraw it).
    func render(attributes: String = "") -> String {
        let (w, h, m) = (Self.width, Self.height, Self.margin)
        var svg = "<figure class=\"chart\"\(attributes)>\n"
        svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" width=\"\(Int(w))\" height=\"\(Int(h))\" role=\"img\" aria-label=\"\(HTML.escape(title))\">\n"
        svg += "<text class=\"title\" x=\"\(Int(m.left))\" y=\"18\">\(HTML.escape(title))\(logarithmic ? " (log scale)" : "")</text>\n"
        let all = series.flatMap { usable($0.points) }
        guard let minX = all.map(\.x).min(), let maxX = all.map(\.x).max(),
              let minY = all.map(\.y).min(), let maxY = all.map(\.y).max() else {
            return svg + "<text class=\"empty\" x=\"\(Int(w / 2))\" y=\"\(Int(h / 2))\" text-anchor=\"middle\">no data yet</text>\n</svg>\n</figure>\n"
        }
        // x is a step or an epoch in every chart here: whole-number ticks.
        let xScale = NiceScale(minimum: minX, maximum: maxX, count: 6, integral: true)
        let yScale = NiceScale(minimum: minY, maximum: maxY, count: 5, logarithmic: logarithmic)
        let plotWidth = w - m.left - m.right, plotHeight = h - m.top - m.bottom
        func px(_ x: Double) -> Double { m.left + xScale.position(x) * plotWidth }
        func py(_ y: Double) -> Double { h - m.bottom - yScale.position(y) * plotHeight }

        svg += "<g class=\"axis y\">\n"
        for tick in yScale.ticks {
            let y = h - m.bottom - (tick - yScale.low) / (yScale.high - yScale.low) * plotHeight
            svg += "<line x1=\"\(Int(m.left))\" x2=\"\(Int(w - m.right))\" y1=\"\(Self.coordinate(y))\" y2=\"\(Self.coordinate(y))\"/>"
            svg += "<text x=\"\(Int(m.left - 5))\" y=\"\(Self.coordinate(y + 4))\" text-anchor=\"end\">\(yScale.label(tick))</text>\n"
        }
        svg += "</g>\n<g class=\"axis x\">\n"
        for tick in xScale.ticks {
            let x = m.left + (tick - xScale.low) / (xScale.high - xScale.low) * plotWidth
            svg += "<line x1=\"\(Self.coordinate(x))\" x2=\"\(Self.coordinate(x))\" y1=\"\(Int(m.top))\" y2=\"\(Int(h - m.bottom))\"/>"
            svg += "<text x=\"\(Self.coordinate(x))\" y=\"\(Int(h - m.bottom + 15))\" text-anchor=\"middle\">\(xScale.label(tick))</text>\n"
        }
        svg += "<text class=\"label\" x=\"\(Int(m.left + plotWidth / 2))\" y=\"\(Int(h - 6))\" text-anchor=\"middle\">\(HTML.escape(xLabel))</text>\n</g>\n"

        for (index, line) in series.enumerated() {
            let color = Self.palette[index % Self.palette.count]
            let points = usable(line.points)
            guard !points.isEmpty else { continue }
            func polyline(_ points: [(x: Double, y: Double)], raw: Bool) -> String {
                let drawn = Self.thinned(points, limit: Self.maxPoints)
                let coordinates = drawn.map { Self.coordinate(px($0.x)) + "," + Self.coordinate(py($0.y)) }.joined(separator: " ")
                return "<polyline class=\"series\(raw ? " raw" : "")\" data-series=\"\(HTML.escape(line.name))\" data-points=\"\(drawn.count)\" "
                    + "points=\"\(coordinates)\" fill=\"none\" stroke=\"\(color)\"/>\n"
            }
            if smoothing > 0, points.count > 2 {
                // Smoothed in the axis's own units: on a log scale, the average of the logarithms.
                let ys = points.map { logarithmic ? log10($0.y) : $0.y }
                let average = Self.smoothed(ys, weight: smoothing)
                let smooth = zip(points, average).map { (x: $0.x, y: logarithmic ? pow(10, $1) : $1) }
                svg += polyline(points, raw: true) + polyline(smooth, raw: false)
            } else {
                svg += polyline(points, raw: false)
            }
            if points.count == 1 {
                svg += "<circle cx=\"\(Self.coordinate(px(points[0].x)))\" cy=\"\(Self.coordinate(py(points[0].y)))\" r=\"2.5\" fill=\"\(color)\"/>\n"
            }
        }
        svg += "</svg>\n<figcaption>" + series.enumerated().map { index, line in
            "<span class=\"key\"><svg width=\"10\" height=\"10\"><rect width=\"10\" height=\"10\" fill=\"\(Self.palette[index % Self.palette.count])\"/></svg> \(HTML.escape(line.name))</span>"
        }.joined(separator: " ") + "</figcaption>\n</figure>\n"
        return svg
    }

    /// A pixel coordinate with one decimal.
    static func coordinate(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return (tenths < 0 ? "-" : "") + "\(abs(tenths) / 10).\(abs(tenths) % 10)"
    }
}
