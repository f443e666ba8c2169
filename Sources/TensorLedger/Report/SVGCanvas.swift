// A few SVG primitives for the report's charts: text escaped, numbers short, every data
// mark with a <title> (read on hover and by screen readers) and the class "mark" the
// browser test counts.

import TensorLedgerCore

struct SVGCanvas {
    let id: String
    let width: Double
    var height: Double
    private var body: [String] = []

    init(id: String, width: Double, height: Double) {
        (self.id, self.width, self.height) = (id, width, height)
    }

    /// A data mark: a rectangle with its figure as a title.
    mutating func mark(x: Double, y: Double, width w: Double, height h: Double, fill: String, title: String, opacity: Double = 1) {
        let o = opacity < 1 ? " fill-opacity=\"\(n(opacity))\"" : ""
        body.append("<rect class=\"mark\" x=\"\(n(x))\" y=\"\(n(y))\" width=\"\(n(max(w, 0)))\" height=\"\(n(max(h, 0)))\" fill=\"\(fill)\"\(o)><title>\(escapeHTML(title))</title></rect>")
    }

    /// A data line through `points`.
    mutating func line(_ points: [(Double, Double)], stroke: String, title: String) {
        let d = points.enumerated().map { i, p in (i == 0 ? "M" : "L") + "\(n(p.0)) \(n(p.1))" }.joined(separator: " ")
        body.append("<path class=\"mark\" d=\"\(d)\" fill=\"none\" stroke=\"\(stroke)\" stroke-width=\"2.5\"><title>\(escapeHTML(title))</title></path>")
    }

    /// A guide that is not data (an axis, a limit).
    mutating func rule(x1: Double, y1: Double, x2: Double, y2: Double, stroke: String = "#999", dashed: Bool = false) {
        let dash = dashed ? " stroke-dasharray=\"6 4\"" : ""
        body.append("<line x1=\"\(n(x1))\" y1=\"\(n(y1))\" x2=\"\(n(x2))\" y2=\"\(n(y2))\" stroke=\"\(stroke)\"\(dash)/>")
    }

    enum Anchor: String { case start, middle, end }

    mutating func text(_ s: String, x: Double, y: Double, anchor: Anchor = .start, size: Double = 12, fill: String = "#222",
                       bold: Bool = false) {
        let weight = bold ? " font-weight=\"600\"" : ""
        body.append("<text x=\"\(n(x))\" y=\"\(n(y))\" text-anchor=\"\(anchor.rawValue)\" font-size=\"\(n(size))\" fill=\"\(fill)\"\(weight)>\(escapeHTML(s))</text>")
    }

    /// A horizontal colour ramp from `stops` (left to right), for a heat map's legend.
    mutating func ramp(_ stops: [String], x: Double, y: Double, width w: Double, height h: Double) {
        let gradient = "\(id)-ramp"
        let stopTags = stops.enumerated().map { i, c in
            "<stop offset=\"\(n(Double(i) / Double(max(stops.count - 1, 1))))\" stop-color=\"\(c)\"/>"
        }.joined()
        body.append("<defs><linearGradient id=\"\(gradient)\">\(stopTags)</linearGradient></defs>")
        body.append("<rect x=\"\(n(x))\" y=\"\(n(y))\" width=\"\(n(w))\" height=\"\(n(h))\" fill=\"url(#\(gradient))\" stroke=\"#bbb\"/>")
    }

    /// The finished <svg>, labelled for screen readers by `label`.
    func render(label: String) -> String {
        "<svg id=\"\(id)\" role=\"img\" aria-labelledby=\"\(id)-title\" viewBox=\"0 0 \(n(width)) \(n(height))\" width=\"\(n(width))\" height=\"\(n(height))\" font-family=\"inherit\">"
            + "<title id=\"\(id)-title\">\(escapeHTML(label))</title>" + body.joined(separator: "\n") + "</svg>"
    }

    /// Coordinates to one decimal: enough for a screen, short in the file.
    private func n(_ x: Double) -> String { formatFixed(x, 1).replacingSuffix(".0") }
}

extension String {
    fileprivate func replacingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
}

/// Text safe inside HTML and SVG elements and attributes: names come from model files.
/// Control characters (which XML forbids) become U+FFFD.
func escapeHTML(_ s: String) -> String {
    var out = ""
    out.reserveCapacity(s.utf8.count)
    for ch in s.unicodeScalars {
        switch ch {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        case "\t", "\n": out.unicodeScalars.append(ch)
        default: out.unicodeScalars.append(ch.value < 0x20 || (0x7f...0x9f).contains(ch.value) ? "\u{FFFD}" : ch)
        }
    }
    return out
}

/// Interpolates between colour stops ("#rrggbb"), t in 0...1.
func colour(_ stops: [String], at t: Double) -> String {
    let rgb = stops.map { s -> [Double] in
        let v = Int(s.dropFirst(), radix: 16) ?? 0
        return [Double((v >> 16) & 255), Double((v >> 8) & 255), Double(v & 255)]
    }
    let x = min(max(t.isFinite ? t : 0, 0), 1) * Double(rgb.count - 1)
    let i = min(Int(x), rgb.count - 2), f = x - Double(i)
    let c = (0..<3).map { Int((rgb[i][$0] * (1 - f) + rgb[i + 1][$0] * f).rounded()) }
    return "#" + c.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

/// Axis ticks: 1, 2 or 5 times a power of ten, about `count` of them up to `max`.
func niceTicks(upTo max: Double, count: Int = 5) -> [Double] {
    guard max > 0, max.isFinite else { return [0] }
    let raw = max / Double(count)
    var power = 1.0
    while power * 10 <= raw { power *= 10 }
    while power > raw { power /= 10 }
    let step = [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= raw } ?? power * 10
    return stride(from: 0, through: max * 1.0001, by: step).map { $0 }
}
