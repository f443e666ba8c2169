// The report as one self-contained HTML page: inline CSS and SVG, no script, nothing
// fetched, readable offline and printable. One section per question, each chart drawn
// from ModelReport's figures alone.

import TensorLedgerCore
import TensorLedgerModels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum ReportPage {
    /// The generator tag: a file that carries it is a report this tool wrote, which a new
    /// report may replace without --force.
    static let generator = "tensorledger report"

    /// Marks each chart holds (rectangles and lines with class "mark"), by the chart's id:
    /// what the browser test expects to find in the rendered page.
    public static func expectedMarks(_ r: ModelReport) -> [String: Int] {
        var marks = ["ledger-bars": ledgerRows(r.ledger).count * (r.ledger.activeParameters == nil ? 1 : 2),
                     "layer-columns": r.ledger.layers.reduce(0) { $0 + $1.parameters.values.filter { $0 > 0 }.count }]
        if let q = r.quantization { marks["quantization-map"] = q.cells.count }
        if let c = r.comparison { marks["change-map"] = c.cells.count }
        if let m = r.memory { marks["memory-lines"] = m.series.count }
        return marks
    }

    /// Writes the page whole or not at all. An existing file is replaced only with `force`
    /// or when it is an earlier report (so a report is simply made again); never an input.
    public static func write(_ r: ModelReport, to path: String, force: Bool, protecting inputs: [String]) throws {
        let bytes = Array(html(r).utf8)
        let writer = try AtomicFileWriter(path: path, overwrite: force || isReport(path), protecting: inputs)
        do {
            try writer.write(bytes)
            try writer.commit()
        } catch {
            writer.abandon()
            throw error
        }
    }

    /// Whether `write` may write `path`, asked before the work that fills it.
    public static func checkTarget(_ path: String, force: Bool, protecting inputs: [String]) throws {
        try AtomicFileWriter.checkTarget(path, overwrite: force || isReport(path), protecting: inputs)
    }

    /// Whether `path` is a page this tool wrote: its generator tag in the first bytes.
    static func isReport(_ path: String) -> Bool {
        guard let (fd, _) = try? openRegularFile(path) else { return false }
        defer { close(fd) }
        var head = [UInt8](repeating: 0, count: 512)
        let n = pread(fd, &head, head.count, 0)
        return n > 0 && String(decoding: head[0..<n], as: UTF8.self).contains("<meta name=\"generator\" content=\"\(generator) ")
    }

    public static func html(_ r: ModelReport) -> String {
        let name = lastPathComponent(r.source)
        var sections = [header(r), ledgerSection(r), layerSection(r)]
        sections.append(quantizationSection(r))
        if let c = r.comparison { sections.append(comparisonSection(c)) }
        sections.append(memorySection(r))
        return """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="generator" content="\(generator) \(TensorLedgerVersion.string)">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escapeHTML(name)): TensorLedger report</title>
        <style>\(css)</style>
        </head>
        <body>
        \(sections.joined(separator: "\n"))
        <footer id="end">Made by tensorledger \(TensorLedgerVersion.string) in \(formatFixed(r.seconds, 1)) s. The figures are in <code>tensorledger report --json</code>; hover over a mark to read it.</footer>
        </body>
        </html>

        """
    }

    static let css = """
    body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;max-width:900px;margin:2em auto;padding:0 1em}
    h1{font-size:1.6em;margin:0 0 .2em}h2{font-size:1.2em;margin:2em 0 .4em;border-bottom:1px solid #ddd}
    .facts{color:#555}p.note{color:#666;font-size:.92em}
    table{border-collapse:collapse;font-size:.92em;margin:.6em 0}td,th{padding:.15em .7em;text-align:left}
    td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}tr:nth-child(even){background:#f6f6f6}
    figure{margin:.6em 0;break-inside:avoid}svg{max-width:100%;height:auto}
    .legend span{display:inline-block;margin-right:1em;font-size:.9em}.legend i{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:-1px}
    code{font-size:.95em}footer{margin-top:3em;color:#777;font-size:.85em}
    @media print{body{margin:0;max-width:none}h2{break-after:avoid}}
    """

    // MARK: Sections

    static func header(_ r: ModelReport) -> String {
        let l = r.ledger
        var facts: [String] = []
        if let c = l.config {
            facts.append("\(c.record.displayName), \(c.layers) layers, d_model \(formatCount(c.hiddenSize)), \(c.heads) heads"
                + (c.kvHeads != c.heads ? " (\(c.kvHeads) key/value)" : "") + (c.experts > 0 ? ", \(c.experts) experts (\(c.expertsPerToken) per token)" : ""))
        } else if let f = l.family {
            facts.append(f.rawValue + " (no configuration beside the weights)")
        }
        facts.append("\(formatCount(l.uniqueParameters)) parameters" + (l.activeParameters.map { ", \(formatCount($0)) active per token" } ?? ""))
        facts.append(l.bytesByDType.map { "\(formatBytes($0.bytes)) \($0.dtype)" }.joined(separator: ", "))
        let warnings = r.warnings.map { "<p class=\"note\">Note: \(escapeHTML($0))</p>" }.joined()
        return "<header><h1>\(escapeHTML(lastPathComponent(r.source)))</h1><div class=\"facts\">\(escapeHTML(r.source))<br>"
            + facts.map(escapeHTML).joined(separator: " · ") + "</div>\(warnings)</header>"
    }

    /// The ledger's rows that hold parameters, in its order.
    static func ledgerRows(_ l: Ledger) -> [LedgerRow] { l.rows.filter { $0.parameters > 0 } }

    static func ledgerSection(_ r: ModelReport) -> String {
        let l = r.ledger, rows = ledgerRows(l), moe = l.activeParameters != nil
        let largest = Double(rows.map(\.parameters).max() ?? 1), total = l.gpt3StyleTotal
        let rowHeight = moe ? 34.0 : 24.0, labelWidth = 130.0, barWidth = 480.0
        var svg = SVGCanvas(id: "ledger-bars", width: 860, height: Double(rows.count) * rowHeight + 8)
        for (i, row) in rows.enumerated() {
            let y = Double(i) * rowHeight + 4, c = row.category.rawValue
            let w = barWidth * Double(row.parameters) / largest
            svg.text(c + (row.tied ? " (tied)" : ""), x: labelWidth - 8, y: y + 14, anchor: .end)
            let what = "\(c): \(formatCount(row.parameters)) parameters, \(formatPercent(row.parameters, of: total)), \(formatCount(row.matrices)) matrices"
                + (row.tied ? "; the embedding matrix read again (tied), not stored twice" : "")
            if moe {
                let active = l.activeParameters(row.category)
                svg.mark(x: labelWidth, y: y, width: w, height: 14, fill: categoryColour(c), title: what, opacity: 0.45)
                svg.mark(x: labelWidth, y: y + 16, width: barWidth * Double(active) / largest, height: 10, fill: categoryColour(c),
                         title: "\(c): \(formatCount(active)) parameters used per token")
            } else {
                svg.mark(x: labelWidth, y: y, width: w, height: 16, fill: categoryColour(c), title: what, opacity: row.tied ? 0.45 : 1)
            }
            svg.text("\(formatCount(row.parameters))  \(formatPercent(row.parameters, of: total))", x: labelWidth + w + 6, y: y + 13, size: 11, fill: "#555")
        }
        var note = "Every matrix sorted into the GPT-3 walkthrough's eight categories (Key, Query and Value one matrix per head); norms, biases and anything else under Other. Shares are of \(formatCount(total)) parameters"
            + (l.tiedEmbeddings ? ", the tied unembedding counted again as GPT-3's table counts it." : ".")
        if !l.unmatched.isEmpty { note += " No rule names these, counted under Other: " + Ledger.abbreviatedList(l.unmatched, limit: 8) + "." }
        if moe { note += " The pale bar is every parameter, the dark one what one token uses: its \(l.config!.expertsPerToken) of \(l.config!.experts) experts." }
        return section("Where the parameters are", svg.render(label: "Parameters per category"), note)
    }

    static func layerSection(_ r: ModelReport) -> String {
        let layers = r.ledger.layers
        guard !layers.isEmpty else { return section("Parameters per layer", "", "No tensor names a layer.") }
        let groups = LedgerCategory.allCases.filter { c in layers.contains { ($0.parameters[c] ?? 0) > 0 } }
        let left = 90.0, plotWidth = 740.0, plotHeight = 220.0, top = 10.0
        let largest = Double(layers.map(\.total).max() ?? 1)
        let slot = plotWidth / Double(layers.count), barWidth = max(slot * 0.8, 1)
        var svg = SVGCanvas(id: "layer-columns", width: 860, height: plotHeight + top + 40)
        for tick in niceTicks(upTo: largest, count: 4) {
            let y = top + plotHeight * (1 - tick / largest)
            svg.rule(x1: left, y1: y, x2: left + plotWidth, y2: y, stroke: "#eee")
            svg.text(formatCount(Int(tick)), x: left - 6, y: y + 4, anchor: .end, size: 11, fill: "#666")
        }
        let every = max(1, Int((Double(layers.count) / 16).rounded(.up)))
        for (i, layer) in layers.enumerated() {
            var y = top + plotHeight
            let x = left + Double(i) * slot + (slot - barWidth) / 2
            for c in groups {
                guard let p = layer.parameters[c], p > 0 else { continue }
                let h = plotHeight * Double(p) / largest
                y -= h
                svg.mark(x: x, y: y, width: barWidth, height: h, fill: categoryColour(c.rawValue),
                         title: "layer \(layer.layer), \(c.rawValue): \(formatCount(p)) parameters")
            }
            if i % every == 0 { svg.text(String(layer.layer), x: x + barWidth / 2, y: top + plotHeight + 16, anchor: .middle, size: 11, fill: "#666") }
        }
        svg.rule(x1: left, y1: top + plotHeight, x2: left + plotWidth, y2: top + plotHeight)
        svg.text("layer", x: left + plotWidth / 2, y: top + plotHeight + 34, anchor: .middle, size: 11, fill: "#666")
        return section("Parameters per layer", svg.render(label: "Parameters per layer, stacked by category") + legend(groups.map(\.rawValue)),
                       "Each column is one layer, stacked by category; the embedding and unembedding are in no layer.")
    }

    static func quantizationSection(_ r: ModelReport) -> String {
        guard let q = r.quantization else {
            return section("Quantization error", "", "No quantization error was measured: \(r.quantizationSkipped ?? "not asked for").")
        }
        // One scale for every report (10 to 50 dB, wider if the figures are), so pages compare by eye.
        let snrs = q.cells.compactMap(\.value)
        let low = min(10, (snrs.min() ?? 10).rounded(.down)), high = max(50, (snrs.max() ?? 50).rounded(.up))
        let map = heatMap(id: "quantization-map", cells: q.cells, stops: snrStops, scale: { ($0 - low) / (high - low) }, text: { v in
            v.map { formatFixed($0, 1) } ?? "exact"
        }, title: { c in
            "\(c.layer.map { "layer \($0)" } ?? "whole model"), \(c.group) in \(c.types.joined(separator: " and ")): SNR " + (c.value.map { formatFixed($0, 1) + " dB" } ?? "exact")
                + " over \(formatCount(c.parameters)) weights in \(c.tensors) tensor\(c.tensors == 1 ? "" : "s")"
        }, legend: (formatFixed(low, 0) + " dB: most error", formatFixed(high, 0) + " dB: least"))
        let total = q.total.count == 0 ? "none (no matrix to quantize)" : q.total.snrDecibels.isFinite ? formatFixed(q.total.snrDecibels, 1) + " dB" : "exact"
        let worst = r.worstQuantized(8).map { i in
            ["<code>\(escapeHTML(i.source.name))</code>", escapeHTML(i.scheme.blockType?.name ?? i.scheme.rawValue), formatFixed(i.quality!.snrDecibels, 1),
             ConversionReport.scientific(i.quality!.rmse)]
        }
        let c = q.conversion
        let note = "Each matrix quantized to \(escapeHTML(q.scheme)) as <code>convert --weights \(escapeHTML(q.scheme)) --report</code> would (nothing written): signal-to-noise ratio of the weights, per layer and category; darker is worse. All quantized tensors: SNR \(total). \(formatBytes(c.inputBytes)) would become \(formatBytes(c.outputBytes)); measured in \(formatFixed(c.seconds, 1)) s. Tensors kept in float have no cell."
            + (c.items.contains { $0.sourceBlocks != nil } ? " The source is already quantized: the error is against its own (dequantized) values, on top of the error it has." : "")
        return section("Quantization error, \(q.scheme)", map, note, html: true)
            + table(["Least accurate tensors", "Type", "SNR dB", "RMSE"], worst, numeric: [2, 3])
    }

    static func comparisonSection(_ c: ModelReport.Comparison) -> String {
        let values = c.cells.compactMap(\.value).filter { $0 > 0 }
        let low = values.min() ?? 1e-6, high = max(values.max() ?? 1, low * 1.0001)
        // A logarithmic scale where the changes span decades, as a fine-tune's do.
        let logarithmic = high / low >= 10
        let scale: (Double) -> Double = logarithmic ? { v in v > 0 ? log10(v / low) / log10(high / low) : 0 } : { $0 / high }
        let map = heatMap(id: "change-map", cells: c.cells, stops: changeStops, scale: scale, text: { v in v.map { percent($0) } ?? "∞" }, title: { cell in
            "\(cell.layer.map { "layer \($0)" } ?? "whole model"), \(cell.group): relative change " + (cell.value.map { percent($0) } ?? "infinite (A is zero)")
                + " over \(formatCount(cell.parameters)) weights"
        }, legend: ((logarithmic ? "" : "0: ") + percent(logarithmic ? low : 0), percent(high)))
        let rows = c.diff.mostChanged(c.top).map { t in
            ["<code>\(escapeHTML(t.name))</code>", escapeHTML(t.group), percent(t.sums.relativeChange), formatFixed(t.sums.cosine, 6)]
        }
        let note = "‖B − A‖ / ‖A‖ per layer and category, A this model and B <code>\(escapeHTML(c.diff.b))</code>; darker changed more\(logarithmic ? " (logarithmic colours)" : ""). Overall: \(percent(c.diff.total.relativeChange)), cosine \(formatFixed(c.diff.total.cosine, 6))."
            + (c.diff.onlyInA.isEmpty && c.diff.onlyInB.isEmpty ? "" : " Tensors only in A: \(c.diff.onlyInA.count); only in B: \(c.diff.onlyInB.count).")
        return section("What changed", map, note, html: true) + table(["Most changed tensors", "Category", "Change", "Cosine"], rows, numeric: [2, 3])
    }

    static func memorySection(_ r: ModelReport) -> String {
        guard let m = r.memory else { return section("Memory to run", "", "No configuration: the memory to run cannot be planned.") }
        let left = 90.0, plotWidth = 600.0, plotHeight = 260.0, top = 16.0
        let largest = Double(m.series.flatMap(\.bytes).max() ?? 1)
        // The machine's memory is drawn when it is near enough to the lines to read both.
        let machine = m.machineBytes.map(Double.init)
        let showMachine = machine.map { $0 <= largest * 4 } ?? false
        let yMax = max(largest, showMachine ? machine! * 1.05 : 0)
        let xMax = Double(m.contexts.last ?? 1)
        let gib = Double(1 << 30), unit = yMax >= gib ? gib : Double(1 << 20), unitName = yMax >= gib ? "GiB" : "MiB"
        var svg = SVGCanvas(id: "memory-lines", width: 860, height: plotHeight + top + 46)
        func px(_ x: Double, _ y: Double) -> (Double, Double) { (left + plotWidth * x / xMax, top + plotHeight * (1 - y / yMax)) }
        for tick in niceTicks(upTo: yMax / unit) {
            let y = px(0, tick * unit).1
            svg.rule(x1: left, y1: y, x2: left + plotWidth, y2: y, stroke: "#eee")
            svg.text(formatFixed(tick, tick < 10 && tick != tick.rounded() ? 1 : 0) + " " + unitName, x: left - 6, y: y + 4, anchor: .end, size: 11, fill: "#666")
        }
        for tick in niceTicks(upTo: xMax, count: 4) {
            let x = px(tick, 0).0
            svg.rule(x1: x, y1: top + plotHeight, x2: x, y2: top + plotHeight + 4)
            svg.text(formatCount(Int(tick)), x: x, y: top + plotHeight + 17, anchor: .middle, size: 11, fill: "#666")
        }
        svg.rule(x1: left, y1: top + plotHeight, x2: left + plotWidth, y2: top + plotHeight)
        svg.text("tokens of context", x: left + plotWidth / 2, y: top + plotHeight + 36, anchor: .middle, size: 11, fill: "#666")
        if let machine {
            if showMachine {
                let y = px(0, machine).1
                svg.rule(x1: left, y1: y, x2: left + plotWidth, y2: y, stroke: "#c0392b", dashed: true)
                svg.text("this machine: \(formatBytes(Int(machine)))", x: left + 4, y: y - 5, size: 11, fill: "#c0392b")
            } else {
                svg.text("this machine: \(formatBytes(Int(machine))), above the chart", x: left + 4, y: top + 2, size: 11, fill: "#c0392b")
            }
        }
        // Labels at the lines' ends, moved apart where lines end close together.
        var labels: [(y: Double, text: String, colour: String)] = []
        for (i, s) in m.series.enumerated() {
            let colour = seriesColours[i % seriesColours.count], name = s.names.joined(separator: " = ")
            let points = zip(m.contexts, s.bytes).map { px(Double($0), Double($1)) }
            svg.line(points, stroke: colour, title: "\(name): \(formatBytes(s.bytes.first ?? 0)) at \(formatCount(m.contexts.first ?? 0)) token, \(formatBytes(s.bytes.last ?? 0)) at \(formatCount(m.contexts.last ?? 0)) tokens")
            labels.append((points.last?.1 ?? 0, name, colour))
        }
        labels.sort { $0.y < $1.y }
        for i in labels.indices.dropFirst() where labels[i].y < labels[i - 1].y + 13 { labels[i].y = labels[i - 1].y + 13 }
        for l in labels { svg.text(l.text, x: left + plotWidth + 8, y: l.y + 4, size: 11, fill: l.colour, bold: true) }
        let note = "What <code>plan</code> counts to run the model at each context length, per weight scheme: the weights, the key/value cache in \(m.cache.rawValue) and the buffers. One line per scheme; schemes of equal size share one."
        return section("Memory to run", svg.render(label: "Memory to run by context length, per weight scheme"), note, html: true)
    }

    // MARK: Pieces

    /// A layer × group grid, one coloured cell per entry of `cells`.
    static func heatMap(id: String, cells: [ModelReport.Cell], stops: [String], scale: (Double) -> Double, text: (Double?) -> String,
                        title: (ModelReport.Cell) -> String, legend: (String, String)) -> String {
        let groups = ModelDiff.groupOrder.filter { g in cells.contains { $0.group == g } } + Set(cells.map(\.group)).subtracting(ModelDiff.groupOrder).sorted()
        var rows: [Int?] = cells.contains { $0.layer == nil } ? [nil] : []
        rows += Set(cells.compactMap(\.layer)).sorted().map { $0 }
        let left = 100.0, top = 22.0, cellWidth = min(84, 740 / Double(max(groups.count, 1))), cellHeight = rows.count > 40 ? 10.0 : 18.0
        var svg = SVGCanvas(id: id, width: 860, height: top + Double(rows.count) * cellHeight + 44)
        for (j, g) in groups.enumerated() {
            svg.text(shortGroup(g), x: left + (Double(j) + 0.5) * cellWidth, y: top - 7, anchor: .middle, size: 11)
        }
        let every = rows.count > 40 ? 4 : 1
        for (i, layer) in rows.enumerated() where i % every == 0 || layer == nil {
            svg.text(layer.map { "layer \($0)" } ?? "whole model", x: left - 6, y: top + Double(i) * cellHeight + cellHeight / 2 + 4, anchor: .end, size: 11, fill: "#555")
        }
        for cell in cells {
            guard let i = rows.firstIndex(where: { $0 == cell.layer }), let j = groups.firstIndex(of: cell.group) else { continue }
            let t = cell.value.map(scale) ?? 1
            let x = left + Double(j) * cellWidth, y = top + Double(i) * cellHeight
            svg.mark(x: x + 0.5, y: y + 0.5, width: cellWidth - 1, height: cellHeight - 1, fill: colour(stops, at: t), title: title(cell))
            if cellHeight >= 16 {
                svg.text(text(cell.value), x: x + cellWidth / 2, y: y + cellHeight / 2 + 4, anchor: .middle, size: 10.5,
                         fill: darkness(stops, at: t) ? "#fff" : "#222")
            }
        }
        let legendY = top + Double(rows.count) * cellHeight + 14
        svg.ramp(stops, x: left, y: legendY, width: 200, height: 10)
        svg.text(legend.0, x: left, y: legendY + 24, size: 11, fill: "#555")
        svg.text(legend.1, x: left + 200, y: legendY + 24, anchor: .end, size: 11, fill: "#555")
        return svg.render(label: "Heat map by layer and category")
    }

    static func section(_ title: String, _ figure: String, _ note: String, html: Bool = false) -> String {
        "<section><h2>\(escapeHTML(title))</h2>" + (figure.isEmpty ? "" : "<figure>\(figure)</figure>")
            + "<p class=\"note\">\(html ? note : escapeHTML(note))</p></section>"
    }

    /// A table of cells already escaped.
    static func table(_ headers: [String], _ rows: [[String]], numeric: Set<Int>) -> String {
        guard !rows.isEmpty else { return "" }
        let head = headers.enumerated().map { i, h in "<th\(numeric.contains(i) ? " class=\"n\"" : "")>\(escapeHTML(h))</th>" }.joined()
        let body = rows.map { r in "<tr>" + r.enumerated().map { i, c in "<td\(numeric.contains(i) ? " class=\"n\"" : "")>\(c)</td>" }.joined() + "</tr>" }
        return "<table><thead><tr>\(head)</tr></thead><tbody>\(body.joined())</tbody></table>"
    }

    static func legend(_ groups: [String]) -> String {
        "<div class=\"legend\">" + groups.map { "<span><i style=\"background:\(categoryColour($0))\"></i>\(escapeHTML($0))</span>" }.joined() + "</div>"
    }

    static func percent(_ x: Double) -> String {
        guard x.isFinite else { return "∞" }
        let p = 100 * x
        return (p >= 10 ? formatFixed(p, 0) : p >= 0.1 ? formatFixed(p, 1) : p >= 0.001 ? formatFixed(p, 3) : ConversionReport.scientific(p)) + "%"
    }

    static func shortGroup(_ g: String) -> String { g == ModelDiff.fusedGroup ? "Q+K+V" : g == "Down-projection" ? "Down-proj." : g == "Up-projection" ? "Up-proj." : g }

    // MARK: Colours

    static func categoryColour(_ group: String) -> String {
        switch group {
        case "Embedding": return "#4e79a7"
        case "Key": return "#f28e2b"
        case "Query": return "#e15759"
        case "Value": return "#76b7b2"
        case ModelDiff.fusedGroup: return "#b07aa1"
        case "Output": return "#59a14f"
        case "Up-projection": return "#edc948"
        case "Down-projection": return "#ff9da7"
        case "Unembedding": return "#9c755f"
        default: return "#bab0ac"
        }
    }

    /// Worst (least SNR) dark red to best pale.
    static let snrStops = ["#7f0000", "#d7301f", "#fc8d59", "#fdd49e", "#fff7ec"]
    /// No change pale to most change dark blue.
    static let changeStops = ["#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b"]
    static let seriesColours = ["#4e79a7", "#e15759", "#59a14f", "#f28e2b", "#b07aa1", "#9c755f", "#76b7b2"]

    /// Whether text on this colour should be white.
    static func darkness(_ stops: [String], at t: Double) -> Bool {
        let c = colour(stops, at: t)
        let v = Int(c.dropFirst(), radix: 16) ?? 0
        let luminance = 0.299 * Double((v >> 16) & 255) + 0.587 * Double((v >> 8) & 255) + 0.114 * Double(v & 255)
        return luminance < 140
    }
}
