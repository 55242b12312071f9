/// Terminal charts: sparklines and multi-series line charts drawn with braille dots (2×4 dots
/// per character cell, so a 60×12 chart has 120×48 points).
public enum Chart {
    static let sparks: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

    /// One character per value (resampled to `width`), scaled between the series' min and max.
    public static func sparkline(_ values: [Double], width: Int = 40) -> String {
        let finite = values.filter(\.isFinite)
        guard let low = finite.min(), let high = finite.max(), !values.isEmpty else { return "" }
        let sampled = resample(values, to: min(width, values.count))
        return String(sampled.map { v in
            guard v.isFinite else { return " " }
            let t = high > low ? (v - low) / (high - low) : 0.5
            return sparks[min(sparks.count - 1, Int(t * Double(sparks.count - 1) + 0.5))]
        })
    }

    static func resample(_ values: [Double], to count: Int) -> [Double] {
        guard values.count > count, count > 0 else { return values }
        return (0..<count).map { i in
            let start = i * values.count / count, end = max(start + 1, (i + 1) * values.count / count)
            let slice = values[start..<end].filter(\.isFinite)
            return slice.isEmpty ? .nan : slice.reduce(0, +) / Double(slice.count)
        }
    }

    public struct Series: Sendable {
        public var name: String
        public var points: [(x: Double, y: Double)]
        public init(name: String, points: [(x: Double, y: Double)]) { self.name = name; self.points = points }
    }

    static let markers: [Character] = ["●", "○", "■", "□", "▲", "△", "◆", "◇"]

    /// A line chart of several series on shared axes; each series gets its own marker in the
    /// legend, and cells where several series meet show the first.
    public static func lines(_ series: [Series], width: Int = 60, height: Int = 12, title: String = "") -> String {
        let all = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        guard let minX = all.map(\.x).min(), let maxX = all.map(\.x).max(),
              let minY = all.map(\.y).min(), let maxY = all.map(\.y).max() else { return "\(title)\n  (no data)\n" }
        let dotsX = width * 2, dotsY = height * 4
        var owner = [[Int?]](repeating: [Int?](repeating: nil, count: width), count: height)
        var dots = [[UInt8]](repeating: [UInt8](repeating: 0, count: width), count: height)
        // Braille dot bits for (column 0/1, row 0...3).
        let bit: [[UInt8]] = [[0x01, 0x02, 0x04, 0x40], [0x08, 0x10, 0x20, 0x80]]
        func plot(_ px: Int, _ py: Int, _ s: Int) {
            guard px >= 0, px < dotsX, py >= 0, py < dotsY else { return }
            let cx = px / 2, cy = (dotsY - 1 - py) / 4
            dots[cy][cx] |= bit[px % 2][(dotsY - 1 - py) % 4]
            if owner[cy][cx] == nil { owner[cy][cx] = s }
        }
        func scale(_ v: Double, _ low: Double, _ high: Double, _ n: Int) -> Double {
            high > low ? (v - low) / (high - low) * Double(n - 1) : Double(n - 1) / 2
        }
        for (s, line) in series.enumerated() {
            let points = line.points.filter { $0.x.isFinite && $0.y.isFinite }.sorted { $0.x < $1.x }
            for (a, b) in zip(points, points.dropFirst()) {
                let (x0, y0) = (scale(a.x, minX, maxX, dotsX), scale(a.y, minY, maxY, dotsY))
                let (x1, y1) = (scale(b.x, minX, maxX, dotsX), scale(b.y, minY, maxY, dotsY))
                let steps = max(1, Int(max(abs(x1 - x0), abs(y1 - y0)).rounded(.up)))
                for t in 0...steps {
                    let f = Double(t) / Double(steps)
                    plot(Int((x0 + (x1 - x0) * f).rounded()), Int((y0 + (y1 - y0) * f).rounded()), s)
                }
            }
            if points.count == 1 { plot(Int(scale(points[0].x, minX, maxX, dotsX)), Int(scale(points[0].y, minY, maxY, dotsY)), s) }
        }
        func label(_ v: Double) -> String {
            let a = abs(v)
            let text = a != 0 && (a < 1e-3 || a >= 1e5) ? String(format: "%.2e", v) : String(format: "%.4g", v)
            return String(repeating: " ", count: max(0, 9 - text.count)) + text
        }
        var out = title.isEmpty ? "" : title + "\n"
        for row in 0..<height {
            let axis = row == 0 ? label(maxY) : row == height - 1 ? label(minY) : String(repeating: " ", count: 9)
            // One series: braille dots, the finest resolution. Several: each cell shows the marker of
            // the first series through it, so the lines stay distinguishable without colour.
            let cells = (0..<width).map { c -> String in
                guard dots[row][c] != 0 else { return " " }
                if series.count > 1, let s = owner[row][c] { return lineStyle(s) }
                return String(Character(Unicode.Scalar(0x2800 + UInt32(dots[row][c])) ?? " "))
            }.joined()
            out += axis + " ┤" + cells + "\n"
        }
        out += String(repeating: " ", count: 10) + "└" + String(repeating: "─", count: width) + "\n"
        let left = label(minX).trimmingCharacters(in: .whitespaces), right = label(maxX).trimmingCharacters(in: .whitespaces)
        out += String(repeating: " ", count: 11) + left + String(repeating: " ", count: max(1, width - left.count - right.count)) + right + "\n"
        if series.count > 1 || !(series.first?.name.isEmpty ?? true) {
            out += String(repeating: " ", count: 11) + series.enumerated().map { i, s in
                "\(lineStyle(i)) \(s.name)"
            }.joined(separator: "   ") + "\n"
        }
        return out
    }

    static func lineStyle(_ index: Int) -> String { String(markers[index % markers.count]) }
}

import Foundation
