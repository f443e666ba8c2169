// The ledger as people read it (an aligned table with footnotes) and as programs
// read it (versioned JSON). Both come from the same `Ledger` value.

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer

extension Ledger {
    public static let jsonSchema = "tensorledger.ledger/2"

    public var summaryLine: String {
        var parts: [String] = []
        if let name = config?.record.displayName ?? family?.displayName { parts.append(name) }
        if let c = config {
            parts.append("\(c.layers) layers, d_model \(formatCount(c.hiddenSize)), \(c.heads) heads")
            if c.kvHeads != c.heads { parts.append("\(c.kvHeads) key/value heads") }
            parts.append("vocabulary \(formatCount(c.vocabSize))")
        }
        return parts.joined(separator: ", ")
    }

    /// The table and its footnotes; warnings are the caller's to print (on stderr).
    public func textReport(perLayer: Bool = false) -> String {
        var out: [String] = []
        let total = uniqueParameters
        out.append("Ledger of \(source)" + (summaryLine.isEmpty ? "" : " (\(summaryLine))"))
        out.append("")
        var table = TextTable(headers: ["Category", "Matrices", "Shape (in × out)", "Parameters", "Share"],
                              alignments: [.left, .right, .left, .right, .right])
        for r in rows {
            if r.category == .other {
                table.add([r.category.rawValue, "", "", formatCount(r.parameters), formatPercent(r.parameters, of: total)])
            } else if r.tied {
                table.add([r.category.rawValue + " (tied)", formatCount(r.matrices), r.shapeText, "(" + formatCount(r.parameters) + ")", "—"])
            } else {
                table.add([r.category.rawValue, formatCount(r.matrices), r.shapeText, formatCount(r.parameters), formatPercent(r.parameters, of: total)])
            }
        }
        table.add(["Total", formatCount(matrixCount), "", formatCount(total), formatPercent(total, of: total)])
        if let active = activeParameters, let c = config {
            table.add(["Active per token", "", "\(c.expertsPerToken) of \(c.experts) experts", formatCount(active), formatPercent(active, of: total)])
        }
        out.append(table.render())
        out.append("")
        out.append("Eight categories: \(formatCount(eightCategoryTotal)) weights in \(formatCount(matrixCount)) matrices" +
                   (tiedEmbeddings ? " (GPT-3 style: the tied unembedding counted again)" : ""))
        if tiedEmbeddings {
            out.append("Unembedding is the Embedding matrix (tied): \(formatCount(total)) unique parameters, \(formatCount(gpt3StyleTotal)) counting it twice.")
        }
        if perHeadCounts {
            out.append("Key, Query and Value count one matrix per attention head, as the GPT-3 walkthrough does; shapes are per head.")
        } else {
            out.append("No config.json: heads unknown, so Key, Query and Value count one matrix per tensor.")
        }
        out.append("Other holds norms, biases, position embeddings and anything no rule names.")
        out.append("Bytes by dtype: " + bytesByDType.map { "\($0.dtype) \(formatCount($0.bytes)) (\(formatBytes($0.bytes)))" }.joined(separator: ", "))
        if !buffers.isEmpty {
            let elements = buffers.reduce(0) { $0 + $1.elementCount }
            out.append("Buffers, stored but not parameters: \(buffers.count) tensors, \(formatCount(elements)) values (" +
                       Ledger.abbreviatedList(buffers.map(\.name)) + ")")
        }
        if !unmatched.isEmpty {
            out.append("Unmatched, counted under Other: " + unmatched.map { terminalSafe($0) }.joined(separator: ", "))
        }
        if perLayer && !layers.isEmpty {
            out.append("")
            let cats = LedgerCategory.allCases.filter { c in layers.contains { ($0.parameters[c] ?? 0) > 0 } }
            var t = TextTable(headers: ["Layer"] + cats.map(\.rawValue) + ["Total"],
                              alignments: [.right] + cats.map { _ in .right } + [.right])
            for l in layers {
                t.add([String(l.layer)] + cats.map { formatCount(l.parameters[$0] ?? 0) } + [formatCount(l.total)])
            }
            out.append(t.render())
        }
        return out.joined(separator: "\n")
    }

    package static func abbreviatedList(_ names: [String], limit: Int = 4) -> String {
        let shown = names.prefix(limit).map { terminalSafe($0) }.joined(separator: ", ")
        return names.count <= limit ? shown : shown + ", … \(names.count - limit) more"
    }

    public func json(warnings: [String] = []) -> JSONValue {
        var o = JSONObject()
        o["schema"] = .string(Ledger.jsonSchema)
        o["source"] = .string(source)
        o["family"] = family.map { .string($0.rawValue) } ?? .null
        o["config"] = config?.json ?? .null
        o["rows"] = .array(rows.map { r in
            .object(JSONObject([
                "category": .string(r.category.rawValue),
                "matrices": .int(r.matrices),
                "shapes": .array(r.shapes.sorted { ($0.inputs, $0.outputs, $0.heads) < ($1.inputs, $1.outputs, $1.heads) }.map(\.json)),
                "parameters": .int(r.parameters),
                "tied": .bool(r.tied),
                "tensors": .array(r.tensors.map { .string($0) }),
            ]))
        })
        var totals = JSONObject([
            "unique_parameters": .int(uniqueParameters),
            "eight_category_parameters": .int(eightCategoryTotal),
            "gpt3_style_parameters": .int(gpt3StyleTotal),
            "matrices": .int(matrixCount),
            "per_head_counts": .bool(perHeadCounts),
            "tied_embeddings": .bool(tiedEmbeddings),
        ])
        if let active = activeParameters { totals["active_parameters"] = .int(active) }
        o["totals"] = .object(totals)
        o["bytes_by_dtype"] = .object(JSONObject(uniqueKeysWithValues: bytesByDType.map { ($0.dtype, .int($0.bytes)) }))
        o["buffers"] = .array(buffers.map { $0.json })
        o["unmatched"] = .array(unmatched.map { .string($0) })
        o["layers"] = .array(layers.map { l in
            var lo = JSONObject()
            lo["layer"] = .int(l.layer)
            for c in LedgerCategory.allCases { if let p = l.parameters[c] { lo[c.identifier] = .int(p) } }
            lo["total"] = .int(l.total)
            return .object(lo)
        })
        o["warnings"] = .array(warnings.map { .string($0) })
        return .object(o)
    }
}
