// Number and table formatting shared by every human-readable report.

/// 124439808 → "124,439,808".
public func formatCount(_ n: Int) -> String {
    let digits = String(n.magnitude)
    var out = ""
    for (i, ch) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return n < 0 ? "-" + out : out
}

/// Bytes in binary units with one decimal: "474.7 MiB".
public func formatBytes(_ n: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = Double(n)
    var u = 0
    while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
    return u == 0 ? "\(n) B" : "\(formatFixed(v, 1)) \(units[u])"
}

/// A fixed-point rendering without Foundation: formatFixed(3.14159, 2) == "3.14".
public func formatFixed(_ x: Double, _ decimals: Int) -> String {
    guard x.isFinite else { return x.isNaN ? "nan" : (x > 0 ? "inf" : "-inf") }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = (abs(x) * scale).rounded()
    guard scaled < 9e18 else { return "\(x)" }
    let whole = Int(scaled) / Int(scale)
    let frac = Int(scaled) % Int(scale)
    var s = (x < 0 && scaled != 0 ? "-" : "") + String(whole)
    if decimals > 0 {
        let f = String(frac)
        s += "." + String(repeating: "0", count: decimals - f.count) + f
    }
    return s
}

/// A percentage with one decimal: "31.0%".
public func formatPercent(_ part: Int, of whole: Int) -> String {
    guard whole > 0 else { return "0.0%" }
    return formatFixed(100 * Double(part) / Double(whole), 1) + "%"
}

/// Columns aligned by display width; numbers right-aligned.
public struct TextTable {
    public enum Alignment { case left, right }
    public var headers: [String]
    public var alignments: [Alignment]
    public var rows: [[String]] = []

    public init(headers: [String], alignments: [Alignment]) {
        self.headers = headers
        self.alignments = alignments
    }

    /// A row; cells hold names from files, so their control characters are escaped.
    public mutating func add(_ row: [String]) { rows.append(row.map { terminalSafe($0) }) }

    /// The table; given a `width` (a terminal's), the `wrapping` columns are narrowed to
    /// fit it, their text wrapped at spaces onto the lines below.
    public func render(width: Int? = nil, wrapping: [Int] = []) -> String {
        var widths = headers.map { $0.count }
        for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
        if let width {
            // The widest wrapping column gives up a character at a time, down to its header.
            var excess = widths.reduce(2 * (widths.count - 1), +) - width
            while excess > 0, let i = wrapping.filter({ widths[$0] > max(10, headers[$0].count) }).max(by: { widths[$0] < widths[$1] }) {
                widths[i] -= 1
                excess -= 1
            }
        }
        func line(_ cells: [String]) -> String {
            var parts: [String] = []
            for (i, c) in cells.enumerated() {
                let pad = String(repeating: " ", count: max(0, widths[i] - c.count))
                parts.append(alignments[i] == .right ? pad + c : (i == cells.count - 1 ? c : c + pad))
            }
            return parts.joined(separator: "  ")
        }
        func lines(_ cells: [String]) -> [String] {
            let wrapped = cells.enumerated().map { i, c in wrapping.contains(i) ? wrap(c, width: widths[i]) : [c] }
            let height = wrapped.map(\.count).max() ?? 1
            return (0..<height).map { k in line(wrapped.map { k < $0.count ? $0[k] : "" }) }
        }
        var out = [line(headers), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")]
        for r in rows { out += lines(r) }
        return out.joined(separator: "\n")
    }

    /// `text` in lines of at most `width` characters, broken at spaces where it can be.
    private func wrap(_ text: String, width: Int) -> [String] {
        guard text.count > width else { return [text] }
        var out: [String] = [], current = ""
        for word in text.split(separator: " ", omittingEmptySubsequences: false) {
            var word = Substring(word)
            if !current.isEmpty && current.count + 1 + word.count > width { out.append(current); current = "" }
            while word.count > width { out.append(String(word.prefix(width))); word = word.dropFirst(width) }
            current += (current.isEmpty ? "" : " ") + word
        }
        if !current.isEmpty { out.append(current) }
        return out
    }
}

/// Names in the order a person expects: runs of digits compared as numbers, so
/// `h.2` comes before `h.10` (the files list them as strings sort, `h.10` first).
public func naturallyPrecedes(_ a: String, _ b: String) -> Bool {
    var i = a.utf8.makeIterator(), j = b.utf8.makeIterator()
    var x = i.next(), y = j.next()
    func isDigit(_ c: UInt8?) -> Bool { c.map { $0 >= 48 && $0 <= 57 } ?? false }
    while let p = x, let q = y {
        if isDigit(p) && isDigit(q) {
            // Compare the two numbers: leading zeros dropped, then by length, then digit by digit.
            var m: [UInt8] = [], n: [UInt8] = []
            while isDigit(x) { if !(m.isEmpty && x == 48) { m.append(x!) }; x = i.next() }
            while isDigit(y) { if !(n.isEmpty && y == 48) { n.append(y!) }; y = j.next() }
            if m.count != n.count { return m.count < n.count }
            if m != n { return m.lexicographicallyPrecedes(n) }
            continue
        }
        if p != q { return p < q }
        x = i.next(); y = j.next()
    }
    return x == nil && y != nil
}
